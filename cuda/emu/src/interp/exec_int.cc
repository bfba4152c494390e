// dsv3-emu: integer and bit instructions (PTX ISA 9.0 §9.7.1 integer arithmetic incl. sad, mul24, dp4a /
// dp2a and the packed 16x2 min/max, §9.7.2 extended precision add/sub/mad with CC.CF, §9.7.3 logic and
// shift, bfe/bfi/brev/bfind/clz/popc/prmt/lop3/shf). Moves and comparisons are in exec_cmp.cc. Results of
// narrower types are stored zero-extended in their 64-bit slot.
#include <type_traits>

#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

enum IOp : int {
  I_add, I_sub, I_mullo, I_mulhi, I_mulwide, I_min, I_max, I_and, I_or, I_xor, I_shl, I_shr, I_div, I_rem,
  I_addsat, I_subsat, I_mul24lo, I_mul24hi,
};

template <class T>
using U = std::make_unsigned_t<T>;
template <class T>
constexpr int kBits = int(sizeof(T) * 8);

template <class T>
inline U<T> mulhi(T a, T b) {
  if constexpr (sizeof(T) == 8) {
    if constexpr (std::is_signed_v<T>) return U<T>(uint64_t((__int128(a) * __int128(b)) >> 64));
    else return U<T>(uint64_t((unsigned __int128)(a) * (unsigned __int128)(b) >> 64));
  } else {
    using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    return U<T>(uint64_t(W(a) * W(b)) >> kBits<T>);
  }
}

// One binary operation on values of type T (raw 64-bit operands; shift amounts are u32).
template <class T, int OP>
inline uint64_t binop(uint64_t xa, uint64_t xb) {
  const T a = T(xa), b = T(xb);
  const U<T> ua = U<T>(xa), ub = U<T>(xb);
  if constexpr (OP == I_add) return U<T>(ua + ub);
  if constexpr (OP == I_sub) return U<T>(ua - ub);
  if constexpr (OP == I_mullo) return U<T>(ua * ub);
  if constexpr (OP == I_mulhi) return mulhi<T>(a, b);
  if constexpr (OP == I_mulwide) {
    using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    return uint64_t(W(a) * W(b)) & zmask(2 * kBits<T>);
  }
  if constexpr (OP == I_min) return U<T>(a < b ? a : b);
  if constexpr (OP == I_max) return U<T>(a > b ? a : b);
  if constexpr (OP == I_and) return U<T>(ua & ub);
  if constexpr (OP == I_or) return U<T>(ua | ub);
  if constexpr (OP == I_xor) return U<T>(ua ^ ub);
  if constexpr (OP == I_shl) {
    const uint32_t n = uint32_t(xb);  // ISA: amounts above the width clamp to the width
    return n >= uint32_t(kBits<T>) ? 0 : U<T>(ua << n);
  }
  if constexpr (OP == I_shr) {
    const uint32_t n = uint32_t(xb);
    if constexpr (std::is_signed_v<T>) return U<T>(n >= uint32_t(kBits<T>) ? (a < 0 ? T(-1) : T(0)) : T(a >> n));
    else return n >= uint32_t(kBits<T>) ? 0 : U<T>(ua >> n);
  }
  if constexpr (OP == I_div || OP == I_rem) {
    if (ub == 0) return U<T>(~U<T>(0));  // unspecified by the ISA: poison
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return OP == I_div ? U<T>(U<T>(0) - ua) : 0;  // also INT_MIN / -1 (wraps)
      return U<T>(OP == I_div ? a / b : a % b);
    } else {
      return U<T>(OP == I_div ? ua / ub : ua % ub);
    }
  }
  if constexpr (OP == I_addsat || OP == I_subsat) {  // .sat: s32 only, clamp to the range
    const int64_t r = OP == I_addsat ? int64_t(int32_t(xa)) + int32_t(xb) : int64_t(int32_t(xa)) - int32_t(xb);
    return uint32_t(int32_t(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r));
  }
  if constexpr (OP == I_mul24lo || OP == I_mul24hi) {
    using W = std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>;
    const W p = W(std::is_signed_v<T> ? int64_t(sext(xa, 24)) : int64_t(xa & 0xFFFFFF)) *
                W(std::is_signed_v<T> ? int64_t(sext(xb, 24)) : int64_t(xb & 0xFFFFFF));
    return OP == I_mul24lo ? uint32_t(uint64_t(p)) : uint32_t(uint64_t(p) >> 16);  // hi: bits 47..16
  }
  return 0;
}

template <class T, int OP>
bool h_bin(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = binop<T, OP>(a[l], b[l]); });
  return true;
}

template <int OP>
Handler pick_bin(Ty t) {
  switch (t) {
    case T_u16: case T_b16: return h_bin<uint16_t, OP>;
    case T_s16: return h_bin<int16_t, OP>;
    case T_u32: case T_b32: return h_bin<uint32_t, OP>;
    case T_s32: return h_bin<int32_t, OP>;
    case T_u64: case T_b64: return h_bin<uint64_t, OP>;
    case T_s64: return h_bin<int64_t, OP>;
    default: return nullptr;
  }
}

// mad.lo / mad.hi / mad.wide: d = (a*b){lo,hi,wide} + c
template <class T, int OP>
bool h_mad(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  if constexpr (OP == I_mulwide) {
    each(m, [&](int l) { d[l] = (binop<T, I_mulwide>(a[l], b[l]) + c[l]) & zmask(2 * kBits<T>); });
  } else {
    each(m, [&](int l) { d[l] = U<T>(U<T>(binop<T, OP>(a[l], b[l])) + U<T>(c[l])); });
  }
  return true;
}
template <int OP>
Handler pick_mad(Ty t) {
  switch (t) {
    case T_u16: return h_mad<uint16_t, OP>;
    case T_s16: return h_mad<int16_t, OP>;
    case T_u32: return h_mad<uint32_t, OP>;
    case T_s32: return h_mad<int32_t, OP>;
    case T_u64: return OP == I_mulwide ? nullptr : h_mad<uint64_t, OP>;
    case T_s64: return OP == I_mulwide ? nullptr : h_mad<int64_t, OP>;
    default: return nullptr;
  }
}

// Extended precision (CC.CF per lane in w.carry). in.a: 0 add, 1 sub, 2 mad.lo, 3 mad.hi;
// in.b: carry-in (addc/subc/madc); in.c: carry-out (.cc).
template <class T>
bool h_carry(Warp& w, const Insn& in, uint32_t m) {
  using UT = U<T>;
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]);
  const Src c = in.a >= 2 ? src(w, in.op[3]) : b;
  uint64_t* d = dst(w, in.op[0]);
  uint32_t cf = w.carry;
  each(m, [&](int l) {
    const UT cin = in.b ? UT((cf >> l) & 1) : UT(0);
    UT r;
    bool cout;
    if (in.a == 1) {  // a - (b + cin), CF = borrow
      const unsigned __int128 lhs = UT(a[l]), rhs = (unsigned __int128)UT(b[l]) + cin;
      r = UT(lhs - rhs);
      cout = lhs < rhs;
    } else {
      UT x = UT(a[l]), y;
      if (in.a == 0) y = UT(b[l]);
      else if (in.a == 2) { x = UT(binop<T, I_mullo>(a[l], b[l])); y = UT(c[l]); }
      else { x = UT(binop<T, I_mulhi>(a[l], b[l])); y = UT(c[l]); }
      const unsigned __int128 s = (unsigned __int128)x + y + cin;
      r = UT(s);
      cout = (s >> kBits<T>) != 0;
    }
    d[l] = r;
    if (in.c) cf = (cf & ~(1u << l)) | (uint32_t(cout) << l);
  });
  w.carry = cf;
  return true;
}

// sad.type d, a, b, c: d = c + |a - b| (the difference taken in the type's signedness)
template <class T>
bool h_sad(Warp& w, const Insn& in, uint32_t m) {
  using UT = U<T>;
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const T x = T(a[l]), y = T(b[l]);
    const UT diff = x < y ? UT(UT(y) - UT(x)) : UT(UT(x) - UT(y));
    d[l] = UT(UT(c[l]) + diff);
  });
  return true;
}

// min / max on .s16x2 / .u16x2 (per half) and .relu (s32, s16x2: negative results become 0).
// in.a: 1 max; in.b: relu; in.c: 1 packed halves; in.d: signed
bool h_minmax_simd(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    auto one = [&](int64_t x, int64_t y) {
      int64_t r = in.a ? std::max(x, y) : std::min(x, y);
      return in.b && r < 0 ? 0 : r;
    };
    if (in.c) {
      uint32_t r = 0;
      for (int h = 0; h < 2; ++h) {
        const uint32_t ux = uint32_t(a[l] >> (16 * h)) & 0xFFFF, uy = uint32_t(b[l] >> (16 * h)) & 0xFFFF;
        const int64_t x = in.d ? int64_t(int16_t(ux)) : int64_t(ux), y = in.d ? int64_t(int16_t(uy)) : int64_t(uy);
        r |= (uint32_t(one(x, y)) & 0xFFFF) << (16 * h);
      }
      d[l] = r;
    } else {
      d[l] = uint32_t(one(int32_t(a[l]), int32_t(b[l])));
    }
  });
  return true;
}

// dp4a.atype.btype d, a, b, c / dp2a.{lo,hi}.atype.btype d, a, b, c: c + the dot product of a's bytes
// (dp2a: halves) with b's bytes. in.a: 0 dp4a, 1 dp2a.lo, 2 dp2a.hi; in.b: a signed; in.c: b signed
bool h_dot(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const uint32_t x = uint32_t(a[l]), y = uint32_t(b[l]);
    auto byte = [&](uint32_t v, int k, bool s) { const uint32_t u = (v >> (8 * k)) & 0xFF; return s ? int64_t(int8_t(u)) : int64_t(u); };
    int64_t acc = int64_t(int32_t(c[l]));
    if (in.a == 0) {
      for (int k = 0; k < 4; ++k) acc += byte(x, k, in.b) * byte(y, k, in.c);
    } else {
      const int base = in.a == 1 ? 0 : 2;
      for (int k = 0; k < 2; ++k) {
        const uint32_t hv = (x >> (16 * k)) & 0xFFFF;
        acc += (in.b ? int64_t(int16_t(hv)) : int64_t(hv)) * byte(y, base + k, in.c);
      }
    }
    d[l] = uint32_t(uint64_t(acc));
  });
  return true;
}

// unary: in.a: 0 not, 1 neg, 2 abs, 3 popc, 4 clz, 5 brev, 6 cnot, 7 bfind, 8 bfind.shiftamt
template <class T>
bool h_unary(Warp& w, const Insn& in, uint32_t m) {
  using UT = U<T>;
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  const int op = in.a;
  each(m, [&](int l) {
    const UT x = UT(a[l]);
    uint64_t r = 0;
    switch (op) {
      case 0: r = UT(~x); break;
      case 1: r = UT(UT(0) - x); break;
      case 2: r = T(x) < 0 ? UT(UT(0) - x) : x; break;
      case 3: r = uint32_t(__builtin_popcountll(uint64_t(x))); break;
      case 4: r = x == 0 ? uint32_t(kBits<T>) : uint32_t(__builtin_clzll(uint64_t(x)) - (64 - kBits<T>)); break;
      case 5: {
        UT v = 0;
        for (int i = 0; i < kBits<T>; ++i) v |= UT((x >> i) & 1) << (kBits<T> - 1 - i);
        r = v;
        break;
      }
      case 6: r = x == 0 ? 1 : 0; break;
      case 7: case 8: {
        // most significant non-sign bit (signed: of the complement when negative)
        UT v = (std::is_signed_v<T> && T(x) < 0) ? UT(~x) : x;
        if (v == 0) { r = 0xFFFFFFFFu; break; }
        const int pos = 63 - __builtin_clzll(uint64_t(v));
        r = op == 8 ? uint32_t(kBits<T> - 1 - pos) : uint32_t(pos);
        break;
      }
    }
    d[l] = r;
  });
  return true;
}
Handler pick_unary(Ty t) {
  switch (t) {
    case T_b16: case T_u16: return h_unary<uint16_t>;
    case T_s16: return h_unary<int16_t>;
    case T_b32: case T_u32: return h_unary<uint32_t>;
    case T_s32: return h_unary<int32_t>;
    case T_b64: case T_u64: return h_unary<uint64_t>;
    case T_s64: return h_unary<int64_t>;
    default: return nullptr;
  }
}

bool h_not_pred(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = a[l] == 0; });
  return true;
}
// and/or/xor.pred: in.a 0 and, 1 or, 2 xor
bool h_pred_bin(Warp& w, const Insn& in, uint32_t m) {
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const bool x = pred(w, in.op[1], l), y = pred(w, in.op[2], l);
    d[l] = in.a == 0 ? (x && y) : in.a == 1 ? (x || y) : (x != y);
  });
  return true;
}

// bfe / bfi (in.t width type)
template <class T>
bool h_bfe(Warp& w, const Insn& in, uint32_t m) {
  using UT = U<T>;
  constexpr int msb = kBits<T> - 1;
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const UT x = UT(a[l]);
    const int pos = int(b[l] & 0xFF), len = int(c[l] & 0xFF);
    UT sbit = 0;
    if (std::is_signed_v<T> && len > 0) sbit = (x >> std::min(pos + len - 1, msb)) & 1;
    UT r = 0;
    for (int i = 0; i <= msb; ++i) {
      const UT bit = (i < len && pos + i <= msb) ? UT((x >> (pos + i)) & 1) : sbit;
      r |= bit << i;
    }
    d[l] = r;
  });
  return true;
}
template <class T>
bool h_bfi(Warp& w, const Insn& in, uint32_t m) {
  using UT = U<T>;
  constexpr int msb = kBits<T> - 1;
  const Src f = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]), n = src(w, in.op[4]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    UT r = UT(b[l]);
    const UT x = UT(f[l]);
    const int pos = int(c[l] & 0xFF), len = int(n[l] & 0xFF);
    for (int i = 0; i < len && pos + i <= msb; ++i) r = UT((r & ~(UT(1) << (pos + i))) | (((x >> i) & 1) << (pos + i)));
    d[l] = r;
  });
  return true;
}

// prmt.b32{.mode} d, a, b, c. in.a: 0 default, 1 f4e, 2 b4e, 3 rc8, 4 ecl, 5 ecr, 6 rc16
bool h_prmt(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const uint64_t bytes = (uint64_t(uint32_t(b[l])) << 32) | uint32_t(a[l]);
    auto byte = [&](int i) { return uint32_t(bytes >> (8 * i)) & 0xFF; };
    const uint32_t s = uint32_t(c[l]);
    uint32_t r = 0;
    if (in.a == 0) {
      for (int i = 0; i < 4; ++i) {
        const uint32_t sel = (s >> (4 * i)) & 0xF;
        uint32_t v = byte(int(sel & 7));
        if (sel & 8) v = (v & 0x80) ? 0xFF : 0;
        r |= v << (8 * i);
      }
    } else {
      const int n = int(s & 3);
      int idx[4];
      switch (in.a) {
        case 1: for (int i = 0; i < 4; ++i) idx[i] = (n + i) & 7; break;          // f4e
        case 2: for (int i = 0; i < 4; ++i) idx[i] = (n - i) & 7; break;          // b4e
        case 3: for (int i = 0; i < 4; ++i) idx[i] = n; break;                    // rc8
        case 4: for (int i = 0; i < 4; ++i) idx[i] = i <= n ? n : i; break;       // ecl
        case 5: for (int i = 0; i < 4; ++i) idx[i] = i >= n ? n : i; break;       // ecr
        default: idx[0] = idx[2] = (n & 1) * 2; idx[1] = idx[3] = (n & 1) * 2 + 1; break;  // rc16
      }
      for (int i = 0; i < 4; ++i) r |= byte(idx[i]) << (8 * i);
    }
    d[l] = r;
  });
  return true;
}

// lop3.b32 d, a, b, c, immLut
bool h_lop3(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  const uint32_t lut = uint32_t(in.op[4].imm) & 0xFF;
  each(m, [&](int l) {
    const uint32_t x = uint32_t(a[l]), y = uint32_t(b[l]), z = uint32_t(c[l]);
    uint32_t r = 0;
    for (int i = 0; i < 8; ++i)
      if (lut >> i & 1) r |= (i & 4 ? x : ~x) & (i & 2 ? y : ~y) & (i & 1 ? z : ~z);
    d[l] = r;
  });
  return true;
}

// shf.{l,r}.{wrap,clamp}.b32 d, a, b, c. in.a: 1 left; in.b: 1 wrap
bool h_shf(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]), b = src(w, in.op[2]), c = src(w, in.op[3]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const uint32_t cc = uint32_t(c[l]);
    const uint32_t n = in.b ? (cc & 31) : std::min<uint32_t>(cc, 32);
    const uint64_t v = (uint64_t(uint32_t(b[l])) << 32) | uint32_t(a[l]);
    d[l] = in.a ? uint32_t((v << n) >> 32) : uint32_t(v >> n);
  });
  return true;
}

bool int_type_ok(Ty t) { return t == T_u16 || t == T_s16 || t == T_u32 || t == T_s32 || t == T_u64 || t == T_s64 ||
                                t == T_b16 || t == T_b32 || t == T_b64; }

}  // namespace

// the packed 16-bit integer types (only min / max use them), outside the Ty enumeration
constexpr Ty T_s16x2_ = Ty(T_count + 1), T_u16x2_ = Ty(T_count + 2);

bool bind_int(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  const Ty t = P.back() == "s16x2" ? T_s16x2_ : P.back() == "u16x2" ? T_u16x2_ : c.type_at(0);
  in.ndst = 1;
  auto three = [&]() { c.need(3); c.reg(0); c.regimm(1); c.regimm(2); };

  if ((op == "min" || op == "max") && (c.has("relu") || t == T_s16x2_ || t == T_u16x2_)) {
    const bool relu = c.has("relu");
    if (P.size() != (relu ? 3u : 2u)) return false;
    if (!(t == T_s32 && relu) && t != T_s16x2_ && t != T_u16x2_) return false;
    if (relu && t == T_u16x2_) return false;
    three();
    in.a = op == "max";
    in.b = relu;
    in.c = t != T_s32;
    in.d = t != T_u16x2_;
    in.fn = h_minmax_simd;
    return true;
  }
  if (op == "dp4a" || op == "dp2a") {
    const Ty at = c.type_at(1), bt = c.type_at(0);
    if ((at != T_s32 && at != T_u32) || (bt != T_s32 && bt != T_u32)) return false;
    if (op == "dp4a") {
      if (P.size() != 3) return false;
      in.a = 0;
    } else {
      if (P.size() != 4 || (P[1] != "lo" && P[1] != "hi")) return false;
      in.a = P[1] == "lo" ? 1 : 2;
    }
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    in.b = at == T_s32;
    in.c = bt == T_s32;
    in.fn = h_dot;
    return true;
  }
  // everything below: integer types only
  if (op == "and" || op == "or" || op == "xor" || op == "not" || op == "cnot") {
    if (P.size() != 2) return false;
    if (t == T_pred) {
      if (op == "cnot") return false;
      if (op == "not") { c.need(2); c.reg(0); c.reg(1); in.fn = h_not_pred; return true; }
      three();
      in.a = op == "and" ? 0 : op == "or" ? 1 : 2;
      in.fn = h_pred_bin;
      return true;
    }
    if (t != T_b16 && t != T_b32 && t != T_b64) return false;
    if (op == "not" || op == "cnot") {
      c.need(2); c.reg(0); c.regimm(1);
      in.a = op == "not" ? 0 : 6;
      in.fn = pick_unary(t);
      return true;
    }
    three();
    in.fn = op == "and" ? pick_bin<I_and>(t) : op == "or" ? pick_bin<I_or>(t) : pick_bin<I_xor>(t);
    return in.fn != nullptr;
  }
  if (op == "prmt") {  // prmt.b32{.mode}
    if (P.size() < 2 || P[1] != "b32") return false;
    static const char* modes[] = {"", "f4e", "b4e", "rc8", "ecl", "ecr", "rc16"};
    if (P.size() == 2) in.a = 0;
    else if (P.size() == 3) {
      int mi = -1;
      for (int i = 1; i < 7; ++i) if (P[2] == modes[i]) mi = i;
      if (mi < 0) return false;
      in.a = uint8_t(mi);
    } else return false;
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    in.fn = h_prmt;
    return true;
  }
  if (!int_type_ok(t)) return false;

  if (op == "add" || op == "sub") {
    const bool cc = c.has("cc");
    if (cc) {
      if (P.size() != 3 || (t != T_u32 && t != T_s32 && t != T_u64 && t != T_s64)) return false;
      three();
      in.a = op == "sub";
      in.c = 1;
      in.fn = (t == T_u32 || t == T_s32) ? h_carry<uint32_t> : h_carry<uint64_t>;
      return true;
    }
    if (c.has("sat")) {
      if (P.size() != 3 || t != T_s32) return false;
      three();
      in.fn = op == "add" ? h_bin<int32_t, I_addsat> : h_bin<int32_t, I_subsat>;
      return true;
    }
    if (P.size() != 2) return false;
    three();
    in.fn = op == "add" ? pick_bin<I_add>(t) : pick_bin<I_sub>(t);
    return in.fn != nullptr;
  }
  if (op == "addc" || op == "subc") {
    if (t != T_u32 && t != T_s32 && t != T_u64 && t != T_s64) return false;
    if (P.size() != (c.has("cc") ? 3u : 2u)) return false;
    three();
    in.a = op == "subc";
    in.b = 1;
    in.c = c.has("cc");
    in.fn = (t == T_u32 || t == T_s32) ? h_carry<uint32_t> : h_carry<uint64_t>;
    return true;
  }
  if (op == "mul" || op == "mul24") {
    if (P.size() != 3 || ty_bits(t) < 16 || t == T_b16 || t == T_b32 || t == T_b64) return false;
    three();
    if (op == "mul24") {
      if (t != T_u32 && t != T_s32) return false;
      if (P[1] == "lo") in.fn = t == T_u32 ? h_bin<uint32_t, I_mul24lo> : h_bin<int32_t, I_mul24lo>;
      else if (P[1] == "hi") in.fn = t == T_u32 ? h_bin<uint32_t, I_mul24hi> : h_bin<int32_t, I_mul24hi>;
      else return false;
      return true;
    }
    if (P[1] == "lo") in.fn = pick_bin<I_mullo>(t);
    else if (P[1] == "hi") in.fn = pick_bin<I_mulhi>(t);
    else if (P[1] == "wide") in.fn = ty_bits(t) <= 32 ? pick_bin<I_mulwide>(t) : nullptr;
    else return false;
    return in.fn != nullptr;
  }
  if (op == "mad" || op == "madc") {
    const bool cc = c.has("cc");
    if (P.size() != (cc ? 4u : 3u)) return false;
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    if (op == "madc" || cc) {
      if (t != T_u32 && t != T_s32 && t != T_u64 && t != T_s64) return false;
      if (P[1] == "lo") in.a = 2;
      else if (P[1] == "hi") in.a = 3;
      else return false;
      in.b = op == "madc";
      in.c = cc;
      switch (t) {
        case T_u32: in.fn = h_carry<uint32_t>; break;
        case T_s32: in.fn = h_carry<int32_t>; break;
        case T_u64: in.fn = h_carry<uint64_t>; break;
        default: in.fn = h_carry<int64_t>; break;
      }
      return true;
    }
    if (P[1] == "lo") in.fn = pick_mad<I_mullo>(t);
    else if (P[1] == "hi") in.fn = pick_mad<I_mulhi>(t);
    else if (P[1] == "wide") in.fn = pick_mad<I_mulwide>(t);
    else return false;
    return in.fn != nullptr;
  }
  if (op == "div" || op == "rem" || op == "min" || op == "max") {
    if (P.size() != 2 || t == T_b16 || t == T_b32 || t == T_b64) return false;
    three();
    in.fn = op == "div" ? pick_bin<I_div>(t) : op == "rem" ? pick_bin<I_rem>(t) : op == "min" ? pick_bin<I_min>(t)
                                                                                         : pick_bin<I_max>(t);
    return in.fn != nullptr;
  }
  if (op == "shl" || op == "shr") {
    if (P.size() != 2) return false;
    if (op == "shl" && ty_signed(t)) return false;
    three();
    in.fn = op == "shl" ? pick_bin<I_shl>(t) : pick_bin<I_shr>(t);
    return in.fn != nullptr;
  }
  if (op == "sad") {
    if (P.size() != 2 || t == T_b16 || t == T_b32 || t == T_b64) return false;
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    switch (t) {
      case T_u16: in.fn = h_sad<uint16_t>; break;
      case T_s16: in.fn = h_sad<int16_t>; break;
      case T_u32: in.fn = h_sad<uint32_t>; break;
      case T_s32: in.fn = h_sad<int32_t>; break;
      case T_u64: in.fn = h_sad<uint64_t>; break;
      default: in.fn = h_sad<int64_t>; break;
    }
    return true;
  }
  if (op == "neg" || op == "abs") {
    if (P.size() != 2 || !ty_signed(t)) return false;
    c.need(2); c.reg(0); c.regimm(1);
    in.a = op == "neg" ? 1 : 2;
    in.fn = pick_unary(t);
    return true;
  }
  if (op == "popc" || op == "clz" || op == "brev") {
    if (P.size() != 2 || (t != T_b32 && t != T_b64)) return false;
    c.need(2); c.reg(0); c.regimm(1);
    in.a = op == "popc" ? 3 : op == "clz" ? 4 : 5;
    in.fn = pick_unary(t);
    return true;
  }
  if (op == "bfind") {
    const bool sa = c.has("shiftamt");
    if (P.size() != (sa ? 3u : 2u) || (t != T_u32 && t != T_s32 && t != T_u64 && t != T_s64)) return false;
    c.need(2); c.reg(0); c.regimm(1);
    in.a = sa ? 8 : 7;
    in.fn = pick_unary(t);
    return true;
  }
  if (op == "bfe") {
    if (P.size() != 2 || (t != T_u32 && t != T_s32 && t != T_u64 && t != T_s64)) return false;
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    in.fn = t == T_u32 ? h_bfe<uint32_t> : t == T_s32 ? h_bfe<int32_t> : t == T_u64 ? h_bfe<uint64_t> : h_bfe<int64_t>;
    return true;
  }
  if (op == "bfi") {
    if (P.size() != 2 || (t != T_b32 && t != T_b64)) return false;
    c.need(5); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3); c.regimm(4);
    in.fn = t == T_b32 ? h_bfi<uint32_t> : h_bfi<uint64_t>;
    return true;
  }
  if (op == "lop3") {
    if (P.size() != 2 || t != T_b32) return false;
    c.need(5); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    if (in.op[4].kind != Opd::Imm) c.fail("lop3: immLut must be an immediate");
    in.fn = h_lop3;
    return true;
  }
  if (op == "shf") {
    if (P.size() != 4 || t != T_b32) return false;
    if (P[1] != "l" && P[1] != "r") return false;
    if (P[2] != "wrap" && P[2] != "clamp") return false;
    c.need(4); c.reg(0); c.regimm(1); c.regimm(2); c.regimm(3);
    in.a = P[1] == "l";
    in.b = P[2] == "wrap";
    in.fn = h_shf;
    return true;
  }
  return false;
}

}  // namespace emu::interp
