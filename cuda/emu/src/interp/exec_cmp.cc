// dsv3-emu: moves, selection and comparison (PTX ISA 9.0 §9.7.9.x mov incl. vector packing, §9.7.7 selp,
// slct, §9.7.6 setp, set with .and/.or/.xor predicate combination; float comparisons ordered and
// unordered, with .ftz). Results of narrower types are stored zero-extended in their 64-bit slot.
#include <type_traits>

#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

template <class T>
using U = std::make_unsigned_t<T>;

// mov: scalar (in.a = 0), pack {a,b,..} -> d (1), unpack d -> {a,b,..} (2). in.c: element bits
bool h_mov(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  const uint64_t mk = zmask(in.c);
  each(m, [&](int l) { d[l] = a[l] & mk; });
  return true;
}
bool h_pack(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const Opd* e = &K.vec[in.op[1].slot];
  const int n = int(in.op[1].n), eb = in.c;
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= (src(w, e[i])[l] & zmask(eb)) << (i * eb);
    d[l] = v;
  });
  return true;
}
bool h_unpack(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const Opd* e = &K.vec[in.op[0].slot];
  const int n = int(in.op[0].n), eb = in.c;
  const Src a = src(w, in.op[1]);
  each(m, [&](int l) {
    const uint64_t v = a[l];
    for (int i = 0; i < n; ++i) w.regs[size_t(e[i].slot) * 32 + l] = (v >> (i * eb)) & zmask(eb);
  });
  return true;
}

// selp.type d, a, b, c
bool h_selp(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]);
  uint64_t* d = dst(w, in.op[0]);
  const uint64_t mk = zmask(in.c);
  each(m, [&](int l) { d[l] = (pred(w, in.op[3], l) ? a[l] : b[l]) & mk; });
  return true;
}

// ---- comparisons ----
enum Cmp : uint8_t { C_eq, C_ne, C_lt, C_le, C_gt, C_ge, C_lo, C_ls, C_hi, C_hs, C_equ, C_neu, C_ltu, C_leu, C_gtu,
                     C_geu, C_num, C_nan };
bool parse_cmp(const std::string& s, Cmp* c) {
  static const char* n[] = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs", "equ", "neu", "ltu", "leu",
                            "gtu", "geu", "num", "nan"};
  for (int i = 0; i < 18; ++i)
    if (s == n[i]) { *c = Cmp(i); return true; }
  return false;
}

template <class T>
inline bool icmp(Cmp c, T a, T b) {
  using UT = U<T>;
  switch (c) {
    case C_eq: return a == b;
    case C_ne: return a != b;
    case C_lt: return a < b;
    case C_le: return a <= b;
    case C_gt: return a > b;
    case C_ge: return a >= b;
    case C_lo: return UT(a) < UT(b);
    case C_ls: return UT(a) <= UT(b);
    case C_hi: return UT(a) > UT(b);
    case C_hs: return UT(a) >= UT(b);
    default: return false;
  }
}
template <class F>
inline bool fcmp(Cmp c, F a, F b) {
  const bool un = a != a || b != b;
  switch (c) {
    case C_eq: return !un && a == b;
    case C_ne: return !un && a != b;
    case C_lt: return !un && a < b;
    case C_le: return !un && a <= b;
    case C_gt: return !un && a > b;
    case C_ge: return !un && a >= b;
    case C_equ: return un || a == b;
    case C_neu: return un || a != b;
    case C_ltu: return un || a < b;
    case C_leu: return un || a <= b;
    case C_gtu: return un || a > b;
    case C_geu: return un || a >= b;
    case C_num: return !un;
    case C_nan: return un;
    default: return false;
  }
}

// value type of a comparison: integer T, or float (in.t2 = 1 f32, 2 f64) with in.d = ftz
template <class T>
inline bool compare(const Insn& in, uint64_t x, uint64_t y) {
  if constexpr (std::is_same_v<T, float>) {
    float a = fp::f32_from_bits(uint32_t(x)), b = fp::f32_from_bits(uint32_t(y));
    if (in.d) { a = fp::ftz(a); b = fp::ftz(b); }
    return fcmp(Cmp(in.a), a, b);
  } else if constexpr (std::is_same_v<T, double>) {
    return fcmp(Cmp(in.a), fp::f64_from_bits(x), fp::f64_from_bits(y));
  } else {
    return icmp(Cmp(in.a), T(x), T(y));
  }
}

// setp.cmp{.bop}.type p[|q], a, b{, {!}c}. in.a: Cmp; in.b: 0 none, 1 and, 2 or, 3 xor; in.c: has q
template <class T>
bool h_setp(Warp& w, const Insn& in, uint32_t m) {
  const int ai = in.c ? 2 : 1;
  const Src a = src(w, in.op[ai]), b = src(w, in.op[ai + 1]);
  uint64_t* p = dst(w, in.op[0]);
  uint64_t* q = in.c ? dst(w, in.op[1]) : nullptr;
  const int bop = in.b;
  if constexpr (std::is_integral_v<T>) {
    if (!bop && !q) {  // the common integer form: the comparison chosen once, outside the lane loop
      using UT = U<T>;
      auto run = [&](auto cmp) { each(m, [&](int l) { p[l] = cmp(T(a[l]), T(b[l])); }); };
      switch (Cmp(in.a)) {
        case C_eq: run([](T x, T y) { return x == y; }); return true;
        case C_ne: run([](T x, T y) { return x != y; }); return true;
        case C_lt: run([](T x, T y) { return x < y; }); return true;
        case C_le: run([](T x, T y) { return x <= y; }); return true;
        case C_gt: run([](T x, T y) { return x > y; }); return true;
        case C_ge: run([](T x, T y) { return x >= y; }); return true;
        case C_lo: run([](T x, T y) { return UT(x) < UT(y); }); return true;
        case C_ls: run([](T x, T y) { return UT(x) <= UT(y); }); return true;
        case C_hi: run([](T x, T y) { return UT(x) > UT(y); }); return true;
        case C_hs: run([](T x, T y) { return UT(x) >= UT(y); }); return true;
        default: break;
      }
    }
  }
  each(m, [&](int l) {
    bool t = compare<T>(in, a[l], b[l]), f = !t;
    if (bop) {
      const bool cv = pred(w, in.op[ai + 2], l);
      if (bop == 1) { t = t && cv; f = f && cv; }
      else if (bop == 2) { t = t || cv; f = f || cv; }
      else { t = t != cv; f = f != cv; }
    }
    p[l] = t;
    if (q) q[l] = f;
  });
  return true;
}
// set.cmp{.bop}.dtype.stype d, a, b{, {!}c}: d = all ones (int) / 1.0f (f32) when true, else 0. in.x: dtype f32
template <class T>
bool h_set(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    bool t = compare<T>(in, a[l], b[l]);
    if (in.b) {
      const bool cv = pred(w, in.op[3], l);
      t = in.b == 1 ? (t && cv) : in.b == 2 ? (t || cv) : (t != cv);
    }
    d[l] = t ? (in.x ? 0x3F800000u : 0xFFFFFFFFu) : 0;
  });
  return true;
}
// slct.dtype.{s32,f32} d, a, b, c: d = c >= 0 ? a : b. in.t2: 1 when c is f32; in.d ftz
bool h_slct(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  const uint64_t mk = zmask(in.c);
  each(m, [&](int l) {
    bool ge;
    if (in.t2) {
      float f = fp::f32_from_bits(uint32_t(c[l]));
      if (in.d) f = fp::ftz(f);
      ge = f >= 0.0f;  // NaN: false (b)
    } else {
      ge = int32_t(c[l]) >= 0;
    }
    d[l] = (ge ? a[l] : b[l]) & mk;
  });
  return true;
}

}  // namespace

bool bind_cmp(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  const Ty t = c.type_at(0);
  in.ndst = 1;
  if (op == "mov") {
    if (P.size() != 2) return false;
    c.need(2);
    in.c = uint8_t(t == T_pred ? 1 : ty_bits(t));
    if (!in.c) return false;
    if (in.op[0].kind == Opd::Vec) {  // unpack
      c.regimm(1);
      const int n = int(in.op[0].n);
      if (n < 2 || ty_bits(t) % n) c.fail("bad vector for mov");
      in.c = uint8_t(ty_bits(t) / n);
      in.fn = h_unpack;
      return true;
    }
    c.reg(0);
    if (in.op[1].kind == Opd::Vec) {  // pack
      const int n = int(in.op[1].n);
      if (n < 2 || ty_bits(t) % n) c.fail("bad vector for mov");
      in.c = uint8_t(ty_bits(t) / n);
      in.fn = h_pack;
      return true;
    }
    c.regimm(1);
    if (ty_float(t)) c.fimm(1, t);
    in.fn = h_mov;
    return true;
  }
  if (op == "selp") {
    if (P.size() != 2 || t == T_none || t == T_pred) return false;
    c.need(4);
    c.reg(0); c.regimm(1); c.regimm(2); c.reg(3);
    c.fimm(1, t); c.fimm(2, t);
    in.c = uint8_t(ty_bits(t));
    in.fn = h_selp;
    return true;
  }
  if (op == "slct") {
    if (P.size() < 3) return false;
    const Ty ct = c.type_at(0), dt = c.type_at(1);
    if (ct != T_s32 && ct != T_f32) return false;
    if (dt == T_none || ty_bits(dt) < 16) return false;
    c.need(4);
    c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    c.fimm(1, dt); c.fimm(2, dt); c.fimm(3, ct);
    in.t2 = ct == T_f32;
    in.d = c.has("ftz");
    in.c = uint8_t(ty_bits(dt));
    in.fn = h_slct;
    return true;
  }
  if (op == "setp" || op == "set") {
    Cmp cm;
    if (P.size() < 3 || !parse_cmp(P[1], &cm)) return false;
    int bop = 0;
    size_t i = 2;
    if (P[i] == "and") bop = 1, ++i;
    else if (P[i] == "or") bop = 2, ++i;
    else if (P[i] == "xor") bop = 3, ++i;
    bool ftz = false;
    if (i < P.size() && P[i] == "ftz") ftz = true, ++i;
    Ty st = c.type_at(0);
    if (op == "setp") {
      if (i + 1 != P.size()) return false;
    } else {
      if (i + 2 != P.size()) return false;
    }
    const bool fl = st == T_f32 || st == T_f64;
    if (!fl && cm >= C_equ) return false;
    if (fl && cm >= C_lo && cm <= C_hs) return false;
    if (st != T_f32 && ftz) return false;
    in.a = cm;
    in.b = uint8_t(bop);
    in.d = ftz;
    if (op == "setp") {
      const int npd = (c.pi.ops.size() && c.pi.ops[0].pair) ? 2 : 1;
      c.need(npd + 2 + (bop ? 1 : 0));
      c.reg(0);
      if (npd == 2) c.reg(1);
      c.regimm(npd); c.regimm(npd + 1);
      c.fimm(npd, st); c.fimm(npd + 1, st);
      if (bop) c.reg(npd + 2);
      in.c = npd == 2;
      in.ndst = uint8_t(npd);
      switch (st) {
        case T_b16: case T_u16: in.fn = h_setp<uint16_t>; break;
        case T_s16: in.fn = h_setp<int16_t>; break;
        case T_b32: case T_u32: in.fn = h_setp<uint32_t>; break;
        case T_s32: in.fn = h_setp<int32_t>; break;
        case T_b64: case T_u64: in.fn = h_setp<uint64_t>; break;
        case T_s64: in.fn = h_setp<int64_t>; break;
        case T_f32: in.fn = h_setp<float>; break;
        case T_f64: in.fn = h_setp<double>; break;
        default: return false;
      }
      return true;
    }
    const Ty dt = c.type_at(1);
    if (dt != T_u32 && dt != T_s32 && dt != T_f32) return false;
    c.need(3 + (bop ? 1 : 0));
    c.reg(0); c.regimm(1); c.regimm(2);
    c.fimm(1, st); c.fimm(2, st);
    in.x = dt == T_f32;
    switch (st) {
      case T_b16: case T_u16: in.fn = h_set<uint16_t>; break;
      case T_s16: in.fn = h_set<int16_t>; break;
      case T_b32: case T_u32: in.fn = h_set<uint32_t>; break;
      case T_s32: in.fn = h_set<int32_t>; break;
      case T_b64: case T_u64: in.fn = h_set<uint64_t>; break;
      case T_s64: in.fn = h_set<int64_t>; break;
      case T_f32: in.fn = h_set<float>; break;
      case T_f64: in.fn = h_set<double>; break;
      default: return false;
    }
    return true;
  }
  return false;
}

}  // namespace emu::interp
