// dsv3-emu: half-precision arithmetic (PTX ISA 9.0 §9.7.4 f16/f16x2, §9.7.5 bf16/bf16x2: add, sub, mul,
// fma, min, max, neg, abs). Per 16-bit half through src/fp (hadd, hmul, hfma, hmin, hmax); an x2 type
// applies the operation to both halves independently.
#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

enum HOp : uint8_t { H_add, H_sub, H_mul, H_fma, H_min, H_max, H_neg, H_abs, H_ex2, H_tanh };

// in.a op; in.b Round; in.c ftz; in.d sat; in.t2 relu (fma) / NaN (min, max); in.x halves (1 or 2); in.t bf16
bool h_half(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  const Src b = in.nops > 2 ? src(w, in.op[2]) : a;
  const Src c = in.nops > 3 ? src(w, in.op[3]) : a;
  uint64_t* d = dst(w, in.op[0]);
  const fp::Round r = fp::Round(in.b);
  const bool ftz = in.c, sat = in.d, bf = in.t, flag = in.t2;
  const int halves = int(in.x);
  each(m, [&](int l) {
    uint64_t out = 0;
    for (int h = 0; h < halves; ++h) {
      uint16_t x = uint16_t(a[l] >> (16 * h)), y = uint16_t(b[l] >> (16 * h));
      const uint16_t z = uint16_t(c[l] >> (16 * h));
      if (ftz && (in.a == H_min || in.a == H_max)) {  // hmin/hmax take no ftz: flush subnormal f16 inputs here
        if ((x & 0x7C00) == 0) x &= 0x8000;
        if ((y & 0x7C00) == 0) y &= 0x8000;
      }
      uint16_t v = 0;
      switch (in.a) {
        case H_add: v = fp::hadd(x, y, r, ftz, sat, bf); break;
        case H_sub: v = fp::hsub(x, y, r, ftz, sat, bf); break;
        case H_mul: v = fp::hmul(x, y, r, ftz, sat, bf); break;
        case H_fma: v = fp::hfma(x, y, z, r, ftz, sat, flag, bf); break;
        case H_min: v = fp::hmin(x, y, flag, bf); break;
        case H_max: v = fp::hmax(x, y, flag, bf); break;
        case H_neg: v = uint16_t(x ^ 0x8000u); break;  // sign flip (a bit operation in PTX)
        case H_abs: v = uint16_t(x & 0x7FFFu); break;
        case H_ex2: v = fp::ex2_approx_h(x, bf); break;
        case H_tanh: v = fp::tanh_approx_h(x, bf); break;
      }
      out |= uint64_t(v) << (16 * h);
    }
    d[l] = out;
  });
  return true;
}

}  // namespace

bool bind_half(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  const Ty t = c.type_at(0);
  if (t != T_f16 && t != T_f16x2 && t != T_bf16 && t != T_bf16x2) return false;
  static const char* ops[] = {"add", "sub", "mul", "fma", "min", "max", "neg", "abs", "ex2", "tanh"};
  int o = -1;
  for (int i = 0; i < 10; ++i)
    if (op == ops[i]) o = i;
  if (o < 0) return false;
  if (o == H_ex2 || o == H_tanh) {  // ex2.approx.{f16,f16x2}, ex2.approx.ftz.{bf16,bf16x2}; tanh.approx.type
    const bool bfx = t == T_bf16 || t == T_bf16x2;
    const bool ftz_part = o == H_ex2 && bfx;
    if (P.size() != (ftz_part ? 4u : 3u) || P[1] != "approx" || (ftz_part && P[2] != "ftz")) return false;
    c.need(2);
    c.reg(0);
    c.regimm(1);
    in.a = uint8_t(o);
    in.t = bfx;
    in.x = (t == T_f16x2 || t == T_bf16x2) ? 2 : 1;
    in.ndst = 1;
    in.fn = h_half;
    return true;
  }
  bool ftz = false, sat = false, relu = false, nan = false, have_round = false;
  fp::Round r = fp::Round::rn;
  for (size_t i = 1; i + 1 < P.size(); ++i) {
    const std::string& p = P[i];
    if (p == "rn") have_round = true;  // the only rounding PTX offers for half arithmetic
    else if (p == "ftz") ftz = true;
    else if (p == "sat") sat = true;
    else if (p == "relu") relu = true;
    else if (p == "NaN") nan = true;
    else return false;
  }
  const bool bf = t == T_bf16 || t == T_bf16x2;
  if (o == H_fma && !have_round) return false;
  if ((o >= H_min) && (have_round || sat)) return false;
  if (relu && o != H_fma) return false;
  if (nan && o != H_min && o != H_max) return false;
  if (bf && (ftz || sat)) return false;
  const int n = o == H_fma ? 4 : o >= H_neg ? 2 : 3;
  c.need(n);
  c.reg(0);
  for (int i = 1; i < n; ++i) c.regimm(i);
  in.a = uint8_t(o);
  in.b = uint8_t(r);
  in.c = ftz;
  in.d = sat;
  in.t2 = o == H_fma ? relu : nan;
  in.t = bf;
  in.x = (t == T_f16x2 || t == T_bf16x2) ? 2 : 1;
  in.ndst = 1;
  in.fn = h_half;
  return true;
}

}  // namespace emu::interp
