// CUDA argmax, top-k and sampling over the last dim, mirroring native/cpu/sampling.cc (the decode step
// of DeepSeek-V3 generate.py with HF-style top-k / top-p): one block per row.
// argmax: one strided pass with a block reduction in the CPU's total order. topk: k such passes, each
// selecting the best element ranked after the previous pick. sample: no sort; the ranked walk of the
// CPU is replaced by a radix descent over 64-bit keys (ordered logit << 32 | ~index: a larger key ranks
// earlier, ties by lower index as on the CPU) that finds the first ranked element whose cumulative
// weight (count for top-k, double probability for top-p and the draw) reaches a threshold: 16 passes
// of 4 bits, each summing the 16 bins of the candidates that still match the prefix.
// Bound: argmax memory (n * isz per row, one SM per row: latency-bound for t = 1); topk k passes;
// sample about 16 L2-resident passes over the row plus ~2n double exps. Target: a decode step, well
// under the forward's time (vocab 129280: tens of microseconds).
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/sampling.gpu.test.ts.
#include "cuda/codec.cuh"
#include "cuda/sampling.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;

// The CPU's Before: a ranks before b (NaN first by lower index, then larger values, ties by lower index).
__device__ __forceinline__ bool before(float va, int ia, float vb, int ib) {
  const bool na = isnan(va), nb = isnan(vb);
  if (na || nb) return na && (!nb || ia < ib);
  return va > vb || (va == vb && ia < ib);
}
struct Cand { float v; int i; };  // i < 0: none
__device__ __forceinline__ Cand better(Cand a, Cand b) {
  if (b.i < 0) return a;
  if (a.i < 0) return b;
  return before(b.v, b.i, a.v, a.i) ? b : a;
}
__device__ Cand block_best(Cand c, Cand* smem) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) c = better(c, Cand{__shfl_xor_sync(0xffffffffu, c.v, o), __shfl_xor_sync(0xffffffffu, c.i, o)});
  if (lane == 0) smem[warp] = c;
  __syncthreads();
  c = lane < kWarps ? smem[lane] : Cand{0.f, -1};
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) c = better(c, Cand{__shfl_xor_sync(0xffffffffu, c.v, o), __shfl_xor_sync(0xffffffffu, c.i, o)});
  __syncthreads();
  return c;
}

template <typename TX>
__device__ Cand row_best(const typename TX::raw* x, int n, Cand prev, Cand* smem) {
  Cand best{0.f, -1};
  for (int j = threadIdx.x; j < n; j += kThreads) {
    const float v = TX::load(x, j);
    if (prev.i >= 0 && !before(prev.v, prev.i, v, j)) continue;
    best = better(best, Cand{v, j});
  }
  return block_best(best, smem);
}

template <typename TX>
__global__ void __launch_bounds__(kThreads) argmax_kernel(const typename TX::raw* __restrict__ x, int32_t* __restrict__ out, int64_t n,
                                                          bool flag_invalid) {
  __shared__ Cand smem[32];
  const Cand c = row_best<TX>(x + static_cast<int64_t>(blockIdx.x) * n, static_cast<int>(n), Cand{0.f, -1}, smem);
  // The best candidate is the first NaN if there is one (the CPU's order), else the first maximum.
  if (threadIdx.x == 0) out[blockIdx.x] = !flag_invalid || isfinite(c.v) ? c.i : isnan(c.v) ? kPickNaN : kPickNoFinite;
}

template <typename TX>
__global__ void __launch_bounds__(kThreads) topk_kernel(const typename TX::raw* __restrict__ x, float* __restrict__ values,
                                                        int32_t* __restrict__ indices, int64_t n, int64_t k) {
  __shared__ Cand smem[32];
  const typename TX::raw* row = x + static_cast<int64_t>(blockIdx.x) * n;
  Cand prev{0.f, -1};
  for (int64_t r = 0; r < k; ++r) {
    prev = row_best<TX>(row, static_cast<int>(n), prev, smem);
    if (threadIdx.x == 0) {
      values[blockIdx.x * k + r] = prev.v;
      indices[blockIdx.x * k + r] = prev.i;
    }
  }
}

// ---- sample ----
__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {  // native/cpu/sampling.cc
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
// Rank key of a non-NaN logit: larger key = earlier in the CPU's order (-0 ranks equal to +0).
__device__ __forceinline__ uint64_t rank_key(float v, int j) {
  const uint32_t u = __float_as_uint(v == 0.f ? 0.f : v);
  const uint32_t ord = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<uint64_t>(ord) << 32) | (0xffffffffu - static_cast<uint32_t>(j));
}
__device__ __forceinline__ int key_index(uint64_t key) { return static_cast<int>(0xffffffffu - static_cast<uint32_t>(key)); }

struct Row {
  const float* l;
  int n;
  float m;      // the row's maximum
  double temp;
  __device__ double prob(float v) const { return exp((static_cast<double>(v) - m) / temp); }
};

struct SampleSmem {
  double acc[16][kWarps];
  int cnt[16][kWarps];
  double tot[16];
  int tcnt[16];
  double red[32];
  unsigned long long kmin[32];
};

// The largest key e among keys >= lo whose cumulative weight W(e) = sum of w over keys in [e, inf) and
// >= lo satisfies W > thr (strict) or W >= thr; w = 1 (count) or prob. found = false if none does.
__device__ bool descend(const Row& row, uint64_t lo, bool count, double thr, bool strict, SampleSmem& sm, uint64_t* out) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  uint64_t prefix = 0;
  double above = 0;
  for (int shift = 60; shift >= 0; shift -= 4) {
    const uint64_t hi = shift == 60 ? 0ull : (~0ull << (shift + 4));
    double acc[16];
    int cnt[16];
#pragma unroll
    for (int b = 0; b < 16; ++b) { acc[b] = 0; cnt[b] = 0; }
    for (int j = threadIdx.x; j < row.n; j += kThreads) {
      const float v = row.l[j];
      const uint64_t key = rank_key(v, j);
      if (key < lo || (key & hi) != prefix) continue;
      const double w = count ? 1.0 : row.prob(v);
      const int d = static_cast<int>((key >> shift) & 15u);
#pragma unroll
      for (int b = 0; b < 16; ++b)
        if (d == b) { acc[b] += w; cnt[b] += 1; }
    }
#pragma unroll
    for (int b = 0; b < 16; ++b) {
      const double a = warp_sum(acc[b]);
      const int c = warp_sum(cnt[b]);
      if (lane == 0) { sm.acc[b][warp] = a; sm.cnt[b][warp] = c; }
    }
    __syncthreads();
    if (threadIdx.x < 16) {
      double a = 0;
      int c = 0;
      for (int w = 0; w < kWarps; ++w) { a += sm.acc[threadIdx.x][w]; c += sm.cnt[threadIdx.x][w]; }
      sm.tot[threadIdx.x] = a;
      sm.tcnt[threadIdx.x] = c;
    }
    __syncthreads();
    // Every thread makes the same choice from shared memory.
    double c = above;
    int chosen = -1, last = -1;
    double c_last = above;
    for (int b = 15; b >= 0; --b) {
      if (sm.tcnt[b] == 0) continue;
      const double cb = c + sm.tot[b];
      if (strict ? cb > thr : cb >= thr) { chosen = b; break; }
      last = b;
      c_last = c;
      c = cb;
    }
    __syncthreads();  // sm is rewritten by the next pass
    if (chosen < 0) {
      if (shift == 60 || last < 0) return false;
      // The previous pass chose this range; re-summed in another grouping it fell short by a rounding:
      // the answer is the range's last element, as the CPU's walk ends on the last candidate.
      chosen = last;
      c = c_last;
    }
    above = c;
    prefix |= static_cast<uint64_t>(chosen) << shift;
  }
  *out = prefix;
  return true;
}

__device__ double sum_prob(const Row& row, uint64_t lo, SampleSmem& sm) {
  double s = 0;
  for (int j = threadIdx.x; j < row.n; j += kThreads) {
    const float v = row.l[j];
    if (rank_key(v, j) >= lo) s += row.prob(v);
  }
  return block_sum(s, sm.red);
}

// The last ranked key >= lo with a non-zero probability (the CPU's fallback pick).
__device__ uint64_t last_nonzero(const Row& row, uint64_t lo, SampleSmem& sm) {
  unsigned long long best = ~0ull;
  for (int j = threadIdx.x; j < row.n; j += kThreads) {
    const float v = row.l[j];
    const uint64_t key = rank_key(v, j);
    if (key >= lo && row.prob(v) > 0 && key < best) best = key;
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) best = min(best, __shfl_xor_sync(0xffffffffu, best, o));
  if (threadIdx.x % 32 == 0) sm.kmin[threadIdx.x / 32] = best;
  __syncthreads();
  best = threadIdx.x % 32 < kWarps ? sm.kmin[threadIdx.x % 32] : ~0ull;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) best = min(best, __shfl_xor_sync(0xffffffffu, best, o));
  __syncthreads();
  return best;
}

__global__ void __launch_bounds__(kThreads) sample_kernel(const float* __restrict__ logits, int32_t* __restrict__ out,
                                                          int64_t vocab, float temperature, float top_p, int64_t top_k,
                                                          uint64_t key0) {
  __shared__ SampleSmem sm;
  __shared__ Cand cs[32];
  const int64_t r = blockIdx.x;
  const float* l = logits + r * vocab;
  const int n = static_cast<int>(vocab);
  if (!(temperature > 0)) {
    const Cand c = row_best<F32>(l, n, Cand{0.f, -1}, cs);
    if (threadIdx.x == 0) out[r] = c.i;
    return;
  }
  float m = -INFINITY;
  int nan = 0;
  for (int j = threadIdx.x; j < n; j += kThreads) {
    const float v = l[j];
    nan |= isnan(v);
    m = fmaxf(m, v);
  }
  m = block_max(m, reinterpret_cast<float*>(sm.red));
  nan = __syncthreads_or(nan);
  if (nan || !isfinite(m)) {
    if (threadIdx.x == 0) out[r] = -1;
    return;
  }
  const Row row{l, n, m, static_cast<double>(temperature)};
  uint64_t lo = 0, key = 0;
  if (top_k > 0 && top_k < vocab && descend(row, 0, true, static_cast<double>(top_k), false, sm, &key)) lo = key;
  double total = sum_prob(row, lo, sm);
  if (top_p < 1.0f && descend(row, lo, false, static_cast<double>(top_p) * total, false, sm, &key)) {
    lo = key;
    total = sum_prob(row, lo, sm);
  }
  const uint64_t bits = splitmix64(key0 ^ (static_cast<uint64_t>(r) * 0xd1342543de82ef95ull));
  const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;
  if (!descend(row, lo, false, u * total, true, sm, &key)) key = last_nonzero(row, lo, sm);
  if (threadIdx.x == 0) out[r] = key_index(key);
}

uint64_t host_splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

void check_row_len(int64_t n, const char* what) {
  if (n > 0x7fffffff) throw CudaError(std::string(what) + ": rows longer than 2^31 - 1 are not supported");
}

}  // namespace

void argmax(const ArgmaxParams& p, void* stream) {
  if (p.t == 0 || p.n == 0) return;
  check_row_len(p.n, "argmax");
  const unsigned grid = grid_rows(p.t, "argmax");
  with_float(p.x_dtype, "argmax", [&](auto tx) {
    using TX = decltype(tx);
    argmax_kernel<TX><<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<const typename TX::raw*>(p.x), p.out, p.n, p.flag_invalid);
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

void topk(const TopkParams& p, void* stream) {
  if (p.t == 0 || p.k == 0) return;
  check_row_len(p.n, "topk");
  const unsigned grid = grid_rows(p.t, "topk");
  with_float(p.x_dtype, "topk", [&](auto tx) {
    using TX = decltype(tx);
    topk_kernel<TX><<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<const typename TX::raw*>(p.x),
                                                                              p.values, p.indices, p.n, p.k);
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

void sample(const SampleParams& p, void* stream) {
  if (p.t == 0 || p.vocab == 0) return;
  check_row_len(p.vocab, "sample");
  const unsigned grid = grid_rows(p.t, "sample");
  sample_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p.logits, p.out, p.vocab, p.temperature, p.top_p,
                                                                          p.top_k, host_splitmix64(p.seed));
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace dsv3::cuda
