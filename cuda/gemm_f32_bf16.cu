// f32 / bf16 GEMM on CUDA cores for the model's non-FP8 projections (the router x @ gate^T, lm_head,
// bf16 checkpoints): out[i, j] = sum_k a[i, k] b[j, k], f32 accumulation.
// - m <= 8 (decode): a GEMV, one warp per weight row j that streams b[j, :] once with 16-byte loads and
//   keeps the m dot products in registers; a's rows come from L1 (the block's 8 warps read the same
//   chunks). Bound: the weight bytes (n k size(b)); target: the copy bandwidth.
// - m > 8: a 64x64 output tile per block, K staged through shared memory 16 at a time, 4x4 outputs per
//   thread. Compute-bound on CUDA cores (~67 TFLOP/s f32 peak on H100/H200); no tensor cores yet.
// kernel = 'simple' runs the one-thread-per-output kernel of cuda/gemm_reference.cu instead, the
// reference the GPU tests also use.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/gemm.gpu.test.ts.
#include <cuda_bf16.h>

#include "cuda/common.cuh"
#include "cuda/gemm.h"

namespace dsv3::cuda {
namespace {

__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(__nv_bfloat16* p, int64_t i, float v) { p[i] = __float2bfloat16_rn(v); }

// 8 consecutive elements at p + i (16-byte aligned for bf16, 32 for f32) as floats.
__device__ __forceinline__ void ld8(const __nv_bfloat16* p, int64_t i, float (&v)[8]) {
  const uint4 u = *reinterpret_cast<const uint4*>(p + i);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int q = 0; q < 4; ++q) { const float2 f = __bfloat1622float2(h[q]); v[2 * q] = f.x; v[2 * q + 1] = f.y; }
}
__device__ __forceinline__ void ld8(const float* p, int64_t i, float (&v)[8]) {
  const float4 x = *reinterpret_cast<const float4*>(p + i), y = *reinterpret_cast<const float4*>(p + i + 4);
  v[0] = x.x; v[1] = x.y; v[2] = x.z; v[3] = x.w; v[4] = y.x; v[5] = y.y; v[6] = y.z; v[7] = y.w;
}

constexpr int kGemvMaxM = 8;
constexpr int kGemvWarps = 8;

// kVec: k % 8 == 0 and both operands 16-byte aligned, so 8-element chunks can be loaded whole.
template <typename TA, typename TB, typename TO, bool kVec>
__global__ void __launch_bounds__(kGemvWarps * 32) gemv_kernel(const TA* __restrict__ a, const TB* __restrict__ b, TO* __restrict__ out,
                                                               int m, int64_t n, int64_t k) {
  const int lane = threadIdx.x % 32;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kGemvWarps + threadIdx.x / 32;
  if (j >= n) return;  // warp-uniform
  const TB* brow = b + j * k;
  float acc[kGemvMaxM];
#pragma unroll
  for (int i = 0; i < kGemvMaxM; ++i) acc[i] = 0.f;
  if constexpr (kVec) {
    for (int64_t c = static_cast<int64_t>(lane) * 8; c < k; c += 32 * 8) {
      float bv[8], av[8];
      ld8(brow, c, bv);
#pragma unroll
      for (int i = 0; i < kGemvMaxM; ++i) {
        if (i >= m) break;
        ld8(a + static_cast<int64_t>(i) * k, c, av);
#pragma unroll
        for (int q = 0; q < 8; ++q) acc[i] = fmaf(av[q], bv[q], acc[i]);
      }
    }
  } else {
    for (int64_t c = lane; c < k; c += 32) {
      const float bv = ld(brow, c);
#pragma unroll
      for (int i = 0; i < kGemvMaxM; ++i) {
        if (i >= m) break;
        acc[i] = fmaf(ld(a, static_cast<int64_t>(i) * k + c), bv, acc[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kGemvMaxM; ++i) {
    if (i >= m) break;
    float v = acc[i];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0) st(out, static_cast<int64_t>(i) * n + j, v);
  }
}

constexpr int kTile = 64, kTileK = 16;

template <typename TA, typename TB, typename TO>
__global__ void __launch_bounds__(256) gemm_tiled_kernel(const TA* __restrict__ a, const TB* __restrict__ b, TO* __restrict__ out,
                                                         int64_t m, int64_t n, int64_t k) {
  __shared__ float as[kTileK][kTile + 4], bs[kTileK][kTile + 4];  // [kk][row of the tile]
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  const int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTile, j0 = static_cast<int64_t>(blockIdx.x) * kTile;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    // 64 rows x 16 k of each operand: 4 elements per thread, consecutive in k.
    const int r = tid / 4, kk0 = (tid % 4) * 4;
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int64_t kk = k0 + kk0 + q;
      as[kk0 + q][r] = (i0 + r < m && kk < k) ? ld(a, (i0 + r) * k + kk) : 0.f;
      bs[kk0 + q][r] = (j0 + r < n && kk < k) ? ld(b, (j0 + r) * k + kk) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) { av[q] = as[kk][ty * 4 + q]; bv[q] = bs[kk][tx * 4 + q]; }
#pragma unroll
      for (int x = 0; x < 4; ++x)
#pragma unroll
        for (int y = 0; y < 4; ++y) acc[x][y] = fmaf(av[x], bv[y], acc[x][y]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int x = 0; x < 4; ++x) {
    const int64_t i = i0 + ty * 4 + x;
    if (i >= m) continue;
#pragma unroll
    for (int y = 0; y < 4; ++y) {
      const int64_t j = j0 + tx * 4 + y;
      if (j < n) st(out, i * n + j, acc[x][y]);
    }
  }
}

template <typename TA, typename TB, typename TO>
void launch(const GemmParams& p, cudaStream_t s) {
  const auto* a = static_cast<const TA*>(p.a);
  const auto* b = static_cast<const TB*>(p.b);
  auto* o = static_cast<TO*>(p.out);
  if (p.m <= kGemvMaxM) {
    const bool vec = p.k % 8 == 0 && reinterpret_cast<uintptr_t>(a) % 16 == 0 && reinterpret_cast<uintptr_t>(b) % 16 == 0;
    const int64_t blocks = (p.n + kGemvWarps - 1) / kGemvWarps;
    if (blocks > 0x7fffffff) throw CudaError("gemm: n too large for one launch");
    if (vec) gemv_kernel<TA, TB, TO, true><<<static_cast<unsigned>(blocks), kGemvWarps * 32, 0, s>>>(a, b, o, static_cast<int>(p.m), p.n, p.k);
    else gemv_kernel<TA, TB, TO, false><<<static_cast<unsigned>(blocks), kGemvWarps * 32, 0, s>>>(a, b, o, static_cast<int>(p.m), p.n, p.k);
  } else {
    const int64_t gy = (p.m + kTile - 1) / kTile, gx = (p.n + kTile - 1) / kTile;
    if (gy > 65535 || gx > 0x7fffffff) throw CudaError("gemm: m or n too large for one launch");
    gemm_tiled_kernel<TA, TB, TO><<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), 256, 0, s>>>(a, b, o, p.m, p.n, p.k);
  }
  DSV3_CUDA_CHECK_LAUNCH();
}

template <typename TA, typename TB>
void launch_out(const GemmParams& p, cudaStream_t s) {
  if (p.out_dtype == DType::f32) launch<TA, TB, float>(p, s);
  else launch<TA, TB, __nv_bfloat16>(p, s);
}

}  // namespace

void gemm(const GemmParams& p, void* stream) {
  if (p.m == 0 || p.n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const bool a32 = p.a_dtype == DType::f32, b32 = p.b_dtype == DType::f32;
  if (a32 && b32) launch_out<float, float>(p, s);
  else if (a32) launch_out<float, __nv_bfloat16>(p, s);
  else if (b32) launch_out<__nv_bfloat16, float>(p, s);
  else launch_out<__nv_bfloat16, __nv_bfloat16>(p, s);
}

}  // namespace dsv3::cuda
