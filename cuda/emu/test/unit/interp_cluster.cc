// dsv3-emu interpreter: thread-block clusters: CTAs of a cluster (.reqnctapercluster and the launch's
// cluster dimensions) run together, exchange data through mapa / ld.shared::cluster between
// barrier.cluster arrive/wait, see their %cluster_* registers; a wait without an arrive is reported, and
// a cluster barrier that one CTA never reaches is a deadlock report.
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;

static const std::string kPtx = std::string(kHeader) + R"(
// out[block][t] = word t of the next CTA's buffer (which holds 1000 * block + t), then rank, nrank
.visible .entry xchg(.param .u64 pout)
.reqnctapercluster 4, 1, 1
{
  .reg .b32 %r<20>;
  .reg .b64 %rd<8>;
  .shared .align 4 .b8 buf[128];
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %cluster_ctarank;
  mov.u32 %r4, %cluster_nctarank;
  mov.u32 %r5, buf;
  shl.b32 %r6, %r1, 2;
  add.s32 %r7, %r5, %r6;
  mad.lo.s32 %r8, %r2, 1000, %r1;
  st.shared.u32 [%r7], %r8;
  barrier.cluster.arrive.release.aligned;
  barrier.cluster.wait.acquire.aligned;
  add.s32 %r9, %r3, 1;
  rem.u32 %r10, %r9, %r4;
  mapa.shared::cluster.u32 %r11, %r7, %r10;
  ld.shared::cluster.u32 %r12, [%r11];
  // the same through a generic address
  mov.u64 %rd3, buf;
  cvta.shared.u64 %rd2, %rd3;
  cvt.u64.u32 %rd4, %r6;
  add.s64 %rd2, %rd2, %rd4;
  mapa.u64 %rd5, %rd2, %r10;
  ld.u32 %r13, [%rd5];
  barrier.cluster.arrive.aligned;
  barrier.cluster.wait.aligned;
  mad.lo.s32 %r14, %r2, 32, %r1;
  mul.wide.u32 %rd6, %r14, 16;
  add.s64 %rd7, %rd1, %rd6;
  st.global.v4.u32 [%rd7], {%r12, %r13, %r3, %r4};
  ret;
}
.visible .entry wait_only()
{
  barrier.cluster.wait.aligned;
  ret;
}
// CTA rank 1 skips the cluster barrier but stays (spins on a shared flag it never gets): deadlock
.visible .entry skip(.param .u32 k)
{
  .reg .pred %p<2>;
  .reg .b32 %r<4>;
  mov.u32 %r1, %cluster_ctarank;
  setp.eq.s32 %p1, %r1, 1;
  @%p1 bra $L_other;
  barrier.cluster.arrive.aligned;
  barrier.cluster.wait.aligned;
  ret;
$L_other:
  bar.sync 1, 64;
  ret;
}
)";

int main() {
  Harness h(kPtx);
  const uint64_t out = h.alloc(8 * 32 * 16);
  for (int sched = 0; sched < 2; ++sched) {
    h.opt.random_schedule = sched == 1;
    auto r = h.run("xchg", {8, 1, 1}, {32, 1, 1}, {out});
    CHECK(r.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(out, 8 * 32 * 4);
    int bad = 0;
    for (uint32_t b = 0; b < 8; ++b)
      for (uint32_t t = 0; t < 32; ++t) {
        const uint32_t rank = b % 4, peer = b - rank + (rank + 1) % 4;
        const uint32_t* row = &o[(b * 32 + t) * 4];
        bad += row[0] != peer * 1000 + t || row[1] != peer * 1000 + t || row[2] != rank || row[3] != 4;
      }
    CHECK_EQ(bad, 0);
  }
  h.opt.random_schedule = false;
  // a cluster whose size does not divide the grid
  auto r = h.run("xchg", {6, 1, 1}, {32, 1, 1}, {out});
  CHECK(r.status == Status::InvalidConfig);
  r = h.run("wait_only", {1, 1, 1}, {32, 1, 1}, {});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(emu::Report::Kind::InvalidArgument));
  // launch-time cluster dimensions (no .reqnctapercluster in the kernel)
  {
    const emu::KernelInfo* k = h.mod->kernel("skip");
    std::vector<uint8_t> buf(k->param_bytes, 0);
    emu::LaunchConfig cfg;
    cfg.grid = {2, 1, 1};
    cfg.block = {32, 1, 1};
    cfg.cluster = {2, 1, 1};
    cfg.params = buf.data();
    cfg.params_size = buf.size();
    h.reports.clear();
    r = h.mod->launch(*k, cfg, 0, h.mem, h.opt);
    CHECK(r.status == Status::LaunchFailure);
    CHECK(h.reported(emu::Report::Kind::Deadlock));
  }
  return check::finish();
}
