// The read floor of a MoE decode step on this machine: the time to read (sum, no other work) the weight bytes
// one decoded token touches, with the same cache behaviour as the model: per MoE layer, its share of the
// dense bytes (the same every token, so they stay in the last-level cache where it is large enough) and its
// top-k of the routed experts (a fresh random pick per token and layer, so most come from DRAM when the
// experts do not fit the cache), each buffer split evenly over the threads as the GEMVs split their rows.
// An engine whose decode step takes about this long is bound by memory, not by its arithmetic.
// Build: cc -O3 -march=native -pthread bench/decode_floor.c -o decode_floor   (bench/llama_cpp.bench.mjs does this)
// Run:   decode_floor threads dense_bytes expert_bytes moe_layers experts top_k tokens
// Prints one JSON line: {"msPerToken": median, "msMin": min, "gbps": bytes per token / median, ...}.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { kMaxThreads = 64 };
static int T, L, E, K, tokens;
static size_t dense_n, expert_n;  // floats
static float *dense, **experts;
static int* picks;                // [tokens + warm][L][K]
static pthread_barrier_t bar;
static double sinks[kMaxThreads];

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

static float* alloc_floats(size_t n) {
  const size_t huge = (size_t)2 << 20, bytes = (n * sizeof(float) + huge - 1) / huge * huge;
  float* p = aligned_alloc(huge, bytes);
  if (!p) { fprintf(stderr, "decode_floor: out of memory\n"); exit(1); }
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#endif
  for (size_t i = 0; i < bytes / sizeof(float); ++i) p[i] = (float)(i & 7);
  return p;
}

// Sum of n floats from p: 8 independent 64-byte accumulators (GCC / Clang vector extensions: zmm with
// -march=native on AVX-512, else what the target has), so that the adds' latency never limits the read rate
// (one dependent add per 64 bytes would: it understated the floor by ~25%).
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));  // a load from any float boundary
static float sum(const float* p, size_t n) {
  v16 a[8] = {{0}};
  size_t i = 0;
  for (; i + 128 <= n; i += 128)
    for (int q = 0; q < 8; ++q) a[q] += *(const v16u*)(p + i + 16 * q);
  float s = 0;
  for (; i < n; ++i) s += p[i];
  for (int q = 1; q < 8; ++q) a[0] += a[q];
  for (int l = 0; l < 16; ++l) s += a[0][l];
  return s;
}

// This thread's share [t/T, (t+1)/T) of n floats, in whole 64-float lines.
static void share(size_t n, int t, size_t* b, size_t* c) {
  const size_t lines = n / 64, b0 = lines * t / T, b1 = lines * (t + 1) / T;
  *b = b0 * 64;
  *c = (t == T - 1 ? n : b1 * 64) - *b;
}

static void* worker(void* arg) {
  const int t = (int)(intptr_t)arg;
  double s = 0;
  for (int tok = 0; tok < tokens; ++tok) {
    pthread_barrier_wait(&bar);  // token start
    for (int l = 0; l < L; ++l) {
      size_t b, c;
      const size_t d0 = dense_n * l / L, d1 = dense_n * (l + 1) / L;
      share(d1 - d0, t, &b, &c);
      s += sum(dense + d0 + b, c);
      for (int k = 0; k < K; ++k) {
        share(expert_n, t, &b, &c);
        s += sum(experts[picks[(tok * L + l) * K + k]] + b, c);
      }
    }
    pthread_barrier_wait(&bar);  // token end
  }
  sinks[t] = s;
  return NULL;
}

static int cmp(const void* a, const void* b) { const double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y); }

int main(int argc, char** argv) {
  if (argc != 8) { fprintf(stderr, "usage: decode_floor threads dense_bytes expert_bytes moe_layers experts top_k tokens\n"); return 2; }
  T = atoi(argv[1]); dense_n = (size_t)(atof(argv[2]) / 4); expert_n = (size_t)(atof(argv[3]) / 4);
  L = atoi(argv[4]); E = atoi(argv[5]); K = atoi(argv[6]); tokens = atoi(argv[7]);
  if (T < 1 || T > kMaxThreads || L < 1 || E < 1 || K < 1 || K > E || tokens < 1) { fprintf(stderr, "decode_floor: bad arguments\n"); return 2; }
  dense = alloc_floats(dense_n);
  experts = malloc(sizeof(float*) * (size_t)L * E);
  for (int i = 0; i < L * E; ++i) experts[i] = alloc_floats(expert_n);
  picks = malloc(sizeof(int) * (size_t)tokens * L * K);
  uint32_t x = 0x9e3779b9u;
  for (int tok = 0; tok < tokens; ++tok)
    for (int l = 0; l < L; ++l)
      for (int k = 0; k < K; ++k) {
        int e, dup;
        do {  // K distinct experts of this layer
          x ^= x << 13; x ^= x >> 17; x ^= x << 5;
          e = (int)(x % (uint32_t)E);
          dup = 0;
          for (int j = 0; j < k; ++j) dup |= picks[(tok * L + l) * K + j] == l * E + e;
        } while (dup);
        picks[(tok * L + l) * K + k] = l * E + e;
      }
  pthread_barrier_init(&bar, NULL, (unsigned)T + 1);
  pthread_t th[kMaxThreads];
  for (int t = 0; t < T; ++t) pthread_create(&th[t], NULL, worker, (void*)(intptr_t)t);
  double* ms = malloc(sizeof(double) * (size_t)tokens);
  for (int tok = 0; tok < tokens; ++tok) {
    const double t0 = now();
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    ms[tok] = (now() - t0) * 1e3;
  }
  for (int t = 0; t < T; ++t) pthread_join(th[t], NULL);
  const int warm = tokens / 4;  // the first quarter fills the caches
  qsort(ms + warm, (size_t)(tokens - warm), sizeof(double), cmp);
  const double med = ms[warm + (tokens - warm) / 2], bytes = 4.0 * ((double)dense_n + (double)L * K * expert_n);
  double sink = 0;
  for (int t = 0; t < T; ++t) sink += sinks[t];
  printf("{\"threads\":%d,\"bytesPerToken\":%.0f,\"msPerToken\":%.4f,\"msMin\":%.4f,\"gbps\":%.2f,\"tokens\":%d,\"sink\":%g}\n",
         T, bytes, med, ms[warm], bytes / med / 1e6, tokens - warm, sink > 0 ? 1.0 : 0.0);
  return 0;
}
