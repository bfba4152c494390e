// dsv3-emu: warp-level matrix instructions: mma.sync.aligned.m16n8k16.row.col with .f16/.bf16 inputs and
// .f32 (or .f16) accumulators, ldmatrix / stmatrix .m8n8.{x1,x2,x4}{.trans}.b16. Fragment layouts are
// the PTX ISA 9.0 tables (§9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point type",
// §9.7.14.5.15 ldmatrix), written out as per-lane tables below and unit-tested (interp_mma.cc).
// Products of f16/bf16 inputs are exact in double; the sum is rounded once to the accumulator type.
#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

// ---- fragment tables (also used by the unit test through mma_layout) ----
// A (16x16, row): 8 elements per lane, in 4 .b32 registers (element 2r in the low half of register r).
//   row = groupID (+8 for elements 2,3,6,7); col = 2*tig + (i&1) (+8 for elements 4..7)
// B (16x8, col): 4 elements in 2 registers: row = 2*tig + (i&1) (+8 for i >= 2); col = groupID
// C/D (16x8, f32): 4 elements: row = groupID (+8 for i >= 2); col = 2*tig + (i&1)
struct Frag { uint8_t row, col; };
struct MmaTables {
  Frag a[32][8], b[32][4], c[32][4];
  constexpr MmaTables() : a{}, b{}, c{} {
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane & 3;
      for (int i = 0; i < 8; ++i)
        a[lane][i] = Frag{uint8_t(g + ((i & 2) ? 8 : 0)), uint8_t(2 * t + (i & 1) + (i >= 4 ? 8 : 0))};
      for (int i = 0; i < 4; ++i) {
        b[lane][i] = Frag{uint8_t(2 * t + (i & 1) + (i >= 2 ? 8 : 0)), uint8_t(g)};
        c[lane][i] = Frag{uint8_t(g + (i >= 2 ? 8 : 0)), uint8_t(2 * t + (i & 1))};
      }
    }
  }
};
constexpr MmaTables kMma{};

// m16n8k32 with 8-bit inputs: A (16x32) 16 elements per lane in 4 registers (element 4r + j in byte j of
// register r): row = groupID (+8 for elements 4..7 and 12..15), col = 4*tig + (i&3) (+16 for i >= 8);
// B (32x8) 8 elements in 2 registers: row = 4*tig + (i&3) (+16 for i >= 4), col = groupID. C/D as above.
struct Mma8Tables {
  Frag a[32][16], b[32][8];
  constexpr Mma8Tables() : a{}, b{} {
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane & 3;
      for (int i = 0; i < 16; ++i)
        a[lane][i] = Frag{uint8_t(g + ((i & 4) ? 8 : 0)), uint8_t(4 * t + (i & 3) + (i >= 8 ? 16 : 0))};
      for (int i = 0; i < 8; ++i) b[lane][i] = Frag{uint8_t(4 * t + (i & 3) + (i >= 4 ? 16 : 0)), uint8_t(g)};
    }
  }
};
constexpr Mma8Tables kMma8{};

// For tests: (row, col) of element i of lane `lane` in fragment 'a', 'b' or 'c'; 'A' / 'B': the 8-bit
// (m16n8k32) A and B fragments.
void mma8_layout(char which, int lane, int i, int* row, int* col) {
  const Frag f = which == 'A' ? kMma8.a[lane][i] : kMma8.b[lane][i];
  *row = f.row;
  *col = f.col;
}

// For tests: (row, col) of element i of lane `lane` in fragment 'a', 'b' or 'c'.
void mma_layout(char which, int lane, int i, int* row, int* col) {
  const Frag f = which == 'a' ? kMma.a[lane][i] : which == 'b' ? kMma.b[lane][i] : kMma.c[lane][i];
  *row = f.row;
  *col = f.col;
}

namespace {

inline double half_val(uint16_t h, bool bf) { return bf ? fp::bf16_to_f32(h) : fp::f16_to_f32(h); }

// in.a: 1 bf16 inputs (else f16); in.b: 1 f32 accumulators (D and C), 0 f16x2; in.c collective (0xFF)
bool h_mma(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const bool bf = in.a, f32acc = in.b;
  const Opd* D = &K.vec[in.op[0].slot];
  const Opd* A = &K.vec[in.op[1].slot];
  const Opd* B = &K.vec[in.op[2].slot];
  const Opd* C = &K.vec[in.op[3].slot];
  double a[16][16], b[16][8], c[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) {
      const uint32_t v = uint32_t(src(w, A[r])[lane]);
      for (int h = 0; h < 2; ++h) {
        const Frag f = kMma.a[lane][2 * r + h];
        a[f.row][f.col] = half_val(uint16_t(v >> (16 * h)), bf);
      }
    }
    for (int r = 0; r < 2; ++r) {
      const uint32_t v = uint32_t(src(w, B[r])[lane]);
      for (int h = 0; h < 2; ++h) {
        const Frag f = kMma.b[lane][2 * r + h];
        b[f.row][f.col] = half_val(uint16_t(v >> (16 * h)), bf);
      }
    }
    for (int i = 0; i < 4; ++i) {
      const Frag f = kMma.c[lane][i];
      if (f32acc) {
        c[f.row][f.col] = fp::f32_from_bits(uint32_t(src(w, C[i])[lane]));
      } else {
        const uint32_t v = uint32_t(src(w, C[i >> 1])[lane]);
        c[f.row][f.col] = fp::f16_to_f32(uint16_t(v >> (16 * (i & 1))));
      }
    }
  }
  // D = A x B + C: exact products, one rounding of the sum (NaN and infinities propagate)
  double dv[16][8];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 8; ++j) {
      double s = c[i][j];
      for (int k = 0; k < 16; ++k) s += a[i][k] * b[k][j];
      dv[i][j] = s;
    }
  for (int lane = 0; lane < 32; ++lane) {
    if (!(m >> lane & 1)) continue;
    if (f32acc) {
      for (int i = 0; i < 4; ++i) {
        const Frag f = kMma.c[lane][i];
        const float r = fp::f64_to_f32(dv[f.row][f.col], fp::Round::rn, false, false);
        w.regs[size_t(D[i].slot) * 32 + lane] = fp::bits_of(r);
      }
    } else {
      for (int r = 0; r < 2; ++r) {
        uint32_t v = 0;
        for (int h = 0; h < 2; ++h) {
          const Frag f = kMma.c[lane][2 * r + h];
          v |= uint32_t(fp::f64_to_f16(dv[f.row][f.col], fp::Round::rn, false)) << (16 * h);
        }
        w.regs[size_t(D[r].slot) * 32 + lane] = v;
      }
    }
  }
  return true;
}

// mma.sync.aligned.m16n8k32.row.col with 8-bit inputs. in.t: input type (e4m3, e5m2, s8, u8);
// in.b: 1 f32 accumulators (float inputs), 0 s32 (integer inputs); in.d: .satfinite (integer)
bool h_mma8(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const Opd* D = &K.vec[in.op[0].slot];
  const Opd* A = &K.vec[in.op[1].slot];
  const Opd* B = &K.vec[in.op[2].slot];
  const Opd* C = &K.vec[in.op[3].slot];
  const Ty t = Ty(in.t);
  auto val = [&](uint8_t v) -> double {
    switch (t) {
      case T_e4m3: return fp::e4m3_to_f32(v);
      case T_e5m2: return fp::e5m2_to_f32(v);
      case T_s8: return double(int8_t(v));
      default: return double(v);
    }
  };
  double a[16][32], b[32][8], c[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    for (int r = 0; r < 4; ++r) {
      const uint32_t v = uint32_t(src(w, A[r])[lane]);
      for (int j = 0; j < 4; ++j) {
        const Frag f = kMma8.a[lane][4 * r + j];
        a[f.row][f.col] = val(uint8_t(v >> (8 * j)));
      }
    }
    for (int r = 0; r < 2; ++r) {
      const uint32_t v = uint32_t(src(w, B[r])[lane]);
      for (int j = 0; j < 4; ++j) {
        const Frag f = kMma8.b[lane][4 * r + j];
        b[f.row][f.col] = val(uint8_t(v >> (8 * j)));
      }
    }
    for (int i = 0; i < 4; ++i) {
      const Frag f = kMma.c[lane][i];
      const uint32_t v = uint32_t(src(w, C[i])[lane]);
      c[f.row][f.col] = in.b ? double(fp::f32_from_bits(v)) : double(int32_t(v));
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    if (!(m >> lane & 1)) continue;
    for (int i = 0; i < 4; ++i) {
      const Frag f = kMma.c[lane][i];
      double s = c[f.row][f.col];
      for (int k = 0; k < 32; ++k) s += a[f.row][k] * b[k][f.col];  // integer products and sums: exact in double
      uint32_t r;
      if (in.b) {
        r = fp::bits_of(fp::f64_to_f32(s, fp::Round::rn, false, false));
      } else if (in.d) {
        r = uint32_t(int32_t(s > 2147483647.0 ? 2147483647.0 : s < -2147483648.0 ? -2147483648.0 : s));
      } else {
        r = uint32_t(uint64_t(int64_t(s)));  // wraps modulo 2^32
      }
      w.regs[size_t(D[i].slot) * 32 + lane] = r;
    }
  }
  return true;
}

// ldmatrix / stmatrix .m8n8.xN{.trans}.b16: matrix q's 8 row addresses come from lanes 8q..8q+7; lane l
// holds, of matrix q, row l/4 columns 2*(l%4), +1 (with .trans: rows 2*(l%4), +1 of column l/4).
// in.a: N; in.b: trans; in.t: space; in.x: 1 for stmatrix
bool h_ldst_matrix(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const int n = in.a;
  const bool st = in.x;
  const Opd& addr = st ? in.op[0] : in.op[1];
  const Opd* R = &K.vec[(st ? in.op[1] : in.op[0]).slot];
  uint16_t mat[4][8][8];
  uint8_t* rowp[4][8];
  for (int q = 0; q < n; ++q)
    for (int r = 0; r < 8; ++r) {
      const int lane = 8 * q + r;
      const uint64_t a = addr_at(w, addr, lane);
      uint8_t* p = access(w, in, lane, Space(in.t), a, 16, st, false);
      if (!p) return false;
      rowp[q][r] = p;
      if (!st) std::memcpy(mat[q][r], p, 16);
    }
  for (int lane = 0; lane < 32; ++lane) {
    if (!(m >> lane & 1)) continue;
    for (int q = 0; q < n; ++q) {
      const int r0 = lane / 4, c0 = 2 * (lane % 4);
      uint16_t* e[2];
      if (in.b) {
        e[0] = &mat[q][c0][r0];
        e[1] = &mat[q][c0 + 1][r0];
      } else {
        e[0] = &mat[q][r0][c0];
        e[1] = &mat[q][r0][c0 + 1];
      }
      uint64_t& reg = w.regs[size_t(R[q].slot) * 32 + lane];
      if (st) {
        const uint32_t v = uint32_t(src(w, R[q])[lane]);
        *e[0] = uint16_t(v);
        *e[1] = uint16_t(v >> 16);
      } else {
        reg = uint32_t(*e[0]) | (uint32_t(*e[1]) << 16);
      }
    }
  }
  if (st)
    for (int q = 0; q < n; ++q)
      for (int r = 0; r < 8; ++r) std::memcpy(rowp[q][r], mat[q][r], 16);
  return true;
}

}  // namespace

bool bind_mma(BindCtx& c) {
  const auto& P = c.pi.parts;
  Insn& in = c.in;
  if (P[0] == "mma" && P.size() >= 4 && P[3] == "m16n8k32") {
    // mma.sync.aligned.m16n8k32.row.col{.satfinite}.dtype.atype.btype.ctype, 8-bit inputs
    const bool sat = P.size() == 11 && P[6] == "satfinite";
    if ((P.size() != 10 && !sat) || P[1] != "sync" || P[2] != "aligned" || P[4] != "row" || P[5] != "col") return false;
    const size_t o = sat ? 7 : 6;
    const Ty dt = parse_ty(P[o]), at = parse_ty(P[o + 1]), bt = parse_ty(P[o + 2]), ct = parse_ty(P[o + 3]);
    const bool fl = at == T_e4m3 || at == T_e5m2, in8 = at == T_s8 || at == T_u8;
    if (at != bt || dt != ct || !(fl ? dt == T_f32 && !sat : in8 && dt == T_s32)) return false;
    c.need(4);
    const int want[4] = {4, 4, 2, 4};
    for (int i = 0; i < 4; ++i) {
      if (in.op[i].kind != Opd::Vec || int(in.op[i].n) != want[i]) c.fail("mma: wrong fragment operand size");
      for (uint32_t e = 0; e < in.op[i].n; ++e)
        if (c.k.vec[in.op[i].slot + e].kind != Opd::Reg) c.fail("mma: fragment elements must be registers");
    }
    in.t = at;
    in.b = fl;
    in.d = sat;
    in.c = 0xFF;
    in.ndst = 1;
    in.flow = Flow::Coll;
    in.fn = h_mma8;
    return true;
  }
  if (P[0] == "mma") {
    // mma.sync.aligned.m16n8k16.row.col.dtype.atype.btype.ctype
    if (P.size() != 10 || P[1] != "sync" || P[2] != "aligned" || P[3] != "m16n8k16" || P[4] != "row" || P[5] != "col")
      return false;
    const Ty dt = parse_ty(P[6]), at = parse_ty(P[7]), bt = parse_ty(P[8]), ct = parse_ty(P[9]);
    if (at != bt || (at != T_bf16 && at != T_f16)) return false;
    if (dt != ct || (dt != T_f32 && dt != T_f16)) return false;
    if (at == T_bf16 && dt != T_f32) return false;
    c.need(4);
    const int nacc = dt == T_f32 ? 4 : 2;
    const int want[4] = {nacc, 4, 2, nacc};
    for (int i = 0; i < 4; ++i) {
      if (in.op[i].kind != Opd::Vec || int(in.op[i].n) != want[i]) c.fail("mma: wrong fragment operand size");
      for (uint32_t e = 0; e < in.op[i].n; ++e)
        if (c.k.vec[in.op[i].slot + e].kind != Opd::Reg) c.fail("mma: fragment elements must be registers");
    }
    in.a = at == T_bf16;
    in.b = dt == T_f32;
    in.c = 0xFF;
    in.ndst = 1;
    in.flow = Flow::Coll;
    in.fn = h_mma;
    return true;
  }
  if (P[0] == "ldmatrix" || P[0] == "stmatrix") {
    const bool st = P[0] == "stmatrix";
    if (P.size() < 6 || P[1] != "sync" || P[2] != "aligned" || P[3] != "m8n8") return false;
    size_t i = 4;
    int n;
    if (P[i] == "x1") n = 1;
    else if (P[i] == "x2") n = 2;
    else if (P[i] == "x4") n = 4;
    else return false;
    ++i;
    bool trans = false;
    if (i < P.size() && P[i] == "trans") trans = true, ++i;
    Space s = Space::Generic;
    if (i < P.size() && (P[i] == "shared" || P[i] == "shared::cta")) s = Space::Shared, ++i;
    if (i + 1 != P.size() || P[i] != "b16") return false;
    c.need(2);
    const int ai = st ? 1 : 0;
    c.addr(st ? 0 : 1);
    if (in.op[ai].kind != Opd::Vec || int(in.op[ai].n) != n) c.fail("ldmatrix/stmatrix: register vector size must match .xN");
    Opd& a = in.op[st ? 0 : 1];
    if (a.n == 1 && a.slot == kNoSlot && s == Space::Generic) a.imm = int64_t(c.k.generic_of(a.space, uint64_t(a.imm)));
    in.a = uint8_t(n);
    in.b = trans;
    in.t = uint8_t(s);
    in.x = st;
    in.c = 0xFF;
    in.ndst = st ? 0 : 1;
    in.flow = Flow::Coll;
    in.fn = h_ldst_matrix;
    return true;
  }
  return false;
}

}  // namespace emu::interp
