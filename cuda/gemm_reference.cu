// The reference CUDA GEMM kernels, for every architecture: one thread per output element, K walked
// in 128-wide blocks with the FP8 partial sums promoted by a_scale * b_scale at the end of each block,
// exactly the CPU backend's recipe. No shared memory, no tensor cores: obviously correct, slow. They
// are the fallback of cuda/fp8_gemm.cu (non-sm_90 devices, unaligned operands), the reference for
// cuda/gemm_f32_bf16.cu (f32 / bf16), and the grouped f32 / bf16 GEMMs. The ops' kernel = 'simple' option
// selects them. Grouped layouts as in native/ops.h GroupedGemmParams.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/gemm.gpu.test.ts.
#include <cuda_bf16.h>

#include "cuda/common.cuh"
#include "cuda/e4m3.cuh"
#include "cuda/gemm.h"

namespace dsv3::cuda {
namespace {

struct SimpleProblem {
  const void* a;        // [rows, k]
  const float* a_scale; // [rows, kb] (FP8 only)
  const void* b;        // [g, n, k]
  const float* b_scale; // [g, nb, kb] (FP8 only)
  void* out;            // [rows, n]
  const int32_t* offsets;  // contiguous: [g + 1]
  const int32_t* counts;   // masked: [g]
  int64_t rows, n, k, g, m_max;
  int mode;             // 0 dense, 1 contiguous, 2 masked
};

__device__ __forceinline__ float ld(const uint8_t* p, int64_t i) { return e4m3_decode(p[i]); }
__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// The group of row r, or -1 when no group owns it (such rows are left untouched, as on the CPU).
__device__ __forceinline__ int64_t group_of(const SimpleProblem& p, int64_t r) {
  if (p.mode == 0) return 0;
  if (p.mode == 2) {
    const int64_t e = r / p.m_max;
    const int64_t count = p.counts[e] < 0 ? 0 : p.counts[e];
    return r - e * p.m_max < count ? e : -1;  // rows past m_max do not exist: count > m_max changes nothing
  }
  if (r < p.offsets[0] || r >= p.offsets[p.g]) return -1;
  int64_t lo = 0, hi = p.g;  // the last e with offsets[e] <= r
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    if (p.offsets[mid] <= r) lo = mid; else hi = mid;
  }
  return lo;
}

template <typename TA, typename TB, typename TO, bool kFp8>
__global__ void gemm_simple_kernel(const SimpleProblem p) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;  // output column
  const int64_t r = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;  // output row
  if (j >= p.n || r >= p.rows) return;
  const int64_t e = group_of(p, r);
  if (e < 0) return;
  const TA* a = static_cast<const TA*>(p.a) + r * p.k;
  const TB* b = static_cast<const TB*>(p.b) + (e * p.n + j) * p.k;
  float acc = 0.f;
  if constexpr (kFp8) {
    const int64_t kb = (p.k + kQuantBlock - 1) / kQuantBlock, nb = (p.n + kQuantBlock - 1) / kQuantBlock;
    const float* sa = p.a_scale + r * kb;
    const float* sb = p.b_scale + (e * nb + j / kQuantBlock) * kb;
    for (int64_t bi = 0; bi < kb; ++bi) {
      float part = 0.f;
      const int64_t k1 = p.k < (bi + 1) * kQuantBlock ? p.k : (bi + 1) * kQuantBlock;
      for (int64_t kk = bi * kQuantBlock; kk < k1; ++kk) part = fmaf(ld(a, kk), ld(b, kk), part);
      acc = fmaf(part, sa[bi] * sb[bi], acc);
    }
  } else {
    for (int64_t kk = 0; kk < p.k; ++kk) acc = fmaf(ld(a, kk), ld(b, kk), acc);
  }
  st(static_cast<TO*>(p.out), r * p.n + j, acc);
}

template <typename TA, typename TB, typename TO, bool kFp8>
void launch(const SimpleProblem& p, cudaStream_t s) {
  const dim3 block(32, 8);
  const int64_t gy = (p.rows + block.y - 1) / block.y;
  if (gy > 65535) throw CudaError("gemm (simple kernel): more than 524280 rows in one call");
  const dim3 grid(static_cast<unsigned>((p.n + block.x - 1) / block.x), static_cast<unsigned>(gy));
  gemm_simple_kernel<TA, TB, TO, kFp8><<<grid, block, 0, s>>>(p);
  DSV3_CUDA_CHECK_LAUNCH();
}

// Instantiations by (operand dtype, out dtype).
void dispatch(const SimpleProblem& p, DType a_dtype, DType b_dtype, DType out_dtype, void* stream) {
  if (p.rows == 0 || p.n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool o32 = out_dtype == DType::f32;
  if (a_dtype == DType::f8_e4m3) {
    if (o32) launch<uint8_t, uint8_t, float, true>(p, s); else launch<uint8_t, uint8_t, __nv_bfloat16, true>(p, s);
  } else if (a_dtype == DType::f32 && b_dtype == DType::f32) {
    if (o32) launch<float, float, float, false>(p, s); else launch<float, float, __nv_bfloat16, false>(p, s);
  } else if (a_dtype == DType::bf16 && b_dtype == DType::bf16) {
    if (o32) launch<__nv_bfloat16, __nv_bfloat16, float, false>(p, s); else launch<__nv_bfloat16, __nv_bfloat16, __nv_bfloat16, false>(p, s);
  } else if (a_dtype == DType::bf16 && b_dtype == DType::f32) {
    if (o32) launch<__nv_bfloat16, float, float, false>(p, s); else launch<__nv_bfloat16, float, __nv_bfloat16, false>(p, s);
  } else if (a_dtype == DType::f32 && b_dtype == DType::bf16) {
    if (o32) launch<float, __nv_bfloat16, float, false>(p, s); else launch<float, __nv_bfloat16, __nv_bfloat16, false>(p, s);
  } else {
    throw CudaError(std::string("gemm: no CUDA kernel for operands ") + dtype_name(a_dtype) + " x " + dtype_name(b_dtype));
  }
}

}  // namespace

void fp8_gemm_simple(const Fp8GemmParams& p, void* stream) {
  SimpleProblem sp{p.a, p.a_scale, p.b, p.b_scale, p.out, nullptr, nullptr, p.m, p.n, p.k, 1, p.m, 0};
  dispatch(sp, DType::f8_e4m3, DType::f8_e4m3, p.out_dtype, stream);
}

void gemm_simple(const GemmParams& p, void* stream) {
  SimpleProblem sp{p.a, nullptr, p.b, nullptr, p.out, nullptr, nullptr, p.m, p.n, p.k, 1, p.m, 0};
  dispatch(sp, p.a_dtype, p.b_dtype, p.out_dtype, stream);
}

void grouped_gemm_simple(const GroupedGemmParams& p, void* stream) {
  SimpleProblem sp{p.a, p.a_scale, p.b, p.b_scale, p.out, p.offsets, p.counts,
                   p.masked ? p.g * p.m : p.m, p.n, p.k, p.g, p.m, p.masked ? 2 : 1};
  if (p.g == 0) return;
  dispatch(sp, p.a_dtype, p.b_dtype, p.out_dtype, stream);
}

}  // namespace dsv3::cuda
