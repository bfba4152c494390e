// cvt_narrow.cu: the narrow conversions not in cvt.cu (PTX ISA 9.0 section 9.7.9.21 cvt): f16x2 ->
// e4m3x2 / e5m2x2 .rn.satfinite (.relu), f32 -> tf32 with .rna / .rn / .rz (.satfinite), f64 -> f16 / bf16,
// integer -> f16; against host rounding of the exact value. A program of its own so that an unsupported
// form cannot hide cvt.cu.
#include "common.cuh"

using namespace kt;

constexpr int N = 4096;

// ---- host: exact decode of f16 / e4m3 / e5m2, rounding to a small format ----
struct Fmt { int mb, emin, emax, bias, ebits; bool has_inf; };
const Fmt kF16 = {11, -14, 15, 15, 5, true}, kBF16 = {8, -126, 127, 127, 8, true};
const Fmt kE4M3 = {4, -6, 8, 7, 4, false}, kE5M2 = {3, -14, 15, 15, 5, true};
static double fmax_of(const Fmt& f) {
  return f.has_inf ? std::ldexp((double)((1 << f.mb) - 1), f.emax - f.mb + 1) : 448.0;
}
static double decode(uint32_t b, const Fmt& f) {
  uint32_t total = f.mb + f.ebits;
  bool neg = (b >> (total - 1)) & 1;
  uint32_t ef = (b >> (f.mb - 1)) & ((1u << f.ebits) - 1), m = b & ((1u << (f.mb - 1)) - 1);
  double v;
  if (!f.has_inf && ef == (1u << f.ebits) - 1 && m == (1u << (f.mb - 1)) - 1) v = NAN;
  else if (f.has_inf && ef == (1u << f.ebits) - 1) v = m ? NAN : INFINITY;
  else if (ef == 0) v = std::ldexp((double)m, f.emin - (f.mb - 1));
  else v = std::ldexp((double)(m | (1u << (f.mb - 1))), (int)ef - f.bias - (f.mb - 1));
  return neg ? -v : v;
}
// Round x (exact in double) to the format; returns the bits; *nan when the result is a NaN of the format.
static uint32_t round_enc(double x, const Fmt& f, int mode, bool satfinite, bool* nan) {
  *nan = std::isnan(x);
  if (*nan) return 0;
  uint32_t sign = std::signbit(x) ? 1u << (f.mb - 1 + f.ebits) : 0;
  double a = std::fabs(x), mx = fmax_of(f);
  uint32_t inf_bits = sign | (((1u << f.ebits) - 1) << (f.mb - 1));
  auto enc = [&](double v) -> uint32_t {
    if (v == 0) return sign;
    int e;
    std::frexp(v, &e);
    if (e - 1 < f.emin) return sign | (uint32_t)std::ldexp(v, -(f.emin - (f.mb - 1)));
    return sign | ((uint32_t)(e - 1 + f.bias) << (f.mb - 1)) | ((uint32_t)std::ldexp(v, -(e - 1 - (f.mb - 1))) - (1u << (f.mb - 1)));
  };
  if (std::isinf(a)) return satfinite || !f.has_inf ? enc(mx) : inf_bits;
  if (a == 0) return sign;
  int e;
  std::frexp(a, &e);
  int q = (e - 1 < f.emin ? f.emin : e - 1) - (f.mb - 1);
  double s = std::ldexp(a, -q), r;
  bool neg = sign != 0;
  switch (mode) {
    case RN: r = std::nearbyint(s); break;
    case RZ: r = std::trunc(s); break;
    case RM: r = neg ? std::ceil(s) : std::floor(s); break;
    default: r = neg ? std::floor(s) : std::ceil(s); break;
  }
  double v = std::ldexp(r, q);
  if (v > mx) {
    bool to_inf = mode == RN || (mode == RM && neg) || (mode == RP && !neg);
    if (satfinite || !to_inf) return enc(mx);
    if (!f.has_inf) { *nan = true; return 0; }
    return inf_bits;
  }
  return enc(v);
}
static bool is_nan_bits(uint32_t b, const Fmt& f) { return std::isnan(decode(b, f)); }

// tf32 (as an f32 bit pattern, low 13 bits zero). mode: 0 rna, 1 rn, 2 rz.
static uint32_t tf32_ref(float x, int mode, bool satfinite, bool* nan) {
  *nan = std::isnan(x);
  if (*nan) return 0;
  uint32_t b = fbits(x), sign = b & 0x80000000u;
  if (std::isinf(x)) return satfinite ? sign | 0x7F7FE000u : b;
  uint32_t mag = b & 0x7FFFFFFFu, low = mag & 0x1FFFu, base = mag & ~0x1FFFu;
  bool up = mode == 0 ? low >= 0x1000u : mode == 1 ? (low > 0x1000u || (low == 0x1000u && (base & 0x2000u))) : false;
  uint32_t r = base + (up ? 0x2000u : 0);
  if (r >= 0x7F800000u) r = satfinite ? 0x7F7FE000u : 0x7F800000u;
  return sign | r;
}

// out per element (u32): 0 cvt.rn.satfinite.e4m3x2.f16x2, 1 cvt.rn.satfinite.e5m2x2.f16x2,
// 2 cvt.rn.satfinite.relu.e4m3x2.f16x2, 3 cvt.rna.tf32.f32, 4 cvt.rna.satfinite.tf32.f32,
// 5 cvt.rn.tf32.f32, 6 cvt.rz.tf32.f32, 7 cvt.rn.f16.f64, 8 cvt.rz.f16.f64, 9 cvt.rn.bf16.f64,
// 10 cvt.rn.f16.s32, 11 cvt.rz.f16.u32, 12 cvt.rn.f16.s64
constexpr int kOps = 13;
const char* kNames[kOps] = {"cvt.rn.satfinite.e4m3x2.f16x2", "cvt.rn.satfinite.e5m2x2.f16x2",
                            "cvt.rn.satfinite.relu.e4m3x2.f16x2", "cvt.rna.tf32.f32", "cvt.rna.satfinite.tf32.f32",
                            "cvt.rn.tf32.f32", "cvt.rz.tf32.f32", "cvt.rn.f16.f64", "cvt.rz.f16.f64",
                            "cvt.rn.bf16.f64", "cvt.rn.f16.s32", "cvt.rz.f16.u32", "cvt.rn.f16.s64"};

__global__ void k_narrow(const uint32_t* H2, const float* F, const double* D, const uint64_t* I, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t h2 = H2[i], r;
  float f = F[i];
  double d = D[i];
  uint64_t x = I[i];
  unsigned short h;
  int k = 0;
  asm volatile("cvt.rn.satfinite.e4m3x2.f16x2 %0, %1;" : "=h"(h) : "r"(h2)); out[(k++) * n + i] = h;
  asm volatile("cvt.rn.satfinite.e5m2x2.f16x2 %0, %1;" : "=h"(h) : "r"(h2)); out[(k++) * n + i] = h;
  asm volatile("cvt.rn.satfinite.relu.e4m3x2.f16x2 %0, %1;" : "=h"(h) : "r"(h2)); out[(k++) * n + i] = h;
  asm volatile("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(f)); out[(k++) * n + i] = r;
  asm volatile("cvt.rna.satfinite.tf32.f32 %0, %1;" : "=r"(r) : "f"(f)); out[(k++) * n + i] = r;
  asm volatile("cvt.rn.tf32.f32 %0, %1;" : "=r"(r) : "f"(f)); out[(k++) * n + i] = r;
  asm volatile("cvt.rz.tf32.f32 %0, %1;" : "=r"(r) : "f"(f)); out[(k++) * n + i] = r;
  asm volatile("cvt.rn.f16.f64 %0, %1;" : "=h"(h) : "d"(d)); out[(k++) * n + i] = h;
  asm volatile("cvt.rz.f16.f64 %0, %1;" : "=h"(h) : "d"(d)); out[(k++) * n + i] = h;
  asm volatile("cvt.rn.bf16.f64 %0, %1;" : "=h"(h) : "d"(d)); out[(k++) * n + i] = h;
  asm volatile("cvt.rn.f16.s32 %0, %1;" : "=h"(h) : "r"((uint32_t)x)); out[(k++) * n + i] = h;
  asm volatile("cvt.rz.f16.u32 %0, %1;" : "=h"(h) : "r"((uint32_t)(x >> 32))); out[(k++) * n + i] = h;
  asm volatile("cvt.rn.f16.s64 %0, %1;" : "=h"(h) : "l"(x)); out[(k++) * n + i] = h;
}

int main() {
  Rng g(0xC7A2);
  std::vector<uint32_t> h2(N);
  std::vector<float> f(N);
  std::vector<double> d(N);
  std::vector<uint64_t> x(N);
  std::vector<float> sp = f32_specials();
  for (int i = 0; i < N; ++i) {
    h2[i] = g.u32();
    if (g.below(3) == 0) h2[i] &= 0x5FFF5FFFu;  // more values inside the fp8 ranges
    f[i] = g.below(5) == 0 ? sp[g.below((uint32_t)sp.size())] : g.f32_exp(-130, 127);
    if (g.below(4) == 0) f[i] = bitsf((fbits(f[i]) & ~0x1FFFu) | 0x1000u);  // exact tf32 ties
    d[i] = g.below(4) == 0 ? (double)sp[g.below((uint32_t)sp.size())] : g.f64_exp(-30, 17);
    if (g.below(5) == 0) d[i] = g.f64_exp(-140, 130);
    x[i] = g.u64() >> g.below(64);
    if (g.below(2)) x[i] = (uint64_t) - (int64_t)x[i];
  }
  f[0] = 0x1.fffffep127f; f[1] = -0x1.fffffep127f; f[2] = INFINITY; f[3] = -INFINITY;
  DevBuf<uint32_t> dh(h2), out((size_t)kOps * N);
  DevBuf<float> df(f);
  DevBuf<double> dd(d);
  DevBuf<uint64_t> dx(x);
  auto o = run_twice(out, [&] { k_narrow<<<N / 128, 128>>>(dh, df, dd, dx, out, N); }, "k_narrow");
  for (int k = 0; k < kOps; ++k) {
    Check ck(kNames[k]);
    for (int i = 0; i < N; ++i) {
      uint32_t got = o[(size_t)k * N + i];
      char ctx[96];
      if (k <= 2) {  // two halves -> two bytes, upper half -> upper byte
        const Fmt& fo = k == 1 ? kE5M2 : kE4M3;
        bool ok = (got >> 16) == 0;
        uint32_t want = 0;
        for (int p = 0; p < 2; ++p) {
          double v = decode((h2[i] >> (16 * p)) & 0xFFFF, kF16);
          if (k == 2 && !std::isnan(v) && (v < 0 || (v == 0 && std::signbit(v)))) v = 0.0;  // .relu
          bool nan;
          uint32_t w = round_enc(v, fo, RN, true, &nan), gb = (got >> (8 * p)) & 0xFF;
          want |= (nan ? 0x7Fu : w) << (8 * p);
          ok &= nan ? is_nan_bits(gb, fo) : gb == w;
        }
        snprintf(ctx, sizeof ctx, "f16x2 0x%08x: got 0x%04x want 0x%04x (0x7f: a NaN)", h2[i], got, want);
        if (ok) ck.ok(); else ck.fail(i, "%s", ctx);
      } else if (k <= 6) {
        int mode = k <= 4 ? 0 : k == 5 ? 1 : 2;
        bool sat = k == 4, nan;
        uint32_t want = tf32_ref(f[i], mode, sat, &nan);
        snprintf(ctx, sizeof ctx, "x=%a:", f[i]);
        if (nan) { if (std::isnan(bitsf(got))) ck.ok(); else ck.fail(i, "%s got 0x%08x, want a NaN", ctx, got); }
        else ck.u32(i, got, want, ctx);
      } else if (k <= 9) {
        const Fmt& fo = k == 9 ? kBF16 : kF16;
        bool nan;
        uint32_t want = round_enc(d[i], fo, k == 8 ? RZ : RN, false, &nan);
        snprintf(ctx, sizeof ctx, "x=%a:", d[i]);
        if (nan) { if (got <= 0xFFFF && is_nan_bits(got, fo)) ck.ok(); else ck.fail(i, "%s got 0x%x, want a NaN", ctx, got); }
        else ck.u32(i, got, want, ctx);
      } else {
        double v = k == 10 ? (double)(int32_t)(uint32_t)x[i] : k == 11 ? (double)(uint32_t)(x[i] >> 32) : (double)(int64_t)x[i];
        bool nan;
        uint32_t want;
        if (k == 12 && std::fabs((double)(int64_t)x[i]) >= 0x1p53) {
          // an s64 beyond 2^53 is not exact in double, but f16 overflows far below that: +-inf in .rn
          want = (int64_t)x[i] < 0 ? 0xFC00u : 0x7C00u;
        } else {
          want = round_enc(v, kF16, k == 11 ? RZ : RN, false, &nan);
        }
        snprintf(ctx, sizeof ctx, "x=0x%016llx:", (unsigned long long)x[i]);
        ck.u32(i, got, want, ctx);
      }
    }
  }
  return finish();
}
