// dsv3-emu interpreter: the register rules of wgmma (PTX ISA 9.0 wgmma.fence §9.7.15.7.1, wgmma.wait_group
// §9.7.15.7.3; exec_wgmma.cc) and the poison of a bulk copy's destination until it lands (exec_async.cc).
// One warpgroup runs m64n8k16 f32.f16.f16 with A from registers (zeros) and B from zeroed shared memory, so
// D = D (scale-d 1); each kernel below breaks one rule, or none (wg_ok, wg_two_chains: clean and checked).
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;

namespace {

// B: 1024 zero bytes (128 threads x 8), fenced for the async proxy; A registers %r10..13 = 0; the
// accumulators %f1..%f4 = 1.0 (and %f5..%f8 = 2.0); %rd1: the B descriptor (K-major, no swizzle,
// LBO 128, SBO 256); %rd2: this thread's 32 output bytes.
std::string prologue(const std::string& name) {
  return ".visible .entry " + name + "(.param .u64 pout)\n{\n"
         "  .reg .b32 %r<40>;\n  .reg .b64 %rd<8>;\n  .reg .f32 %f<20>;\n  .reg .pred %p<4>;\n"
         "  .shared .align 1024 .b8 sb[1024];\n"
         "  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, sb;\n  shl.b32 %r3, %r1, 3;\n  add.u32 %r4, %r2, %r3;\n"
         "  mov.b64 %rd5, 0;\n  st.shared.u64 [%r4], %rd5;\n  fence.proxy.async.shared::cta;\n  bar.sync 0;\n"
         "  cvt.u64.u32 %rd1, %r2;\n  shr.u64 %rd1, %rd1, 4;\n  or.b64 %rd1, %rd1, 68720001024;\n"
         "  ld.param.u64 %rd2, [pout];\n  mul.wide.u32 %rd3, %r1, 32;\n  add.u64 %rd2, %rd2, %rd3;\n"
         "  mov.b32 %r10, 0;\n  mov.b32 %r11, 0;\n  mov.b32 %r12, 0;\n  mov.b32 %r13, 0;\n"
         "  mov.f32 %f1, 0f3F800000;\n  mov.f32 %f2, 0f3F800000;\n  mov.f32 %f3, 0f3F800000;\n"
         "  mov.f32 %f4, 0f3F800000;\n  mov.f32 %f5, 0f40000000;\n  mov.f32 %f6, 0f40000000;\n"
         "  mov.f32 %f7, 0f40000000;\n  mov.f32 %f8, 0f40000000;\n";
}
const char* kMma = "  wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f1, %f2, %f3, %f4}, {%r10, %r11, %r12, %r13}, %rd1, 1, 1, 1, 0;\n";
const char* kMma2 = "  wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%f5, %f6, %f7, %f8}, {%r10, %r11, %r12, %r13}, %rd1, 1, 1, 1, 0;\n";
const char* kMma16 =
    "  wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 {%f1, %f2, %f3, %f4, %f5, %f6, %f7, %f8}, {%r10, %r11, %r12, %r13}, %rd1, 1, 1, 1, 0;\n";
const char* kFence = "  wgmma.fence.sync.aligned;\n";
const char* kCommit = "  wgmma.commit_group.sync.aligned;\n";
const char* kWait = "  wgmma.wait_group.sync.aligned 0;\n";
const char* kStore =
    "  st.global.v4.f32 [%rd2], {%f1, %f2, %f3, %f4};\n  st.global.v4.f32 [%rd2+16], {%f5, %f6, %f7, %f8};\n  ret;\n}\n";

std::string kernels() {
  std::string s = kHeader;
  // clean: fence, a chain of two into the same accumulators, wait, a read, fence again, one more
  s += prologue("wg_ok") + kFence + kMma + kMma + kCommit + kWait + "  add.f32 %f9, %f1, %f2;\n" + kFence + kMma +
       kCommit + kWait + kStore;
  // clean: two chains in flight at once (each takes its accumulators at issue)
  s += prologue("wg_two_chains") + kFence + kMma + kMma2 + kMma + kCommit + kMma2 + kCommit + kWait + kStore;
  // an accumulator read before the wait
  s += prologue("wg_read_inflight") + kFence + kMma + kCommit + "  add.f32 %f9, %f1, %f2;\n" + kWait + kStore;
  // an accumulator written before the wait
  s += prologue("wg_write_inflight") + kFence + kMma + kCommit + "  mov.f32 %f3, 0f00000000;\n" + kWait + kStore;
  // an A fragment register written before the wait
  s += prologue("wg_a_inflight") + kFence + kMma + kCommit + "  mov.b32 %r11, 7;\n" + kWait + kStore;
  // no wgmma.fence at all
  s += prologue("wg_no_fence") + kMma + kCommit + kWait + kStore;
  // an accumulator written between the fence and the wgmma
  s += prologue("wg_write_after_fence") + kFence + "  mov.f32 %f2, 0f00000000;\n" + kMma + kCommit + kWait + kStore;
  // an A register written between the fence and the wgmma
  s += prologue("wg_a_after_fence") + kFence + "  mov.b32 %r12, 0;\n" + kMma + kCommit + kWait + kStore;
  // the accumulators read after the wait, then the next wgmma with no fence (a K loop without its fence)
  s += prologue("wg_read_then_no_fence") + kFence + kMma + kCommit + kWait + "  add.f32 %f9, %f1, %f4;\n" + kMma +
       kCommit + kWait + kStore;
  // chaining onto an in-flight wgmma of another shape without a fence
  s += prologue("wg_shape_chain") + kFence + kMma + kMma16 + kCommit + kWait + kStore;
  // exits with a committed group never waited on / with an op never committed
  s += prologue("wg_exit_pending") + kFence + kMma + kCommit + "  ret;\n}\n";
  s += prologue("wg_exit_uncommitted") + kFence + kMma + "  ret;\n}\n";
  // cp.async.bulk: thread 0 issues the copy and reads the destination at once (before its mbarrier
  // phase completes), then waits; out[0] = the early word, out[1] = the word after the wait
  s += R"(
.visible .entry bulk_early(.param .u64 psrc, .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 8 .b8 bar[8];
  .shared .align 16 .b8 s[256];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r2, bar;
  mov.u32 %r3, s;
  mbarrier.init.shared::cta.b64 [%r2], 1;
  fence.mbarrier_init.release.cluster;
  fence.proxy.async.shared::cta;
  mbarrier.arrive.expect_tx.shared::cta.b64 %rd3, [%r2], 256;
  cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r3], [%rd1], 256, [%r2];
  ld.shared.u32 %r6, [%r3+4];
  st.global.u32 [%rd2], %r6;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r2], 0;
  @!%p1 bra $L_wait;
  ld.shared.u32 %r7, [%r3+4];
  st.global.u32 [%rd2+4], %r7;
  ret;
}
)";
  return s;
}

bool has(const Harness& h, const char* text) { return h.all_reports().find(text) != std::string::npos; }

// Runs a kernel that breaks a rule: a non-fatal report (LaunchFailure) whose text has every piece of `want`.
void expect_report(Harness& h, const char* name, std::initializer_list<const char*> want) {
  const uint64_t out = h.alloc(128 * 32);
  auto r = h.run(name, {1, 1, 1}, {128, 1, 1}, {out});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Race));
  bool all = true;
  for (const char* w : want) {
    const bool ok = has(h, w);
    if (!ok) std::fprintf(stderr, "%s: report lacks \"%s\"\n", name, w);
    all &= ok;
  }
  CHECK(all);
  if (!all) std::fputs(h.all_reports().c_str(), stderr);
}

}  // namespace

int main() {
  Harness h(kernels());
  for (int strict = 0; strict < 2; ++strict) {
    h.opt.strict = strict;
    for (const char* name : {"wg_ok", "wg_two_chains"}) {
      const uint64_t out = h.alloc(128 * 32);
      auto r = h.run(name, {1, 1, 1}, {128, 1, 1}, {out});
      CHECK(r.status == Status::Ok);
      CHECK(h.reports.empty());
      std::fputs(h.all_reports().c_str(), stderr);
      auto o = h.download<float>(out, 128 * 8);
      int bad = 0;
      for (uint32_t t = 0; t < 128; ++t)
        for (uint32_t i = 0; i < 8; ++i) bad += o[t * 8 + i] != (i < 4 ? 1.f : 2.f);
      CHECK_EQ(bad, 0);
    }
  }
  h.opt.strict = false;

  expect_report(h, "wg_read_inflight",
                {"accumulator register read before the wgmma.wait_group", "register %f1", "add.f32 %f9, %f1, %f2",
                 "in flight: `wgmma.mma_async", "PTX line", "lane 0: `add.f32"});
  expect_report(h, "wg_write_inflight", {"accumulator register written before the wgmma.wait_group", "register %f3"});
  expect_report(h, "wg_a_inflight", {"A fragment register written before the wgmma.wait_group", "register %r11"});
  expect_report(h, "wg_no_fence", {"wgmma.mma_async without a wgmma.fence before it"});
  expect_report(h, "wg_write_after_fence",
                {"uses a register accessed by another instruction since the last wgmma.fence", "register %f2",
                 "mov.f32 %f2"});
  expect_report(h, "wg_a_after_fence", {"since the last wgmma.fence", "register %r12 (A fragment element"});
  expect_report(h, "wg_read_then_no_fence", {"since the last wgmma.fence", "add.f32 %f9, %f1, %f4"});
  expect_report(h, "wg_shape_chain", {"in-flight wgmma of another shape", "m64n16k16", "m64n8k16"});
  expect_report(h, "wg_exit_pending", {"Warp exits with wgmma.mma_async in flight", "committed and never waited on"});
  expect_report(h, "wg_exit_uncommitted", {"Warp exits with wgmma.mma_async in flight", "never committed"});

  // the bulk copy's destination is poison until the copy lands, then the data
  std::vector<uint32_t> src(64);
  for (uint32_t i = 0; i < 64; ++i) src[i] = 0x5000 + i;
  const uint64_t dsrc = h.upload(src);
  for (int strict = 0; strict < 2; ++strict) {
    h.opt.strict = strict;
    const uint64_t out = h.alloc(8);
    auto r = h.run("bulk_early", {1, 1, 1}, {1, 1, 1}, {dsrc, out});
    auto o = h.download<uint32_t>(out, 2);
    CHECK_EQ(o[0], 0xFFFFFFFFu);
    CHECK_EQ(o[1], 0x5001u);
    if (strict) {
      CHECK(r.status == Status::LaunchFailure);
      CHECK(h.reported(Kind::Uninitialized));
      CHECK(has(h, "has not landed"));
    } else {
      CHECK(r.status == Status::Ok);
      CHECK(h.reports.empty());
    }
  }
  h.opt.strict = false;
  return check::finish();
}
