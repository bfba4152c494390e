// Unit test of src/fp (fp.h): every conversion and arithmetic function against references computed a
// different way: narrow formats by a search in the sorted table of all their values (built from the
// bit fields with ldexp), IEEE arithmetic in every rounding mode by exact comparisons in binary128
// (__float128, 113-bit mantissa), approximate functions by sweeps against long double libm, measured
// against the error bounds the PTX ISA (9.0) documents. Prints the measured maximum errors.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "src/fp/fp.h"
#include "test/unit/check.h"

using namespace emu::fp;
using Q = __float128;

namespace {

std::mt19937_64 rng(20261203);
const Round kModes[] = {Round::rn, Round::rz, Round::rm, Round::rp};
const char* mode_name(Round r) {
  switch (r) {
    case Round::rn: return "rn";
    case Round::rz: return "rz";
    case Round::rm: return "rm";
    case Round::rp: return "rp";
    default: return "rna";
  }
}
std::string hex(uint64_t v) { char b[32]; std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v); return b; }
std::string show(double v) { char b[64]; std::snprintf(b, sizeof b, "%a", v); return b; }

// Reports the first mismatches with their inputs, then counts silently. REPORT builds the message
// only on failure (the sweeps below make tens of millions of checks).
#define REPORT(ok, what) ((ok) ? 0 : report(false, (what)))
int report(bool ok, const std::string& what) {
  static int shown = 0;
  if (!ok && shown < 40) { ++shown; std::fprintf(stderr, "  mismatch: %s\n", what.c_str()); }
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------- narrow formats: table reference
struct Table {
  const char* name;
  int mbits, ebits;
  bool fn;                 // e4m3fn: exponent field all ones is finite except mantissa all ones
  uint32_t nan;            // canonical NaN code the library must produce
  std::vector<double> v;   // v[code] for every non-negative finite code, ascending
  uint32_t inf_code() const { return fn ? 0 : static_cast<uint32_t>(v.size()); }  // = max + 1
  uint32_t sign() const { return 1u << (mbits + ebits); }
};

// Value of a code from its fields: (-1)^s * 2^(E - bias) * (1.f) or subnormal 2^(1-bias) * (0.f).
double decode_fields(uint32_t code, int mbits, int ebits) {
  const int bias = (1 << (ebits - 1)) - 1;
  const uint32_t mant = code & ((1u << mbits) - 1), ef = (code >> mbits) & ((1u << ebits) - 1);
  const double s = (code >> (mbits + ebits)) & 1 ? -1.0 : 1.0;
  if (ef == 0) return s * std::ldexp(static_cast<double>(mant), 1 - bias - mbits);
  return s * std::ldexp(static_cast<double>(mant + (1u << mbits)), static_cast<int>(ef) - bias - mbits);
}

Table make_table(const char* name, int mbits, int ebits, bool fn, uint32_t nan) {
  Table t{name, mbits, ebits, fn, nan, {}};
  const uint32_t limit = fn ? (1u << (mbits + ebits)) - 1 : ((1u << ebits) - 1) << mbits;
  for (uint32_t c = 0; c < limit; ++c) t.v.push_back(decode_fields(c, mbits, ebits));
  return t;
}

// The expected code of rounding x (exact, any precision) to the table's format.
template <typename T>
uint32_t ref_round(T x, const Table& t, Round r, bool satfinite, bool relu) {
  if (x != x) return t.nan;
  const bool neg = x < 0 || (x == 0 && std::signbit(static_cast<double>(x)));
  if (relu && neg) return 0;
  const uint32_t s = neg ? t.sign() : 0;
  const T a = neg ? -x : x;
  const uint32_t maxc = static_cast<uint32_t>(t.v.size()) - 1;
  auto val = [&](uint32_t c) -> T {
    if (c <= maxc) return static_cast<T>(t.v[c]);
    return static_cast<T>(t.v[maxc]) + (static_cast<T>(t.v[maxc]) - static_cast<T>(t.v[maxc - 1]));
  };
  uint32_t c;
  if (a >= val(maxc + 1) * 2) {  // far beyond the range (or infinite)
    c = maxc + 1;
  } else {
    const auto it = std::upper_bound(t.v.begin(), t.v.end(), a, [](T u, double w) { return u < static_cast<T>(w); });
    const uint32_t lo = static_cast<uint32_t>(it - t.v.begin()) - 1, hi = lo + 1;
    if (val(lo) == a) {
      c = lo;
    } else {
      const T dl = a - val(lo), dh = val(hi) - a;
      switch (r) {
        case Round::rn: c = dl < dh ? lo : dh < dl ? hi : ((lo & 1) ? hi : lo); break;
        case Round::rna: c = dl < dh ? lo : hi; break;
        case Round::rz: c = lo; break;
        case Round::rm: c = neg ? hi : lo; break;
        default: c = neg ? lo : hi; break;
      }
    }
  }
  if (c > maxc) {
    const bool to_inf = !(satfinite || t.fn || (x == x && (r == Round::rz || (r == Round::rm && !neg) || (r == Round::rp && neg))));
    c = to_inf ? t.inf_code() : maxc;
    if (std::isinf(static_cast<double>(x)) && !satfinite && !t.fn) c = t.inf_code();
  }
  return s | c;
}

// Inputs near every boundary of a format: each value, the midpoints to its neighbours, one f32 ulp
// either side of those, plus random f32 bit patterns and the specials.
std::vector<float> boundary_inputs(const Table& t, size_t nrandom, size_t stride = 1) {
  std::vector<float> in;
  for (size_t i = 0; i < t.v.size(); i += (i < 4096 ? 1 : stride)) {
    const double mid = i + 1 < t.v.size() ? (t.v[i] + t.v[i + 1]) / 2 : t.v[i] * 1.0625;
    for (double d : {t.v[i], mid}) {
      const float f = static_cast<float>(d);
      for (float g : {f, std::nextafter(f, 0.0f), std::nextafter(f, INFINITY)}) { in.push_back(g); in.push_back(-g); }
    }
  }
  for (size_t i = 0; i < nrandom; ++i) in.push_back(f32_from_bits(static_cast<uint32_t>(rng())));
  for (float f : {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e30f, -1e30f, 0x1p-149f, -0x1p-149f, 3.4028235e38f})
    in.push_back(f);
  return in;
}

void test_narrow_exhaustive(const Table& f16, const Table& bf16, const Table& e4m3, const Table& e5m2) {
  // f16 / bf16 -> f32 for all 2^16 codes, and back in every mode (exact values survive any rounding).
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool nan16 = (h & 0x7C00) == 0x7C00 && (h & 0x3FF), nanb = (h & 0x7F80) == 0x7F80 && (h & 0x7F);
    const float a = f16_to_f32(static_cast<uint16_t>(h)), b = bf16_to_f32(static_cast<uint16_t>(h));
    const bool inf16 = (h & 0x7FFF) == 0x7C00, infb = (h & 0x7FFF) == 0x7F80;
    if (inf16) bad += REPORT(std::isinf(a) && std::signbit(a) == bool(h & 0x8000), "f16_to_f32 inf " + hex(h));
    else if (nan16) bad += REPORT(std::isnan(a), "f16_to_f32 NaN " + hex(h));
    else bad += REPORT(static_cast<double>(a) == decode_fields(h, 10, 5) && std::signbit(a) == bool(h & 0x8000), "f16_to_f32 " + hex(h));
    if (infb) bad += REPORT(std::isinf(b) && std::signbit(b) == bool(h & 0x8000), "bf16_to_f32 inf " + hex(h));
    else if (nanb) bad += REPORT(std::isnan(b), "bf16_to_f32 NaN " + hex(h));
    else bad += REPORT(static_cast<double>(b) == decode_fields(h, 7, 8) && std::signbit(b) == bool(h & 0x8000), "bf16_to_f32 " + hex(h));
    for (Round r : kModes) {
      bad += REPORT(f32_to_f16(a, r, false, false) == (nan16 ? 0x7FFF : h), std::string("f16 round trip ") + mode_name(r) + " " + hex(h));
      bad += REPORT(f32_to_bf16(b, r, false, false) == (nanb ? 0x7FFF : h), std::string("bf16 round trip ") + mode_name(r) + " " + hex(h));
    }
  }
  CHECK_EQ(bad, 0);
  // e4m3 / e5m2 -> f32 and -> f16 for all 256 codes, and back (satfinite: e5m2 +-inf -> +-max).
  bad = 0;
  for (uint32_t v = 0; v < 256; ++v) {
    const bool nan4 = (v & 0x7F) == 0x7F, nan5 = (v & 0x7F) > 0x7C, inf5 = (v & 0x7F) == 0x7C;
    const float a = e4m3_to_f32(static_cast<uint8_t>(v)), b = e5m2_to_f32(static_cast<uint8_t>(v));
    const float ah = f16_to_f32(e4m3_to_f16(static_cast<uint8_t>(v))), bh = f16_to_f32(e5m2_to_f16(static_cast<uint8_t>(v)));
    if (nan4) {
      bad += REPORT(std::isnan(a) && std::isnan(ah) && f32_to_e4m3(a, false) == 0x7F, "e4m3 NaN " + hex(v));
    } else {
      const double want = decode_fields(v, 3, 4);
      bad += REPORT(a == want && ah == want && std::signbit(a) == bool(v & 0x80) && std::signbit(ah) == bool(v & 0x80), "e4m3 decode " + hex(v));
      bad += REPORT(f32_to_e4m3(a, false) == v && f16_to_e4m3(e4m3_to_f16(static_cast<uint8_t>(v)), false) == v, "e4m3 round trip " + hex(v));
    }
    if (nan5) {
      bad += REPORT(std::isnan(b) && std::isnan(bh) && f32_to_e5m2(b, false) == 0x7F, "e5m2 NaN " + hex(v));
    } else if (inf5) {
      bad += REPORT(std::isinf(b) && std::isinf(bh) && f32_to_e5m2(b, false) == ((v & 0x80) | 0x7B), "e5m2 inf " + hex(v));
    } else {
      const double want = decode_fields(v, 2, 5);
      bad += REPORT(b == want && bh == want && std::signbit(b) == bool(v & 0x80), "e5m2 decode " + hex(v));
      bad += REPORT(f32_to_e5m2(b, false) == v && f16_to_e5m2(e5m2_to_f16(static_cast<uint8_t>(v)), false) == v, "e5m2 round trip " + hex(v));
    }
  }
  CHECK_EQ(bad, 0);
  std::printf("exhaustive: 65536 f16 + 65536 bf16 codes x 4 modes, 256 e4m3 + 256 e5m2 codes\n");
  (void)f16; (void)bf16; (void)e4m3; (void)e5m2;
}

void test_f32_to_narrow(const Table& f16, const Table& bf16, const Table& e4m3, const Table& e5m2, const Table& tf32) {
  long n = 0;
  int bad = 0;
  for (const Table* t : {&f16, &bf16}) {
    const bool is_bf = t == &bf16;
    for (float x : boundary_inputs(*t, 40000)) {
      for (Round r : kModes)
        for (int flags = 0; flags < 4; ++flags) {
          const bool sat = flags & 1, relu = flags & 2;
          const uint32_t got = is_bf ? f32_to_bf16(x, r, sat, relu) : f32_to_f16(x, r, sat, relu);
          const uint32_t want = ref_round(static_cast<double>(x), *t, r, sat, relu);
          ++n;
          bad += REPORT(got == want, std::string(t->name) + " " + mode_name(r) + (sat ? ".satfinite" : "") + (relu ? ".relu" : "") +
                                         " of " + show(x) + ": " + hex(got) + " want " + hex(want));
        }
    }
  }
  for (const Table* t : {&e4m3, &e5m2}) {
    for (float x : boundary_inputs(*t, 100000))
      for (bool relu : {false, true}) {
        const uint32_t got = t == &e4m3 ? f32_to_e4m3(x, relu) : f32_to_e5m2(x, relu);
        const uint32_t want = ref_round(static_cast<double>(x), *t, Round::rn, true, relu);
        ++n;
        bad += REPORT(got == want, std::string(t->name) + " of " + show(x) + ": " + hex(got) + " want " + hex(want));
        if (std::isfinite(x) && std::fabs(x) < 65504) {  // f16 -> f8 takes the f16 value exactly
          const uint16_t h = f32_to_f16(x, Round::rn, false, false);
          const uint32_t g2 = t == &e4m3 ? f16_to_e4m3(h, relu) : f16_to_e5m2(h, relu);
          bad += REPORT(g2 == ref_round(static_cast<double>(f16_to_f32(h)), *t, Round::rn, true, relu), "f16->" + std::string(t->name));
        }
      }
  }
  // tf32 (result is f32 bits with the 13 low bits zero): rna, rn, rz, with and without .satfinite.
  for (float x : boundary_inputs(tf32, 30000, 13)) {
    for (Round r : {Round::rna, Round::rn, Round::rz})
      for (bool sat : {false, true}) {
        const uint32_t got = f32_to_tf32(x, r, sat);
        uint32_t want = ref_round(static_cast<double>(x), tf32, r, sat, false);
        want = std::isnan(x) ? kCanonicalNaN32 : want << 13;
        ++n;
        bad += REPORT(got == want, std::string("tf32 ") + mode_name(r) + " of " + show(x) + ": " + hex(got) + " want " + hex(want));
      }
  }
  // f64 -> f16 / bf16: near-ties that only a double sees (f32 would round them onto the tie).
  for (const Table* t : {&f16, &bf16}) {
    for (int i = 0; i < 150000; ++i) {
      const size_t k = rng() % (t->v.size() - 1);
      double x = (t->v[k] + t->v[k + 1]) / 2;
      const int sel = static_cast<int>(rng() % 4);
      if (sel == 1) x = std::nextafter(x, 0.0);
      if (sel == 2) x = std::nextafter(x, INFINITY);
      if (sel == 3) x = t->v[k] * (1 + std::ldexp(static_cast<double>(rng() % 1000), -50));
      if (rng() & 1) x = -x;
      for (Round r : kModes)
        for (bool sat : {false, true}) {
          const uint32_t got = t == &bf16 ? f64_to_bf16(x, r, sat) : f64_to_f16(x, r, sat);
          const uint32_t want = ref_round(x, *t, r, sat, false);
          ++n;
          bad += REPORT(got == want, std::string("f64->") + t->name + " " + mode_name(r) + " of " + show(x) + ": " + hex(got) + " want " + hex(want));
        }
    }
    for (double x : {1e300, -1e300, 1e-300, -1e-300, std::numeric_limits<double>::denorm_min(), 65520.0, 65519.999999})
      for (Round r : kModes) {
        const uint32_t got = t == &bf16 ? f64_to_bf16(x, r, false) : f64_to_f16(x, r, false);
        bad += REPORT(got == ref_round(x, *t, r, false, false), std::string("f64->") + t->name + " edge " + show(x));
        ++n;
      }
  }
  CHECK_EQ(bad, 0);
  // A few pinned values (ISA: satfinite clamps to MAX_NORM; e4m3 has no infinity; NaN -> canonical).
  CHECK_EQ(f32_to_e4m3(NAN, false), 0x7F);
  CHECK_EQ(f32_to_e4m3(INFINITY, false), 0x7E);
  CHECK_EQ(f32_to_e4m3(-INFINITY, false), 0xFE);
  CHECK_EQ(f32_to_e4m3(464.0f, false), 0x7E);     // tie between 448 and "480": satfinite keeps 448
  CHECK_EQ(f32_to_e4m3(0x1p-10f, false), 0x00);   // half the smallest subnormal: tie to even 0
  CHECK_EQ(f32_to_e4m3(0x1.8p-10f, false), 0x01);
  CHECK_EQ(f32_to_e4m3(-1.0f, true), 0x00);
  CHECK_EQ(f32_to_e5m2(INFINITY, false), 0x7B);
  CHECK_EQ(f32_to_e5m2(61440.0f, false), 0x7B);   // tie above 57344: satfinite
  CHECK_EQ(f32_to_f16(65520.0f, Round::rn, false, false), 0x7C00);
  CHECK_EQ(f32_to_f16(65520.0f, Round::rn, true, false), 0x7BFF);
  CHECK_EQ(f32_to_f16(1e9f, Round::rz, false, false), 0x7BFF);
  CHECK_EQ(f32_to_f16(-1e9f, Round::rp, false, false), 0xFBFF);
  CHECK_EQ(f32_to_f16(NAN, Round::rn, false, false), 0x7FFF);
  CHECK_EQ(f32_to_bf16(-NAN, Round::rz, true, false), 0x7FFF);
  CHECK_EQ(f32_to_bf16(1.00390625f, Round::rn, false, false), 0x3F80);  // tie to even
  CHECK_EQ(f32_to_bf16(1.01171875f, Round::rn, false, false), 0x3F82);  // tie to even (up)
  CHECK_EQ(f32_to_f16(-0.0f, Round::rn, false, true), 0x0000);
  CHECK_EQ(f32_to_tf32(1.0f + 0x1p-11f, Round::rna, false), 0x3F802000u);  // tie away
  CHECK_EQ(f32_to_tf32(1.0f + 0x1p-11f, Round::rn, false), 0x3F800000u);   // tie to even
  std::printf("f32/f64 -> f16/bf16/e4m3/e5m2/tf32: %ld conversions checked against the table reference\n", n);
}

// ---------------------------------------------------------------- IEEE rounding checks in binary128
// The result r of rounding the exact x is checked by where x lies relative to r, its neighbours and
// their midpoints; `cmp(v)` returns the sign of (v - x) exactly. Infinite neighbours are replaced by
// the next power of two (the virtual value IEEE overflow is defined by).
template <typename T>
Q qval(T v) { return std::isinf(v) ? (v < 0 ? -1 : 1) / (Q)0 : static_cast<Q>(v); }  // real infinities
template <typename T>
Q qvirtual(T v) {  // an infinite neighbour as the virtual 2^(emax+1) that IEEE overflow is defined by
  if (std::isinf(v)) return (v < 0 ? -1 : 1) * (sizeof(T) == 4 ? (Q)0x1p127f * 2 : (Q)0x1p1023 * 2);
  return static_cast<Q>(v);
}
template <typename T, typename Cmp>
bool rounded_ok(T r, Round mode, Cmp cmp) {
  if (std::isnan(r)) return false;
  const T lo = std::nextafter(r, -INFINITY), hi = std::nextafter(r, INFINITY);
  const int at = cmp(qval(r)), below = cmp(qval(lo)), above = cmp(qval(hi));
  const int xsign = -cmp(0);
  switch (mode) {
    case Round::rm: return at <= 0 && above > 0;
    case Round::rp: return at >= 0 && below < 0;
    case Round::rz: return xsign >= 0 ? (at <= 0 && above > 0) : (at >= 0 && below < 0);
    default: {
      if (std::isinf(r)) {  // overflow: x at or beyond the midpoint between max and 2^(emax+1)
        const T mx = std::nextafter(r, 0);
        return cmp((qvirtual(mx) + qvirtual(r)) / 2) * (r > 0 ? 1 : -1) <= 0;
      }
      const int ml = cmp((qvirtual(lo) + qvirtual(r)) / 2), mh = cmp((qvirtual(r) + qvirtual(hi)) / 2);
      const bool even = sizeof(T) == 4 ? !(bits_of(static_cast<float>(r)) & 1) : !(bits_of(static_cast<double>(r)) & 1);
      return (ml < 0 || (ml == 0 && even)) && (mh > 0 || (mh == 0 && even));
    }
  }
}
int sgn(Q v) { return v > 0 ? 1 : v < 0 ? -1 : 0; }

template <typename T>
T random_float(int emin, int emax) {
  constexpr int p = sizeof(T) == 4 ? 24 : 53;
  const uint64_t m = (rng() >> (64 - p)) | (1ull << (p - 1));
  const int e = emin + static_cast<int>(rng() % static_cast<uint64_t>(emax - emin + 1));
  T v = static_cast<T>(std::ldexp(static_cast<long double>(m), e - (p - 1)));
  return (rng() & 1) ? -v : v;
}
// TwoSum in binary128: true when p + c is exactly representable (so x = p + c is the exact value).
bool exact_sum(Q p, Q c, Q& x) {
  x = p + c;
  const Q bb = x - p;
  return (p - (x - bb)) + (c - bb) == 0;
}

template <typename T>
void test_ieee(const char* tname, int emin, int emax, int span) {
  const bool is32 = sizeof(T) == 4;
  int bad = 0;
  long n = 0, skipped = 0;
  auto ADD = [&](T a, T b, Round r) { if constexpr (sizeof(T) == 4) return add(a, b, r, false, false); else return add(a, b, r); };
  auto SUB = [&](T a, T b, Round r) { if constexpr (sizeof(T) == 4) return sub(a, b, r, false, false); else return sub(a, b, r); };
  auto MUL = [&](T a, T b, Round r) { if constexpr (sizeof(T) == 4) return mul(a, b, r, false, false); else return mul(a, b, r); };
  auto FMA = [&](T a, T b, T c, Round r) { if constexpr (sizeof(T) == 4) return fma(a, b, c, r, false, false); else return fma(a, b, c, r); };
  auto DIV = [&](T a, T b, Round r) { if constexpr (sizeof(T) == 4) return div_rn(a, b, r, false); else return div(a, b, r); };
  auto RCP = [&](T a, Round r) { if constexpr (sizeof(T) == 4) return rcp(a, r, false); else return rcp(a, r); };
  auto SQRT = [&](T a, Round r) { if constexpr (sizeof(T) == 4) return sqrt(a, r, false); else return sqrt(a, r); };
  for (int i = 0; i < 40000; ++i) {
    const T a = random_float<T>(emin, emax);
    const int ea = std::ilogb(a);
    const T b = random_float<T>(std::max(emin, ea - span), std::min(emax, ea + span));
    const T c = random_float<T>(std::max(emin, std::ilogb(a * b) - span / 2), std::min(emax, std::ilogb(a * b) + span / 2));
    for (Round r : kModes) {
      const std::string in = std::string(tname) + " " + mode_name(r) + " " + show(a) + ", " + show(b);
      Q x;
      if (exact_sum(a, b, x) && x != 0) { bad += REPORT(rounded_ok(ADD(a, b, r), r, [&](Q v) { return sgn(v - x); }), "add " + in); ++n; } else ++skipped;
      if (exact_sum(a, -(Q)b, x) && x != 0) { bad += REPORT(rounded_ok(SUB(a, b, r), r, [&](Q v) { return sgn(v - x); }), "sub " + in); ++n; }
      const Q p = (Q)a * (Q)b;  // exact: at most 106 bits
      if (p != 0 && std::isfinite(static_cast<double>(p))) { bad += REPORT(rounded_ok(MUL(a, b, r), r, [&](Q v) { return sgn(v - p); }), "mul " + in); ++n; }
      if (std::isfinite(c) && exact_sum(p, c, x) && x != 0) { bad += REPORT(rounded_ok(FMA(a, b, c, r), r, [&](Q v) { return sgn(v - x); }), "fma " + in + ", " + show(c)); ++n; } else ++skipped;
      // a / b: sign(v - a/b) = sign(v*b - a) * sign(b), exact in binary128.
      bad += REPORT(rounded_ok(DIV(a, b, r), r, [&](Q v) { return sgn(v * (Q)b - (Q)a) * (b > 0 ? 1 : -1); }), "div " + in); ++n;
      bad += REPORT(rounded_ok(RCP(b, r), r, [&](Q v) { return sgn(v * (Q)b - 1) * (b > 0 ? 1 : -1); }), "rcp " + in); ++n;
      const T aa = std::fabs(a);
      bad += REPORT(rounded_ok(SQRT(aa, r), r, [&](Q v) { return v < 0 ? -1 : sgn(v * v - (Q)aa); }), "sqrt " + in); ++n;
    }
  }
  // fma with an addend far below the product's last bit: only a single rounding sees it.
  for (int i = 0; i < 20000; ++i) {
    const T a = random_float<T>(emin / 2, emax / 2);
    // Half of the products are exact in T (b a power of two): then only c's sticky bit decides.
    const T b = (i & 1) ? std::ldexp(static_cast<T>(1), static_cast<int>(rng() % 40) - 20) : random_float<T>(emin / 2, emax / 2);
    const int ep = std::ilogb(a * b), lo = is32 ? 60 : 110;
    const T c = random_float<T>(std::max(emin, ep - lo), std::max(emin, ep - (is32 ? 25 : 54)));
    const Q p = (Q)a * (Q)b;
    Q x;
    for (Round r : kModes)
      if (exact_sum(p, c, x) && x != 0) {
        bad += REPORT(rounded_ok(FMA(a, b, c, r), r, [&](Q v) { return sgn(v - x); }), std::string("fma tiny c ") + tname + " " + mode_name(r) + " " + show(a) + ", " + show(b) + ", " + show(c));
        ++n;
      }
  }
  CHECK_EQ(bad, 0);
  std::printf("%s add/sub/mul/fma/div/rcp/sqrt x {rn,rz,rm,rp}: %ld results exact (%ld inexact references skipped)\n", tname, n, skipped);
  CHECK(FMA(static_cast<T>(1), static_cast<T>(1), static_cast<T>(0x1p-60), Round::rp) == std::nextafter(static_cast<T>(1), static_cast<T>(2)));
  CHECK(FMA(static_cast<T>(1), static_cast<T>(1), static_cast<T>(-0x1p-60), Round::rz) == std::nextafter(static_cast<T>(1), static_cast<T>(0)));
  CHECK(FMA(static_cast<T>(1), static_cast<T>(1), static_cast<T>(-0x1p-60), Round::rn) == static_cast<T>(1));
  // Signed zeros and overflow: x + (-x) is +0 except under .rm; overflow goes to inf or max by mode.
  const T big = std::numeric_limits<T>::max();
  for (Round r : kModes) {
    const T z = ADD(static_cast<T>(1.5), static_cast<T>(-1.5), r);
    CHECK(z == 0 && std::signbit(z) == (r == Round::rm));
    const T zf = FMA(static_cast<T>(2), static_cast<T>(3), static_cast<T>(-6), r);
    CHECK(zf == 0 && std::signbit(zf) == (r == Round::rm));
    const T o = MUL(big, static_cast<T>(2), r);
    CHECK(o == ((r == Round::rn || r == Round::rp) ? static_cast<T>(INFINITY) : big));
    const T on = MUL(-big, static_cast<T>(2), r);
    CHECK(on == ((r == Round::rn || r == Round::rm) ? static_cast<T>(-INFINITY) : -big));
    const T tiny = std::numeric_limits<T>::denorm_min();
    const T u = MUL(tiny, static_cast<T>(0.25), r);  // exact 1/4 of the smallest subnormal
    CHECK(u == (r == Round::rp ? tiny : static_cast<T>(0)));
    CHECK(std::isnan(SQRT(static_cast<T>(-1), r)));
  }
  // NaN results are canonical (PTX), not the operand payload.
  const T qnan = is32 ? static_cast<T>(f32_from_bits(0x7FC01234u)) : static_cast<T>(f64_from_bits(0xFFF8000000001234ull));
  for (Round r : kModes) {
    const T outs[] = {ADD(qnan, static_cast<T>(1), r), MUL(static_cast<T>(INFINITY), static_cast<T>(0), r),
                      FMA(qnan, static_cast<T>(1), static_cast<T>(1), r), DIV(static_cast<T>(0), static_cast<T>(0), r),
                      SQRT(static_cast<T>(-2), r), SUB(static_cast<T>(INFINITY), static_cast<T>(INFINITY), r)};
    for (T o : outs) {
      if constexpr (sizeof(T) == 4) CHECK_EQ(bits_of(static_cast<float>(o)), kCanonicalNaN32);
      else CHECK_EQ(bits_of(static_cast<double>(o)), kCanonicalNaN64);
    }
  }
}

void test_f32_modifiers() {
  // .ftz flushes subnormal inputs and results to sign-preserving zero.
  CHECK_EQ(bits_of(add(0x1p-130f, 0.0f, Round::rn, true, false)), 0u);
  CHECK_EQ(bits_of(add(-0x1p-130f, -0.0f, Round::rn, true, false)), 0x80000000u);
  CHECK_EQ(add(0x1p-130f, 0.0f, Round::rn, false, false), 0x1p-130f);
  CHECK_EQ(bits_of(mul(0x1p-70f, -0x1p-70f, Round::rn, true, false)), 0x80000000u);  // subnormal result
  CHECK_EQ(mul(0x1p-70f, 0x1p-70f, Round::rn, false, false), 0x1p-140f);
  CHECK_EQ(fma(0x1p-140f, 0x1p100f, 1.0f, Round::rp, true, false), 1.0f);          // input flushed first
  CHECK_EQ(fma(0x1p-140f, 0x1p100f, 1.0f, Round::rp, false, false), std::nextafter(1.0f, 2.0f));
  CHECK_EQ(bits_of(ftz(-0x1p-149f)), 0x80000000u);
  CHECK_EQ(ftz(0x1p-126f), 0x1p-126f);
  // .sat clamps to [0, 1]; NaN -> +0.
  CHECK_EQ(add(0.75f, 0.5f, Round::rn, false, true), 1.0f);
  CHECK_EQ(bits_of(add(-0.75f, 0.5f, Round::rn, false, true)), 0u);
  CHECK_EQ(bits_of(mul(INFINITY, 0.0f, Round::rn, false, true)), 0u);
  CHECK_EQ(add(0.25f, 0.5f, Round::rn, false, true), 0.75f);
  CHECK_EQ(bits_of(fma(-1.0f, 0.0f, 0.0f, Round::rn, false, true)), 0u);  // -0 saturates to +0
  // min / max: NaN operand ignored, both NaN or .NaN -> canonical NaN, -0 < +0.
  const float nan = f32_from_bits(0x7FC00001u);
  CHECK_EQ(fmin(nan, 2.0f, false, false), 2.0f);
  CHECK_EQ(fmax(3.0f, nan, false, false), 3.0f);
  CHECK_EQ(bits_of(fmin(nan, nan, false, false)), kCanonicalNaN32);
  CHECK_EQ(bits_of(fmax(1.0f, nan, false, true)), kCanonicalNaN32);
  CHECK_EQ(bits_of(fmin(0.0f, -0.0f, false, false)), 0x80000000u);
  CHECK_EQ(bits_of(fmin(-0.0f, 0.0f, false, false)), 0x80000000u);
  CHECK_EQ(bits_of(fmax(-0.0f, 0.0f, false, false)), 0u);
  CHECK_EQ(bits_of(fmax(0.0f, -0.0f, false, false)), 0u);
  CHECK_EQ(fmin(-3.0f, 2.0f, false, false), -3.0f);
  CHECK_EQ(fmax(-3.0f, 2.0f, false, false), 2.0f);
  CHECK_EQ(bits_of(fmax(-0x1p-140f, -0.0f, true, false)), 0x80000000u);  // ftz: both -0
  CHECK_EQ(fmin(-0x1p-140f, 0.0f, false, false), -0x1p-140f);
  CHECK_EQ(bits_of(emu::fp::fmin(f64_from_bits(0x7FF0000000000001ull), f64_from_bits(0x7FF8000000000002ull))), kCanonicalNaN64);
  CHECK_EQ(emu::fp::fmax(1.0, f64_from_bits(0x7FF8000000000002ull)), 1.0);
  CHECK_EQ(bits_of(emu::fp::fmin(0.0, -0.0)), 0x8000000000000000ull);
  // cvt.f32.f64 in every mode, .ftz and .sat.
  const double d = 1.0 + 0x1p-30;
  CHECK_EQ(f64_to_f32(d, Round::rn, false, false), 1.0f);
  CHECK_EQ(f64_to_f32(d, Round::rp, false, false), std::nextafter(1.0f, 2.0f));
  CHECK_EQ(f64_to_f32(-d, Round::rm, false, false), -std::nextafter(1.0f, 2.0f));
  CHECK_EQ(f64_to_f32(-d, Round::rz, false, false), -1.0f);
  CHECK_EQ(f64_to_f32(1e300, Round::rz, false, false), std::numeric_limits<float>::max());
  CHECK_EQ(f64_to_f32(1e300, Round::rn, false, false), INFINITY);
  CHECK_EQ(f64_to_f32(1e-300, Round::rp, false, false), 0x1p-149f);
  CHECK_EQ(bits_of(f64_to_f32(1e-300, Round::rp, true, false)), 0u);
  CHECK_EQ(f64_to_f32(3.0, Round::rn, false, true), 1.0f);
  CHECK_EQ(bits_of(f64_to_f32(f64_from_bits(0x7FF0000000000001ull), Round::rn, false, false)), kCanonicalNaN32);
  // cvt.rXi.f32.f32: integral rounding.
  CHECK_EQ(round_int(2.5f, Round::rn, false, false), 2.0f);
  CHECK_EQ(round_int(3.5f, Round::rn, false, false), 4.0f);
  CHECK_EQ(round_int(-2.5f, Round::rz, false, false), -2.0f);
  CHECK_EQ(round_int(-2.5f, Round::rm, false, false), -3.0f);
  CHECK_EQ(round_int(2.1f, Round::rp, false, false), 3.0f);
  CHECK_EQ(round_int(-0x1p-140f, Round::rm, false, false), -1.0f);
  CHECK_EQ(bits_of(round_int(-0x1p-140f, Round::rm, true, false)), 0x80000000u);
  CHECK_EQ(bits_of(round_int(-0.4f, Round::rn, false, false)), 0x80000000u);
  CHECK_EQ(round_int(-2.5, Round::rn), -2.0);
  CHECK_EQ(round_int(1e300, Round::rp), 1e300);
}

// ---------------------------------------------------------------- integer conversions
void test_int_conversions() {
  // float -> int saturates; NaN -> 0 (PTX cvt).
  CHECK_EQ(to_sint(1e10f, Round::rn, false, 32), 2147483647);
  CHECK_EQ(to_sint(-1e10f, Round::rn, false, 32), -2147483647LL - 1);
  CHECK_EQ(to_sint(NAN, Round::rz, false, 32), 0);
  CHECK_EQ(to_uint(NAN, Round::rz, false, 64), 0u);
  CHECK_EQ(to_uint(-1.0f, Round::rn, false, 32), 0u);
  CHECK_EQ(to_uint(-0.5f, Round::rn, false, 32), 0u);
  CHECK_EQ(to_uint(INFINITY, Round::rn, false, 16), 65535u);
  CHECK_EQ(to_sint(-INFINITY, Round::rn, false, 8), -128);
  CHECK_EQ(to_sint(300.0f, Round::rz, false, 8), 127);
  CHECK_EQ(to_uint(300.0f, Round::rz, false, 8), 255u);
  CHECK_EQ(to_sint(2.5f, Round::rn, false, 32), 2);
  CHECK_EQ(to_sint(3.5f, Round::rn, false, 32), 4);
  CHECK_EQ(to_sint(-2.5f, Round::rn, false, 32), -2);
  CHECK_EQ(to_sint(-0.5f, Round::rm, false, 32), -1);
  CHECK_EQ(to_sint(0.5f, Round::rp, false, 32), 1);
  CHECK_EQ(to_sint(-1.9f, Round::rz, false, 32), -1);
  CHECK_EQ(to_sint(-0x1p-140f, Round::rm, false, 32), -1);
  CHECK_EQ(to_sint(-0x1p-140f, Round::rm, true, 32), 0);  // .ftz flushes the input
  CHECK_EQ(to_sint(0x1p63, Round::rn, 64), std::numeric_limits<int64_t>::max());
  CHECK_EQ(to_sint(-0x1p63, Round::rn, 64), std::numeric_limits<int64_t>::min());
  CHECK_EQ(to_sint(0x1.fffffffffffffp62, Round::rn, 64), 9223372036854774784LL);
  CHECK_EQ(to_uint(0x1p64, Round::rn, 64), ~0ull);
  CHECK_EQ(to_uint(0x1.fffffffffffffp63, Round::rn, 64), 18446744073709549568ull);
  CHECK_EQ(to_sint(2147483647.5, Round::rp, 32), 2147483647);
  CHECK_EQ(to_sint(-2147483648.5, Round::rn, 32), -2147483647LL - 1);
  CHECK_EQ(to_uint(4294967295.4, Round::rn, 32), 4294967295ull);
  // Random sweep against a reference that picks among the integer neighbours by exact comparison.
  int bad = 0;
  long n = 0;
  for (int i = 0; i < 200000; ++i) {
    const int bits = 8 << (rng() % 4);
    const double x = std::ldexp(static_cast<double>(static_cast<int64_t>(rng())), -static_cast<int>(rng() % 100)) ;
    for (Round r : {Round::rn, Round::rz, Round::rm, Round::rp}) {
      const long double t = std::trunc(static_cast<long double>(x));
      long double want;
      const long double frac = static_cast<long double>(x) - t;  // exact (64-bit mantissa)
      if (frac == 0) want = t;
      else if (r == Round::rz) want = t;
      else if (r == Round::rm) want = frac < 0 ? t - 1 : t;
      else if (r == Round::rp) want = frac > 0 ? t + 1 : t;
      else {
        const long double af = std::fabs(frac), away = t + (frac > 0 ? 1 : -1);
        want = af < 0.5L ? t : af > 0.5L ? away : (std::fmod(t, 2.0L) == 0 ? t : away);
      }
      const long double smax = std::ldexp(1.0L, bits - 1) - 1, smin = -std::ldexp(1.0L, bits - 1);
      const long double umax = std::ldexp(1.0L, bits) - 1;
      const long double ws = std::min(std::max(want, smin), smax), wu = std::min(std::max(want, 0.0L), umax);
      bad += REPORT(static_cast<long double>(to_sint(x, r, bits)) == ws, "to_sint " + show(x));
      bad += REPORT(static_cast<long double>(to_uint(x, r, bits)) == wu, "to_uint " + show(x));
      n += 2;
    }
  }
  CHECK_EQ(bad, 0);
  // int -> float in every mode: the result must bracket the integer (exact in binary128).
  bad = 0;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t u = rng() >> (rng() % 64);
    const int64_t s = static_cast<int64_t>(rng()) >> (rng() % 64);
    for (Round r : kModes) {
      const Q qu = static_cast<Q>(u), qs = static_cast<Q>(s);
      bad += REPORT(rounded_ok(uint_to_f32(u, r), r, [&](Q v) { return sgn(v - qu); }) || uint_to_f32(u, r) == 0, std::string("u64->f32 ") + mode_name(r) + " " + hex(u));
      bad += REPORT(rounded_ok(sint_to_f32(s, r), r, [&](Q v) { return sgn(v - qs); }) || s == 0, std::string("s64->f32 ") + mode_name(r) + " " + hex(s));
      bad += REPORT(rounded_ok(uint_to_f64(u, r), r, [&](Q v) { return sgn(v - qu); }) || u == 0, std::string("u64->f64 ") + mode_name(r) + " " + hex(u));
      bad += REPORT(rounded_ok(sint_to_f64(s, r), r, [&](Q v) { return sgn(v - qs); }) || s == 0, std::string("s64->f64 ") + mode_name(r) + " " + hex(s));
      n += 4;
    }
  }
  for (uint64_t u : {0ull, 1ull, ~0ull, 1ull << 63, (1ull << 63) + 1, (1ull << 24) + 1, (1ull << 53) + 1, 0xFFFFFF7FFFFFFFFFull})
    for (Round r : kModes) {
      const Q qu = static_cast<Q>(u);
      CHECK(u == 0 ? bits_of(uint_to_f32(u, r)) == 0 : rounded_ok(uint_to_f32(u, r), r, [&](Q v) { return sgn(v - qu); }));
      CHECK(u == 0 ? bits_of(uint_to_f64(u, r)) == 0 : rounded_ok(uint_to_f64(u, r), r, [&](Q v) { return sgn(v - qu); }));
    }
  CHECK_EQ(uint_to_f32(~0ull, Round::rz), 0x1.fffffep63f);
  CHECK_EQ(uint_to_f32(~0ull, Round::rn), 0x1p64f);
  CHECK_EQ(sint_to_f32(std::numeric_limits<int64_t>::min(), Round::rp), -0x1p63f);
  CHECK_EQ(sint_to_f32(-16777217, Round::rm), -16777218.0f);
  CHECK_EQ(sint_to_f32(-16777217, Round::rp), -16777216.0f);
  CHECK_EQ(sint_to_f32(16777217, Round::rn), 16777216.0f);
  CHECK_EQ(sint_to_f32(16777219, Round::rn), 16777220.0f);
  CHECK_EQ(bad, 0);
  std::printf("float->int and int->float: %ld results checked\n", n);
}

// int -> f16 in every mode against the table reference (overflow to inf or max by mode).
void test_int_to_f16(const Table& f16) {
  int bad = 0;
  long n = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t u = rng() >> (rng() % 64);
    const int64_t s = static_cast<int64_t>(rng()) >> (rng() % 64);
    for (Round r : kModes) {
      bad += REPORT(uint_to_f16(u, r) == ref_round(static_cast<Q>(u), f16, r, false, false), std::string("u64->f16 ") + mode_name(r) + " " + hex(u));
      bad += REPORT(sint_to_f16(s, r) == ref_round(static_cast<Q>(s), f16, r, false, false), std::string("s64->f16 ") + mode_name(r) + " " + hex(s));
      n += 2;
    }
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(uint_to_f16(65520, Round::rn), 0x7C00);
  CHECK_EQ(uint_to_f16(70000, Round::rz), 0x7BFF);
  CHECK_EQ(sint_to_f16(-70000, Round::rp), 0xFBFF);
  CHECK_EQ(sint_to_f16(-70000, Round::rm), 0xFC00);
  std::printf("int->f16: %ld results checked\n", n);
}

}  // namespace

namespace {

// ---------------------------------------------------------------- f16 / bf16 arithmetic
// Expected result of a half op from the exact value x (binary128): one rounding (table reference),
// then the result modifiers as the ISA lists them (.ftz, .relu, .sat; NaN -> canonical 0x7FFF).
uint32_t half_expect(Q x, bool zero_neg, const Table& t, Round r, bool ftz_, bool sat, bool relu) {
  uint32_t c = x == 0 ? (zero_neg ? 0x8000u : 0u) : ref_round(x, t, r, false, false);
  const bool nan = (c & 0x7FFF) > t.inf_code();
  if (nan) return sat ? 0 : 0x7FFF;
  if (ftz_ && (c & 0x7FFF) != 0 && (c & 0x7FFF) < (1u << t.mbits)) c &= 0x8000;
  if ((relu || sat) && (c & 0x8000)) return 0;
  const uint32_t one = t.ebits == 8 ? 0x3F80 : 0x3C00;
  if (sat && c > one) return one;
  return c;
}

void test_half_arith(const Table& f16, const Table& bf16) {
  int bad = 0;
  long n = 0, skipped = 0;
  for (const Table* t : {&f16, &bf16}) {
    const bool is_bf = t == &bf16;
    auto dec = [&](uint32_t h) { return static_cast<Q>(is_bf ? bf16_to_f32(static_cast<uint16_t>(h)) : f16_to_f32(static_cast<uint16_t>(h))); };
    auto finite = [&](uint32_t h) { return (h & 0x7FFF) < t->inf_code(); };
    auto flush = [&](uint32_t h) { return ((h & 0x7FFF) != 0 && (h & 0x7FFF) < (1u << t->mbits)) ? (h & 0x8000) : h; };
    auto near = [&](uint32_t h) {  // a code within +-12 binades of h (so that sums stay exact)
      const int64_t shift = (static_cast<int64_t>(rng() % 25) - 12) << t->mbits;
      int64_t v = static_cast<int64_t>(h & 0x7FFF) + shift + static_cast<int64_t>(rng() % (1u << t->mbits)) - (1 << (t->mbits - 1));
      v = std::max<int64_t>(0, std::min<int64_t>(v, t->inf_code() - 1));
      return static_cast<uint32_t>(v) | static_cast<uint32_t>(rng() & 0x8000);
    };
    for (int i = 0; i < 150000; ++i) {
      uint32_t a = rng() & 0xFFFF;
      if (!finite(a)) continue;
      const uint32_t b = (i & 1) ? near(a) : rng() & 0xFFFF, c = (i & 2) ? near(a) : rng() & 0xFFFF;
      if (!finite(b) || !finite(c)) continue;
      for (Round r : kModes) {
        const int flags = static_cast<int>(rng() % 8);
        const bool ftz_ = (flags & 1) && !is_bf, sat = flags & 2, relu = flags & 4;
        const uint32_t fa = ftz_ ? flush(a) : a, fb = ftz_ ? flush(b) : b, fc = ftz_ ? flush(c) : c;
        const Q xa = dec(fa), xb = dec(fb), xc = dec(fc);
        const bool sa = fa & 0x8000, sb = fb & 0x8000, sc = fc & 0x8000;
        const std::string in = std::string(t->name) + " " + mode_name(r) + " flags " + std::to_string(flags) + " " + hex(a) + " " + hex(b) + " " + hex(c);
        Q x;
        if (exact_sum(xa, xb, x)) {
          const bool zn = r == Round::rm ? (sa || sb) : (sa && sb);
          bad += REPORT(hadd(a, b, r, ftz_, sat, is_bf) == half_expect(x, zn, *t, r, ftz_, sat, false), "hadd " + in); ++n;
        } else ++skipped;
        if (exact_sum(xa, -xb, x)) {
          const bool zn = r == Round::rm ? (sa || !sb) : (sa && !sb);
          bad += REPORT(hsub(a, b, r, ftz_, sat, is_bf) == half_expect(x, zn, *t, r, ftz_, sat, false), "hsub " + in); ++n;
        }
        const Q p = xa * xb;
        bad += REPORT(hmul(a, b, r, ftz_, sat, is_bf) == half_expect(p, sa != sb, *t, r, ftz_, sat, false), "hmul " + in); ++n;
        if (exact_sum(p, xc, x)) {
          const bool sp = sa != sb, zn = r == Round::rm ? (sp || sc) : (sp && sc);
          bad += REPORT(hfma(a, b, c, r, ftz_, sat, relu, is_bf) == half_expect(x, zn, *t, r, ftz_, sat, relu), "hfma " + in); ++n;
        } else ++skipped;
      }
    }
  }
  CHECK_EQ(bad, 0);
  std::printf("f16/bf16 add/sub/mul/fma (all modes, ftz/sat/relu): %ld results exact (%ld inexact references skipped)\n", n, skipped);
  // Single rounding where a double rounding would differ, and the specials.
  CHECK_EQ(hadd(0x3F80, 0x0D80, Round::rp, false, false, true), 0x3F81);  // bf16 1 + 2^-100 (rp)
  CHECK_EQ(hadd(0x3F80, 0x0D80, Round::rz, false, false, true), 0x3F80);
  CHECK_EQ(hsub(0x3F80, 0x0D80, Round::rz, false, false, true), 0x3F7F);
  CHECK_EQ(hadd(0x3F80, 0x3B80, Round::rn, false, false, true), 0x3F80);  // 1 + 2^-8: tie to even
  CHECK_EQ(hfma(0x3C01, 0x3C01, 0x8000, Round::rn, false, false, false, false), 0x3C02);  // (1+2^-10)^2
  CHECK_EQ(hadd(0x7C00, 0xFC00, Round::rn, false, false, false), 0x7FFF);
  CHECK_EQ(hmul(0x7C00, 0x0000, Round::rn, false, false, false), 0x7FFF);
  CHECK_EQ(hmul(0x7C00, 0x0000, Round::rn, false, true, false), 0x0000);
  CHECK_EQ(hadd(0x7E01, 0x3C00, Round::rn, false, false, false), 0x7FFF);
  CHECK_EQ(hadd(0x7BFF, 0x7BFF, Round::rn, false, false, false), 0x7C00);
  CHECK_EQ(hadd(0x7BFF, 0x7BFF, Round::rz, false, false, false), 0x7BFF);
  CHECK_EQ(hadd(0x0001, 0x0000, Round::rn, true, false, false), 0x0000);  // .ftz input
  CHECK_EQ(hmul(0x0400, 0x3800, Round::rn, true, false, false), 0x0000);  // .ftz result (2^-15)
  CHECK_EQ(hmul(0x0400, 0x3800, Round::rn, false, false, false), 0x0200);
  CHECK_EQ(hfma(0x3C00, 0xC000, 0x0000, Round::rn, false, false, true, false), 0x0000);  // relu(-2)
  CHECK_EQ(hfma(0x7C00, 0x0000, 0x0000, Round::rn, false, false, true, false), 0x7FFF);  // relu(NaN)
  CHECK_EQ(hftz(0x83FF, false), 0x8000);
  CHECK_EQ(hftz(0x0400, false), 0x0400);
  CHECK_EQ(hftz(0x007F, true), 0x0000);
  CHECK_EQ(hftz(0x0080, true), 0x0080);
  CHECK_EQ(hftz(0x7C01, false), 0x7C01);
  CHECK_EQ(hmin(0x7E00, 0x3C00, false, false), 0x3C00);
  CHECK_EQ(hmin(0x7E00, 0x3C00, true, false), 0x7FFF);
  CHECK_EQ(hmax(0x7FC1, 0x7FC2, false, true), 0x7FFF);
  CHECK_EQ(hmin(0x0000, 0x8000, false, false), 0x8000);
  CHECK_EQ(hmax(0x8000, 0x0000, false, true), 0x0000);
  CHECK_EQ(hmax(0xC000, 0x3C00, false, false), 0x3C00);
  CHECK_EQ(hmin(0xBF80, 0x3F80, false, true), 0xBF80);
}

// ---------------------------------------------------------------- approximate functions
// Error of r against the exact y, in units in the last place of y (f32 spacing at |y|).
double ulps(float r, long double y) {
  if (y == 0) return r == 0 ? 0 : INFINITY;
  const int e = std::max(std::ilogb(static_cast<double>(y)), -126);
  return static_cast<double>(std::fabs(static_cast<long double>(r) - y) / std::ldexp(1.0L, e - 23));
}
double rel(float r, long double y) { return static_cast<double>(std::fabs((static_cast<long double>(r) - y) / y)); }
float random_pos(int emin, int emax) { return std::fabs(random_float<float>(emin, emax)); }
void print_err(const char* what, double v, const char* unit, double bound) {
  std::printf("  %-34s max error %.3g %s%s (ISA bound %.3g)\n", what, v, unit,
              unit[0] == 'u' ? "" : (" = 2^" + std::to_string(v > 0 ? std::log2(v) : -999.0).substr(0, 6)).c_str(), bound);
  CHECK(v <= bound);
}
bool is_canon(float f) { return bits_of(f) == kCanonicalNaN32; }

void test_approx() {
  std::printf("approximate functions:\n");
  double e = 0;
  for (int i = 0; i < 400000; ++i) {  // rcp.approx: 1 ulp over the full range
    const float x = random_float<float>(-126, 127);
    e = std::max(e, ulps(rcp_approx(x, false), 1.0L / x));
  }
  print_err("rcp.approx.f32", e, "ulp", 1);
  CHECK_EQ(bits_of(rcp_approx(-INFINITY, false)), 0x80000000u);
  CHECK_EQ(rcp_approx(-0.0f, false), -INFINITY);
  CHECK_EQ(rcp_approx(0.0f, false), INFINITY);
  CHECK_EQ(rcp_approx(0x1p-140f, true), INFINITY);
  CHECK_EQ(rcp_approx(0x1p-127f, false), 0x1p127f);
  CHECK_EQ(bits_of(rcp_approx(0x1p127f, true)), 0u);      // subnormal result flushed
  CHECK_EQ(rcp_approx(0x1p127f, false), 0x1p-127f);
  CHECK(is_canon(rcp_approx(NAN, false)));

  e = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = random_pos(-149, 127);
    e = std::max(e, rel(sqrt_approx(x, false), std::sqrt(static_cast<long double>(x))));
  }
  print_err("sqrt.approx.f32 (relative)", e, "", std::ldexp(1.0, -23));
  CHECK(is_canon(sqrt_approx(-1.0f, false)));
  CHECK(is_canon(sqrt_approx(-INFINITY, false)));
  CHECK_EQ(bits_of(sqrt_approx(-0.0f, false)), 0x80000000u);
  CHECK_EQ(bits_of(sqrt_approx(-0x1p-140f, true)), 0x80000000u);
  CHECK_EQ(sqrt_approx(INFINITY, false), INFINITY);
  CHECK_EQ(sqrt_approx(0x1p-140f, false), 0x1p-70f);
  CHECK_EQ(bits_of(sqrt_approx(0x1p-140f, true)), 0u);

  e = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = random_pos(-149, 127);
    e = std::max(e, rel(rsqrt_approx(x, false), 1.0L / std::sqrt(static_cast<long double>(x))));
  }
  print_err("rsqrt.approx.f32 (relative)", e, "", std::exp2(-22.9));
  CHECK_EQ(rsqrt_approx(0.0f, false), INFINITY);
  CHECK_EQ(rsqrt_approx(-0.0f, false), -INFINITY);
  CHECK_EQ(rsqrt_approx(0x1p-140f, true), INFINITY);
  CHECK_EQ(rsqrt_approx(0x1p-140f, false), 0x1p70f);
  CHECK_EQ(bits_of(rsqrt_approx(INFINITY, false)), 0u);
  CHECK(is_canon(rsqrt_approx(-4.0f, false)));

  e = 0;
  double eu = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = std::ldexp(static_cast<float>(static_cast<int64_t>(rng() % (254u << 16)) - (126 << 16)), -16) + 0.0f;
    const long double y = std::exp2(static_cast<long double>(x));
    e = std::max(e, rel(ex2_approx(x, false), y));
    eu = std::max(eu, ulps(ex2_approx(x, false), y));
  }
  print_err("ex2.approx.f32 (relative)", e, "", std::ldexp(1.0, -22));
  print_err("ex2.approx.f32", eu, "ulp", 2);
  CHECK_EQ(bits_of(ex2_approx(-INFINITY, false)), 0u);
  CHECK_EQ(ex2_approx(INFINITY, false), INFINITY);
  CHECK_EQ(ex2_approx(-0.0f, false), 1.0f);
  CHECK_EQ(ex2_approx(0x1p-140f, false), 1.0f);
  CHECK_EQ(ex2_approx(-140.0f, false), 0x1p-140f);  // subnormal result kept without .ftz
  CHECK_EQ(bits_of(ex2_approx(-140.0f, true)), 0u);
  CHECK_EQ(ex2_approx(128.0f, false), INFINITY);
  CHECK(is_canon(ex2_approx(f32_from_bits(0xFFC01234u), false)));

  e = 0;
  double er = 0;
  for (int i = 0; i < 400000; ++i) {
    const float m = 0.5f + std::ldexp(static_cast<float>(rng() % (3u << 22)), -23);  // [0.5, 2)
    e = std::max(e, static_cast<double>(std::fabs(lg2_approx(m, false) - std::log2(static_cast<long double>(m)))));
    const float x = random_pos(-149, 127);
    const long double y = std::log2(static_cast<long double>(x));
    if (std::fabs(y) >= 1) er = std::max(er, rel(lg2_approx(x, false), y));
  }
  print_err("lg2.approx.f32 on [0.5,2] (absolute)", e, "", std::exp2(-22.6));
  print_err("lg2.approx.f32 elsewhere (relative)", er, "", std::ldexp(1.0, -22));
  CHECK_EQ(lg2_approx(0.0f, false), -INFINITY);
  CHECK_EQ(lg2_approx(-0.0f, false), -INFINITY);
  CHECK(is_canon(lg2_approx(-1.0f, false)));
  CHECK(is_canon(lg2_approx(-INFINITY, false)));
  CHECK_EQ(lg2_approx(INFINITY, false), INFINITY);
  CHECK_EQ(lg2_approx(0x1p-140f, false), -140.0f);
  CHECK_EQ(lg2_approx(0x1p-140f, true), -INFINITY);
  CHECK_EQ(lg2_approx(-0x1p-140f, true), -INFINITY);
  CHECK(is_canon(lg2_approx(-0x1p-140f, false)));
  CHECK_EQ(lg2_approx(1.0f, false), 0.0f);

  double es = 0, ec = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = static_cast<float>((static_cast<double>(rng() >> 11) / 0x1p53 * 2 - 1) * 100 * M_PI);
    es = std::max(es, static_cast<double>(std::fabs(sin_approx(x, false) - std::sin(static_cast<long double>(x)))));
    ec = std::max(ec, static_cast<double>(std::fabs(cos_approx(x, false) - std::cos(static_cast<long double>(x)))));
  }
  print_err("sin.approx.f32 on [-100pi,100pi]", es, "", std::exp2(-20.5));
  print_err("cos.approx.f32 on [-100pi,100pi]", ec, "", std::exp2(-20.5));
  CHECK(is_canon(sin_approx(INFINITY, false)));
  CHECK(is_canon(cos_approx(-INFINITY, false)));
  CHECK_EQ(bits_of(sin_approx(-0.0f, false)), 0x80000000u);
  CHECK_EQ(cos_approx(-0.0f, false), 1.0f);
  CHECK_EQ(sin_approx(0x1p-140f, false), 0x1p-140f);
  CHECK_EQ(bits_of(sin_approx(-0x1p-140f, true)), 0x80000000u);

  e = 0;
  for (int i = 0; i < 400000; ++i) {
    const float x = random_float<float>(-149, 5);
    e = std::max(e, rel(tanh_approx(x), std::tanh(static_cast<long double>(x))));
  }
  print_err("tanh.approx.f32 (relative)", e, "", std::exp2(-10.987));
  CHECK_EQ(tanh_approx(INFINITY), 1.0f);
  CHECK_EQ(tanh_approx(-INFINITY), -1.0f);
  CHECK_EQ(bits_of(tanh_approx(-0.0f)), 0x80000000u);
  CHECK(is_canon(tanh_approx(NAN)));

  double ef = 0, ea = 0;
  for (int i = 0; i < 400000; ++i) {
    const float a = random_float<float>(-126, 127), b = random_float<float>(-126, 125);
    const long double y = static_cast<long double>(a) / b;
    if (std::fabs(y) < 0x1p-126L || std::fabs(y) > 0x1p127L) continue;
    ef = std::max(ef, ulps(div_full(a, b, false), y));
    ea = std::max(ea, ulps(div_approx(a, b, false), y));
  }
  print_err("div.full.f32", ef, "ulp", 2);
  print_err("div.approx.f32 (|b| in [2^-126,2^126])", ea, "ulp", 2);
  CHECK_EQ(bits_of(div_approx(1.0f, 0x1.8p126f, false)), 0u);   // 2^126 < |b| < 2^128: 0
  CHECK_EQ(bits_of(div_approx(-1.0f, 0x1.8p126f, false)), 0x80000000u);
  CHECK(is_canon(div_approx(INFINITY, 0x1.8p126f, false)));     // ... and NaN for an infinite a
  CHECK(is_canon(div_full(0.0f, 0.0f, false)));
  CHECK_EQ(div_full(1.0f, 0.0f, false), INFINITY);
  CHECK_EQ(div_full(0x1p-140f, 1.0f, false), 0x1p-140f);
  CHECK_EQ(bits_of(div_full(0x1p-140f, 1.0f, true)), 0u);
  CHECK_EQ(div_full(1.0f, 0x1.8p126f, false), static_cast<float>(1 / 0x1.8p126));  // full range

  double e64 = 0, r64 = 0;
  for (int i = 0; i < 200000; ++i) {
    const double x = random_float<double>(-1021, 1021);
    e64 = std::max(e64, static_cast<double>(std::fabs((rcp_approx_ftz(x) - 1.0L / x) * x)));
    const double ax = std::fabs(x);
    r64 = std::max(r64, static_cast<double>(std::fabs(rsqrt_approx(ax) * std::sqrt(static_cast<long double>(ax)) - 1)));
  }
  std::printf("  %-34s max relative error %.3g\n", "rcp.approx.ftz.f64", e64);
  std::printf("  %-34s max relative error %.3g\n", "rsqrt.approx.f64", r64);
  CHECK(e64 <= 0x1p-52 && r64 <= 0x1p-52);
  CHECK_EQ(rcp_approx_ftz(4.9e-320), INFINITY);
  CHECK_EQ(rcp_approx_ftz(-0.0), -INFINITY);
  CHECK_EQ(bits_of(rcp_approx_ftz(0x1.8p1023)), 0ull);
  CHECK_EQ(rsqrt_approx(0.0), INFINITY);
  CHECK_EQ(bits_of(rsqrt_approx(-1.0)), kCanonicalNaN64);
  CHECK_EQ(rsqrt_approx(0x1p-1074), 0x1p537);

  // ex2.approx on f16 / bf16: exhaustive over every input code.
  double eh = 0, eb = 0;
  int bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float xf = f16_to_f32(static_cast<uint16_t>(h)), xb = bf16_to_f32(static_cast<uint16_t>(h));
    const uint16_t rf = ex2_approx_h(static_cast<uint16_t>(h), false), rb = ex2_approx_h(static_cast<uint16_t>(h), true);
    if (std::isnan(xf)) bad += REPORT(rf == 0x7FFF, "ex2.f16 NaN");
    else {
      const long double y = std::exp2(static_cast<long double>(xf));
      if (y >= 0x1p-14L && y <= 65504) eh = std::max(eh, rel(f16_to_f32(rf), y));
      else if (y > 65520) bad += REPORT(rf == 0x7C00, "ex2.f16 overflow " + hex(h));
    }
    if (std::isnan(xb)) bad += REPORT(rb == 0x7FFF, "ex2.bf16 NaN");
    else {
      const long double y = std::exp2(static_cast<long double>(xb));
      if (y >= 0x1p-126L && y <= 0x1.fep127L) eb = std::max(eb, rel(bf16_to_f32(rb), y));
      else if (y < 0x1p-126L) bad += REPORT((rb & 0x7FFF) == 0, "ex2.bf16 ftz result " + hex(h));
    }
  }
  CHECK_EQ(bad, 0);
  print_err("ex2.approx.f16 (relative, all codes)", eh, "", std::exp2(-9.9));
  print_err("ex2.approx.ftz.bf16 (relative, all)", eb, "", std::exp2(-7));
  // tanh.approx on f16 / bf16: exhaustive, relative error against long double.
  double th = 0, tb = 0;
  bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    const float xf = f16_to_f32(static_cast<uint16_t>(h)), xb = bf16_to_f32(static_cast<uint16_t>(h));
    const uint16_t rf = tanh_approx_h(static_cast<uint16_t>(h), false), rb = tanh_approx_h(static_cast<uint16_t>(h), true);
    if (std::isnan(xf)) bad += REPORT(rf == 0x7FFF, "tanh.f16 NaN");
    else if (xf != 0 && std::fabs(xf) >= 0x1p-14f) th = std::max(th, rel(f16_to_f32(rf), std::tanh(static_cast<long double>(xf))));
    if (std::isnan(xb)) bad += REPORT(rb == 0x7FFF, "tanh.bf16 NaN");
    else if (xb != 0 && std::fabs(xb) >= 0x1p-126f) tb = std::max(tb, rel(bf16_to_f32(rb), std::tanh(static_cast<long double>(xb))));
  }
  CHECK_EQ(bad, 0);
  print_err("tanh.approx.f16 (rel., f32 form bound)", th, "", std::exp2(-10.987));
  print_err("tanh.approx.bf16 (rel., bf16 precision)", tb, "", std::exp2(-7));
  CHECK_EQ(tanh_approx_h(0x7C00, false), 0x3C00);
  CHECK_EQ(tanh_approx_h(0xFF80, true), 0xBF80);
  CHECK_EQ(tanh_approx_h(0x8000, false), 0x8000);
  CHECK_EQ(tanh_approx_h(0x0001, false), 0x0001);
  CHECK_EQ(ex2_approx_h(0xFC00, false), 0x0000);
  CHECK_EQ(ex2_approx_h(0x0001, true), 0x3F80);
}

}  // namespace

int main() {
  const Table f16 = make_table("f16", 10, 5, false, 0x7FFF), bf16 = make_table("bf16", 7, 8, false, 0x7FFF);
  const Table e4m3 = make_table("e4m3", 3, 4, true, 0x7F), e5m2 = make_table("e5m2", 2, 5, false, 0x7F);
  const Table tf32 = make_table("tf32", 10, 8, false, 0x3FFFF);
  test_narrow_exhaustive(f16, bf16, e4m3, e5m2);
  test_f32_to_narrow(f16, bf16, e4m3, e5m2, tf32);
  test_ieee<float>("f32", -140, 127, 40);
  test_ieee<double>("f64", -1060, 1023, 40);
  test_f32_modifiers();
  test_int_conversions();
  test_int_to_f16(f16);
  test_half_arith(f16, bf16);
  test_approx();
  return check::finish();
}
