// Element types of dsv3 tensors and the exact scalar codecs (f32 <-> bf16, f16, f8_e4m3fn).
// The e4m3fn encoder mirrors PTX cvt.rn.satfinite.e4m3x2.f32 (what the CUDA kernels use):
// round-to-nearest-even, finite overflow and +-inf saturate to +-448, NaN stays NaN (0x7f | sign).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

namespace dsv3 {

enum class DType : int { f32 = 0, f16, bf16, f8_e4m3, i32, i64, u8 };
constexpr int kNumDTypes = 7;

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::f8_e4m3: case DType::u8: return 1;
    case DType::i64: return 8;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  static const char* names[] = {"f32", "f16", "bf16", "f8_e4m3", "i32", "i64", "u8"};
  return names[static_cast<int>(t)];
}
inline bool parse_dtype(const std::string& s, DType* out) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (s == dtype_name(static_cast<DType>(i))) { *out = static_cast<DType>(i); return true; }
  return false;
}

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// ---- bf16 ----
inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(u >> 16);
}

// ---- f16 (IEEE binary16) ----
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;  // mant * 2^-24, exact
    return f32_from_bits(f32_bits(v) | sign);
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (mant << 13));
  return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}
inline uint16_t f32_to_f16(float f) {
  // Round-to-nearest-even through float arithmetic: adding a power-of-two bias aligns the
  // mantissa so the FPU's own rounding produces the binary16 result (subnormals included).
  const float scale_to_inf = 5.192296858534828e+33f;   // 2^112
  const float scale_to_zero = 7.703719777548943e-34f;  // 2^-110
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;
  const uint32_t w = f32_bits(f), shl1_w = w + w, sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xff000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = f32_from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = f32_bits(base);
  const uint32_t nonsign = ((bits >> 13) & 0x7c00u) + (bits & 0x0fffu);
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xff000000u ? 0x7e00u : nonsign));
}

// ---- f8 e4m3fn (no infinities; 0x7f/0xff are NaN; max finite 448) ----
struct E4M3Table {
  float v[256];
  E4M3Table() {
    for (int c = 0; c < 256; ++c) {
      const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
      float x;
      if (e == 15 && m == 7) x = NAN;
      else if (e == 0) x = std::ldexp(static_cast<float>(m), -9);
      else x = std::ldexp(1.0f + m / 8.0f, e - 7);
      v[c] = s ? -x : x;
    }
  }
};
extern const E4M3Table kE4M3;  // decode table, defined in native/dtype.cc
inline float e4m3_to_f32(uint8_t c) { return kE4M3.v[c]; }
inline uint8_t f32_to_e4m3(float f) {
  const uint8_t sign = (f32_bits(f) >> 24) & 0x80u;
  if (std::isnan(f)) return sign | 0x7f;
  const float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;              // saturate (also +-inf)
  if (a < 0.015625f) {                               // below 2^-6: subnormal grid m * 2^-9
    const int q = static_cast<int>(std::nearbyint(a * 512.0f));  // 0..8; 8 is the min normal 0x08
    return sign | static_cast<uint8_t>(q);
  }
  int e;
  const float fr = std::frexp(a, &e);                // a = fr * 2^e, fr in [0.5, 1)
  int m = static_cast<int>(std::nearbyint((fr * 2.0f - 1.0f) * 8.0f));  // exact scaling, RNE
  int ex = e - 1 + 7;
  if (m == 8) { m = 0; ++ex; }
  int code = (ex << 3) | m;
  if (code > 0x7e) code = 0x7e;
  return sign | static_cast<uint8_t>(code);
}

// Load element i of a float-like buffer as f32.
inline float load_f32(const void* p, DType t, size_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::f8_e4m3: return e4m3_to_f32(static_cast<const uint8_t*>(p)[i]);
    case DType::i32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return static_cast<float>(static_cast<const int64_t*>(p)[i]);
    case DType::u8: return static_cast<float>(static_cast<const uint8_t*>(p)[i]);
  }
  return 0.f;
}
// Store an f32 value as element i (float types round to nearest even; integer types truncate toward zero).
inline void store_f32(void* p, DType t, size_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(v); break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f32_to_f16(v); break;
    case DType::f8_e4m3: static_cast<uint8_t*>(p)[i] = f32_to_e4m3(v); break;
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
  }
}
// Convert n elements to f32 / from f32 (row helpers used by every op that accepts several dtypes).
void to_f32(const void* src, DType t, float* dst, size_t n);
void from_f32(const float* src, void* dst, DType t, size_t n);

}  // namespace dsv3
