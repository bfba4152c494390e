// dsv3-emu: the approximate PTX math instructions (ex2, lg2, sin, cos, tanh, rcp, sqrt, rsqrt .approx,
// div.approx, div.full), PTX ISA 9.0 section 9.7.3. Each is evaluated in double (or long double) and
// rounded once to the destination, which is well inside the ISA's documented error bound quoted next
// to each; the special-case tables of the ISA are applied explicitly. Without .ftz, subnormal inputs
// and results are honoured ("subnormal numbers are supported" by default); .ftz flushes both.
#include <cmath>

#include "src/fp/fp.h"
#include "src/fp/fp_impl.h"

namespace emu::fp {
using namespace detail;

namespace {
// Functions, not globals: nothing here depends on static initialisation order.
inline float canonical_nan() { return f32_from_bits(kCanonicalNaN32); }
constexpr float kInf = INFINITY;

// The one rounding of a double result to f32, then the .ftz flush of the result.
float out(double d, bool ftz_) { return finish(static_cast<float>(d), ftz_, false); }
}  // namespace

// div.full.f32: "maximum ulp error is 2 across the full range of inputs". Correctly rounded here.
float div_full(float a, float b, bool ftz_) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  return finish(a / b, ftz_, false);
}

// div.approx.f32 computes a * (1/b): "for |b| in [2^-126, 2^126], the maximum ulp error is 2. For
// 2^126 < |b| < 2^128, if a is infinity, div.approx.f32 returns NaN, otherwise it returns 0."
float div_approx(float a, float b, bool ftz_) {
  if (ftz_) { a = ftz(a); b = ftz(b); }
  if (std::isnan(a) || std::isnan(b)) return canonical_nan();
  const float mb = std::fabs(b);
  if (mb > 0x1p126f && mb < kInf) return std::isinf(a) ? canonical_nan() : std::copysign(0.0f, a) * std::copysign(1.0f, b);
  return out(static_cast<double>(a) * (1.0 / static_cast<double>(b)), ftz_);
}

// rcp.approx.f32: "maximum ulp error is 1 across the full range of inputs". Special cases (ISA table):
// -Inf -> -0, -0 -> -Inf, +0 -> +Inf, +Inf -> +0, NaN -> NaN.
float rcp_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (std::isnan(a)) return canonical_nan();
  return out(1.0 / static_cast<double>(a), ftz_);
}

// sqrt.approx.f32: "maximum relative error over the entire range is 2^-23" (ISA). Special cases:
// -Inf, -normal -> NaN; -0 -> -0; +0 -> +0; +Inf -> +Inf; NaN -> NaN (negative subnormal -> NaN
// unless .ftz flushes it to -0 first).
float sqrt_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (std::isnan(a) || a < 0) return canonical_nan();
  return out(std::sqrt(static_cast<double>(a)), ftz_);
}

// rsqrt.approx.f32: "maximum relative error over the entire range is 2^-22.9" (ISA). Special cases:
// -Inf, -normal -> NaN; -0 -> -Inf; +0 -> +Inf; +Inf -> +0; NaN -> NaN.
float rsqrt_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (std::isnan(a) || a < 0) return canonical_nan();
  if (a == 0) return std::copysign(kInf, a);
  return out(1.0 / std::sqrt(static_cast<double>(a)), ftz_);
}

// ex2.approx.f32: "maximum relative error 2^-22" / 2 ulp over the full range (ISA). Special cases:
// -Inf -> +0, -0 and +0 (and subnormals) -> +1, +Inf -> +Inf, NaN -> NaN.
float ex2_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (std::isnan(a)) return canonical_nan();
  return out(std::exp2(static_cast<double>(a)), ftz_);
}

// lg2.approx.f32: "maximum absolute error 2^-22.6 for mantissa in [0.5, 2]" (ISA; elsewhere relative).
// Special cases: -Inf, -normal -> NaN; -0, +0 -> -Inf; +Inf -> +Inf; NaN -> NaN. With .ftz a subnormal
// is a zero (-> -Inf); without, a positive subnormal has its true logarithm (about -126 .. -149).
float lg2_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (std::isnan(a)) return canonical_nan();
  if (a == 0) return -kInf;
  if (a < 0) return canonical_nan();
  return out(std::log2(static_cast<double>(a)), ftz_);
}

// sin/cos.approx.f32: "maximum absolute error 2^-20.5 in the range -100*pi .. +100*pi" (ISA; better
// near 0). Special cases: +-Inf -> NaN; sin(+-0) = +-0, cos(+-0) = +1; NaN -> NaN.
float sin_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (!std::isfinite(a)) return canonical_nan();
  return out(std::sin(static_cast<double>(a)), ftz_);
}
float cos_approx(float a, bool ftz_) {
  if (ftz_) a = ftz(a);
  if (!std::isfinite(a)) return canonical_nan();
  return out(std::cos(static_cast<double>(a)), ftz_);
}

// tanh.approx.f32: "maximum relative error 2^-11 (2^-10.987) over the entire range" (ISA). Special
// cases: +-Inf -> +-1, +-0 -> +-0, NaN -> NaN. Subnormals are kept (tanh(x) = x there).
float tanh_approx(float a) {
  if (std::isnan(a)) return canonical_nan();
  return out(std::tanh(static_cast<double>(a)), false);
}

// rcp.approx.ftz.f64: subnormal inputs and results flush to sign-preserving zero; correctly rounded
// here, inside the ISA's bound for this "fast, coarse" reciprocal.
double rcp_approx_ftz(double a) {
  if (is_subnormal(a)) a = std::copysign(0.0, a);
  if (std::isnan(a)) return f64_from_bits(kCanonicalNaN64);
  double r = 1.0 / a;
  if (is_subnormal(r)) r = std::copysign(0.0, r);
  return r;
}

// rsqrt.approx.f64: special cases as rsqrt.approx.f32; evaluated in long double (64-bit mantissa) and
// rounded once. A subnormal input is honoured (.ftz: the caller flushes the input; the result of a
// reciprocal square root is never subnormal).
double rsqrt_approx(double a) {
  if (std::isnan(a) || a < 0) return f64_from_bits(kCanonicalNaN64);
  if (a == 0) return std::copysign(static_cast<double>(kInf), a);
  return static_cast<double>(1.0L / std::sqrt(static_cast<long double>(a)));
}

// ex2.approx.f16: "maximum relative error 2^-9.9"; ex2.approx.ftz.bf16: "maximum relative error 2^-7"
// (ISA). Special cases as ex2.approx.f32; bf16 flushes subnormal inputs and results (.ftz is implied).
uint16_t ex2_approx_h(uint16_t a, bool bf16) {
  if (bf16) {
    if ((a & 0x7F80) == 0) a &= 0x8000;
    const float x = bf16_to_f32(a);
    if (std::isnan(x)) return kCanonicalNaN16;
    uint16_t r = f64_to_bf16(std::exp2(static_cast<double>(x)), Round::rn, false);
    if ((r & 0x7F80) == 0) r &= 0x8000;
    return r;
  }
  const float x = f16_to_f32(a);
  if (std::isnan(x)) return kCanonicalNaN16;
  return f64_to_f16(std::exp2(static_cast<double>(x)), Round::rn, false);
}

// tanh.approx.{f16,bf16}: evaluated in double and rounded once (relative error <= 2^-11 for f16,
// 2^-8 for bf16, inside the ISA's bounds for the f32 form, 2^-11). Special cases as tanh.approx.f32:
// +-Inf -> +-1, +-0 -> +-0, NaN -> canonical NaN; subnormals are kept (tanh(x) = x there).
uint16_t tanh_approx_h(uint16_t a, bool bf16) {
  const float x = bf16 ? bf16_to_f32(a) : f16_to_f32(a);
  if (std::isnan(x)) return kCanonicalNaN16;
  const double y = std::tanh(static_cast<double>(x));
  return bf16 ? f64_to_bf16(y, Round::rn, false) : f64_to_f16(y, Round::rn, false);
}

}  // namespace emu::fp
