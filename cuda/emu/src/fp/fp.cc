// dsv3-emu: IEEE arithmetic, min/max and the conversions (cvt) of PTX, per lane, as PTX ISA 9.0 section
// 9.7.3 (floating-point instructions), 9.7.4/9.7.5 (half precision) and 9.7.9.21 (cvt) define them.
// Round-to-nearest runs on the host FPU (its default mode); directed modes go to fp_round.cc (host FPU
// under fesetround) or to the exact software rounding of softround.h (all narrow formats, int -> float).
#include <cmath>
#include <cstring>

#include "src/fp/fp.h"
#include "src/fp/fp_impl.h"
#include "src/fp/softround.h"

namespace emu::fp {
using namespace detail;

// ---- bits ----
float f32_from_bits(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
uint32_t bits_of(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }
double f64_from_bits(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
uint64_t bits_of(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }

float ftz(float x) { return is_subnormal(x) ? std::copysign(0.0f, x) : x; }

// ---- f32 arithmetic ----
float add(float a, float b, Round r, bool ftz_, bool sat) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return finish(is_rn(r) ? a + b : add_dir(a, b, r), ftz_, sat);
}
float sub(float a, float b, Round r, bool ftz_, bool sat) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return finish(is_rn(r) ? a - b : sub_dir(a, b, r), ftz_, sat);
}
float mul(float a, float b, Round r, bool ftz_, bool sat) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return finish(is_rn(r) ? a * b : mul_dir(a, b, r), ftz_, sat);
}
float fma(float a, float b, float c, Round r, bool ftz_, bool sat) {
  if (ftz_) { a = ftz(a); b = ftz(b); c = ftz(c); }
  return finish(is_rn(r) ? std::fma(a, b, c) : fma_dir(a, b, c, r), ftz_, sat);
}
float div_rn(float a, float b, Round r, bool ftz_) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return finish(is_rn(r) ? a / b : div_dir(a, b, r), ftz_, false);
}
float rcp(float a, Round r, bool ftz_) {
  if (ftz_) a = ftz(a);
  return finish(is_rn(r) ? 1.0f / a : div_dir(1.0f, a, r), ftz_, false);
}
float sqrt(float a, Round r, bool ftz_) {
  if (ftz_) a = ftz(a);
  return finish(is_rn(r) ? std::sqrt(a) : sqrt_dir(a, r), ftz_, false);
}

// ---- f64 arithmetic (PTX has no .ftz/.sat on f64 add/mul/fma/div/sqrt) ----
double add(double a, double b, Round r) { return finish(is_rn(r) ? a + b : add_dir(a, b, r)); }
double sub(double a, double b, Round r) { return finish(is_rn(r) ? a - b : sub_dir(a, b, r)); }
double mul(double a, double b, Round r) { return finish(is_rn(r) ? a * b : mul_dir(a, b, r)); }
double fma(double a, double b, double c, Round r) {
  return finish(is_rn(r) ? std::fma(a, b, c) : fma_dir(a, b, c, r));
}
double div(double a, double b, Round r) { return finish(is_rn(r) ? a / b : div_dir(a, b, r)); }
double rcp(double a, Round r) { return finish(is_rn(r) ? 1.0 / a : div_dir(1.0, a, r)); }
double sqrt(double a, Round r) { return finish(is_rn(r) ? std::sqrt(a) : sqrt_dir(a, r)); }

// ---- min / max (PTX ISA "min", "max"): one NaN operand is ignored, two give canonical NaN; with
// .NaN any NaN operand gives canonical NaN; -0.0 is smaller than +0.0. ----
namespace {
template <typename T>
T minmax(T a, T b, bool nan, bool is_max, T canon) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb) return (nan || (na && nb)) ? canon : (na ? b : a);
  if (a == b) return (std::signbit(a) != is_max) ? a : b;  // equal, maybe +-0: pick by sign
  return ((a < b) != is_max) ? a : b;
}
}  // namespace
float fmin(float a, float b, bool ftz_, bool nan) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return minmax(a, b, nan, false, f32_from_bits(kCanonicalNaN32));
}
float fmax(float a, float b, bool ftz_, bool nan) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return minmax(a, b, nan, true, f32_from_bits(kCanonicalNaN32));
}
double fmin(double a, double b) { return minmax(a, b, false, false, f64_from_bits(kCanonicalNaN64)); }
double fmax(double a, double b) { return minmax(a, b, false, true, f64_from_bits(kCanonicalNaN64)); }

// ---- conversions ----
float f64_to_f32(double a, Round r, bool ftz_, bool sat) {
  return finish(is_rn(r) ? static_cast<float>(a) : f64_to_f32_dir(a, r), ftz_, sat);
}

namespace {
// cvt of an exactly known value `a` to a narrow format. NaN -> the format's canonical NaN; with
// .satfinite, infinities and overflows become the largest finite value of their sign; with .relu a
// negative result (and -0) becomes +0 (NaN stays canonical NaN).
uint64_t to_narrow(double a, const Format& f, Round r, bool satfinite, bool relu) {
  if (std::isnan(a)) return f.nan;
  if (relu && std::signbit(a)) return 0;
  if (std::isinf(a)) return (a < 0 ? sign_bit(f) : 0) | (satfinite || !f.inf ? f.max_finite : f.inf);
  bool neg;
  uint64_t m;
  int e;
  split(a, neg, m, e);
  return round_pack(neg, m, e, f, r, satfinite);
}
}  // namespace

uint16_t f32_to_f16(float a, Round r, bool sat, bool relu) { return to_narrow(a, kF16, r, sat, relu); }
uint16_t f32_to_bf16(float a, Round r, bool sat, bool relu) {
  if (r == Round::rn && !sat && !relu) {  // the hot case: add half an ulp (ties to even) and truncate
    const uint32_t b = bits_of(a);
    if ((b & 0x7FFFFFFFu) <= 0x7F800000u) return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1)) >> 16);
  }
  return to_narrow(a, kBF16, r, sat, relu);
}
uint16_t f64_to_f16(double a, Round r, bool sat) { return to_narrow(a, kF16, r, sat, false); }
uint16_t f64_to_bf16(double a, Round r, bool sat) { return to_narrow(a, kBF16, r, sat, false); }

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t ef = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (ef == 0x1F) return f32_from_bits(sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0));
  if (ef == 0) return std::copysign(std::ldexp(static_cast<float>(mant), -24), sign ? -1.0f : 1.0f);
  return f32_from_bits(sign | ((ef + 112) << 23) | (mant << 13));
}
float bf16_to_f32(uint16_t h) {
  uint32_t b = static_cast<uint32_t>(h) << 16;
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) b |= 0x400000u;  // a NaN keeps its payload, quieted
  return f32_from_bits(b);
}

uint32_t f32_to_tf32(float a, Round r, bool satfinite) {
  if (std::isnan(a)) return kCanonicalNaN32;
  return static_cast<uint32_t>(to_narrow(a, kTF32, r, satfinite, false)) << 13;
}

// FP8: PTX has only cvt.rn.satfinite{.relu}.{e4m3x2,e5m2x2}.{f32,f16x2}; NaN -> 0x7F.
uint8_t f32_to_e4m3(float a, bool relu) { return to_narrow(a, kE4M3, Round::rn, true, relu); }
uint8_t f32_to_e5m2(float a, bool relu) { return to_narrow(a, kE5M2, Round::rn, true, relu); }
uint8_t f16_to_e4m3(uint16_t h, bool relu) { return f32_to_e4m3(f16_to_f32(h), relu); }
uint8_t f16_to_e5m2(uint16_t h, bool relu) { return f32_to_e5m2(f16_to_f32(h), relu); }

// FP8 -> f32 is a table lookup (wgmma / mma read FP8 operands element by element). The tables are
// built at compile time from the fields: value = 2^(E - bias) * 1.m, or 2^(1 - bias) * 0.m.
namespace {
constexpr uint32_t fp8_to_f32_bits(uint32_t v, int mbits, int bias, bool fn) {
  const uint32_t sign = (v & 0x80u) << 24, mag = v & 0x7Fu;
  const uint32_t ef = mag >> mbits, mant = mag & ((1u << mbits) - 1);
  const uint32_t emax_field = (1u << (7 - mbits)) - 1;
  if (fn ? mag == 0x7Fu : (ef == emax_field && mant != 0)) return kCanonicalNaN32;
  if (!fn && ef == emax_field) return sign | 0x7F800000u;
  if (mag == 0) return sign;
  int e = static_cast<int>(ef) - bias;
  uint32_t m = mant << (23 - mbits);  // f32 mantissa field
  if (ef == 0) {  // subnormal mant * 2^(1 - bias - mbits): normalise around its leading one (bit k)
    int k = 0;
    while ((mant >> (k + 1)) != 0) ++k;
    e = k + 1 - bias - mbits;
    m = (mant ^ (1u << k)) << (23 - k);
  }
  return sign | (static_cast<uint32_t>(e + 127) << 23) | m;
}
template <int MB, int BIAS, bool FN>
struct Fp8Table {
  uint32_t bits[256];
  constexpr Fp8Table() : bits() {
    for (uint32_t v = 0; v < 256; ++v) bits[v] = fp8_to_f32_bits(v, MB, BIAS, FN);
  }
};
constexpr Fp8Table<3, 7, true> kE4M3Table;
constexpr Fp8Table<2, 15, false> kE5M2Table;
}  // namespace

float e4m3_to_f32(uint8_t v) { return f32_from_bits(kE4M3Table.bits[v]); }
float e5m2_to_f32(uint8_t v) { return f32_from_bits(kE5M2Table.bits[v]); }
uint16_t e4m3_to_f16(uint8_t v) {
  if ((v & 0x7F) == 0x7F) return kCanonicalNaN16;
  return static_cast<uint16_t>(to_narrow(e4m3_to_f32(v), kF16, Round::rn, false, false));  // exact
}
uint16_t e5m2_to_f16(uint8_t v) {
  if ((v & 0x7F) > 0x7C) return kCanonicalNaN16;
  return static_cast<uint16_t>(v) << 8;
}

// cvt.{rni,rzi,rmi,rpi}.f32.f32 / .f64.f64: round to an integral value in the same type.
namespace {
template <typename T>
T round_integral(T a, Round r) {
  switch (r) {
    case Round::rz: return std::trunc(a);
    case Round::rm: return std::floor(a);
    case Round::rp: return std::ceil(a);
    case Round::rna: return std::round(a);
    default: return std::nearbyint(a);  // the host runs in round-to-nearest-even
  }
}
}  // namespace
float round_int(float a, Round r, bool ftz_, bool sat) {
  if (ftz_) a = ftz(a);
  return finish(round_integral(a, r), ftz_, sat);
}
double round_int(double a, Round r) { return finish(round_integral(a, r)); }

// float -> integer: round to an integral value, then saturate to the destination range; NaN -> 0.
int64_t to_sint(double a, Round r, int bits) {
  if (std::isnan(a)) return 0;
  const double v = round_integral(a, r);
  const double lim = std::ldexp(1.0, bits - 1);  // 2^(bits-1), exact
  if (v >= lim) return static_cast<int64_t>((~0ull) >> (65 - bits));
  if (v <= -lim) return -static_cast<int64_t>((~0ull) >> (65 - bits)) - 1;
  return static_cast<int64_t>(v);
}
uint64_t to_uint(double a, Round r, int bits) {
  if (std::isnan(a)) return 0;
  const double v = round_integral(a, r);
  if (!(v > 0)) return 0;
  if (v >= std::ldexp(1.0, bits)) return (~0ull) >> (64 - bits);
  return static_cast<uint64_t>(v);
}
int64_t to_sint(float a, Round r, bool ftz_, int bits) { return to_sint(static_cast<double>(ftz_ ? ftz(a) : a), r, bits); }
uint64_t to_uint(float a, Round r, bool ftz_, int bits) { return to_uint(static_cast<double>(ftz_ ? ftz(a) : a), r, bits); }

// integer -> float: exact software rounding in the directed modes (an int64 has more bits than f32/f64).
namespace {
uint64_t int_to(bool neg, uint64_t mag, const Format& f, Round r) { return round_pack(neg, mag, 0, f, r, false); }
uint64_t magnitude(int64_t v) { return v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v); }
}  // namespace
float sint_to_f32(int64_t v, Round r) {
  if (r == Round::rn) return static_cast<float>(v);
  return f32_from_bits(static_cast<uint32_t>(int_to(v < 0, magnitude(v), kF32, r)));
}
float uint_to_f32(uint64_t v, Round r) {
  if (r == Round::rn) return static_cast<float>(v);
  return f32_from_bits(static_cast<uint32_t>(int_to(false, v, kF32, r)));
}
double sint_to_f64(int64_t v, Round r) {
  if (r == Round::rn) return static_cast<double>(v);
  return f64_from_bits(int_to(v < 0, magnitude(v), kF64, r));
}
double uint_to_f64(uint64_t v, Round r) {
  if (r == Round::rn) return static_cast<double>(v);
  return f64_from_bits(int_to(false, v, kF64, r));
}
uint16_t sint_to_f16(int64_t v, Round r) { return static_cast<uint16_t>(int_to(v < 0, magnitude(v), kF16, r)); }
uint16_t uint_to_f16(uint64_t v, Round r) { return static_cast<uint16_t>(int_to(false, v, kF16, r)); }

}  // namespace emu::fp
