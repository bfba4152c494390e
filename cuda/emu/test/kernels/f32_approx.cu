// f32_approx.cu: the approximate single-precision functions (PTX ISA 9.0 section 9.7.3: ex2, lg2, sin,
// cos, rcp, rsqrt, sqrt, tanh .approx(.ftz).f32, div.approx.f32 and div.full.f32), each checked against a
// double-precision host value within the error bound the ISA documents for it, and their special values
// (zeros, infinities, NaN, negative inputs) exactly. NaN results must be the canonical NaN 0x7FFFFFFF.
#include "common.cuh"

using namespace kt;

constexpr int N = 8192;

enum Op { EX2, EX2_FTZ, LG2, LG2_FTZ, SIN, COS, SIN_FTZ, RCP, RCP_FTZ, RSQRT, SQRT, SQRT_FTZ, TANH,
          DIV_APPROX, DIV_FULL, DIV_FULL_FTZ, NOPS };
const char* kNames[] = {"ex2.approx.f32", "ex2.approx.ftz.f32", "lg2.approx.f32", "lg2.approx.ftz.f32",
                        "sin.approx.f32", "cos.approx.f32", "sin.approx.ftz.f32", "rcp.approx.f32",
                        "rcp.approx.ftz.f32", "rsqrt.approx.f32", "sqrt.approx.f32", "sqrt.approx.ftz.f32",
                        "tanh.approx.f32", "div.approx.f32", "div.full.f32", "div.full.ftz.f32"};

__global__ void k_approx(const float* A, const float* B, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float a = A[i], b = B[i], r;
#define U(op, ins) asm volatile(ins " %0, %1;" : "=f"(r) : "f"(a)); out[(op) * n + i] = __float_as_uint(r);
#define D(op, ins) asm volatile(ins " %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b)); out[(op) * n + i] = __float_as_uint(r);
  U(EX2, "ex2.approx.f32") U(EX2_FTZ, "ex2.approx.ftz.f32") U(LG2, "lg2.approx.f32")
  U(LG2_FTZ, "lg2.approx.ftz.f32") U(SIN, "sin.approx.f32") U(COS, "cos.approx.f32")
  U(SIN_FTZ, "sin.approx.ftz.f32") U(RCP, "rcp.approx.f32") U(RCP_FTZ, "rcp.approx.ftz.f32")
  U(RSQRT, "rsqrt.approx.f32") U(SQRT, "sqrt.approx.f32") U(SQRT_FTZ, "sqrt.approx.ftz.f32")
  U(TANH, "tanh.approx.f32")
  D(DIV_APPROX, "div.approx.f32") D(DIV_FULL, "div.full.f32") D(DIV_FULL_FTZ, "div.full.ftz.f32")
#undef U
#undef D
}

// One float ulp at the magnitude of x (normal range).
static double ulp_at(double x) {
  int e;
  std::frexp(std::fabs(x), &e);  // |x| = m * 2^e, m in [0.5, 1)
  if (e - 1 < -126) e = -125;
  return std::ldexp(1.0, e - 1 - 23);
}

int main() {
  Rng g(0xA99);
  std::vector<float> a(N), b(N);
  // Inputs per op family are drawn so that every op sees its documented range; one input array is
  // shared by all ops, so each element is tagged with the range class it was drawn from.
  std::vector<int> cls(N);
  for (int i = 0; i < N; ++i) {
    cls[i] = (int)g.below(6);
    switch (cls[i]) {
      case 0: a[i] = (float)g.uniform(-126, 127); b[i] = g.f32_exp(-20, 20); break;   // ex2 domain
      case 1: a[i] = g.f32_exp(-125, 126); a[i] = std::fabs(a[i]); b[i] = g.f32_exp(-60, 60); break;
      case 2: a[i] = (float)g.uniform(-M_PI, M_PI); b[i] = g.f32_exp(-3, 3); break;  // sin/cos primary range
      case 3: a[i] = (float)g.uniform(-100 * M_PI, 100 * M_PI); b[i] = g.f32_exp(-10, 10); break;
      case 4: a[i] = (float)g.uniform(-9, 9); b[i] = g.f32_exp(-100, 100); break;    // tanh
      default: a[i] = g.f32_exp(-60, 60); b[i] = g.f32_exp(-60, 60); break;
    }
  }
  DevBuf<float> da(a), db(b);
  DevBuf<uint32_t> out((size_t)NOPS * N);
  k_approx<<<N / 256, 256>>>(da, db, out, N);
  LAUNCH_CHECK();
  auto o = out.download();
  auto got = [&](int op, int i) { return bitsf(o[(size_t)op * N + i]); };

  // Bounds from the ISA (per instruction description):
  //  ex2.approx.f32: max relative error 2^-22.5 for the full range (checked as 2 ulp)
  //  lg2.approx.f32: max absolute error 2^-22.6 (mantissa in range); checked as 2^-22 absolute
  //  sin/cos.approx.f32: max absolute error 2^-20.9 in [-pi, pi]; 2^-20.5 in [-100pi, 100pi] is checked
  //   as 2^-19 there
  //  rcp.approx.f32: max 1 ulp; rsqrt.approx.f32: max relative error 2^-22.9; sqrt.approx.f32: max
  //   relative error 2^-23 (checked as 1 ulp); tanh.approx.f32: max relative error 2^-10.987 (2^-10.9)
  //  div.approx.f32 and div.full.f32: max 2 ulp for |b| in [2^-126, 2^126]
  for (int op = 0; op < NOPS; ++op) {
    Check ck(kNames[op]);
    for (int i = 0; i < N; ++i) {
      double x = a[i], y = b[i], r = got(op, i);
      char ctx[80];
      snprintf(ctx, sizeof ctx, "a=%a b=%a:", a[i], b[i]);
      switch (op) {
        case EX2: case EX2_FTZ:
          if (cls[i] != 0) continue;
          {
            double w = std::exp2(x);
            if (w < 0x1.0p-126) continue;  // subnormal results: ftz and non-ftz differ, checked below
            ck.near(i, r, w, 2 * ulp_at(w), ctx);
          }
          break;
        case LG2: case LG2_FTZ:
          if (cls[i] != 1) continue;
          ck.near(i, r, std::log2(x), 0x1.0p-22 + 2 * ulp_at(std::log2(x)), ctx);
          break;
        case SIN: case SIN_FTZ: case COS:
          if (cls[i] == 2)
            ck.near(i, r, op == COS ? std::cos(x) : std::sin(x), std::ldexp(1.0, -20) , ctx);
          else if (cls[i] == 3)
            ck.near(i, r, op == COS ? std::cos(x) : std::sin(x), std::ldexp(1.0, -19), ctx);
          break;
        case RCP: case RCP_FTZ:
          if (cls[i] != 5 && cls[i] != 1) continue;
          if (std::fabs(x) > 0x1.0p126) continue;
          ck.near(i, r, 1.0 / x, 1 * ulp_at(1.0 / x), ctx);
          break;
        case RSQRT:
          if (cls[i] != 1) continue;
          ck.near(i, r, 1.0 / std::sqrt(x), std::ldexp(1.0 / std::sqrt(x), -22) * 1.0001, ctx);
          break;
        case SQRT: case SQRT_FTZ:
          if (cls[i] != 1) continue;
          ck.near(i, r, std::sqrt(x), ulp_at(std::sqrt(x)), ctx);
          break;
        case TANH:
          if (cls[i] != 4 && cls[i] != 2) continue;
          ck.near(i, r, std::tanh(x), std::fabs(std::tanh(x)) * std::ldexp(1.0, -10) + 0x1.0p-126, ctx);
          break;
        default: {  // divisions
          if (cls[i] != 5) continue;
          double w = x / y;
          if (std::fabs(w) < 0x1.0p-125 || std::fabs(w) > 0x1.0p126) continue;
          ck.near(i, r, w, 2 * ulp_at(w), ctx);
        }
      }
    }
  }

  // Special values, exact. {op, input a, input b, expected bits}
  struct Sp { int op; float a, b; uint32_t want; };
  const float inf = INFINITY, nan = bitsf(0x7FC00000u);
  const float sub = bitsf(0x00000100u);  // a subnormal
  const Sp sp[] = {
      {EX2, -inf, 0, 0x00000000u}, {EX2, inf, 0, 0x7F800000u}, {EX2, 0.0f, 0, 0x3F800000u},
      {EX2, -0.0f, 0, 0x3F800000u}, {EX2, nan, 0, kNaN32},
      {EX2, 200.0f, 0, 0x7F800000u}, {EX2, -200.0f, 0, 0x00000000u}, {EX2_FTZ, sub, 0, 0x3F800000u},
      {EX2_FTZ, -150.0f, 0, 0x00000000u},
      {LG2, 0.0f, 0, 0xFF800000u}, {LG2, -0.0f, 0, 0xFF800000u}, {LG2, inf, 0, 0x7F800000u},
      {LG2, -1.0f, 0, kNaN32}, {LG2, -inf, 0, kNaN32}, {LG2, nan, 0, kNaN32},
      {LG2_FTZ, sub, 0, 0xFF800000u}, {LG2_FTZ, -sub, 0, 0xFF800000u},
      {SIN, 0.0f, 0, 0x00000000u}, {SIN, -0.0f, 0, 0x80000000u}, {SIN, inf, 0, kNaN32},
      {SIN, -inf, 0, kNaN32}, {SIN, nan, 0, kNaN32}, {COS, 0.0f, 0, 0x3F800000u},
      {COS, -0.0f, 0, 0x3F800000u}, {COS, inf, 0, kNaN32}, {COS, nan, 0, kNaN32},
      {RCP, 0.0f, 0, 0x7F800000u}, {RCP, -0.0f, 0, 0xFF800000u}, {RCP, inf, 0, 0x00000000u},
      {RCP, -inf, 0, 0x80000000u}, {RCP, nan, 0, kNaN32},
      {RCP_FTZ, sub, 0, 0x7F800000u}, {RCP_FTZ, -sub, 0, 0xFF800000u},
      {RSQRT, 0.0f, 0, 0x7F800000u}, {RSQRT, -0.0f, 0, 0xFF800000u}, {RSQRT, inf, 0, 0x00000000u},
      {RSQRT, -1.0f, 0, kNaN32}, {RSQRT, -inf, 0, kNaN32}, {RSQRT, nan, 0, kNaN32},
      {SQRT, 0.0f, 0, 0x00000000u}, {SQRT, -0.0f, 0, 0x80000000u}, {SQRT, inf, 0, 0x7F800000u},
      {SQRT, -1.0f, 0, kNaN32}, {SQRT, -inf, 0, kNaN32}, {SQRT, nan, 0, kNaN32},
      {SQRT_FTZ, sub, 0, 0x00000000u}, {SQRT_FTZ, -sub, 0, 0x80000000u},
      {TANH, 0.0f, 0, 0x00000000u}, {TANH, -0.0f, 0, 0x80000000u}, {TANH, inf, 0, 0x3F800000u},
      {TANH, -inf, 0, 0xBF800000u}, {TANH, nan, 0, kNaN32},
      {DIV_FULL, 1.0f, 0.0f, 0x7F800000u}, {DIV_FULL, -1.0f, 0.0f, 0xFF800000u}, {DIV_FULL, 0.0f, 0.0f, kNaN32},
      {DIV_FULL, inf, inf, kNaN32}, {DIV_FULL, 1.0f, inf, 0x00000000u}, {DIV_FULL, nan, 1.0f, kNaN32},
 {DIV_APPROX, 0.0f, 0.0f, kNaN32}, {DIV_APPROX, nan, 2.0f, kNaN32},
      {DIV_APPROX, 1.0f, inf, 0x00000000u},
  };
  const int S = sizeof sp / sizeof sp[0];
  std::vector<float> sa(N, 1.0f), sb(N, 1.0f);
  for (int k = 0; k < S; ++k) { sa[k] = sp[k].a; sb[k] = sp[k].b; }
  da.upload(sa);
  db.upload(sb);
  CUDA_CHECK(cudaMemset(out.d, 0xFF, out.bytes()));
  k_approx<<<N / 256, 256>>>(da, db, out, N);
  LAUNCH_CHECK();
  o = out.download();
  Check cs("special values");
  for (int k = 0; k < S; ++k) {
    char ctx[96];
    snprintf(ctx, sizeof ctx, "%s(%a, %a):", kNames[sp[k].op], sp[k].a, sp[k].b);
    cs.f32(k, bitsf(o[(size_t)sp[k].op * N + k]), bitsf(sp[k].want), ctx);
  }
  return finish();
}
