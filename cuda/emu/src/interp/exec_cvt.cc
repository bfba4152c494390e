// dsv3-emu: cvt (PTX ISA 9.0 §9.7.9.21): integer <-> integer (truncation, sign extension, .sat),
// float <-> integer (.rni/.rzi/.rmi/.rpi, saturating), float <-> float (rounding, .ftz, .sat, .relu,
// .satfinite) including the packed forms .f16x2/.bf16x2.f32 and .e4m3x2/.e5m2x2 (a to the upper half,
// b to the lower half) and .f16x2.e4m3x2. Float semantics come from src/fp.
#include <cmath>

#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

using fp::Round;

// int -> int. in.t dtype, in.t2 atype, in.d sat
bool h_cvt_ii(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  const int ab = ty_bits(Ty(in.t2)), db = ty_bits(Ty(in.t));
  const bool as = ty_signed(Ty(in.t2)), ds = ty_signed(Ty(in.t));
  const uint64_t dmask = zmask(std::max<int>(in.op[0].bits, db));
  const bool sat = in.d & 1;
  each(m, [&](int l) {
    uint64_t v = a[l] & zmask(ab);
    if (as) v = sext(v, ab);
    if (sat) {
      // clamp the source value (as a mathematical integer) to the destination range
      if (ds) {
        const int64_t lo = db >= 64 ? INT64_MIN : -(int64_t(1) << (db - 1)), hi = db >= 64 ? INT64_MAX : (int64_t(1) << (db - 1)) - 1;
        if (as) { int64_t x = int64_t(v); v = uint64_t(x < lo ? lo : x > hi ? hi : x); }
        else { v = v > uint64_t(hi) ? uint64_t(hi) : v; }
      } else {
        const uint64_t hi = zmask(db);
        if (as) { int64_t x = int64_t(v); v = x < 0 ? 0 : uint64_t(x) > hi ? hi : uint64_t(x); }
        else { v = v > hi ? hi : v; }
      }
    }
    v &= zmask(db);
    if (ds) v = sext(v, db);
    d[l] = v & dmask;
  });
  return true;
}

// Reads a float operand of type t as double (exact for every PTX float type).
inline double read_f(Ty t, uint64_t b) {
  switch (t) {
    case T_f16: return fp::f16_to_f32(uint16_t(b));
    case T_bf16: return fp::bf16_to_f32(uint16_t(b));
    case T_f32: return fp::f32_from_bits(uint32_t(b));
    case T_f64: return fp::f64_from_bits(b);
    case T_e4m3: return fp::e4m3_to_f32(uint8_t(b));
    case T_e5m2: return fp::e5m2_to_f32(uint8_t(b));
    default: return 0;
  }
}

// cvt categories, chosen at bind time so that the per-lane loop has one path
enum CvtCat { kI2F, kF2I, kF8x2ToF16x2, kToHalfX2, kToF8x2, kToTf32, kF2F };

// cvt: in.t dtype, in.t2 atype, in.b Round, in.c ftz, in.d bit 0 .sat (clamp to [0, 1]), bit 1 .satfinite,
// in.a relu
template <int CAT>
bool h_cvt(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  const Src b = in.nops > 2 ? src(w, in.op[2]) : a;
  uint64_t* d = dst(w, in.op[0]);
  const Ty dt = Ty(in.t), at = Ty(in.t2);
  const Round r = Round(in.b);
  const bool ftz = in.c, relu = in.a;
  const bool clamp01 = in.d & 1, satfin = in.d & 2;  // .sat, .satfinite
  const bool sat = clamp01 || satfin;                 // f32 destinations (existing behaviour)
  // .sat before a narrowing conversion: clamp the source to [0, 1] (NaN -> +0, .ftz applied), then round
  // (a value in [0, 1] stays in [0, 1] in f16/bf16). fp::f32_to_f16 & co. take .satfinite only.
  auto clamp_f = [&](float f) { return clamp01 ? fp::mul(f, 1.0f, Round::rn, ftz, true) : f; };
  auto clamp_d = [&](double f) { return !clamp01 ? f : (std::isnan(f) || f <= 0) ? 0.0 : f > 1 ? 1.0 : f; };
  const int db = ty_bits(dt);
  const uint64_t dmask = zmask(std::max<int>(in.op[0].bits, db));
  each(m, [&](int l) {
    const uint64_t x = a[l];
    uint64_t v = 0;
    if constexpr (CAT == kI2F) {  // int -> float
      const int ab = ty_bits(at);
      const bool s = ty_signed(at);
      const uint64_t u = x & zmask(ab);
      const int64_t si = int64_t(sext(u, ab));
      switch (dt) {
        case T_f32: v = fp::bits_of(s ? fp::sint_to_f32(si, r) : fp::uint_to_f32(u, r)); break;
        case T_f64: v = fp::bits_of(s ? fp::sint_to_f64(si, r) : fp::uint_to_f64(u, r)); break;
        case T_f16: v = s ? fp::sint_to_f16(si, r) : fp::uint_to_f16(u, r); break;
        default: break;
      }
    } else if constexpr (CAT == kF2I) {  // float -> int (saturating; NaN -> 0)
      const bool s = ty_signed(dt);
      if (at == T_f64) {
        const double f = fp::f64_from_bits(x);
        v = s ? uint64_t(fp::to_sint(f, r, db)) : fp::to_uint(f, r, db);
      } else {
        const float f = at == T_f32 ? fp::f32_from_bits(uint32_t(x)) : float(read_f(at, x));
        v = s ? uint64_t(fp::to_sint(f, r, ftz, db)) : fp::to_uint(f, r, ftz, db);
      }
      v &= zmask(db);
      if (s) v = sext(v, db);
    } else if constexpr (CAT == kF8x2ToF16x2) {  // -> f16x2, lower byte to the lower half
      auto one = [&](uint8_t e) -> uint64_t { return at == T_e4m3x2 ? fp::e4m3_to_f16(e) : fp::e5m2_to_f16(e); };
      v = (one(uint8_t(x >> 8)) << 16) | one(uint8_t(x));
      if (relu) {
        for (int h = 0; h < 2; ++h)
          if ((v >> (16 * h + 15)) & 1) v &= ~(0xFFFFull << (16 * h));  // negative -> +0 (NaN stays)
      }
    } else if constexpr (CAT == kToHalfX2) {  // two f32 -> packed, a to the upper half
      const float hi = fp::f32_from_bits(uint32_t(x)), lo = fp::f32_from_bits(uint32_t(b[l]));
      auto one = [&](float f) -> uint64_t {
        f = clamp_f(f);
        return dt == T_f16x2 ? fp::f32_to_f16(f, r, satfin, relu) : fp::f32_to_bf16(f, r, satfin, relu);
      };
      v = (one(hi) << 16) | one(lo);
    } else if constexpr (CAT == kToF8x2) {
      auto one = [&](uint64_t bits) -> uint64_t {
        if (at == T_f32) {
          const float f = fp::f32_from_bits(uint32_t(bits));
          return dt == T_e4m3x2 ? fp::f32_to_e4m3(f, relu) : fp::f32_to_e5m2(f, relu);
        }
        return dt == T_e4m3x2 ? fp::f16_to_e4m3(uint16_t(bits), relu) : fp::f16_to_e5m2(uint16_t(bits), relu);
      };
      if (at == T_f16x2) v = (one(x >> 16 & 0xFFFF) << 8) | one(x & 0xFFFF);  // upper half -> upper byte
      else v = (one(x) << 8) | one(b[l]);
    } else if constexpr (CAT == kToTf32) {
      v = fp::f32_to_tf32(clamp_f(fp::f32_from_bits(uint32_t(x))), r, satfin);
    } else {  // float -> float, scalar
      switch (dt) {
        case T_f32:
          if (at == T_f64) v = fp::bits_of(fp::f64_to_f32(fp::f64_from_bits(x), r, ftz, sat));
          else if (at == T_f32) {
            const float f = fp::f32_from_bits(uint32_t(x));
            // .rni etc.: round to an integral value; otherwise only .ftz / .sat apply (x * 1 is exact)
            v = fp::bits_of(in.x ? fp::round_int(f, r, ftz, sat) : fp::mul(f, 1.0f, Round::rn, ftz, sat));
          } else {
            v = fp::bits_of(fp::mul(float(read_f(at, x)), 1.0f, Round::rn, ftz, sat));
          }
          break;
        case T_f64:
          if (at == T_f64) v = fp::bits_of(in.x ? fp::round_int(fp::f64_from_bits(x), r) : fp::f64_from_bits(x));
          else {
            float f = at == T_f32 ? fp::f32_from_bits(uint32_t(x)) : float(read_f(at, x));
            if (ftz) f = fp::ftz(f);
            v = fp::bits_of(double(f));
          }
          break;
        case T_f16:
          if (at == T_f64) v = fp::f64_to_f16(clamp_d(fp::f64_from_bits(x)), r, satfin);
          else v = fp::f32_to_f16(clamp_f(float(read_f(at, x))), r, satfin, relu);
          break;
        case T_bf16:
          if (at == T_f64) v = fp::f64_to_bf16(clamp_d(fp::f64_from_bits(x)), r, satfin);
          else v = fp::f32_to_bf16(clamp_f(float(read_f(at, x))), r, satfin, relu);
          break;
        default: break;
      }
    }
    d[l] = v & dmask;
  });
  return true;
}

bool is_int(Ty t) { return (t >= T_u8 && t <= T_s64) || (t >= T_b8 && t <= T_b64); }

}  // namespace

bool bind_cvt(BindCtx& c) {
  const auto& P = c.pi.parts;
  Insn& in = c.in;
  if (P[0] != "cvt" || P.size() < 3) return false;
  const Ty dt = c.type_at(1), at = c.type_at(0);
  if (dt == T_none || at == T_none || dt == T_pred || at == T_pred) return false;
  bool have_round = false, int_round = false, ftz = false, sat = false, satfinite = false, relu = false;
  Round r = Round::rn;
  for (size_t i = 1; i + 2 < P.size(); ++i) {
    const std::string& p = P[i];
    if (p == "rn" || p == "rz" || p == "rm" || p == "rp" || p == "rna") {
      if (have_round) return false;
      have_round = true;
      r = p == "rn" ? Round::rn : p == "rz" ? Round::rz : p == "rm" ? Round::rm : p == "rp" ? Round::rp : Round::rna;
    } else if (p == "rni" || p == "rzi" || p == "rmi" || p == "rpi") {
      if (have_round) return false;
      have_round = int_round = true;
      r = p == "rni" ? Round::rn : p == "rzi" ? Round::rz : p == "rmi" ? Round::rm : Round::rp;
    } else if (p == "ftz") ftz = true;
    else if (p == "sat") sat = true;
    else if (p == "satfinite") satfinite = true;
    else if (p == "relu") relu = true;
    else return false;
  }
  const bool packed_src = (dt == T_f16x2 || dt == T_bf16x2 || dt == T_e4m3x2 || dt == T_e5m2x2) && at == T_f32;
  c.need(packed_src ? 3 : 2);
  c.reg(0);
  c.regimm(1);
  if (packed_src) c.regimm(2);
  c.fimm(1, at);
  if (packed_src) c.fimm(2, at);
  in.t = dt;
  in.t2 = at;
  in.b = uint8_t(r);
  in.c = ftz;
  in.d = uint8_t((sat ? 1 : 0) | (satfinite ? 2 : 0));
  in.a = relu;
  in.ndst = 1;
  if (is_int(dt) && is_int(at)) {
    if (have_round || ftz || relu || satfinite) return false;
    in.fn = h_cvt_ii;
    return true;
  }
  const bool fd = ty_float(dt), fa = ty_float(at);
  if (fa && !fd) {  // float -> int: an integer rounding is required
    if (!int_round || relu || satfinite) return false;
    if (at != T_f32 && at != T_f64 && at != T_f16 && at != T_bf16) return false;
    in.fn = h_cvt<kF2I>;
    return true;
  }
  if (!fa && fd) {  // int -> float: a float rounding is required
    if (!have_round || int_round || relu || satfinite) return false;
    if (dt != T_f32 && dt != T_f64 && dt != T_f16) return false;
    in.fn = h_cvt<kI2F>;
    return true;
  }
  // float -> float
  if (at == T_e4m3x2 || at == T_e5m2x2) {
    if (dt != T_f16x2 || (have_round && r != Round::rn)) return false;
  } else if (dt == T_f16x2 || dt == T_bf16x2) {
    if (at != T_f32 || !have_round || int_round) return false;
  } else if (dt == T_e4m3x2 || dt == T_e5m2x2) {
    if ((at != T_f32 && at != T_f16x2) || r != Round::rn || !satfinite) return false;
  } else if (dt == T_tf32) {
    if (at != T_f32) return false;
  } else if (dt == T_f32 || dt == T_f64) {
    if (at != T_f32 && at != T_f64 && at != T_f16 && at != T_bf16) return false;
    // narrowing (f64 -> f32) needs a float rounding; same type allows an integer rounding
    if (dt == T_f32 && at == T_f64 && (!have_round || int_round)) return false;
    if (dt == at) in.x = int_round;
    else if (int_round) return false;
  } else if (dt == T_f16 || dt == T_bf16) {
    if ((at != T_f32 && at != T_f64) || !have_round || int_round) return false;
  } else {
    return false;
  }
  if (at == T_e4m3x2 || at == T_e5m2x2) in.fn = h_cvt<kF8x2ToF16x2>;
  else if (dt == T_f16x2 || dt == T_bf16x2) in.fn = h_cvt<kToHalfX2>;
  else if (dt == T_e4m3x2 || dt == T_e5m2x2) in.fn = h_cvt<kToF8x2>;
  else if (dt == T_tf32) in.fn = h_cvt<kToTf32>;
  else in.fn = h_cvt<kF2F>;
  return true;
}

}  // namespace emu::interp
