// control.cu: control flow (PTX ISA 9.0 sections 9.7.12 "Control Flow Instructions": bra, brx.idx,
// call/ret of .func with parameters and local arrays, exit; and the SIMT divergence/reconvergence model of
// 3.x): data-dependent loops with break/continue, nested ifs, early exit of some threads followed by warp
// collectives of the rest, __noinline__ call chains with local arrays, printf (brx.idx: control_brx.cu).
#include <unistd.h>

#include <set>

#include "common.cuh"

using namespace kt;

constexpr int kThreads = 256, kBlocks = 4, T = kThreads * kBlocks;

// ---- divergence in loops and nested ifs; the same code runs on the host for the expectation ----
__host__ __device__ uint32_t diverge(uint32_t x) {
  uint32_t acc = 0, steps = 0, n = x % 1000 + 1;
  while (n != 1 && steps < 300) {  // Collatz: trip counts differ per thread
    if (n & 1) {
      n = 3 * n + 1;
      if ((n & 7) == 4) { acc ^= n; continue; }
      acc += n >> 2;
    } else {
      n >>= 1;
      if (n % 7 == 0) {
        if (n % 49 == 0) break;
        acc = acc * 3 + 1;
      } else if (n % 5 == 0) {
        acc -= 11;
      }
    }
    ++steps;
  }
  for (uint32_t k = 0; k < (x & 15); ++k) {
    if (k == (x >> 4 & 15)) break;
    acc += k * k;
  }
  return acc * 2654435761u + steps;
}

__global__ void k_diverge(const uint32_t* in, uint32_t* out, uint32_t* ballots) {
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  uint32_t r = diverge(in[g]);
  out[g] = r;
  // after the divergent loops, the whole warp votes together again
  uint32_t b = __ballot_sync(0xFFFFFFFFu, r & 1);
  if ((threadIdx.x & 31) == 0) ballots[g / 32] = b;
}

// ---- early exit: lanes with lane % 5 == 0 leave; the others shuffle among themselves ----
__global__ void k_exit(const uint32_t* in, uint32_t* out) {
  int g = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x & 31;
  uint32_t x = in[g];
  out[g] = 0xE0E0E0E0u;
  if (lane % 5 == 0) return;
  uint32_t mask = 0;
  for (int l = 0; l < 32; ++l) if (l % 5) mask |= 1u << l;
  int src = (lane + 1) % 32;
  if (src % 5 == 0) src = (src + 1) % 32;
  uint32_t v = __shfl_sync(mask, x, src);
  uint32_t s = __reduce_add_sync(mask, x);
  out[g] = v ^ s;
}

// ---- __noinline__ call chains with local arrays ----
struct Pair { uint32_t lo, hi; };
__device__ __noinline__ uint32_t leaf(const uint32_t* arr, int n, uint32_t k) {
  uint32_t loc[24];
  for (int i = 0; i < 24; ++i) loc[i] = arr[i % n] ^ (k * i);
  return loc[k % 24] + loc[(k >> 5) % 24];
}
__device__ __noinline__ Pair middle(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e) {
  uint32_t arr[16];
  for (int i = 0; i < 16; ++i) arr[i] = a * i + b;
  Pair p;
  p.lo = leaf(arr, 16, c) + d;
  p.hi = leaf(arr, 11, e) ^ c;
  return p;
}
__device__ __noinline__ uint64_t top(uint32_t x) {
  Pair p = middle(x, x >> 3, x * 7u, 5u, x ^ 0xABCDu);
  Pair q = middle(p.lo, p.hi, x, p.lo ^ p.hi, 3u);
  return ((uint64_t)q.hi << 32) | q.lo;
}
// host twin of the call chain
static uint32_t h_leaf(const uint32_t* arr, int n, uint32_t k) {
  uint32_t loc[24];
  for (int i = 0; i < 24; ++i) loc[i] = arr[i % n] ^ (k * i);
  return loc[k % 24] + loc[(k >> 5) % 24];
}
static Pair h_middle(uint32_t a, uint32_t b, uint32_t c, uint32_t d, uint32_t e) {
  uint32_t arr[16];
  for (int i = 0; i < 16; ++i) arr[i] = a * i + b;
  return Pair{h_leaf(arr, 16, c) + d, h_leaf(arr, 11, e) ^ c};
}
static uint64_t h_top(uint32_t x) {
  Pair p = h_middle(x, x >> 3, x * 7u, 5u, x ^ 0xABCDu);
  Pair q = h_middle(p.lo, p.hi, x, p.lo ^ p.hi, 3u);
  return ((uint64_t)q.hi << 32) | q.lo;
}

__global__ void k_calls(const uint32_t* in, uint64_t* out) {
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  uint32_t x = in[g];
  out[g] = (x & 1) ? top(x) : top(x ^ 0x5555u) + 1;  // called from both sides of a branch
}

__global__ void k_printf(int n) {
  int t = threadIdx.x;
  if (t < n) printf("kt-printf block %d thread %d value %d hex %08x float %.2f\n", blockIdx.x, t, t * t - 50,
                    0xCAFE0000u + t, t * 0.5f);
  if (blockIdx.x == 0 && t == 3)  // strings, chars, 64-bit integers, %e/%g, widths, %%
    printf("kt-printf-mix [%s] [%-6s] [%c] [%lld] [%llu] [%e] [%g] [%5d] [%05.1f] [%x] 100%%\n", "device string",
           "ab", 'Z', -1234567890123ll, 18446744073709551615ull, 1.0e-10, 65536.0, 42, 3.14159, 0xBEEFu);
}

int main() {
  Rng g(0xC0DE);
  std::vector<uint32_t> in(T);
  for (auto& v : in) v = g.u32();
  DevBuf<uint32_t> din(in);
  {
    DevBuf<uint32_t> out(T), ballots(T / 32);
    k_diverge<<<kBlocks, kThreads>>>(din, out, ballots);
    LAUNCH_CHECK();
    auto o = out.download();
    auto bl = ballots.download();
    Check ck("divergent loops and nested ifs"), cb("ballot after reconvergence");
    for (int i = 0; i < T; ++i) ck.u32(i, o[i], diverge(in[i]));
    for (int w = 0; w < T / 32; ++w) {
      uint32_t b = 0;
      for (int l = 0; l < 32; ++l) b |= (diverge(in[w * 32 + l]) & 1) << l;
      cb.u32(w, bl[w], b);
    }
  }
  {
    DevBuf<uint32_t> out(T);
    k_exit<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("early exit, then shfl/redux among the remaining lanes");
    for (int i = 0; i < T; ++i) {
      int lane = i & 31, w = i & ~31;
      uint32_t want = 0xE0E0E0E0u;
      if (lane % 5) {
        int src = (lane + 1) % 32;
        if (src % 5 == 0) src = (src + 1) % 32;
        uint32_t s = 0;
        for (int l = 0; l < 32; ++l) if (l % 5) s += in[w + l];
        want = in[w + src] ^ s;
      }
      ck.u32(i, o[i], want);
    }
  }
  {
    DevBuf<uint64_t> out(T);
    k_calls<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("__noinline__ call chain with local arrays");
    for (int i = 0; i < T; ++i) {
      uint32_t x = in[i];
      ck.u64(i, o[i], (x & 1) ? h_top(x) : h_top(x ^ 0x5555u) + 1);
    }
  }
  {
    // printf: capture the process's stdout in a file while the kernel runs and synchronises
    fflush(stdout);
    char path[] = "/tmp/kt-printf-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(1);
    dup2(fd, 1);
    k_printf<<<2, 64>>>(40);
    cudaError_t e1 = cudaGetLastError(), e2 = cudaDeviceSynchronize();
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    std::string text;
    char buf[4096];
    lseek(fd, 0, SEEK_SET);
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) text.append(buf, (size_t)r);
    close(fd);
    unlink(path);
    Check ck("printf from a kernel");
    ck.expect(e1 == cudaSuccess && e2 == cudaSuccess, 0, "launch failed");
    std::set<std::string> got;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string line = text.substr(pos, nl - pos);
      if (line.rfind("kt-printf ", 0) == 0) got.insert(line);
      pos = nl + 1;
    }
    int lines = 0;
    for (int b = 0; b < 2; ++b)
      for (int t = 0; t < 40; ++t) {
        char want[160];
        snprintf(want, sizeof want, "kt-printf block %d thread %d value %d hex %08x float %.2f", b, t, t * t - 50,
                 0xCAFE0000u + t, t * 0.5f);
        if (got.count(want)) ck.ok(); else ck.fail(b * 40 + t, "missing line \"%s\"", want);
        ++lines;
      }
    char mix[256];
    snprintf(mix, sizeof mix, "kt-printf-mix [%s] [%-6s] [%c] [%lld] [%llu] [%e] [%g] [%5d] [%05.1f] [%x] 100%%",
             "device string", "ab", 'Z', -1234567890123ll, 18446744073709551615ull, 1.0e-10, 65536.0, 42, 3.14159,
             0xBEEFu);
    bool mixed = text.find(std::string(mix) + "\n") != std::string::npos;
    if (mixed) ck.ok(); else ck.fail(-2, "missing line \"%s\"", mix);
    ck.expect(got.size() == (size_t)lines, -1, "unexpected extra printf lines");
  }
  return finish();
}
