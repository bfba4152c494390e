// bits.cu: logic and bit-manipulation instructions (PTX ISA 9.0 sections 9.7.1 "Integer Arithmetic"
// (bfe, bfi, brev, bfind, clz, popc), 9.7.8 "Logic and Shift Instructions" (and/or/xor/not/cnot/lop3,
// shl/shr with shift amounts past the width, shf.l/.r .wrap/.clamp) and 9.7.9.7 prmt with every mode),
// each checked against a host implementation of the ISA's pseudo-code.
#include "common.cuh"

using namespace kt;

constexpr int N = 4096;

enum Op {
  AND, OR, XOR, NOT, CNOT, LOP_96, LOP_E8, LOP_CA, LOP_80, LOP_FE, LOP_01, LOP_6A, LOP_00, LOP_FF, SHL,
  SHR_U, SHR_S, SHF_L_W, SHF_L_C, SHF_R_W, SHF_R_C, BFE_U, BFE_S, BFI, BREV, BFIND_U, BFIND_S, BFIND_SA_U,
  BFIND_SA_S, CLZ, POPC, PRMT, PRMT_F4E, PRMT_B4E, PRMT_RC8, PRMT_ECL, PRMT_ECR, PRMT_RC16, NOPS
};
const char* kNames[] = {"and.b32", "or.b32", "xor.b32", "not.b32", "cnot.b32", "lop3 0x96", "lop3 0xE8",
                        "lop3 0xCA", "lop3 0x80", "lop3 0xFE", "lop3 0x01", "lop3 0x6A", "lop3 0x00",
                        "lop3 0xFF", "shl.b32", "shr.u32", "shr.s32", "shf.l.wrap.b32",
                        "shf.l.clamp.b32", "shf.r.wrap.b32", "shf.r.clamp.b32", "bfe.u32", "bfe.s32",
                        "bfi.b32", "brev.b32", "bfind.u32", "bfind.s32", "bfind.shiftamt.u32",
                        "bfind.shiftamt.s32", "clz.b32", "popc.b32", "prmt.b32", "prmt.b32.f4e",
                        "prmt.b32.b4e", "prmt.b32.rc8", "prmt.b32.ecl", "prmt.b32.ecr", "prmt.b32.rc16"};

// a, b, c: random words; s: shift amounts / positions (0..70), l: lengths (0..40, with junk above bit 8)
__global__ void k_bits32(const uint32_t* A, const uint32_t* B, const uint32_t* C, const uint32_t* S,
                         const uint32_t* L, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t a = A[i], b = B[i], c = C[i], s = S[i], l = L[i], r;
#define PUT(op) out[(op) * n + i] = r;
  asm volatile("and.b32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b)); PUT(AND)
  asm volatile("or.b32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b)); PUT(OR)
  asm volatile("xor.b32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b)); PUT(XOR)
  asm volatile("not.b32 %0, %1;" : "=r"(r) : "r"(a)); PUT(NOT)
  asm volatile("cnot.b32 %0, %1;" : "=r"(r) : "r"(a & c)); PUT(CNOT)
#define LOP(op, lut) \
  asm volatile("lop3.b32 %0, %1, %2, %3, " #lut ";" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(op)
  LOP(LOP_96, 0x96) LOP(LOP_E8, 0xE8) LOP(LOP_CA, 0xCA) LOP(LOP_80, 0x80) LOP(LOP_FE, 0xFE)
  LOP(LOP_01, 0x01) LOP(LOP_6A, 0x6A) LOP(LOP_00, 0x00) LOP(LOP_FF, 0xFF)
#undef LOP
  asm volatile("shl.b32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(s)); PUT(SHL)
  asm volatile("shr.u32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(s)); PUT(SHR_U)
  asm volatile("shr.s32 %0, %1, %2;" : "=r"(r) : "r"(a), "r"(s)); PUT(SHR_S)
  asm volatile("shf.l.wrap.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(s)); PUT(SHF_L_W)
  asm volatile("shf.l.clamp.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(s)); PUT(SHF_L_C)
  asm volatile("shf.r.wrap.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(s)); PUT(SHF_R_W)
  asm volatile("shf.r.clamp.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(s)); PUT(SHF_R_C)
  asm volatile("bfe.u32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(s), "r"(l)); PUT(BFE_U)
  asm volatile("bfe.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(s), "r"(l)); PUT(BFE_S)
  asm volatile("bfi.b32 %0, %1, %2, %3, %4;" : "=r"(r) : "r"(a), "r"(b), "r"(s), "r"(l)); PUT(BFI)
  asm volatile("brev.b32 %0, %1;" : "=r"(r) : "r"(a)); PUT(BREV)
  uint32_t m = a >> (s & 31);  // many magnitudes, zero included
  asm volatile("bfind.u32 %0, %1;" : "=r"(r) : "r"(m)); PUT(BFIND_U)
  asm volatile("bfind.s32 %0, %1;" : "=r"(r) : "r"(m ^ c)); PUT(BFIND_S)
  asm volatile("bfind.shiftamt.u32 %0, %1;" : "=r"(r) : "r"(m)); PUT(BFIND_SA_U)
  asm volatile("bfind.shiftamt.s32 %0, %1;" : "=r"(r) : "r"(m ^ c)); PUT(BFIND_SA_S)
  asm volatile("clz.b32 %0, %1;" : "=r"(r) : "r"(m)); PUT(CLZ)
  asm volatile("popc.b32 %0, %1;" : "=r"(r) : "r"(a)); PUT(POPC)
  asm volatile("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT)
  asm volatile("prmt.b32.f4e %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_F4E)
  asm volatile("prmt.b32.b4e %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_B4E)
  asm volatile("prmt.b32.rc8 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_RC8)
  asm volatile("prmt.b32.ecl %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_ECL)
  asm volatile("prmt.b32.ecr %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_ECR)
  asm volatile("prmt.b32.rc16 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); PUT(PRMT_RC16)
#undef PUT
}

enum Op64 { SHL64, SHR64_U, SHR64_S, BFE64_U, BFE64_S, BFI64, BREV64, BFIND64_U, BFIND64_S, CLZ64, POPC64,
            AND64, XOR64, NOT64, NOPS64 };
const char* kNames64[] = {"shl.b64", "shr.u64", "shr.s64", "bfe.u64", "bfe.s64", "bfi.b64", "brev.b64",
                          "bfind.u64", "bfind.s64", "clz.b64", "popc.b64", "and.b64", "xor.b64", "not.b64"};

__global__ void k_bits64(const uint64_t* A, const uint64_t* B, const uint32_t* S, const uint32_t* L,
                         uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint64_t a = A[i], b = B[i], r;
  uint32_t s = S[i], l = L[i], w;
#define PUT(op) out[(op) * n + i] = r;
#define PUTW(op) out[(op) * n + i] = w;
  asm volatile("shl.b64 %0, %1, %2;" : "=l"(r) : "l"(a), "r"(s)); PUT(SHL64)
  asm volatile("shr.u64 %0, %1, %2;" : "=l"(r) : "l"(a), "r"(s)); PUT(SHR64_U)
  asm volatile("shr.s64 %0, %1, %2;" : "=l"(r) : "l"(a), "r"(s)); PUT(SHR64_S)
  asm volatile("bfe.u64 %0, %1, %2, %3;" : "=l"(r) : "l"(a), "r"(s), "r"(l)); PUT(BFE64_U)
  asm volatile("bfe.s64 %0, %1, %2, %3;" : "=l"(r) : "l"(a), "r"(s), "r"(l)); PUT(BFE64_S)
  asm volatile("bfi.b64 %0, %1, %2, %3, %4;" : "=l"(r) : "l"(a), "l"(b), "r"(s), "r"(l)); PUT(BFI64)
  asm volatile("brev.b64 %0, %1;" : "=l"(r) : "l"(a)); PUT(BREV64)
  uint64_t m = a >> (s & 63);
  asm volatile("bfind.u64 %0, %1;" : "=r"(w) : "l"(m)); PUTW(BFIND64_U)
  asm volatile("bfind.s64 %0, %1;" : "=r"(w) : "l"(m ^ b)); PUTW(BFIND64_S)
  asm volatile("clz.b64 %0, %1;" : "=r"(w) : "l"(m)); PUTW(CLZ64)
  asm volatile("popc.b64 %0, %1;" : "=r"(w) : "l"(a)); PUTW(POPC64)
  asm volatile("and.b64 %0, %1, %2;" : "=l"(r) : "l"(a), "l"(b)); PUT(AND64)
  asm volatile("xor.b64 %0, %1, %2;" : "=l"(r) : "l"(a), "l"(b)); PUT(XOR64)
  asm volatile("not.b64 %0, %1;" : "=l"(r) : "l"(a)); PUT(NOT64)
#undef PUT
#undef PUTW
}

// ---- host references, from the ISA pseudo-code ----
static uint64_t bfe_ref(uint64_t a, uint32_t b, uint32_t c, int msb, bool is_signed) {
  uint32_t pos = b & 0xFF, len = c & 0xFF;
  int sbit = 0;
  if (is_signed && len != 0) {
    uint32_t top = pos + len - 1 < (uint32_t)msb ? pos + len - 1 : (uint32_t)msb;
    sbit = (a >> top) & 1;
  }
  uint64_t d = 0;
  for (int i = 0; i <= msb; ++i) {
    int bit = ((uint32_t)i < len && pos + i <= (uint32_t)msb) ? (int)((a >> (pos + i)) & 1) : sbit;
    d |= (uint64_t)bit << i;
  }
  return d;
}
static uint64_t bfi_ref(uint64_t a, uint64_t b, uint32_t c, uint32_t d, int msb) {
  uint32_t pos = c & 0xFF, len = d & 0xFF;
  uint64_t f = b;
  for (uint32_t i = 0; i < len && pos + i <= (uint32_t)msb; ++i) {
    uint64_t bit = (a >> i) & 1;
    f = (f & ~(1ull << (pos + i))) | (bit << (pos + i));
  }
  return f;
}
static uint32_t bfind_ref(uint64_t a, int msb, bool is_signed, bool shiftamt) {
  if (is_signed && ((a >> msb) & 1)) a = ~a;
  if (msb == 31) a &= 0xFFFFFFFFull;
  uint32_t d = 0xFFFFFFFFu;
  for (int i = msb; i >= 0; --i)
    if ((a >> i) & 1) { d = (uint32_t)i; break; }
  if (shiftamt && d != 0xFFFFFFFFu) d = (uint32_t)msb - d;
  return d;
}
static uint32_t prmt_ref(uint32_t a, uint32_t b, uint32_t c, int mode) {
  uint64_t tmp = ((uint64_t)b << 32) | a;
  auto byte = [&](int k) { return (uint32_t)((tmp >> (8 * k)) & 0xFF); };
  if (mode < 0) {  // default: four 4-bit selectors, bit 3 = replicate the sign of the selected byte
    uint32_t d = 0;
    for (int k = 0; k < 4; ++k) {
      uint32_t sel = (c >> (4 * k)) & 0xF;
      uint32_t v = byte(sel & 7);
      if (sel & 8) v = (v & 0x80) ? 0xFF : 0x00;
      d |= v << (8 * k);
    }
    return d;
  }
  // ISA table: for each mode and c[1:0], the source byte of d.b3 d.b2 d.b1 d.b0
  static const int tab[6][4][4] = {
      {{3, 2, 1, 0}, {4, 3, 2, 1}, {5, 4, 3, 2}, {6, 5, 4, 3}},  // f4e
      {{5, 6, 7, 0}, {6, 7, 0, 1}, {7, 0, 1, 2}, {0, 1, 2, 3}},  // b4e
      {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {3, 3, 3, 3}},  // rc8
      {{3, 2, 1, 0}, {3, 2, 1, 1}, {3, 2, 2, 2}, {3, 3, 3, 3}},  // ecl
      {{0, 0, 0, 0}, {1, 1, 1, 0}, {2, 2, 1, 0}, {3, 2, 1, 0}},  // ecr
      {{1, 0, 1, 0}, {3, 2, 3, 2}, {1, 0, 1, 0}, {3, 2, 3, 2}},  // rc16
  };
  const int* t = tab[mode][c & 3];
  return (byte(t[0]) << 24) | (byte(t[1]) << 16) | (byte(t[2]) << 8) | byte(t[3]);
}
static uint32_t lop3_ref(uint32_t a, uint32_t b, uint32_t c, uint32_t lut) {
  uint32_t d = 0;
  for (int i = 0; i < 32; ++i) {
    uint32_t idx = (((a >> i) & 1) << 2) | (((b >> i) & 1) << 1) | ((c >> i) & 1);
    d |= ((lut >> idx) & 1) << i;
  }
  return d;
}

static uint32_t ref32(int op, uint32_t a, uint32_t b, uint32_t c, uint32_t s, uint32_t l) {
  uint32_t m = a >> (s & 31);
  switch (op) {
    case AND: return a & b;
    case OR: return a | b;
    case XOR: return a ^ b;
    case NOT: return ~a;
    case CNOT: return (a & c) == 0 ? 1u : 0u;
    case LOP_96: return lop3_ref(a, b, c, 0x96);
    case LOP_E8: return lop3_ref(a, b, c, 0xE8);
    case LOP_CA: return lop3_ref(a, b, c, 0xCA);
    case LOP_80: return lop3_ref(a, b, c, 0x80);
    case LOP_FE: return lop3_ref(a, b, c, 0xFE);
    case LOP_01: return lop3_ref(a, b, c, 0x01);
    case LOP_6A: return lop3_ref(a, b, c, 0x6A);
    case LOP_00: return 0;
    case LOP_FF: return 0xFFFFFFFFu;
    case SHL: return s >= 32 ? 0 : a << s;
    case SHR_U: return s >= 32 ? 0 : a >> s;
    case SHR_S: return (uint32_t)((int32_t)a >> (s >= 32 ? 31 : s));
    case SHF_L_W: case SHF_L_C: {
      uint32_t k = op == SHF_L_C ? (s < 32 ? s : 32) : (s & 31);
      uint64_t v = ((uint64_t)b << 32) | a;
      return (uint32_t)((v << k) >> 32);
    }
    case SHF_R_W: case SHF_R_C: {
      uint32_t k = op == SHF_R_C ? (s < 32 ? s : 32) : (s & 31);
      uint64_t v = ((uint64_t)b << 32) | a;
      return (uint32_t)(v >> k);
    }
    case BFE_U: return (uint32_t)bfe_ref(a, s, l, 31, false);
    case BFE_S: return (uint32_t)bfe_ref(a, s, l, 31, true);
    case BFI: return (uint32_t)bfi_ref(a, b, s, l, 31);
    case BREV: { uint32_t d = 0; for (int i = 0; i < 32; ++i) d |= ((a >> i) & 1) << (31 - i); return d; }
    case BFIND_U: return bfind_ref(m, 31, false, false);
    case BFIND_S: return bfind_ref(m ^ c, 31, true, false);
    case BFIND_SA_U: return bfind_ref(m, 31, false, true);
    case BFIND_SA_S: return bfind_ref(m ^ c, 31, true, true);
    case CLZ: { uint32_t k = 0; while (k < 32 && !((m >> (31 - k)) & 1)) ++k; return k; }
    case POPC: { uint32_t k = 0; for (int i = 0; i < 32; ++i) k += (a >> i) & 1; return k; }
    case PRMT: return prmt_ref(a, b, c, -1);
    default: return prmt_ref(a, b, c, op - PRMT_F4E);
  }
}

static uint64_t ref64(int op, uint64_t a, uint64_t b, uint32_t s, uint32_t l) {
  uint64_t m = a >> (s & 63);
  switch (op) {
    case SHL64: return s >= 64 ? 0 : a << s;
    case SHR64_U: return s >= 64 ? 0 : a >> s;
    case SHR64_S: return (uint64_t)((int64_t)a >> (s >= 64 ? 63 : s));
    case BFE64_U: return bfe_ref(a, s, l, 63, false);
    case BFE64_S: return bfe_ref(a, s, l, 63, true);
    case BFI64: return bfi_ref(a, b, s, l, 63);
    case BREV64: { uint64_t d = 0; for (int i = 0; i < 64; ++i) d |= ((a >> i) & 1) << (63 - i); return d; }
    case BFIND64_U: return bfind_ref(m, 63, false, false);
    case BFIND64_S: return bfind_ref(m ^ b, 63, true, false);
    case CLZ64: { uint32_t k = 0; while (k < 64 && !((m >> (63 - k)) & 1)) ++k; return k; }
    case POPC64: { uint32_t k = 0; for (int i = 0; i < 64; ++i) k += (a >> i) & 1; return k; }
    case AND64: return a & b;
    case XOR64: return a ^ b;
    case NOT64: return ~a;
  }
  return 0;
}

// Immediate operands, as nvcc emits them: prmt selectors, shift amounts, bfe/bfi positions; 16-bit
// shifts. out[i * kImm + k]
constexpr int kImm = 16;
__global__ void k_imm(const uint32_t* A, const uint32_t* B, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t a = A[i], b = B[i], r;
  uint32_t* o = out + (size_t)i * kImm;
  asm volatile("prmt.b32 %0, %1, %2, 0x5410;" : "=r"(r) : "r"(a), "r"(b)); o[0] = r;
  asm volatile("prmt.b32 %0, %1, %2, 0x7632;" : "=r"(r) : "r"(a), "r"(b)); o[1] = r;
  asm volatile("prmt.b32 %0, %1, %2, 0x0123;" : "=r"(r) : "r"(a), "r"(b)); o[2] = r;
  asm volatile("prmt.b32 %0, %1, %2, 0x8880;" : "=r"(r) : "r"(a), "r"(b)); o[3] = r;
  asm volatile("prmt.b32 %0, %1, 0, 0x3340;" : "=r"(r) : "r"(a)); o[4] = r;
  asm volatile("shf.r.wrap.b32 %0, %1, %2, 8;" : "=r"(r) : "r"(a), "r"(b)); o[5] = r;
  asm volatile("shf.l.clamp.b32 %0, %1, %2, 40;" : "=r"(r) : "r"(a), "r"(b)); o[6] = r;
  asm volatile("shl.b32 %0, %1, 7;" : "=r"(r) : "r"(a)); o[7] = r;
  asm volatile("shr.s32 %0, %1, 31;" : "=r"(r) : "r"(a)); o[8] = r;
  asm volatile("bfe.u32 %0, %1, 8, 4;" : "=r"(r) : "r"(a)); o[9] = r;
  asm volatile("bfe.s32 %0, %1, 12, 7;" : "=r"(r) : "r"(a)); o[10] = r;
  asm volatile("bfi.b32 %0, %1, %2, 5, 9;" : "=r"(r) : "r"(a), "r"(b)); o[11] = r;
  unsigned short h = (unsigned short)a, s16 = (unsigned short)(b & 31), hr;
  asm volatile("shl.b16 %0, %1, %2;" : "=h"(hr) : "h"(h), "r"((uint32_t)s16)); o[12] = hr;
  asm volatile("shr.u16 %0, %1, %2;" : "=h"(hr) : "h"(h), "r"((uint32_t)s16)); o[13] = hr;
  asm volatile("shr.s16 %0, %1, %2;" : "=h"(hr) : "h"(h), "r"((uint32_t)s16)); o[14] = hr;
  asm volatile("and.b16 %0, %1, 0x0FF0;" : "=h"(hr) : "h"(h)); o[15] = hr;
}

// mov with vector operands: pack / unpack of 64-bit and 32-bit registers (what nvcc emits for half2 and
// 64-bit halves). out[i * 6 + 0..5]
__global__ void k_pack(const uint32_t* A, const uint32_t* B, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t a = A[i], b = B[i], lo, hi;
  uint64_t w;
  asm volatile("mov.b64 %0, {%1, %2};" : "=l"(w) : "r"(a), "r"(b));  // a: low half
  out[i * 6 + 0] = (uint32_t)w;
  out[i * 6 + 1] = (uint32_t)(w >> 32);
  asm volatile("mov.b64 {%0, %1}, %2;" : "=r"(lo), "=r"(hi) : "l"(w ^ 0xFFFF0000FFFF0000ull));
  out[i * 6 + 2] = lo;
  out[i * 6 + 3] = hi;
  unsigned short h0, h1;
  asm volatile("mov.b32 {%0, %1}, %2;" : "=h"(h0), "=h"(h1) : "r"(a));
  uint32_t p;
  asm volatile("mov.b32 %0, {%1, %2};" : "=r"(p) : "h"(h1), "h"(h0));  // halves swapped
  out[i * 6 + 4] = p;
  out[i * 6 + 5] = h0;
}

int main() {
  Rng g(0xB175);
  std::vector<uint32_t> a(N), b(N), c(N), s(N), l(N);
  for (int i = 0; i < N; ++i) {
    a[i] = g.u32(); b[i] = g.u32(); c[i] = g.u32();
    if (i % 16 == 0) a[i] = 0;
    if (i % 16 == 1) a[i] = 0xFFFFFFFFu;
    if (i % 16 == 2) a[i] = 0x80000000u;
    s[i] = g.below(4) == 0 ? g.below(72) : g.below(33);                 // shifts and positions
    if (i % 8 == 3) s[i] |= 0x100 * (1 + g.below(255));                 // junk above bits 7..0 (bfe, bfi)
    l[i] = g.below(42) | (g.below(3) == 0 ? 0x100u * g.below(1000) : 0);  // lengths, junk above bit 8
  }
  // shift amounts beyond the byte for shl/shr/shf: high bits must count (no masking to 8 bits)
  for (int i = 0; i < 16; ++i) s[100 + i] = 0x100u + (uint32_t)i;
  {
    DevBuf<uint32_t> da(a), db(b), dc(c), ds(s), dl(l), out((size_t)NOPS * N);
    k_bits32<<<N / 128, 128>>>(da, db, dc, ds, dl, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = 0; op < NOPS; ++op) {
      Check ck(kNames[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[128];
        snprintf(ctx, sizeof ctx, "a=0x%08x b=0x%08x c=0x%08x s=0x%x l=0x%x:", a[i], b[i], c[i], s[i], l[i]);
        ck.u32(i, o[(size_t)op * N + i], ref32(op, a[i], b[i], c[i], s[i], l[i]), ctx);
      }
    }
  }
  {
    std::vector<uint64_t> a64(N), b64(N);
    for (int i = 0; i < N; ++i) {
      a64[i] = g.u64(); b64[i] = g.u64();
      if (i % 16 == 0) a64[i] = 0;
      if (i % 16 == 1) a64[i] = ~0ull;
      s[i] = g.below(4) == 0 ? g.below(140) : g.below(65);
      l[i] = g.below(70);
    }
    DevBuf<uint64_t> da(a64), db(b64), out((size_t)NOPS64 * N);
    DevBuf<uint32_t> ds(s), dl(l);
    k_bits64<<<N / 128, 128>>>(da, db, ds, dl, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int op = 0; op < NOPS64; ++op) {
      Check ck(kNames64[op]);
      for (int i = 0; i < N; ++i) {
        char ctx[128];
        snprintf(ctx, sizeof ctx, "a=0x%016llx b=0x%016llx s=%u l=%u:", (unsigned long long)a64[i],
                 (unsigned long long)b64[i], s[i], l[i]);
        ck.u64(i, o[(size_t)op * N + i], ref64(op, a64[i], b64[i], s[i], l[i]), ctx);
      }
    }
  }
  {
    std::vector<uint32_t> a(N), b(N);
    for (int i = 0; i < N; ++i) { a[i] = g.u32(); b[i] = g.u32(); }
    DevBuf<uint32_t> da(a), db(b), out((size_t)N * kImm);
    k_imm<<<N / 128, 128>>>(da, db, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* names[kImm] = {"prmt 0x5410", "prmt 0x7632", "prmt 0x0123", "prmt 0x8880", "prmt a, 0, 0x3340",
                               "shf.r.wrap imm 8", "shf.l.clamp imm 40", "shl imm 7", "shr.s32 imm 31",
                               "bfe.u32 a, 8, 4", "bfe.s32 a, 12, 7", "bfi.b32 a, b, 5, 9", "shl.b16",
                               "shr.u16", "shr.s16", "and.b16 imm"};
    for (int k = 0; k < kImm; ++k) {
      Check ck(std::string("immediate operands: ") + names[k]);
      for (int i = 0; i < N; ++i) {
        uint32_t x = a[i], y = b[i], want = 0, sh = y & 31;
        uint16_t h = (uint16_t)x;
        switch (k) {
          case 0: want = prmt_ref(x, y, 0x5410, -1); break;
          case 1: want = prmt_ref(x, y, 0x7632, -1); break;
          case 2: want = prmt_ref(x, y, 0x0123, -1); break;
          case 3: want = prmt_ref(x, y, 0x8880, -1); break;
          case 4: want = prmt_ref(x, 0, 0x3340, -1); break;
          case 5: want = ref32(SHF_R_W, x, y, 0, 8, 0); break;
          case 6: want = ref32(SHF_L_C, x, y, 0, 40, 0); break;
          case 7: want = x << 7; break;
          case 8: want = (uint32_t)((int32_t)x >> 31); break;
          case 9: want = (uint32_t)bfe_ref(x, 8, 4, 31, false); break;
          case 10: want = (uint32_t)bfe_ref(x, 12, 7, 31, true); break;
          case 11: want = (uint32_t)bfi_ref(x, y, 5, 9, 31); break;
          case 12: want = sh >= 16 ? 0 : (uint16_t)(h << sh); break;
          case 13: want = sh >= 16 ? 0 : (uint16_t)(h >> sh); break;
          case 14: want = (uint16_t)((int16_t)h >> (sh >= 16 ? 15 : sh)); break;
          case 15: want = h & 0x0FF0; break;
        }
        char ctx[64];
        snprintf(ctx, sizeof ctx, "a=0x%08x b=0x%08x:", x, y);
        ck.u32(i, o[(size_t)i * kImm + k], want, ctx);
      }
    }
  }
  {
    std::vector<uint32_t> a(N), b(N);
    for (int i = 0; i < N; ++i) { a[i] = g.u32(); b[i] = g.u32(); }
    DevBuf<uint32_t> da(a), db(b), out((size_t)N * 6);
    k_pack<<<N / 128, 128>>>(da, db, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("mov.b64 / mov.b32 vector pack and unpack");
    for (int i = 0; i < N; ++i) {
      uint32_t want[6] = {a[i], b[i], a[i] ^ 0xFFFF0000u, b[i] ^ 0xFFFF0000u, (a[i] >> 16) | (a[i] << 16), a[i] & 0xFFFFu};
      for (int k = 0; k < 6; ++k) ck.u32(i * 6 + k, o[(size_t)i * 6 + k], want[k]);
    }
  }
  return finish();
}
