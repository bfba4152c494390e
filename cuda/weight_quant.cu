// CUDA 128x128 block FP8 weight quantization (the checkpoint's weight / weight_scale_inv) and
// dequantization (DeepSeek kernel.py weight_dequant), mirroring native/cpu/quant.cc bit for bit:
// amax on the magnitude bits (a NaN wins), scale = max(amax, 1e-4) / 448 with a true division,
// codes by cuda/e4m3.cuh, NaN bits included (cpu_div / cpu_mul). Quantize: one block per 128x128 tile,
// two passes (the second re-reads the tile from L1/L2). Dequantize: grid-stride, four codes per thread.
// Bound: memory; quantize (isz + 1) bytes per element, dequantize (1 + osz); target: HBM bandwidth
// (both run at load time, not in the decode loop).
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/weight_quant.gpu.test.ts.
#include <algorithm>

#include "cuda/codec.cuh"
#include "cuda/weight_quant.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int B = kQuantBlock;

template <typename TW>
__global__ void __launch_bounds__(kThreads) quantize_weight_kernel(const typename TW::raw* __restrict__ w,
                                                                   uint8_t* __restrict__ y, float* __restrict__ scale_inv,
                                                                   int64_t n, int64_t k, int64_t kb) {
  __shared__ uint32_t smem[32];
  const int64_t bi = blockIdx.x / kb, bj = blockIdx.x % kb;
  const int64_t i0 = bi * B, j0 = bj * B;
  const int rows = static_cast<int>(n - i0 < B ? n - i0 : B), cols = static_cast<int>(k - j0 < B ? k - j0 : B);
  uint32_t amax = 0;
  for (int e = threadIdx.x; e < rows * B; e += kThreads) {
    const int r = e / B, c = e % B;
    if (c < cols) amax = max(amax, __float_as_uint(TW::load(w, (i0 + r) * k + j0 + c)) & 0x7fffffffu);
  }
  amax = __reduce_max_sync(0xffffffffu, amax);
  if (threadIdx.x % 32 == 0) smem[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = threadIdx.x % 32 < kThreads / 32 ? smem[threadIdx.x % 32] : 0u;
  amax = __reduce_max_sync(0xffffffffu, amax);
  const float s = fp8_group_scale(amax, false);  // weight blocks: no ue8m0
  if (threadIdx.x == 0) scale_inv[blockIdx.x] = s;
  for (int e = threadIdx.x; e < rows * B; e += kThreads) {
    const int r = e / B, c = e % B;
    if (c < cols) {
      const int64_t idx = (i0 + r) * k + j0 + c;
      y[idx] = e4m3_quantize(TW::load(w, idx), s);
    }
  }
}

template <typename TO>
__global__ void __launch_bounds__(kThreads) dequantize_weight_kernel(const uint8_t* __restrict__ w,
                                                                     const float* __restrict__ scale_inv,
                                                                     typename TO::raw* __restrict__ out, int64_t n,
                                                                     int64_t k, int64_t kb) {
  const int64_t total = n * k, stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; e < total; e += stride) {
    const int64_t i = e / k, j = e - i * k;
    TO::store(out, e, cpu_mul(scale_inv[(i / B) * kb + j / B], e4m3_decode(w[e])));  // the CPU's NaN when both are NaN: the scale's
  }
}

}  // namespace

void quantize_weight_fp8(const QuantizeWeightFp8Params& p, void* stream) {
  if (p.n == 0 || p.k == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t kb = ceil_div(p.k, B);
  const unsigned grid = grid_1d(ceil_div(p.n, B) * kb, "quantizeWeightFp8");
  with_float(p.w_dtype, "quantizeWeightFp8", [&](auto tw) {
    using TW = decltype(tw);
    quantize_weight_kernel<TW><<<grid, kThreads, 0, s>>>(static_cast<const typename TW::raw*>(p.w), p.y, p.scale_inv,
                                                         p.n, p.k, kb);
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

void dequantize_weight_fp8(const DequantizeWeightFp8Params& p, void* stream) {
  if (p.n == 0 || p.k == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = grid_1d(std::min<int64_t>(ceil_div(p.n * p.k, kThreads), int64_t{1} << 20), "dequantizeWeightFp8");
  if (p.out_dtype != DType::f32 && p.out_dtype != DType::bf16) throw CudaError("dequantizeWeightFp8: out must be f32 or bf16");
  with_float(p.out_dtype, "dequantizeWeightFp8", [&](auto to) {
    using TO = decltype(to);
    dequantize_weight_kernel<TO><<<grid, kThreads, 0, s>>>(p.w, p.scale_inv, static_cast<typename TO::raw*>(p.out), p.n,
                                                           p.k, ceil_div(p.k, B));
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace dsv3::cuda
