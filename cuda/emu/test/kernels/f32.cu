// f32.cu: single-precision arithmetic (PTX ISA 9.0 section 9.7.3 "Floating-Point Instructions": add, sub,
// mul, fma/mad, div.{rn,rz,rm,rp}, rcp.{rn,..}, sqrt.{rn,..} in every IEEE rounding mode, .ftz (subnormal
// inputs and results flushed to sign-preserving zero) and .sat (clamp to [0, 1], NaN -> +0), min/max with
// the NaN rules and -0 < +0, the .NaN variants, abs/neg, cvt.sat.f32.f32), against the host FPU in the same mode
// (fesetround). NaN results must be the canonical NaN 0x7FFFFFFF bit for bit.
#include "common.cuh"

using namespace kt;

constexpr int N = 8192;

enum Kind { ADD, SUB, MUL, DIV, FMA, RCP, SQRT, MIN, MAX, MIN_NAN, MAX_NAN, ABS, NEG, MOV };
struct OpInfo { const char* name; Kind kind; int rnd; bool ftz, sat; };

// name, kind, rounding, ftz, sat: one asm statement each (the names are the exact PTX opcodes).
#define OPS2(X)                                                                                     \
  X("add.rn.f32", ADD, RN, 0, 0) X("add.rz.f32", ADD, RZ, 0, 0) X("add.rm.f32", ADD, RM, 0, 0)       \
  X("add.rp.f32", ADD, RP, 0, 0) X("add.f32", ADD, RN, 0, 0) X("sub.rn.f32", SUB, RN, 0, 0)          \
  X("sub.rz.f32", SUB, RZ, 0, 0) X("sub.rm.f32", SUB, RM, 0, 0) X("sub.rp.f32", SUB, RP, 0, 0)       \
  X("mul.rn.f32", MUL, RN, 0, 0) X("mul.rz.f32", MUL, RZ, 0, 0) X("mul.rm.f32", MUL, RM, 0, 0)       \
  X("mul.rp.f32", MUL, RP, 0, 0) X("mul.f32", MUL, RN, 0, 0) X("div.rn.f32", DIV, RN, 0, 0)          \
  X("div.rz.f32", DIV, RZ, 0, 0) X("div.rm.f32", DIV, RM, 0, 0) X("div.rp.f32", DIV, RP, 0, 0)       \
  X("add.rn.ftz.f32", ADD, RN, 1, 0) X("sub.rm.ftz.f32", SUB, RM, 1, 0)                              \
  X("mul.rn.ftz.f32", MUL, RN, 1, 0) X("mul.rz.ftz.f32", MUL, RZ, 1, 0)                              \
  X("mul.rp.ftz.f32", MUL, RP, 1, 0) X("div.rn.ftz.f32", DIV, RN, 1, 0)                              \
  X("div.rm.ftz.f32", DIV, RM, 1, 0) X("add.rn.sat.f32", ADD, RN, 0, 1)                              \
  X("sub.rz.sat.f32", SUB, RZ, 0, 1) X("mul.rn.sat.f32", MUL, RN, 0, 1)                              \
  X("add.rn.ftz.sat.f32", ADD, RN, 1, 1) X("min.f32", MIN, RN, 0, 0) X("max.f32", MAX, RN, 0, 0)     \
  X("min.ftz.f32", MIN, RN, 1, 0) X("max.ftz.f32", MAX, RN, 1, 0)                                   \
  X("min.NaN.f32", MIN_NAN, RN, 0, 0) X("max.NaN.f32", MAX_NAN, RN, 0, 0)
#define OPS3(X)                                                                                     \
  X("fma.rn.f32", FMA, RN, 0, 0) X("fma.rz.f32", FMA, RZ, 0, 0) X("fma.rm.f32", FMA, RM, 0, 0)       \
  X("fma.rp.f32", FMA, RP, 0, 0) X("mad.rn.f32", FMA, RN, 0, 0) X("fma.rn.ftz.f32", FMA, RN, 1, 0)   \
  X("fma.rz.ftz.f32", FMA, RZ, 1, 0) X("fma.rn.sat.f32", FMA, RN, 0, 1)                              \
  X("fma.rn.ftz.sat.f32", FMA, RN, 1, 1)
#define OPS1(X)                                                                                     \
  X("rcp.rn.f32", RCP, RN, 0, 0) X("rcp.rz.f32", RCP, RZ, 0, 0) X("rcp.rm.f32", RCP, RM, 0, 0)       \
  X("rcp.rp.f32", RCP, RP, 0, 0) X("rcp.rn.ftz.f32", RCP, RN, 1, 0) X("sqrt.rn.f32", SQRT, RN, 0, 0) \
  X("sqrt.rz.f32", SQRT, RZ, 0, 0) X("sqrt.rm.f32", SQRT, RM, 0, 0) X("sqrt.rp.f32", SQRT, RP, 0, 0) \
  X("sqrt.rn.ftz.f32", SQRT, RN, 1, 0) X("abs.f32", ABS, RN, 0, 0) X("neg.f32", NEG, RN, 0, 0)       \
  X("abs.ftz.f32", ABS, RN, 1, 0) X("neg.ftz.f32", NEG, RN, 1, 0) X("cvt.sat.f32.f32", MOV, RN, 0, 1)      \
  X("cvt.ftz.sat.f32.f32", MOV, RN, 1, 1)

const OpInfo kOps[] = {
#define E(name, kind, rnd, ftz, sat) {name, kind, rnd, ftz, sat},
    OPS2(E) OPS3(E) OPS1(E)
#undef E
};
constexpr int NOPS = sizeof kOps / sizeof kOps[0];

// out[op * n + i]; out[NOPS * n + i] = i marks that thread i reached the end.
__global__ void k_f32(const float* A, const float* B, const float* C, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float a = A[i], b = B[i], c = C[i], r;
  int k = 0;
#define E2(name, kind, rnd, ftz, sat)                                              \
  asm volatile(name " %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));                     \
  out[(k++) * n + i] = __float_as_uint(r);
#define E3(name, kind, rnd, ftz, sat)                                              \
  asm volatile(name " %0, %1, %2, %3;" : "=f"(r) : "f"(a), "f"(b), "f"(c));         \
  out[(k++) * n + i] = __float_as_uint(r);
#define E1(name, kind, rnd, ftz, sat)                                              \
  asm volatile(name " %0, %1;" : "=f"(r) : "f"(a));                                 \
  out[(k++) * n + i] = __float_as_uint(r);
  OPS2(E2) OPS3(E3) OPS1(E1)
#undef E1
#undef E2
#undef E3
  out[(size_t)k * n + i] = (uint32_t)i;
}

// The PTX result per the ISA; `any_nan` is set where the ISA only promises "a NaN" (abs/neg of NaN).
static float ref(const OpInfo& op, float a, float b, float c, bool* any_nan, bool* any_zero_sign) {
  *any_nan = false;
  *any_zero_sign = false;
  if (op.ftz) { a = ftz(a); b = ftz(b); c = ftz(c); }
  float r = 0;
  switch (op.kind) {
    case ADD: r = h_add(a, b, op.rnd); break;
    case SUB: r = h_sub(a, b, op.rnd); break;
    case MUL: r = h_mul(a, b, op.rnd); break;
    case DIV: r = h_div(a, b, op.rnd); break;
    case FMA: r = h_fma(a, b, c, op.rnd); break;
    case RCP: r = h_div(1.0f, a, op.rnd); break;
    case SQRT: r = h_sqrt(a, op.rnd); break;
    case MIN: case MAX: {
      if (std::isnan(a) && std::isnan(b)) return bitsf(kNaN32);
      if (std::isnan(a)) return b;
      if (std::isnan(b)) return a;
      bool a_less = a < b || (a == 0 && b == 0 && std::signbit(a) && !std::signbit(b));
      return op.kind == MIN ? (a_less ? a : b) : (a_less ? b : a);
    }
    case MIN_NAN: case MAX_NAN: {
      if (std::isnan(a) || std::isnan(b)) return bitsf(kNaN32);
      bool a_less = a < b || (a == 0 && b == 0 && std::signbit(a) && !std::signbit(b));
      return op.kind == MIN_NAN ? (a_less ? a : b) : (a_less ? b : a);
    }
    case MOV: r = a; break;  // cvt.sat.f32.f32: the value itself, then .ftz / .sat below
    case ABS: if (std::isnan(a)) { *any_nan = true; return a; } return std::fabs(a);
    case NEG: if (std::isnan(a)) { *any_nan = true; return a; } return -a;
  }
  r = canon(r);
  if (op.ftz) r = ftz(r);
  if (op.sat) {
    // .sat clamps to [0, 1] and turns NaN into +0; whether -0 comes out as -0 or +0 the ISA leaves open.
    if (r == 0.0f) *any_zero_sign = true;
    r = sat01(r);
  }
  return r;
}

int main() {
  Rng g(0xF32);
  std::vector<float> sp = f32_specials();
  std::vector<float> a(N), b(N), c(N);
  auto subnormal = [&]() { return bitsf((g.u32() & 0x80000000u) | (g.u32() & 0x7FFFFFu)); };
  for (int i = 0; i < N; ++i) {
    switch (g.below(8)) {
      case 0:  // similar magnitudes: cancellation, exact ties
        a[i] = g.f32_exp(-2, 2); b[i] = g.f32_exp(-2, 2); c[i] = g.f32_exp(-2, 2); break;
      case 1:  // b close to -a, c close to -a*b
        a[i] = g.f32_exp(-10, 10); b[i] = bitsf(fbits(-a[i]) ^ g.below(4));
        c[i] = -a[i] * b[i] * (1.0f + (float)g.uniform(-1e-6, 1e-6)); break;
      case 2:  // wide exponents: overflow and underflow
        a[i] = g.f32_exp(-126, 127); b[i] = g.f32_exp(-126, 127); c[i] = g.f32_exp(-126, 127); break;
      case 3:  // subnormal operands, tiny results
        a[i] = g.below(2) ? subnormal() : g.f32_exp(-126, -100);
        b[i] = g.below(2) ? subnormal() : g.f32_exp(-30, 20);
        c[i] = g.below(2) ? subnormal() : g.f32_exp(-149 + 23, -120); break;
      case 4:  // around [0, 1] for .sat
        a[i] = (float)g.uniform(-1.5, 1.5); b[i] = (float)g.uniform(-1.5, 1.5); c[i] = (float)g.uniform(-1, 1); break;
      case 5:  // specials
        a[i] = sp[g.below((uint32_t)sp.size())]; b[i] = sp[g.below((uint32_t)sp.size())];
        c[i] = sp[g.below((uint32_t)sp.size())]; break;
      default:
        a[i] = g.f32_exp(-20, 20); b[i] = g.f32_exp(-20, 20); c[i] = g.f32_exp(-40, 40); break;
    }
  }
  // Every pair of specials (c = 1) at the end.
  size_t S = sp.size();
  for (size_t k = 0; k < S * S && k < (size_t)N / 4; ++k) {
    a[N - 1 - k] = sp[k / S]; b[N - 1 - k] = sp[k % S]; c[N - 1 - k] = 1.0f;
  }
  // Exact operations for the rounding modes to disagree on: 1 + 2^-24 (a tie) and friends.
  a[0] = 1.0f; b[0] = 0x1.0p-24f; a[1] = 1.0f; b[1] = 0x1.8p-24f; a[2] = -1.0f; b[2] = -0x1.0p-24f;
  a[3] = 0x1.0p-126f; b[3] = -0x1.0p-127f; a[4] = 0x1.fffffep127f; b[4] = 0x1.fffffep127f;
  a[5] = 3.0f; b[5] = 3.0f; c[5] = -9.0f;      // exact zero result: +0 except in rm (-0)
  a[6] = 0.0f; b[6] = -0.0f; a[7] = -0.0f; b[7] = -0.0f;

  DevBuf<float> da(a), db(b), dc(c);
  DevBuf<uint32_t> out((size_t)(NOPS + 1) * N);
  auto o = run_twice(out, [&] { k_f32<<<N / 256, 256>>>(da, db, dc, out, N); }, "k_f32");
  {
    Check done("every thread reached the end");
    for (int i = 0; i < N; ++i) done.u32(i, o[(size_t)NOPS * N + i], (uint32_t)i);
  }
  for (int k = 0; k < NOPS; ++k) {
    Check ck(kOps[k].name);
    for (int i = 0; i < N; ++i) {
      bool any_nan, any_zero_sign;
      float want = ref(kOps[k], a[i], b[i], c[i], &any_nan, &any_zero_sign);
      float got = bitsf(o[(size_t)k * N + i]);
      char ctx[128];
      snprintf(ctx, sizeof ctx, "a=%a b=%a c=%a:", a[i], b[i], c[i]);
      if (any_nan) {
        if (std::isnan(got)) ck.ok(); else ck.fail(i, "%s got %a, want a NaN", ctx, got);
      } else if (any_zero_sign && got == 0.0f) {
        ck.ok();
      } else {
        ck.f32(i, got, want, ctx);
      }
    }
  }
  return finish();
}
