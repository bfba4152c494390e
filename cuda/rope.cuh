// The device RoPE of every CUDA kernel that rotates (cuda/rope.cu, the fused MLA projections in
// cuda/mla_proj.cu), as native/cpu/rowops.h is on the CPU: one definition, so fused and unfused RoPE
// give the same bits. Interleaved pairs (DeepSeek-V3 model.py apply_rotary_emb): angle = f32(pos) *
// inv_freq rounded to f32, cos/sin in double rounded once to f32, products and sums rounded one by one
// (no FMA contraction). The CPU build may contract them, so GPU and CPU agree to f32 rounding.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace dsv3::cuda {

// {cos, sin} of the angle of pair k at position pos (inv_freq = inv_freq[k]).
__device__ __forceinline__ float2 rope_cos_sin(int64_t pos, float inv_freq) {
  const double a = static_cast<double>(__fmul_rn(static_cast<float>(pos), inv_freq));
  return make_float2(static_cast<float>(cos(a)), static_cast<float>(sin(a)));
}

// The pair (x0, x1) rotated by {cos, sin} = cs.
__device__ __forceinline__ float2 rope_rotate(float x0, float x1, float2 cs) {
  return make_float2(__fsub_rn(__fmul_rn(x0, cs.x), __fmul_rn(x1, cs.y)), __fadd_rn(__fmul_rn(x0, cs.y), __fmul_rn(x1, cs.x)));
}

}  // namespace dsv3::cuda
