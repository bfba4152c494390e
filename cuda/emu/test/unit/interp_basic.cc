// dsv3-emu interpreter: the basics end to end: a vector add kernel as nvcc writes it (params, special
// registers, guards, branches, global ld/st), launch config validation, counters, and the speed of an
// arithmetic loop (thread-instructions per second, printed).
#include <chrono>
#include <cmath>
#include <random>

#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;

static const std::string kVadd = std::string(kHeader) + R"(
.visible .entry vadd(
  .param .u64 vadd_param_0,
  .param .u64 vadd_param_1,
  .param .u64 vadd_param_2,
  .param .u32 vadd_param_3
)
.maxntid 256, 1, 1
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<11>;

  ld.param.u64 %rd1, [vadd_param_0];
  ld.param.u64 %rd2, [vadd_param_1];
  ld.param.u64 %rd3, [vadd_param_2];
  ld.param.u32 %r2, [vadd_param_3];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r1, %r3, %r4, %r5;
  setp.ge.s32 %p1, %r1, %r2;
  @%p1 bra $L__BB0_2;
  cvta.to.global.u64 %rd4, %rd1;
  mul.wide.s32 %rd5, %r1, 4;
  add.s64 %rd6, %rd4, %rd5;
  cvta.to.global.u64 %rd7, %rd2;
  add.s64 %rd8, %rd7, %rd5;
  ld.global.f32 %f1, [%rd8];
  ld.global.f32 %f2, [%rd6];
  add.f32 %f3, %f2, %f1;
  cvta.to.global.u64 %rd9, %rd3;
  add.s64 %rd10, %rd9, %rd5;
  st.global.f32 [%rd10], %f3;
$L__BB0_2:
  ret;
}

// an integer loop: x = x * 1664525 + 1013904223 (n times), then out[tid] = x
.visible .entry lcg(.param .u64 out, .param .u32 n)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %tid.x;
  mov.u32 %r3, %r2;
  mov.u32 %r4, 0;
$L_loop:
  mad.lo.s32 %r3, %r3, 1664525, 1013904223;
  xor.b32 %r5, %r3, %r4;
  add.s32 %r4, %r4, 1;
  setp.lt.u32 %p1, %r4, %r1;
  @%p1 bra $L_loop;
  mul.wide.u32 %rd2, %r2, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r3;
  ret;
}
)";

int main() {
  Harness h(kVadd);
  const emu::KernelInfo* k = h.mod->kernel("vadd");
  CHECK(k != nullptr);
  CHECK_EQ(k->params.size(), size_t(4));
  CHECK_EQ(k->params[3].offset, 24u);
  CHECK_EQ(k->param_bytes, 28u);
  CHECK_EQ(k->maxntid[0], 256);

  // vadd on 1000 elements, 4 blocks of 256 (the last partly idle)
  const int n = 1000;
  std::vector<float> a(n), b(n);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> U(-10, 10);
  for (int i = 0; i < n; ++i) a[i] = U(rng), b[i] = U(rng);
  const uint64_t da = h.upload(a), db = h.upload(b), dc = h.alloc(n * 4);
  auto r = h.run("vadd", {4, 1, 1}, {256, 1, 1}, {da, db, dc, uint64_t(n)});
  CHECK(r.status == Status::Ok);
  CHECK_EQ(r.ctas, 4u);
  CHECK_EQ(r.ctas_with_work, 4u);
  CHECK(r.thread_instructions > 0);
  auto c = h.download<float>(dc, n);
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += c[i] != a[i] + b[i];
  CHECK_EQ(bad, 0);
  CHECK(h.reports.empty());

  // config validation: .maxntid 256, block too large, too much shared memory
  r = h.run("vadd", {1, 1, 1}, {512, 1, 1}, {da, db, dc, uint64_t(n)});
  CHECK(r.status == Status::InvalidConfig);
  r = h.run("vadd", {1, 1, 1}, {0, 1, 1}, {da, db, dc, uint64_t(n)});
  CHECK(r.status == Status::InvalidConfig);
  r = h.run("lcg", {1, 1, 1}, {2048, 1, 1}, {dc, 1});
  CHECK(r.status == Status::InvalidConfig);
  r = h.run("lcg", {1, 1, 1}, {32, 1, 1}, {dc, 1}, 49 * 1024);
  CHECK(r.status == Status::InvalidConfig);
  h.max_dyn_smem = 100 * 1024;
  r = h.run("lcg", {1, 1, 1}, {32, 1, 1}, {dc, 1}, 49 * 1024);
  CHECK(r.status == Status::Ok);
  r = h.run("lcg", {1, 1, 1}, {32, 1, 1}, {dc, 1}, 228 * 1024);
  CHECK(r.status == Status::InvalidConfig);
  r = h.run("lcg", {70000, 70000, 1}, {32, 1, 1}, {dc, 1});
  CHECK(r.status == Status::InvalidConfig);

  // the LCG loop against the CPU, and its speed
  const uint32_t iters = 20000;
  const uint64_t dout = h.alloc(256 * 4);
  const auto t0 = std::chrono::steady_clock::now();
  r = h.run("lcg", {4, 1, 1}, {256, 1, 1}, {dout, iters});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(r.status == Status::Ok);
  auto out = h.download<uint32_t>(dout, 256);
  bad = 0;
  for (uint32_t t = 0; t < 256; ++t) {
    uint32_t x = t;
    for (uint32_t i = 0; i < iters; ++i) x = x * 1664525u + 1013904223u;
    bad += out[t] != x;
  }
  CHECK_EQ(bad, 0);
  CHECK_EQ(r.thread_instructions, uint64_t(4) * 256 * (5 + 5 * iters + 4));
  std::printf("speed: %.1f M thread-instructions/s (%llu in %.3f s, %.1f M warp-instructions/s)\n",
              r.thread_instructions / s / 1e6, (unsigned long long)r.thread_instructions, s,
              r.warp_instructions / s / 1e6);
  // many small CTAs: the per-CTA cost (register poison, scheduling) on a memory-bound kernel
  {
    const int n2 = 1 << 20;
    const uint64_t a2 = h.alloc(n2 * 4), b2 = h.alloc(n2 * 4), c2 = h.alloc(n2 * 4);
    const auto t1 = std::chrono::steady_clock::now();
    auto r2 = h.run("vadd", {n2 / 256, 1, 1}, {256, 1, 1}, {a2, b2, c2, uint64_t(n2)});
    const double s2 = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    CHECK(r2.status == Status::Ok);
    std::printf("vadd over %d elements (%d CTAs): %.3f s, %.1f M thread-instructions/s, %.1f us per CTA\n", n2, n2 / 256,
                s2, r2.thread_instructions / s2 / 1e6, s2 / (n2 / 256) * 1e6);
  }
  // ---- brx.idx over a .branchtargets list (PTX ISA 9.0 §9.7.12.3): per-lane (divergent) indices, a
  // guard, a repeated label, a list declared in a { } block branching out of it; an index past the list
  // (undefined in the ISA) is reported ----
  {
    Harness hb(std::string(kHeader) + R"(
.visible .entry brx(.param .u64 p, .param .u32 mod)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [p];
  ld.param.u32 %r7, [mod];
  mov.u32 %r1, %tid.x;
  rem.u32 %r2, %r1, %r7;
  mov.u32 %r3, 1000;
  setp.eq.u32 %p1, %r1, 31;
  {
  ts: .branchtargets L_a, L_b, L_c, L_a;
  @!%p1 brx.idx %r2, ts;
  bra.uni L_end;
  L_a: add.u32 %r3, %r1, 100; bra.uni L_end;
  L_b: mul.lo.u32 %r3, %r1, 3; bra.uni L_end;
  L_c: xor.b32 %r3, %r1, 255;
  }
L_end:
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r3;
  ret;
}
)");
    const uint64_t d = hb.alloc(64 * 4);
    for (uint32_t mod : {4u, 1u}) {
      auto rb = hb.run("brx", {1, 1, 1}, {64, 1, 1}, {d, mod});
      std::fputs(hb.all_reports().c_str(), stderr);
      CHECK(rb.status == Status::Ok);
      const auto o = hb.download<uint32_t>(d, 64);
      int bad = 0;
      for (uint32_t t = 0; t < 64; ++t) {
        const uint32_t k = t % mod;
        const uint32_t want = t == 31 ? 1000 : k == 0 || k == 3 ? t + 100 : k == 1 ? t * 3 : t ^ 255;
        bad += o[t] != want;
      }
      CHECK_EQ(bad, 0);
    }
    auto rb = hb.run("brx", {1, 1, 1}, {64, 1, 1}, {d, 5});
    CHECK(rb.status != Status::Ok);
    CHECK(hb.reported(emu::Report::Kind::InvalidArgument));
    if (!hb.reports.empty()) CHECK(hb.reports[0].text.find("brx.idx index out of range") != std::string::npos);
  }
  return check::finish();
}
