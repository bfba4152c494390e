// dsv3-emu: f32 / f64 instructions (PTX ISA 9.0 §9.7.3: add, sub, mul, fma, mad, div, rcp, sqrt, rsqrt,
// ex2, lg2, sin, cos, tanh, min, max, abs, neg, copysign, testp). Every rounding, ftz, sat, NaN and
// approximation rule is delegated to src/fp (fp.h); this file only binds variants and loops over lanes.
#include <cmath>

#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

using fp::Round;

enum FOp : uint8_t {
  F_add, F_sub, F_mul, F_fma, F_div, F_divfull, F_divapprox, F_rcp, F_rcpapprox, F_sqrt, F_sqrtapprox, F_rsqrt,
  F_ex2, F_lg2, F_sin, F_cos, F_tanh, F_min, F_max, F_abs, F_neg, F_copysign, F_minabs, F_maxabs,
};

inline float f(uint64_t b) { return fp::f32_from_bits(uint32_t(b)); }
inline double g(uint64_t b) { return fp::f64_from_bits(b); }

// f32: in.a op, in.b Round, in.c ftz, in.d sat (min/max: in.d = .NaN, in.t2 = xorsign.abs)
template <int OP>
bool h_f32(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  const Src b = in.nops > 2 ? src(w, in.op[2]) : a;
  const Src c = in.nops > 3 ? src(w, in.op[3]) : a;
  uint64_t* d = dst(w, in.op[0]);
  const Round r = Round(in.b);
  const bool z = in.c, s = in.d;
  each(m, [&](int l) {
    float x = f(a[l]), v;
    if constexpr (OP == F_add) v = fp::add(x, f(b[l]), r, z, s);
    else if constexpr (OP == F_sub) v = fp::sub(x, f(b[l]), r, z, s);
    else if constexpr (OP == F_mul) v = fp::mul(x, f(b[l]), r, z, s);
    else if constexpr (OP == F_fma) v = fp::fma(x, f(b[l]), f(c[l]), r, z, s);
    else if constexpr (OP == F_div) v = fp::div_rn(x, f(b[l]), r, z);
    else if constexpr (OP == F_divfull) v = fp::div_full(x, f(b[l]), z);
    else if constexpr (OP == F_divapprox) v = fp::div_approx(x, f(b[l]), z);
    else if constexpr (OP == F_rcp) v = fp::rcp(x, r, z);
    else if constexpr (OP == F_rcpapprox) v = fp::rcp_approx(x, z);
    else if constexpr (OP == F_sqrt) v = fp::sqrt(x, r, z);
    else if constexpr (OP == F_sqrtapprox) v = fp::sqrt_approx(x, z);
    else if constexpr (OP == F_rsqrt) v = fp::rsqrt_approx(x, z);
    else if constexpr (OP == F_ex2) v = fp::ex2_approx(x, z);
    else if constexpr (OP == F_lg2) v = fp::lg2_approx(x, z);
    else if constexpr (OP == F_sin) v = fp::sin_approx(x, z);
    else if constexpr (OP == F_cos) v = fp::cos_approx(x, z);
    else if constexpr (OP == F_tanh) v = fp::tanh_approx(x);
    else if constexpr (OP == F_min) v = fp::fmin(x, f(b[l]), z, s);
    else if constexpr (OP == F_max) v = fp::fmax(x, f(b[l]), z, s);
    else if constexpr (OP == F_minabs || OP == F_maxabs) {
      // min/max.xorsign.abs: |result| of min/max of |a|, |b|; sign = sign(a) xor sign(b)
      const uint32_t sg = (uint32_t(a[l]) ^ uint32_t(b[l])) & 0x80000000u;
      const float ax = std::fabs(x), bx = std::fabs(f(b[l]));
      float mv = OP == F_minabs ? fp::fmin(ax, bx, z, s) : fp::fmax(ax, bx, z, s);
      uint32_t bits = fp::bits_of(mv);
      if (!std::isnan(mv)) bits = (bits & 0x7FFFFFFFu) | sg;
      d[l] = bits;
      return;
    } else if constexpr (OP == F_abs) {
      if (z) x = fp::ftz(x);
      d[l] = fp::bits_of(x) & 0x7FFFFFFFu;
      return;
    } else if constexpr (OP == F_neg) {
      if (z) x = fp::ftz(x);
      d[l] = fp::bits_of(x) ^ 0x80000000u;
      return;
    } else if constexpr (OP == F_copysign) {  // copysign d, a, b: b's magnitude, a's sign
      d[l] = (uint32_t(b[l]) & 0x7FFFFFFFu) | (uint32_t(a[l]) & 0x80000000u);
      return;
    } else {
      v = x;
    }
    d[l] = fp::bits_of(v);
  });
  return true;
}

template <int OP>
bool h_f64(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  const Src b = in.nops > 2 ? src(w, in.op[2]) : a;
  const Src c = in.nops > 3 ? src(w, in.op[3]) : a;
  uint64_t* d = dst(w, in.op[0]);
  const Round r = Round(in.b);
  each(m, [&](int l) {
    const double x = g(a[l]);
    double v;
    if constexpr (OP == F_add) v = fp::add(x, g(b[l]), r);
    else if constexpr (OP == F_sub) v = fp::sub(x, g(b[l]), r);
    else if constexpr (OP == F_mul) v = fp::mul(x, g(b[l]), r);
    else if constexpr (OP == F_fma) v = fp::fma(x, g(b[l]), g(c[l]), r);
    else if constexpr (OP == F_div) v = fp::div(x, g(b[l]), r);
    else if constexpr (OP == F_rcp) v = fp::rcp(x, r);
    else if constexpr (OP == F_rcpapprox) v = fp::rcp_approx_ftz(x);
    else if constexpr (OP == F_sqrt) v = fp::sqrt(x, r);
    else if constexpr (OP == F_rsqrt) v = fp::rsqrt_approx(x);
    else if constexpr (OP == F_min) v = fp::fmin(x, g(b[l]));
    else if constexpr (OP == F_max) v = fp::fmax(x, g(b[l]));
    else if constexpr (OP == F_abs) { d[l] = a[l] & 0x7FFFFFFFFFFFFFFFull; return; }
    else if constexpr (OP == F_neg) { d[l] = a[l] ^ 0x8000000000000000ull; return; }
    else if constexpr (OP == F_copysign) {
      d[l] = (b[l] & 0x7FFFFFFFFFFFFFFFull) | (a[l] & 0x8000000000000000ull);
      return;
    } else v = x;
    d[l] = fp::bits_of(v);
  });
  return true;
}

// testp.op.type p, a. in.a: 0 finite, 1 infinite, 2 number, 3 notanumber, 4 normal, 5 subnormal
template <class T>
bool h_testp(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    T x;
    if constexpr (sizeof(T) == 4) x = f(a[l]);
    else x = g(a[l]);
    bool r = false;
    switch (in.a) {
      case 0: r = std::isfinite(x); break;
      case 1: r = std::isinf(x); break;
      case 2: r = !std::isnan(x); break;
      case 3: r = std::isnan(x); break;
      case 4: r = std::isnormal(x); break;
      case 5: r = std::fpclassify(x) == FP_SUBNORMAL; break;
    }
    d[l] = r;
  });
  return true;
}

bool parse_round(const std::string& p, Round* r) {
  if (p == "rn") *r = Round::rn;
  else if (p == "rz") *r = Round::rz;
  else if (p == "rm") *r = Round::rm;
  else if (p == "rp") *r = Round::rp;
  else return false;
  return true;
}

}  // namespace

bool bind_float(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  const Ty t = c.type_at(0);
  if (t != T_f32 && t != T_f64) return false;
  const bool f32 = t == T_f32;
  if (op == "testp") {
    static const char* k[] = {"finite", "infinite", "number", "notanumber", "normal", "subnormal"};
    if (P.size() != 3) return false;
    int which = -1;
    for (int i = 0; i < 6; ++i)
      if (P[1] == k[i]) which = i;
    if (which < 0) return false;
    c.need(2);
    c.reg(0);
    c.regimm(1);
    in.ndst = 1;
    in.a = uint8_t(which);
    in.fn = f32 ? Handler(h_testp<float>) : Handler(h_testp<double>);
    return true;
  }
  // modifiers
  bool have_round = false, ftz = false, sat = false, approx = false, full = false, nan = false, xabs = false;
  Round rnd = Round::rn;
  for (size_t i = 1; i + 1 < P.size(); ++i) {
    const std::string& p = P[i];
    Round r;
    if (parse_round(p, &r)) {
      if (have_round) return false;
      have_round = true;
      rnd = r;
    } else if (p == "ftz") ftz = true;
    else if (p == "sat") sat = true;
    else if (p == "approx") approx = true;
    else if (p == "full") full = true;
    else if (p == "NaN") nan = true;
    else if (p == "xorsign" && i + 2 < P.size() && P[i + 1] == "abs") { xabs = true; ++i; }
    else return false;
  }
  if (!f32 && (ftz || sat) && !(op == "rcp" && approx) && !(op == "rsqrt" && approx)) return false;
  in.b = uint8_t(rnd);
  in.c = ftz;
  in.d = sat;
  in.ndst = 1;
  auto operands = [&](int n) {
    c.need(n);
    c.reg(0);
    for (int i = 1; i < n; ++i) {
      c.regimm(i);
      c.fimm(i, t);
    }
  };
#define PICK(OP) (f32 ? Handler(h_f32<OP>) : Handler(h_f64<OP>))
  if (op == "add" || op == "sub" || op == "mul") {
    if (approx || full || nan || xabs) return false;
    operands(3);
    in.fn = op == "add" ? PICK(F_add) : op == "sub" ? PICK(F_sub) : PICK(F_mul);
    return true;
  }
  if (op == "fma" || op == "mad") {
    // fma needs a rounding mode; mad.f32 without one is the legacy form, an fma.rn since sm_20
    if (approx || full || nan || xabs || (op == "fma" && !have_round)) return false;
    operands(4);
    in.fn = PICK(F_fma);
    return true;
  }
  if (op == "div") {
    if (nan || xabs || sat) return false;
    operands(3);
    if (f32 && approx) in.fn = h_f32<F_divapprox>;
    else if (f32 && full) in.fn = h_f32<F_divfull>;
    else if (have_round && !approx && !full) in.fn = PICK(F_div);
    else return false;
    return true;
  }
  if (op == "rcp" || op == "sqrt") {
    if (nan || xabs || sat || full) return false;
    operands(2);
    if (approx) {
      if (have_round) return false;
      if (op == "rcp") {
        if (!f32 && !ftz) return false;  // rcp.approx.ftz.f64 only
        in.fn = PICK(F_rcpapprox);
      } else {
        if (!f32) return false;
        in.fn = h_f32<F_sqrtapprox>;
      }
    } else {
      if (!have_round) return false;
      in.fn = op == "rcp" ? PICK(F_rcp) : PICK(F_sqrt);
    }
    return true;
  }
  if (op == "rsqrt" || op == "ex2" || op == "lg2" || op == "sin" || op == "cos" || op == "tanh") {
    if (!approx || have_round || nan || xabs || sat || full) return false;
    if (!f32 && op != "rsqrt") return false;
    operands(2);
    if (op == "rsqrt") in.fn = PICK(F_rsqrt);
    else if (op == "ex2") in.fn = h_f32<F_ex2>;
    else if (op == "lg2") in.fn = h_f32<F_lg2>;
    else if (op == "sin") in.fn = h_f32<F_sin>;
    else if (op == "cos") in.fn = h_f32<F_cos>;
    else {
      if (ftz) return false;
      in.fn = h_f32<F_tanh>;
    }
    return true;
  }
  if (op == "min" || op == "max") {
    if (have_round || sat || approx || full) return false;
    if (!f32 && (nan || xabs || ftz)) return false;
    operands(3);
    in.d = nan;
    if (xabs) in.fn = op == "min" ? h_f32<F_minabs> : h_f32<F_maxabs>;
    else in.fn = op == "min" ? PICK(F_min) : PICK(F_max);
    return true;
  }
  if (op == "abs" || op == "neg") {
    if (have_round || sat || approx || full || nan || xabs) return false;
    operands(2);
    in.fn = op == "abs" ? PICK(F_abs) : PICK(F_neg);
    return true;
  }
  if (op == "copysign") {
    if (P.size() != 2) return false;
    operands(3);
    in.fn = PICK(F_copysign);
    return true;
  }
#undef PICK
  return false;
}

}  // namespace emu::interp
