// e4m3fn encode/decode on the device, bit-identical to the CPU backend (native/cpu/quant.cc e4m3_code,
// native/dtype.h): the same integer rounding on the f32 bits, so CUDA and CPU quantization agree code
// for code (the GPU test checks equality, not a tolerance). Needs IEEE f32 add (no fast-math / FTZ).
#pragma once
#include <cstdint>

namespace dsv3::cuda {

// ---- the NaN results of the CPU backend's f32 arithmetic (x86 SSE/AVX) ----
// A NaN operand comes out quieted (payload and sign kept; the first operand's when both are NaN); an
// invalid operation on non-NaN operands (inf / inf, 0 * inf, inf - inf) gives the default NaN 0xffc00000
// (sign set). The GPU gives the canonical 0x7fffffff in all these cases, so every quantizer and dequantizer
// that promises the CPU's bits goes through these. Operand order is the CPU's, as compiled (the tests
// compare bytes): codes = x / scale, dequantized = scale * value (native/cpu/quant.cc).
__device__ __forceinline__ bool is_nan_bits(float a) { return (__float_as_uint(a) & 0x7fffffffu) > 0x7f800000u; }
__device__ __forceinline__ float cpu_quiet_nan(float a) { return __uint_as_float(__float_as_uint(a) | 0x00400000u); }
__device__ __forceinline__ float cpu_nan_rule(float a, float b, float r) {
  if (!is_nan_bits(r)) return r;
  if (is_nan_bits(a)) return cpu_quiet_nan(a);
  if (is_nan_bits(b)) return cpu_quiet_nan(b);
  return __uint_as_float(0xffc00000u);
}
__device__ __forceinline__ float cpu_div(float a, float b) { return cpu_nan_rule(a, b, __fdiv_rn(a, b)); }
__device__ __forceinline__ float cpu_mul(float a, float b) { return cpu_nan_rule(a, b, __fmul_rn(a, b)); }
__device__ __forceinline__ float cpu_add(float a, float b) { return cpu_nan_rule(a, b, __fadd_rn(a, b)); }

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
// CPU, and gives a NaN scale: the CPU's NaN / 448, i.e. that NaN quieted): max(amax, 1e-4) / 448, rounded
// up to a power of two for ue8m0.
__device__ __forceinline__ float fp8_group_scale(uint32_t amax_bits, bool ue8m0) {
  const float amax = __uint_as_float(amax_bits);
  if (amax_bits > 0x7f800000u) return cpu_quiet_nan(amax);
  const float s = __fdiv_rn(fmaxf(amax, 1e-4f), 448.0f);
  if (!ue8m0) return s;
  const uint32_t u = __float_as_uint(s);
  if ((u & 0x7f800000u) == 0x7f800000u || (u & 0x007fffffu) == 0) return s;
  return __uint_as_float((u & 0x7f800000u) + 0x00800000u);
}

// The code of x in a group of scale s, as the CPU's e4m3_code(x / s): in a NaN group every code is NaN
// (0x7f, or 0xff for a negative NaN x); in a group holding +-inf (scale inf) the infinities become the
// default NaN (0xff) and the finite values +-0.
__device__ __forceinline__ uint8_t e4m3_quantize(float x, float s) { return e4m3_encode(cpu_div(x, s)); }

}  // namespace dsv3::cuda
