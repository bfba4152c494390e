// e4m3fn encode/decode on the device, bit-identical to the CPU backend (native/cpu/quant.cc e4m3_code,
// native/dtype.h): the same integer rounding on the f32 bits, so CUDA and CPU quantization agree code
// for code (the GPU test checks equality, not a tolerance). Needs IEEE f32 add (no fast-math / FTZ).
#pragma once
#include <cstdint>

namespace dsv3::cuda {

__device__ __forceinline__ uint8_t e4m3_encode(float f) {
  const uint32_t u = __float_as_uint(f), a = u & 0x7fffffffu;
  uint32_t code;
  if (a > 0x7f800000u) code = 0x7fu;                  // NaN
  else if (a >= 0x43e00000u) code = 0x7eu;            // >= 448 or inf: saturate to 448
  else if (a < 0x3c800000u)                           // below 2^-6: onto the m * 2^-9 grid, RNE by the FPU
    code = __float_as_uint(__fadd_rn(__uint_as_float(a), 16384.0f)) - 0x46800000u;
  else code = ((a + 0x7ffffu + ((a >> 20) & 1u)) >> 20) - (120u << 3);  // normal: RNE of the mantissa to 3 bits
  return static_cast<uint8_t>(((u >> 24) & 0x80u) | code);
}

__device__ __forceinline__ float e4m3_decode(uint8_t c) {
  const uint32_t s = (c & 0x80u) << 24, e = (c >> 3) & 0xfu, m = c & 7u;
  if (e == 0xfu && m == 7u) return __uint_as_float(s | 0x7fc00000u);  // NaN
  if (e == 0) {  // subnormal: m * 2^-9
    const float v = static_cast<float>(m) * 0.001953125f;
    return s ? -v : v;
  }
  return __uint_as_float(s | ((e + 120u) << 23) | (m << 20));
}

// The scale of one 1x128 group from the max of its magnitude bits (a NaN in the group wins, as on the
// CPU, and gives a NaN scale): max(amax, 1e-4) / 448, rounded up to a power of two for ue8m0.
__device__ __forceinline__ float fp8_group_scale(uint32_t amax_bits, bool ue8m0) {
  const float amax = __uint_as_float(amax_bits);
  if (amax_bits > 0x7f800000u) return amax;
  const float s = __fdiv_rn(fmaxf(amax, 1e-4f), 448.0f);
  if (!ue8m0) return s;
  const uint32_t u = __float_as_uint(s);
  if ((u & 0x7f800000u) == 0x7f800000u || (u & 0x007fffffu) == 0) return s;
  return __uint_as_float((u & 0x7f800000u) + 0x00800000u);
}

}  // namespace dsv3::cuda
