// f16.cu: half-precision arithmetic (PTX ISA 9.0 section 9.7.4 "Half Precision Floating-Point
// Instructions": add/sub/mul/fma .rn on .f16x2 (with .ftz, .sat, .relu) and .bf16x2, min/max (incl. .NaN),
// neg/abs), each half checked against the exact result computed on the host in long double and rounded
// to f16/bf16 (nearest even; NaN results: canonical 0x7FFF); ex2/tanh .approx .f16x2/.bf16x2 within bounds.
#include "common.cuh"

using namespace kt;

constexpr int N = 8192;

struct Half { int mb, emin, emax, bias, ebits; };
const Half kH = {11, -14, 15, 15, 5}, kB = {8, -126, 127, 127, 8};

static long double dec(uint16_t h, const Half& f) {
  bool neg = h >> 15;
  uint32_t e = (h >> (f.mb - 1)) & ((1u << f.ebits) - 1), m = h & ((1u << (f.mb - 1)) - 1);
  long double v;
  if (e == (1u << f.ebits) - 1) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp((long double)m, f.emin - (f.mb - 1));
  else v = std::ldexp((long double)(m | (1u << (f.mb - 1))), (int)e - f.bias - (f.mb - 1));
  return neg ? -v : v;
}
// Round the exact value x + err (err: what x lost to long double rounding, |err| <= ulp(x) / 2) to the
// format, nearest even, and encode; NaN -> canonical 0x7FFF.
static uint16_t enc(long double x, const Half& f, long double err = 0) {
  if (std::isnan(x)) return 0x7FFF;
  uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  long double a = std::fabs(x);
  uint16_t inf = sign | (uint16_t)(((1u << f.ebits) - 1) << (f.mb - 1));
  if (std::isinf(a)) return inf;
  if (a == 0) return sign;
  int e;
  std::frexp(a, &e);
  int q = (e - 1 < f.emin ? f.emin : e - 1) - (f.mb - 1);
  long double sc = std::ldexp(a, -q), r = std::nearbyint(sc);  // host default: round to nearest even
  if (err != 0 && sc - std::floor(sc) == 0.5L)  // a tie only in long double: the lost bits decide
    r = ((err > 0) == !std::signbit(x)) ? std::ceil(sc) : std::floor(sc);
  long double v = std::ldexp(r, q);
  long double maxv = std::ldexp((long double)((1u << f.mb) - 1), f.emax - (f.mb - 1));
  if (v > maxv) return inf;
  if (v == 0) return sign;
  std::frexp(v, &e);
  if (e - 1 < f.emin) return sign | (uint16_t)std::ldexp(v, -(f.emin - (f.mb - 1)));
  return sign | (uint16_t)((e - 1 + f.bias) << (f.mb - 1)) | (uint16_t)(std::ldexp(v, -(e - 1 - (f.mb - 1))) - (1u << (f.mb - 1)));
}
static bool is_sub(uint16_t h, const Half& f) { return ((h >> (f.mb - 1)) & ((1u << f.ebits) - 1)) == 0 && (h & 0x7FFF); }
static uint16_t ftz16(uint16_t h, const Half& f) { return is_sub(h, f) ? (h & 0x8000) : h; }
static bool isnan16(uint16_t h, const Half& f) { return std::isnan(dec(h, f)); }

enum Kind { ADD, SUB, MUL, FMA, MIN, MAX, MIN_NAN, MAX_NAN, NEG, ABS };
struct OpInfo { const char* name; Kind kind; bool bf, ftz, sat, relu; };
#define OPS2(X)                                                                                        \
  X("add.rn.f16x2", ADD, 0, 0, 0, 0) X("add.f16x2", ADD, 0, 0, 0, 0) X("sub.rn.f16x2", SUB, 0, 0, 0, 0) \
  X("mul.rn.f16x2", MUL, 0, 0, 0, 0) X("add.rn.ftz.f16x2", ADD, 0, 1, 0, 0)                             \
  X("mul.rn.ftz.f16x2", MUL, 0, 1, 0, 0) X("add.rn.sat.f16x2", ADD, 0, 0, 1, 0)                         \
  X("mul.rn.ftz.sat.f16x2", MUL, 0, 1, 1, 0) X("add.rn.bf16x2", ADD, 1, 0, 0, 0)                        \
  X("sub.rn.bf16x2", SUB, 1, 0, 0, 0) X("mul.rn.bf16x2", MUL, 1, 0, 0, 0)                               \
  X("min.f16x2", MIN, 0, 0, 0, 0) X("max.f16x2", MAX, 0, 0, 0, 0) X("min.NaN.f16x2", MIN_NAN, 0, 0, 0, 0) \
  X("max.NaN.f16x2", MAX_NAN, 0, 0, 0, 0) X("min.bf16x2", MIN, 1, 0, 0, 0) X("max.bf16x2", MAX, 1, 0, 0, 0) \
  X("max.NaN.bf16x2", MAX_NAN, 1, 0, 0, 0) X("min.ftz.f16x2", MIN, 0, 1, 0, 0)
#define OPS3(X)                                                                                        \
  X("fma.rn.f16x2", FMA, 0, 0, 0, 0) X("fma.rn.ftz.f16x2", FMA, 0, 1, 0, 0)                             \
  X("fma.rn.sat.f16x2", FMA, 0, 0, 1, 0) X("fma.rn.relu.f16x2", FMA, 0, 0, 0, 1)                        \
  X("fma.rn.bf16x2", FMA, 1, 0, 0, 0) X("fma.rn.relu.bf16x2", FMA, 1, 0, 0, 1)
#define OPS1(X)                                                                                        \
  X("neg.f16x2", NEG, 0, 0, 0, 0) X("abs.f16x2", ABS, 0, 0, 0, 0) X("neg.bf16x2", NEG, 1, 0, 0, 0)      \
  X("abs.bf16x2", ABS, 1, 0, 0, 0)
const OpInfo kOps[] = {
#define E(name, kind, bf, ftz, sat, relu) {name, kind, bf, ftz, sat, relu},
    OPS2(E) OPS3(E) OPS1(E)
#undef E
};
constexpr int NOPS = sizeof kOps / sizeof kOps[0];

__global__ void k_half(const uint32_t* A, const uint32_t* B, const uint32_t* C, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t a = A[i], b = B[i], c = C[i], r;
  int k = 0;
#define E2(name, ...) asm volatile(name " %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b)); out[(k++) * n + i] = r;
#define E3(name, ...) asm volatile(name " %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(c)); out[(k++) * n + i] = r;
#define E1(name, ...) asm volatile(name " %0, %1;" : "=r"(r) : "r"(a)); out[(k++) * n + i] = r;
  OPS2(E2) OPS3(E3) OPS1(E1)
#undef E1
#undef E2
#undef E3
  out[(size_t)k * n + i] = (uint32_t)i;
}

// Expected half; *any_nan when the ISA only promises "a NaN" (neg/abs of NaN); *any_zero when .sat/.relu
// of a zero result may keep or drop the sign.
static uint16_t ref(const OpInfo& op, uint16_t a, uint16_t b, uint16_t c, bool* any_nan, bool* any_zero) {
  const Half& f = op.bf ? kB : kH;
  *any_nan = *any_zero = false;
  if (op.ftz) { a = ftz16(a, f); b = ftz16(b, f); c = ftz16(c, f); }
  long double x = dec(a, f), y = dec(b, f), z = dec(c, f), r = 0;
  long double err = 0;
  // TwoSum: r + err is exactly p + q (products of two halves are exact in long double)
  auto two_sum = [&](long double p, long double q) {
    r = p + q;
    if (std::isfinite(r)) {
      long double bp = r - q, bq = r - bp;
      err = (p - bp) + (q - bq);
    }
  };
  switch (op.kind) {
    case ADD: two_sum(x, y); break;
    case SUB: two_sum(x, -y); break;
    case MUL: r = x * y; break;
    case FMA: two_sum(x * y, z); break;
    case NEG: if (isnan16(a, f)) *any_nan = true; return a ^ 0x8000;
    case ABS: if (isnan16(a, f)) *any_nan = true; return a & 0x7FFF;
    case MIN: case MAX: case MIN_NAN: case MAX_NAN: {
      bool na = std::isnan(x), nb = std::isnan(y);
      if ((op.kind == MIN_NAN || op.kind == MAX_NAN) && (na || nb)) return 0x7FFF;
      if (na && nb) return 0x7FFF;
      if (na) return b;
      if (nb) return a;
      bool a_less = x < y || (x == 0 && y == 0 && (a & 0x8000) && !(b & 0x8000));
      bool want_min = op.kind == MIN || op.kind == MIN_NAN;
      return want_min ? (a_less ? a : b) : (a_less ? b : a);
    }
  }
  if (op.kind == ADD || op.kind == SUB) {
    // x + y with exact zero: +0 in round-to-nearest unless both are -0
    if (r == 0) r = (std::signbit(x) && std::signbit(op.kind == ADD ? y : -y)) ? -0.0L : 0.0L;
  }
  if (op.kind == FMA && r == 0 && err == 0) {  // exact zero: -0 only when x*y and z are both -0 / negative zero
    bool pneg = std::signbit(x) != std::signbit(y);
    r = (pneg && std::signbit(z) && x * y == 0 && z == 0) ? -0.0L : 0.0L;
  }
  uint16_t h = enc(r, f, err);
  if (op.ftz) h = ftz16(h, f);
  if (op.sat) {
    if (isnan16(h, f)) h = 0;
    else if (h & 0x8000) { *any_zero = (h & 0x7FFF) == 0; h = 0; }
    else if (dec(h, f) > 1) h = op.bf ? 0x3F80 : 0x3C00;
  }
  if (op.relu) {
    if (isnan16(h, f)) h = 0x7FFF;
    else if (h & 0x8000) { *any_zero = (h & 0x7FFF) == 0; h = 0; }
  }
  return h;
}

// ex2.approx.f16x2, ex2.approx.ftz.bf16x2, tanh.approx.f16x2, tanh.approx.bf16x2: out[k * n + i]
__global__ void k_half_approx(const uint32_t* A, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t a = A[i], r;
  asm volatile("ex2.approx.f16x2 %0, %1;" : "=r"(r) : "r"(a)); out[0 * n + i] = r;
  asm volatile("ex2.approx.ftz.bf16x2 %0, %1;" : "=r"(r) : "r"(a)); out[1 * n + i] = r;
  asm volatile("tanh.approx.f16x2 %0, %1;" : "=r"(r) : "r"(a)); out[2 * n + i] = r;
  asm volatile("tanh.approx.bf16x2 %0, %1;" : "=r"(r) : "r"(a)); out[3 * n + i] = r;
}

int main() {
  Rng g(0x16F);
  auto rnd_half = [&](const Half& f, int emin, int emax) -> uint16_t {
    long double v = std::ldexp((long double)g.uniform(1, 2), emin + (int)g.below((uint32_t)(emax - emin + 1)));
    if (g.below(2)) v = -v;
    return enc(v, f);
  };
  const uint16_t spH[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0xBC00, 0x7BFF, 0xFBFF,
                          0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01, 0x3555, 0x3BFF, 0x3C01};
  const uint16_t spB[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x3F80, 0xBF80, 0x7F7F, 0xFF7F,
                          0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0x3EAB, 0x3F7F, 0x3F81};
  std::vector<uint32_t> A(N), B(N), C(N);
  for (int i = 0; i < N; ++i) {
    uint16_t h[6];
    for (int p = 0; p < 6; ++p) {
      // one half of every register is f16-shaped for the f16 ops, the other bf16-shaped: both halves are
      // still checked by both kinds of op (any 16 bits are a valid operand of either)
      const Half& f = (p % 2) ? kB : kH;
      const uint16_t* sp = (p % 2) ? spB : spH;
      switch (g.below(6)) {
        case 0: h[p] = sp[g.below(18)]; break;
        case 1: h[p] = (uint16_t)g.u32(); break;                              // any bits
        case 2: h[p] = rnd_half(f, -2, 2); break;                             // cancellation, ties
        case 3: h[p] = (uint16_t)(g.below(0x400) | (g.below(2) << 15)); break;  // f16 subnormals, tiny bf16
        default: h[p] = rnd_half(f, (p % 2) ? -20 : -7, (p % 2) ? 20 : 7); break;
      }
    }
    A[i] = h[0] | (uint32_t)h[1] << 16;
    B[i] = h[2] | (uint32_t)h[3] << 16;
    C[i] = h[4] | (uint32_t)h[5] << 16;
  }
  DevBuf<uint32_t> dA(A), dB(B), dC(C), out((size_t)(NOPS + 1) * N);
  auto o = run_twice(out, [&] { k_half<<<N / 256, 256>>>(dA, dB, dC, out, N); }, "k_half");
  {
    Check done("every thread reached the end");
    for (int i = 0; i < N; ++i) done.u32(i, o[(size_t)NOPS * N + i], (uint32_t)i);
  }
  for (int k = 0; k < NOPS; ++k) {
    Check ck(kOps[k].name);
    const Half& f = kOps[k].bf ? kB : kH;
    for (int i = 0; i < N; ++i) {
      uint32_t got = o[(size_t)k * N + i];
      bool ok = true;
      uint16_t want[2];
      for (int p = 0; p < 2; ++p) {
        uint16_t a = (uint16_t)(A[i] >> (16 * p)), b = (uint16_t)(B[i] >> (16 * p)), c = (uint16_t)(C[i] >> (16 * p));
        uint16_t gh = (uint16_t)(got >> (16 * p));
        bool any_nan, any_zero;
        want[p] = ref(kOps[k], a, b, c, &any_nan, &any_zero);
        if (any_nan) ok &= isnan16(gh, f);
        else if (any_zero) ok &= (gh & 0x7FFF) == 0;
        else ok &= gh == want[p];
      }
      if (ok) ck.ok();
      else ck.fail(i, "a=%08x b=%08x c=%08x: got %08x want %04x%04x", A[i], B[i], C[i], got, want[1], want[0]);
    }
  }
  // approximate functions: relative error bounds (ISA: ex2.approx.f16 2^-9.9, ex2.approx.ftz.bf16 2^-7;
  // tanh.approx.f16/bf16 are checked against 2^-9.5 and 2^-7, the rounding of the result included)
  {
    std::vector<uint32_t> X(N);
    for (auto& v : X) {
      uint16_t lo = enc((long double)g.uniform(-14, 15), kH), hi = enc((long double)g.uniform(-8, 8), kB);
      v = lo | (uint32_t)hi << 16;
    }
    // specials: ex2(-inf) = +0, ex2(+inf) = +inf, tanh(+-inf) = +-1, NaN -> NaN, +-0 -> 1 / +-0
    X[0] = 0xFC00u | 0xFF80u << 16; X[1] = 0x7C00u | 0x7F80u << 16; X[2] = 0x0000u | 0x8000u << 16;
    X[3] = 0x7E00u | 0x7FC0u << 16;
    DevBuf<uint32_t> dX(X), out(4 * N);
    k_half_approx<<<N / 256, 256>>>(dX, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* names[4] = {"ex2.approx.f16x2", "ex2.approx.ftz.bf16x2", "tanh.approx.f16x2", "tanh.approx.bf16x2"};
    for (int k = 0; k < 4; ++k) {
      Check ck(names[k]);
      bool bf = k == 1 || k == 3, ex2 = k < 2;
      const Half& f = bf ? kB : kH;
      // ex2.f16: the ISA bound plus the rounding to f16; the others as stated above
      double tol = k == 0 ? std::exp2(-9.9) + std::exp2(-11) : k == 2 ? std::exp2(-9.5) : std::exp2(-7.0);
      for (int i = 0; i < N; ++i)
        for (int p = 0; p < 2; ++p) {
          uint16_t in = (uint16_t)(X[i] >> (16 * p)), gh = (uint16_t)(o[(size_t)k * N + i] >> (16 * p));
          long double x = dec(in, f), got = dec(gh, f);
          if (bf && k == 1 && is_sub(in, f)) x = 0;  // .ftz input
          long double want = ex2 ? std::exp2(x) : std::tanh(x);
          long idx = 2 * i + p;
          if (std::isnan(x)) { ck.expect(std::isnan(got), idx, "NaN in, NaN out"); continue; }
          if (std::isinf(want) || want == 0 || std::isinf(x) || x == 0) {  // exact special values
            if (ex2 && std::isinf(x) && x > 0) ck.expect(std::isinf(got) && got > 0, idx, "ex2(+inf) = +inf");
            else if (ex2 && std::isinf(x)) ck.expect(got == 0, idx, "ex2(-inf) = 0");
            else if (ex2 && x == 0) ck.expect(got == 1, idx, "ex2(0) = 1");
            else if (!ex2 && std::isinf(x)) ck.expect(got == (x > 0 ? 1 : -1), idx, "tanh(+-inf) = +-1");
            else if (!ex2 && x == 0) ck.expect(gh == in, idx, "tanh(+-0) = +-0");
            else if (std::isinf(want)) ck.expect(std::isinf(got) || got >= dec(bf ? 0x7F7F : 0x7BFF, f), idx, "overflow");
            else ck.expect(std::fabs(got) <= std::ldexp(1.0L, bf ? -126 : -14), idx, "underflow");
            continue;
          }
          long double maxv = dec(bf ? 0x7F7F : 0x7BFF, f);
          if (want > maxv * (1 + tol)) { ck.expect(std::isinf(got) && got > 0, idx, "overflow to +inf"); continue; }
          if (want > maxv) continue;  // within the bound of the largest finite value: either is right
          if (!bf && std::fabs(want) < 0x1p-14L) continue;  // f16 subnormal results: coarser, not checked
          if (bf && std::fabs(want) < 0x1p-126L) continue;
          double err = (double)std::fabs((got - want) / want);
          if (err <= tol) ck.ok();
          else ck.fail(idx, "x=%Lg got %Lg want %Lg (relative error %.3g > %.3g)", x, got, want, err, tol);
        }
    }
  }
  return finish();
}
