// dsv3-emu interpreter: f32/f64 arithmetic with rounding modes, ftz, sat, NaN rules, approximate
// functions, comparisons, and cvt between floats, halves (f16, bf16, packed x2), e4m3 and integers,
// each against a CPU computation (the host FPU under fesetround for directed rounding, _Float16, a
// brute-force nearest-even e4m3 encoder). Snippets compute %r4 from %f1, %f2, %f3 (and %fd1.. = f64 of them).
#include <cfenv>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>

#include "test/unit/interp_harness.h"

using namespace itest;

enum Cmp { Exact, AnyNaN, Rel };
struct Case {
  const char* ptx;
  std::function<uint32_t(float, float, float)> cpu;
  Cmp cmp = AnyNaN;
  double tol = 0;
};

static float rounded(int mode, const std::function<float()>& f) {
  std::fesetround(mode);
  volatile float r = f();
  std::fesetround(FE_TONEAREST);
  return r;
}
static uint32_t B(float f) { return fbits(f); }
static uint32_t h16bits(_Float16 h) {
  uint16_t u;
  std::memcpy(&u, &h, 2);
  return u;
}
static bool is_sub(float x) { return x != 0 && std::fabs(x) < 0x1p-126f; }
static float FTZ(float x) { return is_sub(x) ? std::copysign(0.0f, x) : x; }
static uint16_t bf16_rn(float f) {
  uint32_t b = fbits(f);
  if (std::isnan(f)) return 0x7FFF;
  return uint16_t((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}
static float e4m3_value(int v) {
  const int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
  if ((v & 0x7F) == 0x7F) return std::nanf("");  // e4m3 has one NaN per sign, no infinities
  float x = e == 0 ? std::ldexp(float(m), -9) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return s ? -x : x;
}
static uint8_t e4m3_rn_satfinite(float f) {
  if (std::isnan(f)) return 0x7F;
  if (std::fabs(f) >= 448.0f) return f < 0 ? 0xFE : 0x7E;
  int best = 0;
  double bd = 1e30;
  for (int v = 0; v < 256; ++v) {
    if ((v & 0x7F) == 0x7F) continue;
    const double d = std::fabs(double(e4m3_value(v)) - f);
    if (d < bd || (d == bd && (v & 1) == 0 && (std::signbit(e4m3_value(v)) == std::signbit(f)))) bd = d, best = v;
  }
  if (e4m3_value(best) == 0 && std::signbit(f)) best |= 0x80;
  return uint8_t(best);
}

int main() {
  using F = float;
  std::vector<Case> cases = {
      {"add.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(a + b); }},
      {"add.rz.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(rounded(FE_TOWARDZERO, [&] { return a + b; })); }},
      {"add.rm.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(rounded(FE_DOWNWARD, [&] { return a + b; })); }},
      {"add.rp.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(rounded(FE_UPWARD, [&] { return a + b; })); }},
      {"sub.rn.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(a - b); }},
      {"mul.rz.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(rounded(FE_TOWARDZERO, [&] { return a * b; })); }},
      {"fma.rn.f32 %f4, %f1, %f2, %f3;", [](F a, F b, F c) { return B(std::fma(a, b, c)); }},
      {"fma.rm.f32 %f4, %f1, %f2, %f3;", [](F a, F b, F c) { return B(rounded(FE_DOWNWARD, [&] { return std::fma(a, b, c); })); }},
      {"add.ftz.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(FTZ(FTZ(a) + FTZ(b))); }},
      {"add.sat.f32 %f4, %f1, %f2;", [](F a, F b, F) {
         F r = a + b; return B(std::isnan(r) ? 0.0f : r <= 0 ? 0.0f : r > 1 ? 1.0f : r); }, Exact},
      {"div.rn.f32 %f4, %f1, %f2;", [](F a, F b, F) { return B(a / b); }},
      {"rcp.rn.f32 %f4, %f1;", [](F a, F, F) { return B(1.0f / a); }},
      {"sqrt.rn.f32 %f4, %f1;", [](F a, F, F) { return B(std::sqrt(a)); }},
      {"ex2.approx.ftz.f32 %f4, %f3;", [](F, F, F c) { return B(FTZ(std::exp2(FTZ(c)))); }, Rel, 1e-6},
      {"max.f32 %f4, %f1, %f2;", [](F a, F b, F) {
         if (std::isnan(a) && std::isnan(b)) return 0x7FFFFFFFu;
         if (std::isnan(a)) return B(b);
         if (std::isnan(b)) return B(a);
         if (a == b) return std::signbit(a) ? B(b) : B(a);
         return B(a > b ? a : b); }, Exact},
      {"min.NaN.f32 %f4, %f1, %f2;", [](F a, F b, F) {
         if (std::isnan(a) || std::isnan(b)) return 0x7FFFFFFFu;
         if (a == b) return std::signbit(a) ? B(a) : B(b);
         return B(a < b ? a : b); }, Exact},
      {"neg.f32 %f4, %f1;", [](F a, F, F) { return B(a) ^ 0x80000000u; }, Exact},
      {"abs.f32 %f4, %f1;", [](F a, F, F) { return B(a) & 0x7FFFFFFFu; }, Exact},
      {"setp.neu.f32 %p1, %f1, %f2; selp.b32 %r4, 1, 0, %p1;", [](F a, F b, F) { return uint32_t(!(a == b)); }, Exact},
      {"setp.lt.f32 %p1, %f1, %f2; selp.b32 %r4, 1, 0, %p1;", [](F a, F b, F) { return uint32_t(a < b); }, Exact},
      {"setp.gtu.f32 %p1, %f1, %f2; selp.b32 %r4, 1, 0, %p1;", [](F a, F b, F) { return uint32_t(!(a <= b)); }, Exact},
      {"setp.nan.f32 %p1, %f1, %f2; selp.b32 %r4, 1, 0, %p1;", [](F a, F b, F) { return uint32_t(a != a || b != b); }, Exact},
      {"testp.subnormal.f32 %p1, %f1; selp.b32 %r4, 1, 0, %p1;", [](F a, F, F) { return uint32_t(is_sub(a)); }, Exact},
      {"copysign.f32 %f4, %f1, %f2;", [](F a, F b, F) { return (B(b) & 0x7FFFFFFFu) | (B(a) & 0x80000000u); }, Exact},
      // f64
      {"add.rn.f64 %fd4, %fd1, %fd2; cvt.rn.f32.f64 %f4, %fd4;", [](F a, F b, F) { return B(float(double(a) + double(b))); }},
      {"fma.rn.f64 %fd4, %fd1, %fd2, %fd3; cvt.rz.f32.f64 %f4, %fd4;", [](F a, F b, F c) {
         double d = std::fma(double(a), double(b), double(c));
         return B(rounded(FE_TOWARDZERO, [&] { return float(d); })); }},
      {"div.rn.f64 %fd4, %fd1, %fd2; mov.b64 {%r5, %r4}, %fd4;", [](F a, F b, F) {
         double d = double(a) / double(b); uint64_t u; std::memcpy(&u, &d, 8);
         return std::isnan(d) ? 0x7FFFFFFFu : uint32_t(u >> 32); }, Exact},
      // cvt
      {"cvt.rn.f32.s32 %f4, %r1;", [](F a, F, F) { return B(float(int32_t(fbits(a)))); }, Exact},
      {"cvt.rzi.s32.f32 %r4, %f1;", [](F a, F, F) {
         if (std::isnan(a)) return 0u;
         double t = std::trunc(double(a));
         return uint32_t(t >= 2147483647.0 ? INT32_MAX : t <= -2147483648.0 ? INT32_MIN : int32_t(t)); }, Exact},
      {"cvt.rni.u32.f32 %r4, %f1;", [](F a, F, F) {
         if (std::isnan(a)) return 0u;
         double t = std::nearbyint(double(a));
         return uint32_t(t <= 0 ? 0u : t >= 4294967295.0 ? 0xFFFFFFFFu : uint32_t(t)); }, Exact},
      {"cvt.rn.bf16.f32 %rs1, %f1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) { return uint32_t(bf16_rn(a)); }, Exact},
      {"cvt.rn.bf16.f32 %rs1, %f1; cvt.f32.bf16 %f4, %rs1;", [](F a, F, F) { return std::isnan(a) ? 0x7FFFFFFFu : uint32_t(bf16_rn(a)) << 16; }},
      {"cvt.rn.bf16x2.f32 %r4, %f1, %f2;", [](F a, F b, F) { return (uint32_t(bf16_rn(a)) << 16) | bf16_rn(b); }, Exact},
      {"cvt.rn.f16.f32 %rs1, %f1; cvt.f32.f16 %f4, %rs1;", [](F a, F, F) { return B(float(_Float16(a))); }},
      {"cvt.rn.satfinite.e4m3x2.f32 %rs1, %f1, %f2; cvt.u32.u16 %r4, %rs1;", [](F a, F b, F) {
         return (uint32_t(e4m3_rn_satfinite(a)) << 8) | e4m3_rn_satfinite(b); }, Exact},
      {"cvt.rn.satfinite.e4m3x2.f32 %rs1, %f1, %f2; cvt.rn.f16x2.e4m3x2 %r5, %rs1; mov.b32 {%rs2, %rs3}, %r5; cvt.f32.f16 %f5, %rs2; cvt.f32.f16 %f6, %rs3; add.f32 %f4, %f5, %f6;",
       [](F a, F b, F) { return B(e4m3_value(e4m3_rn_satfinite(a)) + e4m3_value(e4m3_rn_satfinite(b))); }},
      // .sat on a half destination clamps to [0, 1] (NaN -> +0) before converting; .satfinite does not clamp
      {"cvt.rn.sat.f16.f32 %rs1, %f1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) {
         F s = std::isnan(a) ? 0.0f : a <= 0 ? 0.0f : a > 1 ? 1.0f : a; return h16bits(_Float16(s)); }, Exact},
      {"cvt.rz.sat.bf16.f32 %rs1, %f1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) {
         F s = std::isnan(a) ? 0.0f : a <= 0 ? 0.0f : a > 1 ? 1.0f : a; return fbits(s) >> 16; }, Exact},
      {"cvt.rn.sat.f16.f64 %rs1, %fd1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) {
         double s = std::isnan(a) ? 0.0 : a <= 0 ? 0.0 : a > 1 ? 1.0 : double(a); return h16bits(_Float16(s)); }, Exact},
      {"cvt.rn.sat.bf16.f64 %rs1, %fd1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) {
         F s = std::isnan(a) ? 0.0f : a <= 0 ? 0.0f : a > 1 ? 1.0f : a; return uint32_t(bf16_rn(s)); }, Exact},
      {"cvt.rn.satfinite.f16.f32 %rs1, %f1; cvt.u32.u16 %r4, %rs1;", [](F a, F, F) {
         if (std::isnan(a)) return 0x7FFFu;
         F s = a > 65504.0f ? 65504.0f : a < -65504.0f ? -65504.0f : a;
         if (std::fabs(a) >= 65520.0f) s = a > 0 ? 65504.0f : -65504.0f;
         return h16bits(_Float16(s)); }, Exact},
      {"cvt.sat.f32.f32 %f4, %f1;", [](F a, F, F) { return B(std::isnan(a) ? 0.0f : a <= 0 ? 0.0f : a > 1 ? 1.0f : a); }, Exact},
      {"cvt.rni.f32.f32 %f4, %f1;", [](F a, F, F) { return B(std::nearbyint(a)); }},
      {"cvt.f64.f32 %fd4, %f1; cvt.rn.f32.f64 %f4, %fd4;", [](F a, F, F) { return B(a); }},
      {"cvt.rni.s32.f64 %r4, %fd1;", [](F a, F, F) {
         if (std::isnan(a)) return 0u;
         double t = std::nearbyint(double(a));
         return uint32_t(t >= 2147483647.0 ? INT32_MAX : t <= -2147483648.0 ? INT32_MIN : int32_t(t)); }, Exact},
      {"cvt.rn.f64.s32 %fd4, %r1; cvt.rn.f32.f64 %f4, %fd4;", [](F a, F, F) { return B(float(double(int32_t(fbits(a))))); }},
  };
  std::string ptx = std::string(kHeader) +
                    ".visible .entry floats(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pout)\n{\n"
                    ".reg .pred %p<4>;\n.reg .b16 %rs<4>;\n.reg .b32 %r<10>;\n.reg .f32 %f<8>;\n.reg .f64 %fd<6>;\n.reg .b64 %rd<8>;\n"
                    "ld.param.u64 %rd1, [pa];\nld.param.u64 %rd2, [pb];\nld.param.u64 %rd3, [pc];\nld.param.u64 %rd4, [pout];\n"
                    "mov.u32 %r9, %tid.x;\nmul.wide.u32 %rd5, %r9, 4;\nadd.s64 %rd1, %rd1, %rd5;\nadd.s64 %rd2, %rd2, %rd5;\n"
                    "add.s64 %rd3, %rd3, %rd5;\nadd.s64 %rd4, %rd4, %rd5;\n"
                    "ld.global.f32 %f1, [%rd1];\nld.global.f32 %f2, [%rd2];\nld.global.f32 %f3, [%rd3];\nmov.b32 %r1, %f1;\n"
                    "cvt.f64.f32 %fd1, %f1;\ncvt.f64.f32 %fd2, %f2;\ncvt.f64.f32 %fd3, %f3;\n";
  const int N = 512;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string p = cases[i].ptx;
    const bool to_r4 = p.find("%r4") != std::string::npos;
    ptx += p + "\n" + (to_r4 ? "" : "mov.b32 %r4, %f4;\n") + "st.global.u32 [%rd4+" + std::to_string(i * N * 4) + "], %r4;\n";
  }
  ptx += "ret;\n}\n";
  Harness h(ptx);
  std::mt19937 rng(5);
  const float NaN = std::nanf(""), inf = INFINITY;
  const float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, inf, -inf, NaN, 1e-40f, -1e-40f, 0x1p-126f, 3e38f, 2.5f, 3.5f,
                        -2.5f, 448.0f, 500.0f, -460.0f, 0.001953125f, 1.0e-3f, 2147483648.0f, -2147483904.0f, 4294967296.0f,
                        65504.0f, 65520.0f, 1.00390625f, 1.01171875f};
  const int ne = int(sizeof edge / sizeof edge[0]);
  std::vector<float> a(N), b(N), c(N);
  std::uniform_real_distribution<float> U(-4, 4);
  std::uniform_int_distribution<int> E(-30, 30);
  for (int i = 0; i < N; ++i) {
    a[i] = i < ne * ne ? edge[i % ne] : std::ldexp(U(rng), E(rng));
    b[i] = i < ne * ne ? edge[i / ne] : (i % 5 == 0 ? a[i] : std::ldexp(U(rng), E(rng)));
    c[i] = i % 7 == 0 ? edge[i % ne] : std::ldexp(U(rng), E(rng) / 3);
  }
  const uint64_t da = h.upload(a), db = h.upload(b), dc = h.upload(c), dout = h.alloc(cases.size() * N * 4);
  auto r = h.run("floats", {1, 1, 1}, {N, 1, 1}, {da, db, dc, dout});
  CHECK(r.status == emu::LaunchResult::Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto out = h.download<uint32_t>(dout, cases.size() * N);
  for (size_t k = 0; k < cases.size(); ++k) {
    int bad = 0, first = -1;
    for (int i = 0; i < N; ++i) {
      const uint32_t got = out[k * N + i], want = cases[k].cpu(a[i], b[i], c[i]);
      bool ok;
      if (cases[k].cmp == Exact) ok = got == want;
      else if (cases[k].cmp == AnyNaN) ok = got == want || (std::isnan(bitsf(got)) && std::isnan(bitsf(want)));
      else {
        const float g = bitsf(got), wv = bitsf(want);
        ok = (std::isnan(g) && std::isnan(wv)) || g == wv || std::fabs(double(g) - wv) <= cases[k].tol * std::fabs(double(wv));
      }
      if (!ok) {
        if (first < 0) first = i;
        ++bad;
      }
    }
    if (bad)
      std::fprintf(stderr, "case `%s`: %d mismatches, first thread %d (a=%a b=%a c=%a): got %08x want %08x\n", cases[k].ptx,
                   bad, first, a[first], b[first], c[first], out[k * N + first], cases[k].cpu(a[first], b[first], c[first]));
    CHECK_EQ(bad, 0);
  }
  std::printf("%zu float cases x %d threads\n", cases.size(), N);
  return check::finish();
}
