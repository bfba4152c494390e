// CUDA kernels of the MoE router and dispatch (DeepSeek-V3 model.py Gate/MoE; DeepGEMM's contiguous and
// masked layouts). Twins: native/cpu/moe_route.cc, native/cpu/moe_dispatch.cc; each kernel repeats the
// twin's f32 operations in the same order, with exp evaluated in double and rounded to f32 (glibc's expf
// misrounds ~0.1% of inputs by one ulp; CUDA's expf is off by up to 2 ulp), so router indices, permutations
// and combined outputs match the CPU bit for bit, FP8 codes and router weights but for those rare ulps
// (host_expf, cuda/codec.cuh).
// No float atomics anywhere; integer atomics only for per-chunk counts (order-free). UNVERIFIED ON A GPU.
// Bounds (H200: ~4.8 TB/s HBM):
//   moe_route:      latency: one block per token, ~e^2 / threads shared-memory comparisons (e = 256: 256 each)
//   moe_permute:    3 small launches over t*k i32 (+ t*k/256 * e i32 scratch); latency-bound for decode
//   moe_gather:     2 * rows * row_bytes bytes (copy; target: HBM bandwidth)
//   silu_mul_quant: rows * n * (2 * in_bytes + 1) + scales bytes (target: HBM bandwidth)
//   moe_combine:    t * d * (k * y_bytes + shared/residual/out bytes) (target: HBM bandwidth)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "cuda/codec.cuh"
#include "cuda/common.cuh"
#include "cuda/moe.h"

namespace dsv3::cuda {
namespace {

// a (at index ia) ranks before b (at index ib): higher first, NaN above any number, ties to the lower index.
__device__ __forceinline__ bool ranks_before(float a, int ia, float b, int ib) {
  const bool na = isnan(a), nb = isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

// ---------------------------------------------------------------- router: one block per token
constexpr int kRouteThreads = 256;

__global__ void __launch_bounds__(kRouteThreads) moe_route_kernel(MoeRouteParams p) {
  extern __shared__ float sm[];
  __shared__ float red;
  const int e = static_cast<int>(p.e), k = static_cast<int>(p.top_k), ng = static_cast<int>(p.n_group), gsize = e / ng;
  float* s = sm;                                    // [e] scores
  float* choice = s + e;                            // [e] selection scores (biased, groups masked)
  float* gscore = choice + e;                       // [ng]
  int* keep = reinterpret_cast<int*>(gscore + ng);  // [ng]
  int* sel = keep + ng;                             // [k] chosen experts by rank
  const int tid = threadIdx.x, nt = blockDim.x;
  const int64_t ti = blockIdx.x;
  const float* x = p.logits + ti * p.e;  // [e]

  if (p.scoring == ScoringFunc::sigmoid) {
    for (int j = tid; j < e; j += nt) s[j] = 1.0f / (1.0f + host_expf(-x[j]));
  } else {
    // the twin's sequential max and sum (std::max keeps the first argument unless it is less)
    if (tid == 0) {
      float m = -INFINITY;
      for (int j = 0; j < e; ++j) m = m < x[j] ? x[j] : m;
      red = m;
    }
    __syncthreads();
    const float m = red;
    for (int j = tid; j < e; j += nt) s[j] = host_expf(x[j] - m);
    __syncthreads();
    if (tid == 0) {
      float sum = 0.f;
      for (int j = 0; j < e; ++j) sum += s[j];
      red = 1.0f / sum;
    }
    __syncthreads();
    const float inv = red;
    for (int j = tid; j < e; j += nt) s[j] *= inv;
  }
  for (int j = tid; j < e; j += nt) choice[j] = p.bias ? s[j] + p.bias[j] : s[j];
  __syncthreads();

  if (ng > 1) {
    for (int g = tid; g < ng; g += nt) {
      const float* c = choice + g * gsize;
      int b1 = 0;
      for (int j = 1; j < gsize; ++j) if (ranks_before(c[j], j, c[b1], b1)) b1 = j;
      if (p.bias) {
        int b2 = b1 == 0 ? 1 : 0;
        for (int j = 0; j < gsize; ++j) if (j != b1 && ranks_before(c[j], j, c[b2], b2)) b2 = j;
        gscore[g] = c[b1] + c[b2];
      } else {
        gscore[g] = c[b1];
      }
    }
    __syncthreads();
    for (int g = tid; g < ng; g += nt) {
      int rank = 0;
      for (int h = 0; h < ng; ++h) rank += ranks_before(gscore[h], h, gscore[g], g);
      keep[g] = rank < p.topk_group;
    }
    __syncthreads();
    for (int j = tid; j < e; j += nt) if (!keep[j / gsize]) choice[j] = -INFINITY;
    __syncthreads();
  }

  // The order is total, so each expert's rank is unique: rank < k places it (partial_sort's result).
  for (int j = tid; j < e; j += nt) {
    const float c = choice[j];
    int rank = 0;
    for (int i = 0; i < e && rank < k; ++i) rank += ranks_before(choice[i], i, c, j);
    if (rank < k) sel[rank] = j;
  }
  __syncthreads();
  if (tid == 0) {
    float sum = 0.f;
    for (int q = 0; q < k; ++q) sum += s[sel[q]];
    red = sum;
  }
  __syncthreads();
  for (int q = tid; q < k; q += nt) {
    float w = s[sel[q]];
    if (p.norm_topk_prob) w /= red;
    p.weights[ti * k + q] = w * p.routed_scaling_factor;
    p.indices[ti * k + q] = sel[q];
  }
}

// ---------------------------------------------------------------- permutation: count, scan, place
// Slots are cut into chunks of kChunk, one per warp. Per-chunk counts -> per-chunk exclusive bases (a
// sequential scan over chunks per expert) -> each warp places its chunk in slot order, ranking equal
// experts inside each 32-slot step with __match_any_sync. Stable and deterministic.
constexpr int kPermWarps = 4;
constexpr int kChunk = 256;
constexpr int kMaxExpertsCuda = 2048;  // kPermWarps * e i32 of shared memory per block

__global__ void permute_count_kernel(const int32_t* __restrict__ idx, int64_t n, int e, int64_t chunks,
                                     int32_t* __restrict__ chunk_counts /* [chunks, e] */) {
  extern __shared__ int cnt[];  // [kPermWarps, e]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t chunk = static_cast<int64_t>(blockIdx.x) * kPermWarps + warp;
  if (chunk >= chunks) return;  // whole warps; no block-wide barrier below
  int* my = cnt + warp * e;
  for (int x = lane; x < e; x += 32) my[x] = 0;
  __syncwarp();
  const int64_t s1 = min(n, (chunk + 1) * kChunk);
  for (int64_t s = chunk * kChunk + lane; s < s1; s += 32) {
    const int x = idx[s];
    if (x >= 0 && x < e) atomicAdd(&my[x], 1);
  }
  __syncwarp();
  for (int x = lane; x < e; x += 32) chunk_counts[chunk * e + x] = my[x];
}

__global__ void permute_scan_kernel(MoePermuteParams p, int64_t chunks, int32_t* __restrict__ chunk_counts) {
  extern __shared__ int total[];  // [e]
  const int e = static_cast<int>(p.e);
  for (int x = threadIdx.x; x < e; x += blockDim.x) {
    int run = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      const int v = chunk_counts[c * e + x];
      chunk_counts[c * e + x] = run;
      run += v;
    }
    total[x] = run;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  if (p.layout == MoeLayout::masked) {
    int dropped = 0;
    for (int x = 0; x < e; ++x) {
      const int64_t c = total[x];
      p.counts[x] = static_cast<int32_t>(c < p.m_max ? c : p.m_max);
      dropped += static_cast<int>(c > p.m_max ? c - p.m_max : 0);
    }
    *p.dropped = dropped;
  } else {
    int64_t off = 0;
    for (int x = 0; x < e; ++x) {
      p.counts[x] = total[x];
      p.offsets[x] = static_cast<int32_t>(off);
      off += (total[x] + p.align - 1) / p.align * p.align;
    }
    p.offsets[e] = static_cast<int32_t>(off);
  }
}

__global__ void permute_place_kernel(MoePermuteParams p, int64_t chunks, const int32_t* __restrict__ chunk_base) {
  extern __shared__ int next[];  // [kPermWarps, e]
  const int e = static_cast<int>(p.e);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t chunk = static_cast<int64_t>(blockIdx.x) * kPermWarps + warp;
  if (chunk >= chunks) return;
  int* my = next + warp * e;
  for (int x = lane; x < e; x += 32) my[x] = chunk_base[chunk * e + x];
  __syncwarp();
  const bool masked = p.layout == MoeLayout::masked;
  const int64_t n = p.t * p.k, s1 = min(n, (chunk + 1) * kChunk);
  for (int64_t base = chunk * kChunk; base < s1; base += 32) {
    const int64_t s = base + lane;
    const bool valid = s < s1;
    int x = valid ? p.indices[s] : -1;
    if (x < 0 || x >= e) x = -1;
    const unsigned peers = __match_any_sync(0xffffffffu, x);
    const int pos = x >= 0 ? my[x] + __popc(peers & ((1u << lane) - 1u)) : 0;
    __syncwarp();
    if (x >= 0 && lane == __ffs(peers) - 1) my[x] += __popc(peers);
    __syncwarp();
    if (!valid) continue;
    int64_t row = -1;
    if (x >= 0) row = masked ? (pos < p.m_max ? x * p.m_max + pos : -1) : p.offsets[x] + pos;
    p.slot_row[s] = static_cast<int32_t>(row);
    if (row >= 0) p.row_slot[row] = static_cast<int32_t>(s);
  }
}

// ---------------------------------------------------------------- gather: one warp per grouped row
constexpr int kGatherWarps = 8;

template <class V>
__global__ void __launch_bounds__(kGatherWarps * 32) moe_gather_kernel(MoeGatherParams p) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kGatherWarps + threadIdx.x / 32;
  if (r >= p.rows) return;
  const int lane = threadIdx.x % 32;
  const int64_t nv = p.row_bytes / static_cast<int64_t>(sizeof(V));
  V* o = reinterpret_cast<V*>(static_cast<char*>(p.out) + r * p.row_bytes);
  const int32_t s = p.row_slot[r];
  if (s < 0 || s >= p.t * p.k) {
    for (int64_t i = lane; i < nv; i += 32) o[i] = V{};
    return;
  }
  const V* src = reinterpret_cast<const V*>(static_cast<const char*>(p.x) + (s / p.k) * p.row_bytes);
  for (int64_t i = lane; i < nv; i += 32) o[i] = src[i];
}

// ---------------------------------------------------------------- silu(gate) * up -> FP8: one warp per 1x128 group
template <class T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
// Conversions on the bits as the CPU's (cuda/codec.cuh): a hardware cvt canonicalizes NaN payloads and signs.
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return bf16_load(__bfloat16_as_ushort(v)); }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return f16_load(__half_as_ushort(v)); }
template <class T> __device__ __forceinline__ float round_to(float v);
template <> __device__ __forceinline__ float round_to<float>(float v) { return v; }
template <> __device__ __forceinline__ float round_to<__nv_bfloat16>(float v) { return bf16_load(bf16_store(v)); }
template <> __device__ __forceinline__ float round_to<__half>(float v) { return f16_load(f16_store(v)); }

constexpr int kQuantWarps = 8;

// Rows of a grouped GEMM's layout (cuda/moe.h silu_mul_quant_grouped): with offsets [g+1] (contiguous) or
// counts [g] (m_max rows per group, masked), rows of no group are skipped; both null: every row.
struct RowGroups {
  const int32_t* offsets;
  const int32_t* counts;
  int64_t g, m_max;
  __device__ __forceinline__ bool has(int64_t r) const {
    if (counts) { const int64_t e = r / m_max; return r - e * m_max < max(counts[e], 0); }
    if (offsets) return r >= offsets[0] && r < offsets[g];
    return true;
  }
};

template <class T>
__global__ void __launch_bounds__(kQuantWarps * 32) silu_mul_quant_kernel(SiluMulQuantParams p, RowGroups groups) {
  const int64_t kb = (p.n + 127) / 128;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * kQuantWarps + threadIdx.x / 32;
  if (item >= p.rows * kb) return;  // whole warps
  const int lane = threadIdx.x % 32;
  const int64_t r = item / kb, gi = item % kb;
  if (!groups.has(r)) return;  // whole warps
  const T* g = static_cast<const T*>(p.gate) + r * p.ld;  // [n]
  const T* u = static_cast<const T*>(p.up) + r * p.ld;    // [n]
  float h[4];
  unsigned amax = 0;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int64_t j = gi * 128 + q * 32 + lane;
    h[q] = 0.f;
    if (j < p.n) {
      h[q] = round_to<T>(silu_mul_f32(to_f(g[j]), to_f(u[j])));  // rounded as silu_mul's output
      amax = max(amax, __float_as_uint(h[q]) & 0x7fffffffu);  // by bits: NaN wins, as the CPU's amax
    }
  }
  amax = __reduce_max_sync(0xffffffffu, amax);
  const float s = fp8_group_scale(amax, p.ue8m0);
  uint8_t* y = p.y + r * p.n;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int64_t j = gi * 128 + q * 32 + lane;
    if (j < p.n) y[j] = e4m3_quantize(h[q], s);
  }
  if (lane == 0) p.scale[r * kb + gi] = s;
}

// ---------------------------------------------------------------- combine: one block per token
__device__ __forceinline__ float load_any(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::bf16: return bf16_load(static_cast<const uint16_t*>(p)[i]);
    case DType::f16: return f16_load(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}
__device__ __forceinline__ void store_any(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::bf16: static_cast<uint16_t*>(p)[i] = bf16_store(v); break;  // the CPU's NaN encodings
    case DType::f16: static_cast<uint16_t*>(p)[i] = f16_store(v); break;
    default: static_cast<float*>(p)[i] = v;
  }
}

constexpr int kCombineThreads = 256;

template <class Y>
__global__ void __launch_bounds__(kCombineThreads) moe_combine_kernel(MoeCombineParams p) {
  extern __shared__ unsigned char smc[];
  int* rows = reinterpret_cast<int*>(smc);                  // [k]
  float* w = reinterpret_cast<float*>(smc) + p.k;            // [k]
  const int64_t i = blockIdx.x, k = p.k, d = p.d;
  for (int64_t q = threadIdx.x; q < k; q += blockDim.x) {
    const int r = p.slot_row[i * k + q];
    rows[q] = r < p.rows ? r : -1;
    w[q] = p.weights[i * k + q];
  }
  __syncthreads();
  const Y* y = static_cast<const Y*>(p.y);  // [rows, d]
  for (int64_t c = threadIdx.x; c < d; c += blockDim.x) {
    float acc = 0.f;
    for (int64_t j = 0; j < k; ++j) {
      const int r = rows[j];
      if (r >= 0) acc = fmaf(w[j], to_f(y[static_cast<int64_t>(r) * d + c]), acc);
    }
    if (p.shared) acc += load_any(p.shared, p.shared_dtype, i * d + c);
    if (p.residual) acc = load_any(p.residual, p.residual_dtype, i * d + c) + acc;
    store_any(p.out, p.out_dtype, i * d + c, acc);
  }
}

inline cudaStream_t st(void* s) { return static_cast<cudaStream_t>(s); }
inline bool aligned(const void* a, size_t n) { return reinterpret_cast<uintptr_t>(a) % n == 0; }

}  // namespace

// The router keeps 2 e + 2 nGroup + topK floats per token in shared memory (48 KB without opting in).
static size_t moe_route_smem(const MoeRouteParams& p) { return (2 * p.e + 2 * p.n_group + p.top_k) * sizeof(float); }

bool moe_route_supports(const MoeRouteParams& p, std::string* why) {
  if (moe_route_smem(p) <= 48 * 1024) return true;
  *why = std::to_string(p.e) + " experts exceed the kernel's 48 KB of shared memory (2 e + 2 nGroup + topK floats per token)";
  return false;
}

void moe_route(const MoeRouteParams& p, void* stream) {
  if (p.t == 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(kRouteThreads, (p.e + 31) / 32 * 32));
  const size_t smem = moe_route_smem(p);
  std::string why;
  if (!moe_route_supports(p, &why)) throw CudaError("moe_route: " + why);
  moe_route_kernel<<<static_cast<unsigned>(p.t), threads, smem, st(stream)>>>(p);
  DSV3_CUDA_CHECK_LAUNCH();
}

bool moe_permute_supports(const MoePermuteParams& p, std::string* why) {
  if (p.e <= kMaxExpertsCuda) return true;
  *why = "at most " + std::to_string(kMaxExpertsCuda) + " experts (the kernel's shared memory holds " + std::to_string(kPermWarps) +
         " counters per expert), got " + std::to_string(p.e);
  return false;
}

void moe_permute(const MoePermuteParams& p, void* stream) {
  cudaStream_t s = st(stream);
  std::string why;
  if (!moe_permute_supports(p, &why)) throw CudaError("moe_permute: " + why);
  const int64_t n = p.t * p.k;
  if (p.rows > 0) DSV3_CUDA_CHECK(cudaMemsetAsync(p.row_slot, 0xff, p.rows * sizeof(int32_t), s));
  if (n == 0) {  // no launch: every expert empty
    DSV3_CUDA_CHECK(cudaMemsetAsync(p.counts, 0, p.e * sizeof(int32_t), s));
    if (p.offsets) DSV3_CUDA_CHECK(cudaMemsetAsync(p.offsets, 0, (p.e + 1) * sizeof(int32_t), s));
    if (p.dropped) DSV3_CUDA_CHECK(cudaMemsetAsync(p.dropped, 0, sizeof(int32_t), s));
    return;
  }
  const int e = static_cast<int>(p.e);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const unsigned blocks = static_cast<unsigned>((chunks + kPermWarps - 1) / kPermWarps);
  const size_t smem = kPermWarps * static_cast<size_t>(e) * sizeof(int);
  int32_t* scratch = nullptr;  // [chunks, e] counts, then exclusive bases
  DSV3_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&scratch), chunks * e * sizeof(int32_t), s));
  permute_count_kernel<<<blocks, kPermWarps * 32, smem, s>>>(p.indices, n, e, chunks, scratch);
  DSV3_CUDA_CHECK_LAUNCH();
  permute_scan_kernel<<<1, 256, e * sizeof(int), s>>>(p, chunks, scratch);
  DSV3_CUDA_CHECK_LAUNCH();
  permute_place_kernel<<<blocks, kPermWarps * 32, smem, s>>>(p, chunks, scratch);
  DSV3_CUDA_CHECK_LAUNCH();
  DSV3_CUDA_CHECK(cudaFreeAsync(scratch, s));
}

void moe_gather(const MoeGatherParams& p, void* stream) {
  if (p.rows == 0 || p.row_bytes == 0) return;
  const unsigned blocks = static_cast<unsigned>((p.rows + kGatherWarps - 1) / kGatherWarps);
  const int threads = kGatherWarps * 32;
  if (p.row_bytes % 16 == 0 && aligned(p.x, 16) && aligned(p.out, 16))
    moe_gather_kernel<uint4><<<blocks, threads, 0, st(stream)>>>(p);
  else if (p.row_bytes % 4 == 0 && aligned(p.x, 4) && aligned(p.out, 4))
    moe_gather_kernel<uint32_t><<<blocks, threads, 0, st(stream)>>>(p);
  else
    moe_gather_kernel<uint8_t><<<blocks, threads, 0, st(stream)>>>(p);
  DSV3_CUDA_CHECK_LAUNCH();
}

namespace {
void launch_silu_mul_quant(const SiluMulQuantParams& p, RowGroups groups, void* stream) {
  const int64_t items = p.rows * ((p.n + 127) / 128);
  if (items == 0) return;
  const unsigned blocks = static_cast<unsigned>((items + kQuantWarps - 1) / kQuantWarps);
  switch (p.dtype) {
    case DType::bf16: silu_mul_quant_kernel<__nv_bfloat16><<<blocks, kQuantWarps * 32, 0, st(stream)>>>(p, groups); break;
    case DType::f16: silu_mul_quant_kernel<__half><<<blocks, kQuantWarps * 32, 0, st(stream)>>>(p, groups); break;
    default: silu_mul_quant_kernel<float><<<blocks, kQuantWarps * 32, 0, st(stream)>>>(p, groups);
  }
  DSV3_CUDA_CHECK_LAUNCH();
}
}  // namespace

void silu_mul_quant(const SiluMulQuantParams& p, void* stream) { launch_silu_mul_quant(p, RowGroups{nullptr, nullptr, 0, 0}, stream); }

void silu_mul_quant_grouped(const SiluMulQuantParams& p, const int32_t* offsets, const int32_t* counts, int64_t g, int64_t m_max,
                            void* stream) {
  if (g == 0) return;
  launch_silu_mul_quant(p, RowGroups{offsets, counts, g, m_max}, stream);
}

void moe_combine(const MoeCombineParams& p, void* stream) {
  if (p.t == 0 || p.d == 0) return;
  const int threads = static_cast<int>(std::min<int64_t>(kCombineThreads, (p.d + 31) / 32 * 32));
  const size_t smem = 2 * p.k * sizeof(int32_t);
  const unsigned blocks = static_cast<unsigned>(p.t);
  switch (p.y_dtype) {
    case DType::bf16: moe_combine_kernel<__nv_bfloat16><<<blocks, threads, smem, st(stream)>>>(p); break;
    case DType::f16: moe_combine_kernel<__half><<<blocks, threads, smem, st(stream)>>>(p); break;
    default: moe_combine_kernel<float><<<blocks, threads, smem, st(stream)>>>(p);
  }
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace dsv3::cuda
