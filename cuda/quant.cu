// CUDA FP8 activation quantization (DeepSeek kernel.py act_quant): one warp per 1x128 group, each lane
// 4 values; amax by a warp max over the magnitude bits (a NaN wins, as on the CPU), scale =
// max(amax, 1e-4) / 448 (ue8m0: rounded up to a power of two on the bits), codes = e4m3(x / scale), NaN
// and inf groups included (the CPU's NaN bits: cuda/e4m3.cuh e4m3_quantize).
// Bound: memory, (isz + 1 + 4/128) bytes per element; target: the copy bandwidth.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/quant.gpu.test.ts.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cuda/codec.cuh"
#include "cuda/common.cuh"
#include "cuda/e4m3.cuh"
#include "cuda/quant.h"

namespace dsv3::cuda {
namespace {

template <typename T> __device__ __forceinline__ float load_f32(const T* p, int64_t i);
template <> __device__ __forceinline__ float load_f32<float>(const float* p, int64_t i) { return p[i]; }
// On the bits, as the CPU's to_f32 (a hardware cvt may canonicalize a NaN, and its payload sets the scale).
template <> __device__ __forceinline__ float load_f32<__nv_bfloat16>(const __nv_bfloat16* p, int64_t i) { return bf16_load(__bfloat16_as_ushort(p[i])); }
template <> __device__ __forceinline__ float load_f32<__half>(const __half* p, int64_t i) { return f16_load(__half_as_ushort(p[i])); }

template <typename T>
__global__ void quantize_fp8_kernel(const T* __restrict__ x, uint8_t* __restrict__ y, float* __restrict__ scale,
                                    int64_t m, int64_t k, int64_t groups_per_row, bool ue8m0) {
  const int64_t group = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (group >= m * groups_per_row) return;  // warp-uniform
  const int64_t r = group / groups_per_row, gi = group % groups_per_row;
  const int64_t j0 = gi * kQuantBlock, n = k - j0 < kQuantBlock ? k - j0 : int64_t{kQuantBlock};
  const int64_t base = r * k + j0;
  float v[4];
  uint32_t amax_bits = 0;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int j = lane * 4 + q;
    v[q] = j < n ? load_f32(x, base + j) : 0.f;
    amax_bits = max(amax_bits, __float_as_uint(v[q]) & 0x7fffffffu);
  }
#if __CUDA_ARCH__ >= 800
  amax_bits = __reduce_max_sync(0xffffffffu, amax_bits);
#else
  for (int o = 16; o > 0; o >>= 1) amax_bits = max(amax_bits, __shfl_xor_sync(0xffffffffu, amax_bits, o));
#endif
  const float s = fp8_group_scale(amax_bits, ue8m0);  // NaN group: NaN scale, NaN codes (the CPU's bits)
  if (lane == 0) scale[r * groups_per_row + gi] = s;
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int j = lane * 4 + q;
    if (j < n) y[base + j] = e4m3_quantize(v[q], s);
  }
}

}  // namespace

void quantize_fp8(const QuantizeFp8Params& p, void* stream) {
  const int64_t g = ceil_div(p.k, kQuantBlock);
  const int64_t warps = p.m * g;
  if (warps == 0) return;
  const int threads = 256;
  const int64_t blocks = ceil_div(warps * 32, threads);
  if (blocks > 0x7fffffff) throw CudaError("quantizeFp8: too many groups for one launch");
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.x_dtype) {
    case DType::f32:
      quantize_fp8_kernel<<<blocks, threads, 0, s>>>(static_cast<const float*>(p.x), p.y, p.scale, p.m, p.k, g, p.ue8m0);
      break;
    case DType::bf16:
      quantize_fp8_kernel<<<blocks, threads, 0, s>>>(static_cast<const __nv_bfloat16*>(p.x), p.y, p.scale, p.m, p.k, g, p.ue8m0);
      break;
    case DType::f16:
      quantize_fp8_kernel<<<blocks, threads, 0, s>>>(static_cast<const __half*>(p.x), p.y, p.scale, p.m, p.k, g, p.ue8m0);
      break;
    default: throw CudaError("quantizeFp8: unsupported input dtype");
  }
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace dsv3::cuda
