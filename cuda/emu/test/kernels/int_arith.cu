// int_arith.cu: integer arithmetic (PTX ISA 9.0 section 9.7.1 "Integer Arithmetic Instructions" and
// 9.7.2 "Extended-Precision Integer Arithmetic"): add/sub (.sat), mul.lo/hi/wide, mad.lo/hi/wide, div/rem
// with negative operands, min/max (.relu, x2), abs/neg, sad, dp4a/dp2a, 16-bit forms, and carry chains
// (add.cc/addc/sub.cc/subc/mad.cc/madc) for 128-bit adds, subtracts, a 64x64->128 multiply; vs the host.
#include "common.cuh"

using namespace kt;

constexpr int N = 4096;

// ---- 32-bit operations: out[op * n + i] ----
enum Op32 {
  ADD, SUB, MULLO, MULHI_U, MULHI_S, MADLO, MADHI_U, MADHI_S, DIV_U, REM_U, DIV_S, REM_S, MIN_U, MAX_U,
  MIN_S, MAX_S, ABS_S, NEG_S, ADDSAT, SUBSAT, SAD_U, SAD_S, MUL24LO, NOP32
};
const char* kOp32Names[] = {"add.u32", "sub.u32", "mul.lo.u32", "mul.hi.u32", "mul.hi.s32", "mad.lo.u32",
                            "mad.hi.u32", "mad.hi.s32", "div.u32", "rem.u32", "div.s32", "rem.s32",
                            "min.u32", "max.u32", "min.s32", "max.s32", "abs.s32", "neg.s32",
                            "add.sat.s32", "sub.sat.s32", "sad.u32", "sad.s32", "mul24.lo.u32"};

__global__ void k_int32(const uint32_t* a, const uint32_t* b, const uint32_t* c, const uint32_t* dv,
                        uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t x = a[i], y = b[i], z = c[i], q = dv[i], r;
#define BIN(op, ins, rhs)                                                  \
  asm volatile(ins " %0, %1, %2;" : "=r"(r) : "r"(x), "r"(rhs));           \
  out[(op) * n + i] = r;
#define TRI(op, ins)                                                       \
  asm volatile(ins " %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y), "r"(z)); \
  out[(op) * n + i] = r;
  BIN(ADD, "add.u32", y)
  BIN(SUB, "sub.u32", y)
  BIN(MULLO, "mul.lo.u32", y)
  BIN(MULHI_U, "mul.hi.u32", y)
  BIN(MULHI_S, "mul.hi.s32", y)
  TRI(MADLO, "mad.lo.u32")
  TRI(MADHI_U, "mad.hi.u32")
  TRI(MADHI_S, "mad.hi.s32")
  BIN(DIV_U, "div.u32", q)
  BIN(REM_U, "rem.u32", q)
  BIN(DIV_S, "div.s32", q)
  BIN(REM_S, "rem.s32", q)
  BIN(MIN_U, "min.u32", y)
  BIN(MAX_U, "max.u32", y)
  BIN(MIN_S, "min.s32", y)
  BIN(MAX_S, "max.s32", y)
  asm volatile("abs.s32 %0, %1;" : "=r"(r) : "r"(x));
  out[ABS_S * n + i] = r;
  asm volatile("neg.s32 %0, %1;" : "=r"(r) : "r"(x));
  out[NEG_S * n + i] = r;
  BIN(ADDSAT, "add.sat.s32", y)
  BIN(SUBSAT, "sub.sat.s32", y)
#undef BIN
#undef TRI
}

// sad and mul24 in a kernel of their own (launched last: a fault in it cannot hide the results above)
__global__ void k_int32_rare(const uint32_t* a, const uint32_t* b, const uint32_t* c, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t x = a[i], y = b[i], z = c[i], r;
  asm volatile("sad.u32 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y), "r"(z));
  out[SAD_U * n + i] = r;
  asm volatile("sad.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y), "r"(z));
  out[SAD_S * n + i] = r;
  asm volatile("mul24.lo.u32 %0, %1, %2;" : "=r"(r) : "r"(x), "r"(y));
  out[MUL24LO * n + i] = r;
}

// ---- 64-bit operations and wide products: out[op * n + i] ----
enum Op64 {
  ADD64, SUB64, MULLO64, MULHI64_U, MULHI64_S, MADLO64, DIV64_U, REM64_U, DIV64_S, REM64_S, MIN64_S,
  MAX64_S, MIN64_U, ABS64, NEG64, MULWIDE_U, MULWIDE_S, MADWIDE_U, MADWIDE_S, MULWIDE_U16, NOP64
};
const char* kOp64Names[] = {"add.u64", "sub.u64", "mul.lo.u64", "mul.hi.u64", "mul.hi.s64",
                            "mad.lo.u64", "div.u64", "rem.u64", "div.s64", "rem.s64", "min.s64",
                            "max.s64", "min.u64", "abs.s64", "neg.s64", "mul.wide.u32",
                            "mul.wide.s32", "mad.wide.u32", "mad.wide.s32", "mul.wide.u16"};

__global__ void k_int64(const uint64_t* a, const uint64_t* b, const uint64_t* c, const uint64_t* dv,
                        uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint64_t x = a[i], y = b[i], z = c[i], q = dv[i], r;
  uint32_t x32 = (uint32_t)x, y32 = (uint32_t)y;
#define BIN(op, ins, rhs)                                                  \
  asm volatile(ins " %0, %1, %2;" : "=l"(r) : "l"(x), "l"(rhs));           \
  out[(op) * n + i] = r;
  BIN(ADD64, "add.u64", y)
  BIN(SUB64, "sub.u64", y)
  BIN(MULLO64, "mul.lo.u64", y)
  BIN(MULHI64_U, "mul.hi.u64", y)
  BIN(MULHI64_S, "mul.hi.s64", y)
  asm volatile("mad.lo.u64 %0, %1, %2, %3;" : "=l"(r) : "l"(x), "l"(y), "l"(z));
  out[MADLO64 * n + i] = r;
  BIN(DIV64_U, "div.u64", q)
  BIN(REM64_U, "rem.u64", q)
  BIN(DIV64_S, "div.s64", q)
  BIN(REM64_S, "rem.s64", q)
  BIN(MIN64_S, "min.s64", y)
  BIN(MAX64_S, "max.s64", y)
  BIN(MIN64_U, "min.u64", y)
#undef BIN
  asm volatile("abs.s64 %0, %1;" : "=l"(r) : "l"(x));
  out[ABS64 * n + i] = r;
  asm volatile("neg.s64 %0, %1;" : "=l"(r) : "l"(x));
  out[NEG64 * n + i] = r;
  asm volatile("mul.wide.u32 %0, %1, %2;" : "=l"(r) : "r"(x32), "r"(y32));
  out[MULWIDE_U * n + i] = r;
  asm volatile("mul.wide.s32 %0, %1, %2;" : "=l"(r) : "r"(x32), "r"(y32));
  out[MULWIDE_S * n + i] = r;
  asm volatile("mad.wide.u32 %0, %1, %2, %3;" : "=l"(r) : "r"(x32), "r"(y32), "l"(z));
  out[MADWIDE_U * n + i] = r;
  asm volatile("mad.wide.s32 %0, %1, %2, %3;" : "=l"(r) : "r"(x32), "r"(y32), "l"(z));
  out[MADWIDE_S * n + i] = r;
  {
    uint32_t w;
    unsigned short xs = (unsigned short)x, ys = (unsigned short)y;
    asm volatile("mul.wide.u16 %0, %1, %2;" : "=r"(w) : "h"(xs), "h"(ys));
    out[MULWIDE_U16 * n + i] = w;
  }
}

// ---- carry chains: 128-bit add/sub with 32-bit limbs, with 64-bit limbs, 64x64->128 multiply ----
// out[i*16 + 0..3]: a+b (32-bit limbs), 4..7: a-b (32-bit limbs), 8..11: x*y (x, y = low 64 bits),
// 12..13: a+b with 64-bit limbs (as 4 words), 14..15: carry out of the 32-bit add chain, borrow out of
// the sub chain.
__global__ void k_carry(const uint32_t* a, const uint32_t* b, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint32_t* A = a + 4 * i;
  const uint32_t* B = b + 4 * i;
  uint32_t* o = out + 16 * i;
  uint32_t s0, s1, s2, s3, cy;
  asm volatile(
      "add.cc.u32 %0, %5, %9;\n\t"
      "addc.cc.u32 %1, %6, %10;\n\t"
      "addc.cc.u32 %2, %7, %11;\n\t"
      "addc.cc.u32 %3, %8, %12;\n\t"
      "addc.u32 %4, 0, 0;"
      : "=r"(s0), "=r"(s1), "=r"(s2), "=r"(s3), "=r"(cy)
      : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(B[2]), "r"(B[3]));
  o[0] = s0; o[1] = s1; o[2] = s2; o[3] = s3; o[14] = cy;
  asm volatile(
      "sub.cc.u32 %0, %5, %9;\n\t"
      "subc.cc.u32 %1, %6, %10;\n\t"
      "subc.cc.u32 %2, %7, %11;\n\t"
      "subc.cc.u32 %3, %8, %12;\n\t"
      "subc.u32 %4, 0, 0;"
      : "=r"(s0), "=r"(s1), "=r"(s2), "=r"(s3), "=r"(cy)
      : "r"(A[0]), "r"(A[1]), "r"(A[2]), "r"(A[3]), "r"(B[0]), "r"(B[1]), "r"(B[2]), "r"(B[3]));
  o[4] = s0; o[5] = s1; o[6] = s2; o[7] = s3; o[15] = cy;
  // 64x64 -> 128: x = (A[1]:A[0]), y = (B[1]:B[0]), schoolbook with mad.lo.cc / madc.hi chains.
  uint32_t r0, r1, r2, r3;
  asm volatile(
      "mul.lo.u32 %0, %4, %6;\n\t"
      "mul.hi.u32 %1, %4, %6;\n\t"
      "mad.lo.cc.u32 %1, %4, %7, %1;\n\t"
      "madc.hi.u32 %2, %4, %7, 0;\n\t"
      "mad.lo.cc.u32 %1, %5, %6, %1;\n\t"
      "madc.hi.cc.u32 %2, %5, %6, %2;\n\t"
      "addc.u32 %3, 0, 0;\n\t"
      "mad.lo.cc.u32 %2, %5, %7, %2;\n\t"
      "madc.hi.u32 %3, %5, %7, %3;"
      : "=&r"(r0), "=&r"(r1), "=&r"(r2), "=&r"(r3)
      : "r"(A[0]), "r"(A[1]), "r"(B[0]), "r"(B[1]));
  o[8] = r0; o[9] = r1; o[10] = r2; o[11] = r3;
  uint64_t lo, hi;
  uint64_t a_lo = ((uint64_t)A[1] << 32) | A[0], a_hi = ((uint64_t)A[3] << 32) | A[2];
  uint64_t b_lo = ((uint64_t)B[1] << 32) | B[0], b_hi = ((uint64_t)B[3] << 32) | B[2];
  asm volatile(
      "add.cc.u64 %0, %2, %4;\n\t"
      "addc.u64 %1, %3, %5;"
      : "=l"(lo), "=l"(hi)
      : "l"(a_lo), "l"(a_hi), "l"(b_lo), "l"(b_hi));
  o[12] = (uint32_t)(lo ^ (lo >> 32) ^ hi * 3);  // folded: checked against the same fold on the host
  o[13] = (uint32_t)(hi >> 32) ^ (uint32_t)hi;
}

// ---- 16-bit and packed/dot-product integer ops (launched after the rest) ----
enum Op16 {
  ADD16, SUB16, MULLO16, MULHI16_U, MULHI16_S, MADLO16, MIN16_S, MAX16_U, ABS16, NEG16, DIV16_S, REM16_U,
  MIN_S16X2, MAX_U16X2, MIN_RELU_S32, MAX_RELU_S16X2, DP4A_SS, DP4A_UU, DP4A_SU, DP2A_LO_SS, DP2A_HI_US, NOP16
};
const char* kOp16Names[] = {"add.u16", "sub.s16", "mul.lo.s16", "mul.hi.u16", "mul.hi.s16", "mad.lo.u16",
                            "min.s16", "max.u16", "abs.s16", "neg.s16", "div.s16", "rem.u16", "min.s16x2",
                            "max.u16x2", "min.relu.s32", "max.relu.s16x2", "dp4a.s32.s32", "dp4a.u32.u32",
                            "dp4a.s32.u32", "dp2a.lo.s32.s32", "dp2a.hi.u32.s32"};
__global__ void k_int16(const uint32_t* a, const uint32_t* b, const uint32_t* c, const uint32_t* dv,
                        uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t x = a[i], y = b[i], z = c[i];
  unsigned short xh = (unsigned short)x, yh = (unsigned short)y, zh = (unsigned short)z, qh = (unsigned short)dv[i], h;
#define H2(op, ins) asm volatile(ins " %0, %1, %2;" : "=h"(h) : "h"(xh), "h"(yh)); out[(op) * n + i] = h;
  H2(ADD16, "add.u16") H2(SUB16, "sub.s16") H2(MULLO16, "mul.lo.s16") H2(MULHI16_U, "mul.hi.u16")
  H2(MULHI16_S, "mul.hi.s16") H2(MIN16_S, "min.s16") H2(MAX16_U, "max.u16")
#undef H2
  asm volatile("mad.lo.u16 %0, %1, %2, %3;" : "=h"(h) : "h"(xh), "h"(yh), "h"(zh)); out[MADLO16 * n + i] = h;
  asm volatile("abs.s16 %0, %1;" : "=h"(h) : "h"(xh)); out[ABS16 * n + i] = h;
  asm volatile("neg.s16 %0, %1;" : "=h"(h) : "h"(xh)); out[NEG16 * n + i] = h;
  asm volatile("div.s16 %0, %1, %2;" : "=h"(h) : "h"(xh), "h"(qh)); out[DIV16_S * n + i] = h;
  asm volatile("rem.u16 %0, %1, %2;" : "=h"(h) : "h"(xh), "h"(qh)); out[REM16_U * n + i] = h;
}

// packed / relu / dot-product forms: a kernel of their own, launched last
__global__ void k_packed(const uint32_t* a, const uint32_t* b, const uint32_t* c, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t x = a[i], y = b[i], z = c[i], r;
#define R2(op, ins) asm volatile(ins " %0, %1, %2;" : "=r"(r) : "r"(x), "r"(y)); out[(op) * n + i] = r;
  R2(MIN_S16X2, "min.s16x2") R2(MAX_U16X2, "max.u16x2") R2(MIN_RELU_S32, "min.relu.s32")
  R2(MAX_RELU_S16X2, "max.relu.s16x2")
#undef R2
#define R3(op, ins) asm volatile(ins " %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y), "r"(z)); out[(op) * n + i] = r;
  R3(DP4A_SS, "dp4a.s32.s32") R3(DP4A_UU, "dp4a.u32.u32") R3(DP4A_SU, "dp4a.s32.u32")
  R3(DP2A_LO_SS, "dp2a.lo.s32.s32") R3(DP2A_HI_US, "dp2a.hi.u32.s32")
#undef R3
}

static uint32_t ref16(int op, uint32_t x, uint32_t y, uint32_t z, uint32_t q) {
  uint16_t ux = (uint16_t)x, uy = (uint16_t)y, uz = (uint16_t)z, uq = (uint16_t)q;
  int16_t sx = (int16_t)ux, sy = (int16_t)uy, sq = (int16_t)uq;
  auto half = [](uint32_t v, int k) { return (uint16_t)(v >> (16 * k)); };
  auto byte = [](uint32_t v, int k, bool sgn) { int b = (int)((v >> (8 * k)) & 0xFF); return sgn ? (int)(int8_t)b : b; };
  switch (op) {
    case ADD16: return (uint16_t)(ux + uy);
    case SUB16: return (uint16_t)(sx - sy);
    case MULLO16: return (uint16_t)(sx * sy);
    case MULHI16_U: return (uint16_t)(((uint32_t)ux * uy) >> 16);
    case MULHI16_S: return (uint16_t)(((int32_t)sx * sy) >> 16);
    case MADLO16: return (uint16_t)(ux * uy + uz);
    case MIN16_S: return (uint16_t)(sx < sy ? sx : sy);
    case MAX16_U: return ux > uy ? ux : uy;
    case ABS16: return sx == INT16_MIN ? ux : (uint16_t)(sx < 0 ? -sx : sx);
    case NEG16: return (uint16_t)(0 - ux);
    case DIV16_S: return (uint16_t)(sx / sq);
    case REM16_U: return (uint16_t)(ux % uq);
    case MIN_S16X2: case MAX_U16X2: case MAX_RELU_S16X2: {
      uint32_t d = 0;
      for (int k = 0; k < 2; ++k) {
        uint16_t a = half(x, k), b = half(y, k), v;
        if (op == MIN_S16X2) v = (int16_t)a < (int16_t)b ? a : b;
        else if (op == MAX_U16X2) v = a > b ? a : b;
        else { int16_t m = (int16_t)a > (int16_t)b ? (int16_t)a : (int16_t)b; v = (uint16_t)(m < 0 ? 0 : m); }
        d |= (uint32_t)v << (16 * k);
      }
      return d;
    }
    case MIN_RELU_S32: { int32_t m = (int32_t)x < (int32_t)y ? (int32_t)x : (int32_t)y; return (uint32_t)(m < 0 ? 0 : m); }
    case DP4A_SS: case DP4A_UU: case DP4A_SU: {
      bool sa = op != DP4A_UU, sb = op == DP4A_SS;
      uint32_t d = z;
      for (int k = 0; k < 4; ++k) d += (uint32_t)(byte(x, k, sa) * byte(y, k, sb));
      return d;
    }
    case DP2A_LO_SS: case DP2A_HI_US: {
      bool sa = op == DP2A_LO_SS, sb = true;
      int base = op == DP2A_LO_SS ? 0 : 2;
      uint32_t d = z;
      for (int k = 0; k < 2; ++k) {
        int ha = sa ? (int)(int16_t)half(x, k) : (int)half(x, k);
        d += (uint32_t)(ha * byte(y, base + k, sb));
      }
      return d;
    }
  }
  return 0;
}

static uint32_t pick32(Rng& g) {
  static const uint32_t edge[] = {0, 1, 2, 3, 0x7FFFFFFFu, 0x80000000u, 0x80000001u, 0xFFFFFFFFu,
                                  0xFFFFFFFEu, 0x10000u, 0xFFFFu, 0x00FFFFFFu, 0x01000000u};
  uint32_t k = g.below(8);
  if (k == 0) return edge[g.below(sizeof edge / sizeof edge[0])];
  if (k == 1) return g.u32() >> g.below(32);          // small magnitudes
  if (k == 2) return (uint32_t)-(int32_t)(g.u32() >> g.below(32));  // small negatives
  return g.u32();
}
static uint64_t pick64(Rng& g) {
  static const uint64_t edge[] = {0, 1, 2, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, ~0ull,
                                  0xFFFFFFFFull, 0x100000000ull, 0x8000000000000001ull};
  uint32_t k = g.below(8);
  if (k == 0) return edge[g.below(sizeof edge / sizeof edge[0])];
  if (k == 1) return g.u64() >> g.below(64);
  if (k == 2) return (uint64_t)-(int64_t)(g.u64() >> g.below(64));
  return g.u64();
}

static uint32_t ref32(int op, uint32_t x, uint32_t y, uint32_t z, uint32_t q) {
  int32_t sx = (int32_t)x, sy = (int32_t)y, sq = (int32_t)q;
  switch (op) {
    case ADD: return x + y;
    case SUB: return x - y;
    case MULLO: return x * y;
    case MULHI_U: return (uint32_t)(((uint64_t)x * y) >> 32);
    case MULHI_S: return (uint32_t)(((int64_t)sx * sy) >> 32);
    case MADLO: return x * y + z;
    case MADHI_U: return (uint32_t)(((uint64_t)x * y) >> 32) + z;
    case MADHI_S: return (uint32_t)(((int64_t)sx * sy) >> 32) + z;
    case DIV_U: return x / q;
    case REM_U: return x % q;
    case DIV_S: return (uint32_t)(sx / sq);   // C and PTX both truncate toward zero
    case REM_S: return (uint32_t)(sx % sq);   // sign of the dividend
    case MIN_U: return x < y ? x : y;
    case MAX_U: return x > y ? x : y;
    case MIN_S: return (uint32_t)(sx < sy ? sx : sy);
    case MAX_S: return (uint32_t)(sx > sy ? sx : sy);
    case ABS_S: return sx == INT32_MIN ? x : (uint32_t)(sx < 0 ? -sx : sx);
    case NEG_S: return 0u - x;
    case ADDSAT: {
      int64_t s = (int64_t)sx + sy;
      return (uint32_t)(int32_t)(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
    }
    case SUBSAT: {
      int64_t s = (int64_t)sx - sy;
      return (uint32_t)(int32_t)(s > INT32_MAX ? INT32_MAX : s < INT32_MIN ? INT32_MIN : s);
    }
    case SAD_U: return z + (x > y ? x - y : y - x);
    case SAD_S: return z + (uint32_t)(sx > sy ? (int64_t)sx - sy : (int64_t)sy - sx);
    case MUL24LO: return (x & 0xFFFFFFu) * (y & 0xFFFFFFu);  // low 32 bits of the 48-bit product
  }
  return 0;
}

static uint64_t ref64(int op, uint64_t x, uint64_t y, uint64_t z, uint64_t q) {
  int64_t sx = (int64_t)x, sy = (int64_t)y, sq = (int64_t)q;
  uint32_t x32 = (uint32_t)x, y32 = (uint32_t)y;
  switch (op) {
    case ADD64: return x + y;
    case SUB64: return x - y;
    case MULLO64: return x * y;
    case MULHI64_U: return (uint64_t)(((unsigned __int128)x * y) >> 64);
    case MULHI64_S: return (uint64_t)(((__int128)sx * sy) >> 64);
    case MADLO64: return x * y + z;
    case DIV64_U: return x / q;
    case REM64_U: return x % q;
    case DIV64_S: return (uint64_t)(sx / sq);
    case REM64_S: return (uint64_t)(sx % sq);
    case MIN64_S: return (uint64_t)(sx < sy ? sx : sy);
    case MAX64_S: return (uint64_t)(sx > sy ? sx : sy);
    case MIN64_U: return x < y ? x : y;
    case ABS64: return sx == INT64_MIN ? x : (uint64_t)(sx < 0 ? -sx : sx);
    case NEG64: return 0 - x;
    case MULWIDE_U: return (uint64_t)x32 * y32;
    case MULWIDE_S: return (uint64_t)((int64_t)(int32_t)x32 * (int32_t)y32);
    case MADWIDE_U: return (uint64_t)x32 * y32 + z;
    case MADWIDE_S: return (uint64_t)((int64_t)(int32_t)x32 * (int32_t)y32) + z;
    case MULWIDE_U16: return (uint64_t)(uint32_t)((uint32_t)(uint16_t)x * (uint16_t)y);
  }
  return 0;
}

int main() {
  Rng g(0x1A2B3C4D);
  std::vector<uint32_t> a32, b32, c32;  // the 32-bit inputs, reused by the sad/mul24 kernel at the end
  // 32-bit
  {
    std::vector<uint32_t> a(N), b(N), c(N), d(N);
    for (int i = 0; i < N; ++i) {
      a[i] = pick32(g); b[i] = pick32(g); c[i] = pick32(g);
      do d[i] = pick32(g); while (d[i] == 0 || (d[i] == 0xFFFFFFFFu && a[i] == 0x80000000u));
    }
    // Negative operands for div/rem in every sign combination.
    const int32_t dn[][2] = {{7, 2}, {-7, 2}, {7, -2}, {-7, -2}, {-1, 3}, {INT32_MIN, 2}, {INT32_MAX, -1},
                             {5, INT32_MIN}, {INT32_MIN, INT32_MIN}, {-6, 3}};
    for (int k = 0; k < 10; ++k) { a[k] = (uint32_t)dn[k][0]; d[k] = (uint32_t)dn[k][1]; }
    DevBuf<uint32_t> da(a), db(b), dc(c), dd(d), out((size_t)NOP32 * N);
    k_int32<<<(N + 255) / 256, 256>>>(da, db, dc, dd, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    a32 = a; b32 = b; c32 = c;
    for (int op = 0; op < SAD_U; ++op) {
      Check ck(kOp32Names[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[96];
        snprintf(ctx, sizeof ctx, "a=0x%08x b=0x%08x c=0x%08x d=0x%08x:", a[i], b[i], c[i], d[i]);
        ck.u32(i, o[(size_t)op * N + i], ref32(op, a[i], b[i], c[i], d[i]), ctx);
      }
    }
  }
  // 64-bit
  {
    std::vector<uint64_t> a(N), b(N), c(N), d(N);
    for (int i = 0; i < N; ++i) {
      a[i] = pick64(g); b[i] = pick64(g); c[i] = pick64(g);
      do d[i] = pick64(g); while (d[i] == 0 || (d[i] == ~0ull && a[i] == 0x8000000000000000ull));
    }
    const int64_t dn[][2] = {{7, 2}, {-7, 2}, {7, -2}, {-7, -2}, {INT64_MIN, 3}, {INT64_MAX, -1},
                             {-5, INT64_MIN}, {-(1ll << 40), 1000}};
    for (int k = 0; k < 8; ++k) { a[k] = (uint64_t)dn[k][0]; d[k] = (uint64_t)dn[k][1]; }
    DevBuf<uint64_t> da(a), db(b), dc(c), dd(d), out((size_t)NOP64 * N);
    k_int64<<<(N + 127) / 128, 128>>>(da, db, dc, dd, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = 0; op < NOP64; ++op) {
      Check ck(kOp64Names[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[128];
        snprintf(ctx, sizeof ctx, "a=0x%016llx b=0x%016llx d=0x%016llx:", (unsigned long long)a[i],
                 (unsigned long long)b[i], (unsigned long long)d[i]);
        ck.u64(i, o[(size_t)op * N + i], ref64(op, a[i], b[i], c[i], d[i]), ctx);
      }
    }
  }
  // carry chains
  {
    const int M = 2048;
    std::vector<uint32_t> a(4 * M), b(4 * M);
    for (int i = 0; i < 4 * M; ++i) {
      uint32_t k = g.below(4);
      a[i] = k == 0 ? 0xFFFFFFFFu : k == 1 ? 0 : g.u32();  // long carry / borrow propagation
      k = g.below(4);
      b[i] = k == 0 ? 0xFFFFFFFFu : k == 1 ? (i % 4 == 0 ? 1 : 0) : g.u32();
    }
    DevBuf<uint32_t> da(a), db(b), out(16 * M);
    k_carry<<<(M + 63) / 64, 64>>>(da, db, out, M);
    LAUNCH_CHECK();
    auto o = out.download();
    Check add("add.cc/addc.cc 128-bit add (32-bit limbs) and carry out");
    Check sub("sub.cc/subc.cc 128-bit subtract (32-bit limbs) and borrow out");
    Check mul("mad.lo.cc/madc.hi.cc 64x64->128 multiply");
    Check add64("add.cc.u64/addc.u64 128-bit add");
    for (int i = 0; i < M; ++i) {
      const uint32_t* A = &a[4 * i];
      const uint32_t* B = &b[4 * i];
      const uint32_t* O = &o[16 * i];
      unsigned __int128 x = 0, y = 0;
      for (int k = 3; k >= 0; --k) { x = (x << 32) | A[k]; y = (y << 32) | B[k]; }
      unsigned __int128 s = x + y, df = x - y;
      uint32_t carry = s < x, borrow = x < y;
      bool ok_add = carry == O[14], ok_sub = (borrow ? 0xFFFFFFFFu : 0u) == O[15];
      for (int k = 0; k < 4; ++k) {
        ok_add &= O[k] == (uint32_t)(s >> (32 * k));
        ok_sub &= O[4 + k] == (uint32_t)(df >> (32 * k));
      }
      // subc.u32 d, 0, 0 with a borrow in gives 0 - 0 - 1 = 0xFFFFFFFF.
      if (ok_add) add.ok(); else add.fail(i, "limbs %08x %08x %08x %08x carry %u", O[3], O[2], O[1], O[0], O[14]);
      if (ok_sub) sub.ok(); else sub.fail(i, "limbs %08x %08x %08x %08x borrow %08x", O[7], O[6], O[5], O[4], O[15]);
      uint64_t xl = ((uint64_t)A[1] << 32) | A[0], yl = ((uint64_t)B[1] << 32) | B[0];
      unsigned __int128 p = (unsigned __int128)xl * yl;
      bool ok_mul = true;
      for (int k = 0; k < 4; ++k) ok_mul &= O[8 + k] == (uint32_t)(p >> (32 * k));
      if (ok_mul) mul.ok();
      else mul.fail(i, "x=0x%016llx y=0x%016llx got %08x %08x %08x %08x", (unsigned long long)xl,
                    (unsigned long long)yl, O[11], O[10], O[9], O[8]);
      uint64_t lo = (uint64_t)s, hi = (uint64_t)(s >> 64);
      uint32_t f12 = (uint32_t)(lo ^ (lo >> 32) ^ hi * 3), f13 = (uint32_t)(hi >> 32) ^ (uint32_t)hi;
      if (O[12] == f12 && O[13] == f13) add64.ok();
      else add64.fail(i, "fold got %08x %08x want %08x %08x", O[12], O[13], f12, f13);
    }
  }
  // 16-bit ops
  std::vector<uint32_t> d16(N);
  {
    for (int i = 0; i < N; ++i) {
      do d16[i] = pick32(g); while ((uint16_t)d16[i] == 0 || ((uint16_t)d16[i] == 0xFFFF && (uint16_t)a32[i] == 0x8000));
    }
    DevBuf<uint32_t> da(a32), db(b32), dc(c32), dd(d16), out((size_t)NOP16 * N);
    k_int16<<<(N + 255) / 256, 256>>>(da, db, dc, dd, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = 0; op < MIN_S16X2; ++op) {
      Check ck(kOp16Names[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[96];
        snprintf(ctx, sizeof ctx, "a=0x%08x b=0x%08x c=0x%08x d=0x%04x:", a32[i], b32[i], c32[i], d16[i] & 0xFFFF);
        ck.u32(i, o[(size_t)op * N + i], ref16(op, a32[i], b32[i], c32[i], d16[i]), ctx);
      }
    }
  }
  // sad / mul24, last
  {
    DevBuf<uint32_t> da(a32), db(b32), dc(c32), out((size_t)NOP32 * N);
    k_int32_rare<<<(N + 255) / 256, 256>>>(da, db, dc, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = SAD_U; op < NOP32; ++op) {
      Check ck(kOp32Names[op]);
      for (int i = 0; i < N; ++i) ck.u32(i, o[(size_t)op * N + i], ref32(op, a32[i], b32[i], c32[i], 1));
    }
  }
  // packed, relu and dot-product ops, last
  {
    DevBuf<uint32_t> da(a32), db(b32), dc(c32), out((size_t)NOP16 * N);
    k_packed<<<(N + 255) / 256, 256>>>(da, db, dc, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = MIN_S16X2; op < NOP16; ++op) {
      Check ck(kOp16Names[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[96];
        snprintf(ctx, sizeof ctx, "a=0x%08x b=0x%08x c=0x%08x:", a32[i], b32[i], c32[i]);
        ck.u32(i, o[(size_t)op * N + i], ref16(op, a32[i], b32[i], c32[i], 1), ctx);
      }
    }
  }
  return finish();
}
