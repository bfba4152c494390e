// The f32 FMA ceiling of this machine for the CPU benchmarks (bench/llama_cpp.bench.mjs): T threads, each
// running 24 independent FMA chains on registers (AVX-512 zmm when compiled with it, else AVX2 ymm, else
// scalar), no memory traffic. Prints one JSON line {threads, isa, gflops} (the best of 10 passes of ~0.1 s).
// Build: cc -O3 -march=native -pthread bench/fmapeak.c -o fmapeak   (the bench script does this)
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

enum { CHAINS = 24 };
#if defined(__AVX512F__)
#define ISA "avx512"
#define LANES 16
typedef __m512 vec;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
static float sum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#define ISA "avx2"
#define LANES 8
typedef __m256 vec;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float sum(vec v) { float t[8]; _mm256_storeu_ps(t, v); float s = 0; for (int i = 0; i < 8; ++i) s += t[i]; return s; }
#else
#define ISA "scalar"
#define LANES 1
typedef float vec;
#define SET1(x) (x)
#define FMA(a, b, c) ((a) * (b) + (c))
#define ADD(a, b) ((a) + (b))
static float sum(vec v) { return v; }
#endif

typedef struct { long iters; float out; } Job;

static void* run(void* arg) {
  Job* j = (Job*)arg;
  vec acc[CHAINS];
  for (int i = 0; i < CHAINS; ++i) acc[i] = SET1(0.001f * (float)i);
  const vec b = SET1(0.9999f), c = SET1(1e-6f);
  for (long k = 0; k < j->iters; ++k)
#pragma GCC unroll 24
    for (int i = 0; i < CHAINS; ++i) acc[i] = FMA(acc[i], b, c);
  vec s = acc[0];
  for (int i = 1; i < CHAINS; ++i) s = ADD(s, acc[i]);
  j->out = sum(s);
  return NULL;
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

int main(int argc, char** argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 1;
  const long iters = 4000000;
  double best = 0;
  float sink = 0;
  for (int pass = 0; pass < 10; ++pass) {
    pthread_t th[256];
    Job jobs[256];
    const double t0 = now();
    for (int t = 0; t < threads && t < 256; ++t) { jobs[t].iters = iters; pthread_create(&th[t], NULL, run, &jobs[t]); }
    for (int t = 0; t < threads && t < 256; ++t) { pthread_join(th[t], NULL); sink += jobs[t].out; }
    const double flops = 2.0 * LANES * CHAINS * (double)iters * threads, g = flops / (now() - t0) / 1e9;
    if (g > best) best = g;
  }
  printf("{\"threads\": %d, \"isa\": \"%s\", \"gflops\": %.1f, \"sink\": %g}\n", threads, ISA, best, (double)sink);
  return 0;
}
