// dsv3-emu interpreter: hostile timing of the async proxy (proxycheck.h, exec_wgmma.cc).
//  - generic-proxy writes of shared memory (st.shared, mbarrier.init, a non-bulk cp.async landing) that
//    an async-proxy access (a bulk copy's source / destination / complete_tx, wgmma's operands) follows
//    with no fence.proxy.async by the WRITING thread are reported; each fence variant that covers
//    shared::cta clears it, fence.proxy.async.global and fence.mbarrier_init do not; a fence by another
//    thread does not; a write after the fence needs another fence.
//  - wgmma operands written between the wgmma and its wait_group (by a store or by a bulk copy) are
//    reported, naming both instructions, and the product is the one of the bytes at issue.
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;

static const std::string kPtx = std::string(kHeader) + R"(
// thread 0: mbarrier.init, then (mode) a fence, then a 256-byte bulk copy completing on the mbarrier
.visible .entry bulk_init(.param .u64 psrc, .param .u64 pout, .param .u32 mode)
{
  .reg .pred %p<4>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 8 .b8 bar[8];
  .shared .align 16 .b8 s[256];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  ld.param.u32 %r7, [mode];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, bar;
  mov.u32 %r3, s;
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_w;
  mbarrier.init.shared::cta.b64 [%r2], 1;
  setp.eq.u32 %p2, %r7, 1;
  @%p2 fence.proxy.async.shared::cta;
  setp.eq.u32 %p2, %r7, 2;
  @%p2 fence.proxy.async;
  setp.eq.u32 %p2, %r7, 3;
  @%p2 fence.proxy.async.shared::cluster;
  setp.eq.u32 %p2, %r7, 4;
  @%p2 fence.proxy.async::generic.release.sync_restrict::shared::cta.cluster;
  setp.eq.u32 %p2, %r7, 5;
  @%p2 fence.proxy.async.global;
  setp.eq.u32 %p2, %r7, 6;
  @%p2 fence.mbarrier_init.release.cluster;
  mbarrier.arrive.expect_tx.shared::cta.b64 %rd3, [%r2], 256;
  cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r3], [%rd1], 256, [%r2];
$L_w:
  bar.sync 0;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r2], 0;
  @!%p1 bra $L_wait;
  shl.b32 %r4, %r1, 2;
  add.s32 %r5, %r3, %r4;
  ld.shared.u32 %r6, [%r5];
  mul.wide.u32 %rd4, %r1, 4;
  add.s64 %rd5, %rd2, %rd4;
  st.global.u32 [%rd5], %r6;
  ret;
}

// 64 threads store s[tid] = tid + 100 (mode 3: thread t's word arrives by a cp.async from src instead),
// fence (mode 0: every thread; 1: thread 0 only; 2: every thread, then each stores again; 3: every
// thread before its cp.async lands; 4: every thread, after the cp.async wait), bar.sync, and thread 0
// bulk-stores the 256 bytes to out
.visible .entry bulk_store(.param .u64 psrc, .param .u64 pout, .param .u32 mode)
{
  .reg .pred %p<4>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 16 .b8 s[256];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  ld.param.u32 %r7, [mode];
  mov.u32 %r1, %tid.x;
  mov.u32 %r3, s;
  shl.b32 %r4, %r1, 2;
  add.s32 %r5, %r3, %r4;
  add.u32 %r6, %r1, 100;
  setp.ge.u32 %p3, %r7, 3;
  @%p3 bra $L_cp;
  st.shared.u32 [%r5], %r6;
  setp.eq.u32 %p2, %r7, 1;
  setp.ne.u32 %p1, %r1, 0;
  and.pred %p2, %p2, %p1;
  @!%p2 fence.proxy.async.shared::cta;
  setp.eq.u32 %p2, %r7, 2;
  @%p2 st.shared.u32 [%r5], %r6;
  bra.uni $L_sync;
$L_cp:
  mul.wide.u32 %rd4, %r1, 4;
  add.s64 %rd5, %rd1, %rd4;
  cp.async.ca.shared.global [%r5], [%rd5], 4;
  setp.eq.u32 %p2, %r7, 3;
  @%p2 fence.proxy.async.shared::cta;
  cp.async.wait_all;
  setp.eq.u32 %p2, %r7, 4;
  @%p2 fence.proxy.async.shared::cta;
$L_sync:
  bar.sync 0;
  setp.ne.u32 %p1, %r1, 0;
  @%p1 bra $L_end;
  cp.async.bulk.global.shared::cta.bulk_group [%rd2], [%r3], 256;
  cp.async.bulk.commit_group;
  cp.async.bulk.wait_group.read 0;
$L_end:
  ret;
}

// One warpgroup: B (8 x 16 f16, K-major, no swizzle: 256 bytes) = 1.0 written by threads 0..63 and
// fenced (mode 5: not fenced), A = 1.0 from registers, D = A * B (every element 16). Between the wgmma
// and its wait_group (after a bar.sync: every warp has issued), thread 0 (mode 1) stores 2.0s into B, or
// (mode 2) a bulk copy from src lands there; mode 3 stores after every warp's wait (fine); mode 0
// nothing. D must be 16 in every mode.
.visible .entry wg_overwrite(.param .u64 psrc, .param .u64 pout, .param .u32 mode)
{
  .reg .pred %p<6>;
  .reg .b32 %r<40>;
  .reg .b64 %rd<12>;
  .shared .align 1024 .b8 sb[256];
  .shared .align 8 .b8 bar[8];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  ld.param.u32 %r1, [mode];
  mov.u32 %r2, %tid.x;
  mov.u32 %r3, sb;
  mov.u32 %r4, bar;
  setp.lt.u32 %p1, %r2, 64;
  shl.b32 %r5, %r2, 2;
  add.u32 %r6, %r3, %r5;
  mov.u32 %r7, 0x3C003C00;
  @%p1 st.shared.u32 [%r6], %r7;
  setp.eq.u32 %p2, %r2, 0;
  @%p2 mbarrier.init.shared::cta.b64 [%r4], 1;
  setp.ne.u32 %p4, %r1, 5;
  @%p4 fence.proxy.async.shared::cta;
  bar.sync 0;
  cvt.u64.u32 %rd3, %r3;
  shr.u64 %rd3, %rd3, 4;
  or.b64 %rd3, %rd3, 0x0000001000080000;
  mov.u32 %r10, 0x3C003C00;
  mov.u32 %r11, 0x3C003C00;
  mov.u32 %r12, 0x3C003C00;
  mov.u32 %r13, 0x3C003C00;
  wgmma.fence.sync.aligned;
  wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%r20, %r21, %r22, %r23}, {%r10, %r11, %r12, %r13}, %rd3, 0, 1, 1, 0;
  wgmma.commit_group.sync.aligned;
  bar.sync 0;                          // every warp has issued (and read its operands)
  setp.eq.u32 %p3, %r1, 1;
  and.pred %p3, %p3, %p2;
  mov.u32 %r8, 0x40004000;
  @%p3 st.shared.u32 [%r3+64], %r8;
  setp.eq.u32 %p3, %r1, 2;
  and.pred %p3, %p3, %p2;
  @!%p3 bra $L_skip;
  mbarrier.arrive.expect_tx.shared::cta.b64 %rd4, [%r4], 256;
  cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r3], [%rd1], 256, [%r4];
$L_waitb:
  mbarrier.try_wait.parity.shared::cta.b64 %p5, [%r4], 0;
  @!%p5 bra $L_waitb;
$L_skip:
  wgmma.wait_group.sync.aligned 0;
  bar.sync 0;                          // every warp has waited
  setp.eq.u32 %p3, %r1, 3;
  and.pred %p3, %p3, %p2;
  @%p3 st.shared.u32 [%r3+64], %r8;
  mul.wide.u32 %rd5, %r2, 16;
  add.u64 %rd6, %rd2, %rd5;
  st.global.v4.u32 [%rd6], {%r20, %r21, %r22, %r23};
  ret;
}
)";

static bool has(const Harness& h, const char* s) { return h.all_reports().find(s) != std::string::npos; }

int main() {
  Harness h(kPtx);
  std::vector<uint32_t> src(64);
  for (uint32_t i = 0; i < 64; ++i) src[i] = 0x1000 + i;
  const uint64_t dsrc = h.upload(src), dout = h.alloc(64 * 4);

  // mbarrier.init then a bulk copy completing on it
  for (uint32_t mode = 0; mode <= 6; ++mode) {
    const bool fenced = mode >= 1 && mode <= 4;
    auto r = h.run("bulk_init", {1, 1, 1}, {64, 1, 1}, {dsrc, dout, mode});
    if (fenced) {
      CHECK(r.status == Status::Ok);
      CHECK(h.reports.empty());
      std::fputs(h.all_reports().c_str(), stderr);
    } else {
      CHECK(r.status == Status::LaunchFailure);
      CHECK(h.reported(Kind::Race));
      CHECK(has(h, "Missing fence.proxy.async"));
      CHECK(has(h, "the mbarrier object that the bulk copy's complete_tx updates"));
      CHECK(has(h, "mbarrier.init.shared::cta.b64"));
      CHECK(has(h, "by thread (0,0,0)"));
      CHECK(h.reports.size() == 1);
    }
    auto o = h.download<uint32_t>(dout, 64);
    int bad = 0;
    for (uint32_t t = 0; t < 64; ++t) bad += o[t] != src[t];
    CHECK_EQ(bad, 0);  // a report, not a different result
  }

  // generic stores as the source of a bulk store
  for (uint32_t mode = 0; mode <= 4; ++mode) {
    const bool clean = mode == 0 || mode == 4;
    auto r = h.run("bulk_store", {1, 1, 1}, {64, 1, 1}, {dsrc, dout, mode});
    if (clean) {
      CHECK(r.status == Status::Ok);
      CHECK(h.reports.empty());
      std::fputs(h.all_reports().c_str(), stderr);
    } else {
      CHECK(r.status == Status::LaunchFailure);
      CHECK(has(h, "Missing fence.proxy.async"));
      CHECK(has(h, "source of the bulk copy"));
      CHECK(has(h, "PTX line"));
    }
    if (mode == 1) CHECK(has(h, "by thread (1,0,0) with `st.shared.u32"));  // thread 0 fenced, thread 1 did not
    if (mode == 2) CHECK(has(h, "by thread (0,0,0) with `@%p2 st.shared.u32") || has(h, "by thread (0,0,0) with `st.shared.u32"));
    if (mode == 3) CHECK(has(h, "cp.async.ca.shared.global"));  // a fence before the cp.async landed is too early
    auto o = h.download<uint32_t>(dout, 64);
    int bad = 0;
    for (uint32_t t = 0; t < 64; ++t) bad += o[t] != (mode >= 3 ? src[t] : t + 100);
    CHECK_EQ(bad, 0);
  }

  // wgmma operands: fenced / unfenced, and overwritten before the wait
  std::vector<uint32_t> twos(64, 0x40004000u);
  const uint64_t dtwos = h.upload(twos), dd = h.alloc(128 * 16);
  for (uint32_t mode : {0u, 1u, 2u, 3u, 5u}) {
    for (int sched = 0; sched < 2; ++sched) {
      h.opt.random_schedule = sched;
      h.opt.seed = 5 + mode;
      auto r = h.run("wg_overwrite", {1, 1, 1}, {128, 1, 1}, {dtwos, dd, mode});
      if (mode == 0 || mode == 3) {
        CHECK(r.status == Status::Ok);
        CHECK(h.reports.empty());
        std::fputs(h.all_reports().c_str(), stderr);
      } else if (mode == 5) {
        CHECK(r.status == Status::LaunchFailure);
        CHECK(has(h, "Missing fence.proxy.async"));
        CHECK(has(h, "B operand of the wgmma"));
        CHECK(has(h, "st.shared.u32 [%r6], %r7;"));
      } else {
        CHECK(r.status == Status::LaunchFailure);
        CHECK(h.reported(Kind::Race));
        CHECK(has(h, "wgmma.mma_async shared-memory operand written between the wgmma and the wgmma.wait_group"));
        CHECK(has(h, "issued `wgmma.mma_async"));
        CHECK(has(h, "waited `wgmma.wait_group.sync.aligned 0;`"));
        CHECK(!has(h, "Missing fence.proxy.async"));
      }
      auto o = h.download<uint32_t>(dd, 128 * 4);
      int bad = 0;
      for (uint32_t v : o) bad += bitsf(v) != 16.0f;  // the product of the operands at issue
      CHECK_EQ(bad, 0);
    }
  }
  h.opt.random_schedule = false;

  // the check can be turned off
  h.opt.proxycheck = false;
  auto r = h.run("bulk_init", {1, 1, 1}, {64, 1, 1}, {dsrc, dout, 0});
  CHECK(r.status == Status::Ok);
  CHECK(h.reports.empty());
  return check::finish();
}
