// dsv3-emu (private to src/fp): software rounding of an exact value m * 2^e to a binary floating-point
// format with any mantissa/exponent width (f64, f32, tf32, f16, bf16, e4m3, e5m2), in every PTX rounding
// mode (PTX ISA 9.0, "Rounding modifiers" of cvt and the floating-point instructions). IEEE 754-2019
// section 4.3 gives the rules; tininess is irrelevant here because subnormals are kept (no flush).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "src/fp/fp.h"

namespace emu::fp::detail {

// A binary format: `mbits` stored mantissa bits, `ebits` exponent bits, the IEEE bias 2^(ebits-1) - 1.
// `emax` is the largest unbiased exponent of a finite number; `max_finite` its bit pattern (no sign);
// `inf` the infinity pattern, or 0 where the format has none (e4m3 = e4m3fn: S.1111.111 is NaN).
struct Format {
  int mbits, ebits, emax;
  uint64_t max_finite, inf, nan;
};
constexpr Format kF64{52, 11, 1023, 0x7FEFFFFFFFFFFFFFull, 0x7FF0000000000000ull, 0x7FFFFFFFFFFFFFFFull};
constexpr Format kF32{23, 8, 127, 0x7F7FFFFFu, 0x7F800000u, 0x7FFFFFFFu};
constexpr Format kTF32{10, 8, 127, 0x3FBFFu, 0x3FC00u, 0x3FFFFu};  // f32 with 13 low bits dropped
constexpr Format kF16{10, 5, 15, 0x7BFFu, 0x7C00u, 0x7FFFu};
constexpr Format kBF16{7, 8, 127, 0x7F7Fu, 0x7F80u, 0x7FFFu};
constexpr Format kE4M3{3, 4, 8, 0x7Eu, 0, 0x7Fu};
constexpr Format kE5M2{2, 5, 15, 0x7Bu, 0x7Cu, 0x7Fu};

inline uint64_t sign_bit(const Format& f) { return 1ull << (f.mbits + f.ebits); }

// What a finite value too large for the format becomes (IEEE 754 section 7.4, with PTX .satfinite).
inline uint64_t overflow(bool neg, const Format& f, Round r, bool satfinite) {
  const uint64_t s = neg ? sign_bit(f) : 0;
  if (satfinite) return s | f.max_finite;
  if (!f.inf) return f.nan;  // e4m3 without .satfinite: overflow is NaN (OCP FP8); PTX never asks
  bool to_inf = true;
  if (r == Round::rz) to_inf = false;
  if (r == Round::rm) to_inf = neg;
  if (r == Round::rp) to_inf = !neg;
  return s | (to_inf ? f.inf : f.max_finite);
}

// Rounds (-1)^neg * m * 2^e (exact) to `f` in mode `r`; returns the bit pattern with its sign.
// The quantum (ulp) of the result is 2^q with q = max(E, emin) - mbits, E the exponent of m * 2^e;
// N = m * 2^(e - q) rounded to an integer is the significand; the pattern is ((q - qmin) << mbits) + N
// in both the subnormal (q = qmin) and normal range, and a carry out of N walks into the exponent.
inline uint64_t round_pack(bool neg, uint64_t m, int e, const Format& f, Round r, bool satfinite) {
  const uint64_t s = neg ? sign_bit(f) : 0;
  if (m == 0) return s;
  const int bias = (1 << (f.ebits - 1)) - 1;
  const int emin = 1 - bias, qmin = emin - f.mbits;
  const int E = 63 - __builtin_clzll(m) + e;
  if (E > f.emax + 1) return overflow(neg, f, r, satfinite);
  const int q = (E > emin ? E : emin) - f.mbits;
  const int shift = q - e;
  uint64_t N;
  bool inexact = false;
  int cmp_half = -1;  // sign of (discarded part - half a quantum)
  if (shift <= 0) {
    N = m << -shift;  // exact: N < 2^(mbits+1)
  } else if (shift < 64) {
    N = m >> shift;
    const uint64_t rem = m & ((1ull << shift) - 1), half = 1ull << (shift - 1);
    inexact = rem != 0;
    cmp_half = rem > half ? 1 : rem == half ? 0 : -1;
  } else {
    N = 0;
    inexact = true;
    if (shift == 64) cmp_half = m > (1ull << 63) ? 1 : m == (1ull << 63) ? 0 : -1;
  }
  bool up = false;
  switch (r) {
    case Round::rn: up = cmp_half > 0 || (cmp_half == 0 && (N & 1)); break;
    case Round::rna: up = inexact && cmp_half >= 0; break;
    case Round::rz: break;
    case Round::rm: up = neg && inexact; break;
    case Round::rp: up = !neg && inexact; break;
  }
  const uint64_t bits = (static_cast<uint64_t>(q - qmin) << f.mbits) + N + (up ? 1 : 0);
  if (bits > f.max_finite) return overflow(neg, f, r, satfinite);
  return s | bits;
}

// Splits a finite double / float into sign, integer significand and exponent (value = m * 2^e).
inline void split(double d, bool& neg, uint64_t& m, int& e) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  neg = b >> 63;
  const int ef = static_cast<int>((b >> 52) & 0x7FF);
  m = b & 0xFFFFFFFFFFFFFull;
  if (ef == 0) {
    e = -1074;
  } else {
    m |= 1ull << 52;
    e = ef - 1075;
  }
}

// Rounds the exact value s + t to `f`, where s = rn(s + t) in double and |t| <= ulp(s)/2 (the output of
// TwoSum, or a remainder sign): t only breaks ties and decides directed rounding, which is exact as long
// as the target has fewer than 52 mantissa bits (its rounding boundaries all lie on the double grid).
// s must be finite and nonzero, and s + t must not be in the double subnormal range.
inline uint64_t round_double_tail(double s, double t, const Format& f, Round r, bool satfinite) {
  bool neg;
  uint64_t m;
  int e;
  split(s, neg, m, e);
  m <<= 2;
  e -= 2;
  if (t != 0) {
    if (std::signbit(t) == neg) m |= 1;  // slightly larger in magnitude than s
    else m -= 1;                         // slightly smaller
  }
  return round_pack(neg, m, e, f, r, satfinite);
}

}  // namespace emu::fp::detail
