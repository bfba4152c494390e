// f64.cu: double-precision arithmetic (PTX ISA 9.0 section 9.7.4 "Floating-Point Instructions" for .f64:
// add/sub/mul/fma/div/rcp/sqrt in every IEEE rounding mode with subnormals kept, min/max, abs/neg,
// rcp.approx.ftz.f64 within its bound) and the f64<->f32 conversions (9.7.9.21 cvt: .rn/.rz/.rm/.rp
// narrowing, exact widening), against the host FPU in the same rounding mode (fesetround).
#include "common.cuh"

using namespace kt;

constexpr int N = 8192;

enum Kind { ADD, SUB, MUL, DIV, FMA, RCP, SQRT, MIN, MAX, ABS, NEG, NARROW, NARROW_FTZ, WIDEN, RCP_APPROX };
struct OpInfo { const char* name; Kind kind; int rnd; };

#define OPS2(X)                                                                                       \
  X("add.rn.f64", ADD, RN) X("add.rz.f64", ADD, RZ) X("add.rm.f64", ADD, RM) X("add.rp.f64", ADD, RP) \
  X("sub.rn.f64", SUB, RN) X("sub.rz.f64", SUB, RZ) X("sub.rm.f64", SUB, RM) X("sub.rp.f64", SUB, RP) \
  X("mul.rn.f64", MUL, RN) X("mul.rz.f64", MUL, RZ) X("mul.rm.f64", MUL, RM) X("mul.rp.f64", MUL, RP) \
  X("div.rn.f64", DIV, RN) X("div.rz.f64", DIV, RZ) X("div.rm.f64", DIV, RM) X("div.rp.f64", DIV, RP) \
  X("min.f64", MIN, RN) X("max.f64", MAX, RN)
#define OPS3(X)                                                                                       \
  X("fma.rn.f64", FMA, RN) X("fma.rz.f64", FMA, RZ) X("fma.rm.f64", FMA, RM) X("fma.rp.f64", FMA, RP) \
  X("mad.rn.f64", FMA, RN)
#define OPS1(X)                                                                                       \
  X("rcp.rn.f64", RCP, RN) X("rcp.rz.f64", RCP, RZ) X("rcp.rm.f64", RCP, RM) X("rcp.rp.f64", RCP, RP) \
  X("sqrt.rn.f64", SQRT, RN) X("sqrt.rz.f64", SQRT, RZ) X("sqrt.rm.f64", SQRT, RM)                    \
  X("sqrt.rp.f64", SQRT, RP) X("abs.f64", ABS, RN) X("neg.f64", NEG, RN)                              \
  X("rcp.approx.ftz.f64", RCP_APPROX, RN)
// f64 -> f32 (result in the low word) and f32 -> f64 (the f64's low 32 bits reinterpreted as f32)
#define OPSC(X)                                                                                       \
  X("cvt.rn.f32.f64", NARROW, RN) X("cvt.rz.f32.f64", NARROW, RZ) X("cvt.rm.f32.f64", NARROW, RM)     \
  X("cvt.rp.f32.f64", NARROW, RP) X("cvt.rn.ftz.f32.f64", NARROW_FTZ, RN) X("cvt.f64.f32", WIDEN, RN)

const OpInfo kOps[] = {
#define E(name, kind, rnd) {name, kind, rnd},
    OPS2(E) OPS3(E) OPS1(E) OPSC(E)
#undef E
};
constexpr int NOPS = sizeof kOps / sizeof kOps[0];

__global__ void k_f64(const double* A, const double* B, const double* C, uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  double a = A[i], b = B[i], c = C[i], r;
  int k = 0;
#define E2(name, kind, rnd) \
  asm volatile(name " %0, %1, %2;" : "=d"(r) : "d"(a), "d"(b)); out[(k++) * n + i] = __double_as_longlong(r);
#define E3(name, kind, rnd) \
  asm volatile(name " %0, %1, %2, %3;" : "=d"(r) : "d"(a), "d"(b), "d"(c)); out[(k++) * n + i] = __double_as_longlong(r);
#define E1(name, kind, rnd) \
  asm volatile(name " %0, %1;" : "=d"(r) : "d"(a)); out[(k++) * n + i] = __double_as_longlong(r);
#define EC(name, kind, rnd)                                                                   \
  if (kind == WIDEN) {                                                                        \
    asm volatile(name " %0, %1;" : "=d"(r) : "f"(__uint_as_float((uint32_t)__double_as_longlong(a)))); \
    out[(k++) * n + i] = __double_as_longlong(r);                                              \
  } else {                                                                                    \
    float f;                                                                                  \
    asm volatile(name " %0, %1;" : "=f"(f) : "d"(a));                                         \
    out[(k++) * n + i] = __float_as_uint(f);                                                   \
  }
  OPS2(E2) OPS3(E3) OPS1(E1) OPSC(EC)
#undef E1
#undef E2
#undef E3
#undef EC
  out[(size_t)k * n + i] = (uint64_t)i;
}

enum Verdict { EXACT, ANY_NAN, APPROX };
static double ref(const OpInfo& op, double a, double b, double c, Verdict* v) {
  *v = EXACT;
  double r = 0;
  switch (op.kind) {
    case ADD: r = h_add(a, b, op.rnd); break;
    case SUB: r = h_sub(a, b, op.rnd); break;
    case MUL: r = h_mul(a, b, op.rnd); break;
    case DIV: r = h_div(a, b, op.rnd); break;
    case FMA: r = h_fma(a, b, c, op.rnd); break;
    case RCP: r = h_div(1.0, a, op.rnd); break;
    case SQRT: r = h_sqrt(a, op.rnd); break;
    case MIN: case MAX: {
      if (std::isnan(a) && std::isnan(b)) return bitsd(kNaN64);
      if (std::isnan(a)) return b;
      if (std::isnan(b)) return a;
      bool a_less = a < b || (a == 0 && b == 0 && std::signbit(a) && !std::signbit(b));
      return op.kind == MIN ? (a_less ? a : b) : (a_less ? b : a);
    }
    case ABS: if (std::isnan(a)) *v = ANY_NAN; return std::fabs(a);
    case NEG: if (std::isnan(a)) *v = ANY_NAN; return -a;
    case NARROW: case NARROW_FTZ: {
      if (std::isnan(a)) { *v = ANY_NAN; return a; }
      volatile double x = a;
      float f = in_mode<float>(op.rnd, [&] { return (float)x; });
      if (op.kind == NARROW_FTZ) f = ftz(f);
      return bitsd(fbits(f));  // compared as the low word
    }
    case WIDEN: {
      float f = bitsf((uint32_t)dbits(a));
      if (std::isnan(f)) { *v = ANY_NAN; return 0; }
      return (double)f;
    }
    case RCP_APPROX: {
      *v = APPROX;
      double x = a;
      if (x != 0 && std::fabs(x) < 0x1.0p-1022) x = std::copysign(0.0, x);  // .ftz input
      return 1.0 / x;
    }
  }
  return canon(r);
}

int main() {
  Rng g(0xF64);
  const double inf = INFINITY;
  const double sp[] = {0.0, -0.0, 1.0, -1.0, 0x1p-1074, -0x1p-1074, 0x1.fffffffffffffp-1023, 0x1p-1022,
                       0x1.fffffffffffffp1023, -0x1.fffffffffffffp1023, inf, -inf, bitsd(0x7FF8000000000000ull),
                       bitsd(0xFFF0000000000001ull), 3.0, 0x1p-150, 0x1.fffffe0000001p-1, 1e300, 1e-300,
                       0x1.000001p0, 0x1.0000003p-126};
  const size_t S = sizeof sp / sizeof sp[0];
  std::vector<double> a(N), b(N), c(N);
  for (int i = 0; i < N; ++i) {
    switch (g.below(7)) {
      case 0: a[i] = g.f64_exp(-2, 2); b[i] = g.f64_exp(-2, 2); c[i] = g.f64_exp(-2, 2); break;
      case 1: a[i] = g.f64_exp(-30, 30); b[i] = bitsd(dbits(-a[i]) ^ g.below(8));
              c[i] = -a[i] * b[i] * (1 + g.uniform(-1e-14, 1e-14)); break;
      case 2: a[i] = g.f64_exp(-1022, 1023); b[i] = g.f64_exp(-1022, 1023); c[i] = g.f64_exp(-1022, 1023); break;
      case 3: a[i] = bitsd(g.u64() & 0x800FFFFFFFFFFFFFull); b[i] = g.f64_exp(-60, 60);
              c[i] = bitsd(g.u64() & 0x800FFFFFFFFFFFFFull); break;
      case 4: a[i] = sp[g.below(S)]; b[i] = sp[g.below(S)]; c[i] = sp[g.below(S)]; break;
      case 5: a[i] = g.f64_exp(-160, 140); b[i] = g.f64_exp(-10, 10); c[i] = g.f64_exp(-10, 10); break;  // f32 range edges
      default: a[i] = g.f64_exp(-40, 40); b[i] = g.f64_exp(-40, 40); c[i] = g.f64_exp(-80, 80); break;
    }
  }
  for (size_t k = 0; k < S * S; ++k) { a[N - 1 - k] = sp[k / S]; b[N - 1 - k] = sp[k % S]; c[N - 1 - k] = 1.0; }
  DevBuf<double> da(a), db(b), dc(c);
  DevBuf<uint64_t> out((size_t)(NOPS + 1) * N);
  auto o = run_twice(out, [&] { k_f64<<<N / 128, 128>>>(da, db, dc, out, N); }, "k_f64");
  {
    Check done("every thread reached the end");
    for (int i = 0; i < N; ++i) done.u64(i, o[(size_t)NOPS * N + i], (uint64_t)i);
  }
  for (int k = 0; k < NOPS; ++k) {
    Check ck(kOps[k].name);
    bool narrow = kOps[k].kind == NARROW || kOps[k].kind == NARROW_FTZ;
    for (int i = 0; i < N; ++i) {
      Verdict v;
      double want = ref(kOps[k], a[i], b[i], c[i], &v);
      uint64_t gb = o[(size_t)k * N + i];
      char ctx[160];
      snprintf(ctx, sizeof ctx, "a=%a b=%a c=%a:", a[i], b[i], c[i]);
      if (narrow) {
        float gf = bitsf((uint32_t)gb);
        if (v == ANY_NAN) { if (std::isnan(gf)) ck.ok(); else ck.fail(i, "%s got %a, want a NaN", ctx, gf); }
        else ck.f32(i, gf, bitsf((uint32_t)dbits(want)), ctx);
        continue;
      }
      double got = bitsd(gb);
      if (v == ANY_NAN) {
        if (std::isnan(got)) ck.ok(); else ck.fail(i, "%s got %a, want a NaN", ctx, got);
      } else if (v == APPROX) {
        // rcp.approx.ftz.f64: specials exact (1/+-0 = +-inf, 1/+-inf = +-0, NaN -> NaN); elsewhere a
        // relative error of at most 2^-20 (results in the normal range; subnormal results flush to zero).
        if (std::isnan(want) || std::isinf(want) || want == 0) {
          ck.f64(i, got, canon(want), ctx);
        } else if (std::fabs(want) < 0x1p-1021) {
          continue;
        } else {
          ck.near(i, got, want, std::fabs(want) * 0x1p-20, ctx);
        }
      } else {
        ck.f64(i, got, want, ctx);
      }
    }
  }
  return finish();
}
