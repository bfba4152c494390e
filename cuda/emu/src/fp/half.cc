// dsv3-emu: scalar f16 / bf16 arithmetic of PTX (add, sub, mul, fma, min, max on .f16/.bf16 and each
// half of .f16x2/.bf16x2), PTX ISA 9.0 section 9.7.4 ("Half Precision Floating-Point Instructions").
// One rounding: operands are exact in double, products are exact in double, and sums are carried as
// an exact double pair (TwoSum) whose tail steers the final software rounding (softround.h).
#include <cmath>

#include "src/fp/fp.h"
#include "src/fp/fp_impl.h"
#include "src/fp/softround.h"

namespace emu::fp {
using namespace detail;

namespace {

const Format& fmt(bool bf16) { return bf16 ? kBF16 : kF16; }

double to_double(uint16_t h, bool bf16) {
  return bf16 ? static_cast<double>(bf16_to_f32(h)) : static_cast<double>(f16_to_f32(h));
}

uint16_t flush(uint16_t h, const Format& f) {
  const uint16_t mag = h & 0x7FFF;
  return (mag != 0 && mag < (1u << f.mbits)) ? (h & 0x8000) : h;  // exponent field 0: subnormal
}

// Rounds the exact value x + y (x, y exact doubles, e.g. an exact product and an addend).
uint16_t round_sum(double x, double y, const Format& f, Round r) {
  if (std::isnan(x) || std::isnan(y)) return f.nan;
  const double s = x + y;
  if (std::isnan(s)) return f.nan;  // inf - inf
  if (std::isinf(s)) return (s < 0 ? sign_bit(f) : 0) | f.inf;  // only from infinite operands
  if (s == 0) {
    // Exact zero: -0 only when both addends are -0, or (under .rm) for any exact cancellation.
    const bool neg = r == Round::rm ? (std::signbit(x) || std::signbit(y)) : (std::signbit(x) && std::signbit(y));
    return neg ? sign_bit(f) : 0;
  }
  const double bb = s - x;
  const double t = (x - (s - bb)) + (y - bb);  // TwoSum: s + t == x + y exactly
  return static_cast<uint16_t>(round_double_tail(s, t, f, r, false));
}

// .ftz on the result, then .relu (negative -> +0), then .sat (clamp to [0, 1], NaN -> +0).
uint16_t finish_h(uint16_t h, const Format& f, bool ftz_, bool sat, bool relu) {
  const bool nan = (h & 0x7FFF) > f.inf;
  if (nan) return sat ? 0 : f.nan;
  if (ftz_) h = flush(h, f);
  if ((relu || sat) && (h & 0x8000)) return 0;
  const uint16_t one = f.ebits == 8 ? 0x3F80 : 0x3C00;  // 1.0 in bf16 / f16
  if (sat && h > one) return one;
  return h;
}

}  // namespace

uint16_t hadd(uint16_t a, uint16_t b, Round r, bool ftz_, bool sat, bool bf16) {
  const Format& f = fmt(bf16);
  if (ftz_) { a = flush(a, f); b = flush(b, f); }
  return finish_h(round_sum(to_double(a, bf16), to_double(b, bf16), f, r), f, ftz_, sat, false);
}
uint16_t hsub(uint16_t a, uint16_t b, Round r, bool ftz_, bool sat, bool bf16) {
  const Format& f = fmt(bf16);
  if (ftz_) { a = flush(a, f); b = flush(b, f); }
  return finish_h(round_sum(to_double(a, bf16), -to_double(b, bf16), f, r), f, ftz_, sat, false);
}
uint16_t hmul(uint16_t a, uint16_t b, Round r, bool ftz_, bool sat, bool bf16) {
  const Format& f = fmt(bf16);
  if (ftz_) { a = flush(a, f); b = flush(b, f); }
  const double p = to_double(a, bf16) * to_double(b, bf16);  // exact: at most 2 x 11 significant bits
  return finish_h(round_sum(p, std::copysign(0.0, p), f, r), f, ftz_, sat, false);
}
uint16_t hfma(uint16_t a, uint16_t b, uint16_t c, Round r, bool ftz_, bool sat, bool relu, bool bf16) {
  const Format& f = fmt(bf16);
  if (ftz_) { a = flush(a, f); b = flush(b, f); c = flush(c, f); }
  const double p = to_double(a, bf16) * to_double(b, bf16);  // exact
  return finish_h(round_sum(p, to_double(c, bf16), f, r), f, ftz_, sat, relu);
}

uint16_t hftz(uint16_t h, bool bf16) { return flush(h, fmt(bf16)); }

namespace {
uint16_t hminmax(uint16_t a, uint16_t b, bool nan, bool bf16, bool is_max) {
  const double x = to_double(a, bf16), y = to_double(b, bf16);
  const bool na = std::isnan(x), nb = std::isnan(y);
  if (na || nb) return (nan || (na && nb)) ? kCanonicalNaN16 : (na ? b : a);
  if (x == y) return (std::signbit(x) != is_max) ? a : b;  // -0 < +0
  return ((x < y) != is_max) ? a : b;
}
}  // namespace
uint16_t hmin(uint16_t a, uint16_t b, bool nan, bool bf16) { return hminmax(a, b, nan, bf16, false); }
uint16_t hmax(uint16_t a, uint16_t b, bool nan, bool bf16) { return hminmax(a, b, nan, bf16, true); }

}  // namespace emu::fp
