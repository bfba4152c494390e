// dsv3-emu interpreter: the asynchronous units without tensor cores: an mbarrier producer/consumer over
// several phases (arrive / try_wait.parity), cp.async groups whose data appears only at wait_group
// (a read before the wait sees the poison: completion is as late as allowed), cp.async.bulk with
// arrive.expect_tx; and the failures: a try_wait whose phase never completes is a deadlock report (not a
// hang), an mbarrier used before init, an arrival beyond the count.
#include "src/runtime/tensormap.h"
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;

static const std::string kPtx = std::string(kHeader) + R"(
// 4 rounds: warp 0 writes buf[round] (32 words) and arrives on `full`; warp 1 waits on its phase, copies
// the round out and arrives on `empty`, which warp 0 waits on before the next round
.visible .entry pc_rounds(.param .u64 pout)
{
  .reg .pred %p<3>;
  .reg .b32 %r<20>;
  .reg .b64 %rd<8>;
  .shared .align 8 .b8 full[8];
  .shared .align 8 .b8 empty[8];
  .shared .align 4 .b8 buf[512];
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, full;
  mov.u32 %r15, empty;
  mov.u32 %r3, buf;
  setp.eq.s32 %p1, %r1, 0;
  @%p1 mbarrier.init.shared::cta.b64 [%r2], 32;
  @%p1 mbarrier.init.shared::cta.b64 [%r15], 32;
  bar.sync 0;
  and.b32 %r4, %r1, 31;
  shl.b32 %r5, %r4, 2;
  mov.u32 %r6, 0;                      // round
$L_round:
  shl.b32 %r7, %r6, 7;
  add.s32 %r8, %r3, %r7;
  add.s32 %r9, %r8, %r5;               // &buf[round][lane]
  setp.ge.u32 %p2, %r1, 32;
  @%p2 bra $L_consumer;
  setp.eq.s32 %p1, %r6, 0;
  @%p1 bra $L_produce;
  sub.s32 %r16, %r6, 1;
  and.b32 %r17, %r16, 1;
$L_wait_empty:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r15], %r17;
  @!%p1 bra $L_wait_empty;
$L_produce:
  mad.lo.s32 %r10, %r6, 1000, %r4;
  st.shared.u32 [%r9], %r10;
  mbarrier.arrive.shared::cta.b64 %rd2, [%r2];
  bra.uni $L_next;
$L_consumer:
  and.b32 %r11, %r6, 1;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r2], %r11;
  @!%p1 bra $L_wait;
  ld.shared.u32 %r12, [%r9];
  shl.b32 %r13, %r6, 5;
  add.s32 %r14, %r13, %r4;
  mul.wide.u32 %rd3, %r14, 4;
  add.s64 %rd4, %rd1, %rd3;
  st.global.u32 [%rd4], %r12;
  mbarrier.arrive.shared::cta.b64 %rd5, [%r15];
$L_next:
  add.s32 %r6, %r6, 1;
  setp.lt.u32 %p2, %r6, 4;
  @%p2 bra $L_round;
  ret;
}

// cp.async: the destination before the wait (poison) and after (data); a zero-filled partial copy
.visible .entry cpasync(.param .u64 psrc, .param .u64 pout)
{
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 16 .b8 s[1024];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 16;
  add.s64 %rd4, %rd1, %rd3;
  mov.u32 %r2, s;
  shl.b32 %r3, %r1, 4;
  add.s32 %r4, %r2, %r3;
  cp.async.cg.shared.global [%r4], [%rd4], 16;
  cp.async.commit_group;
  add.s32 %r5, %r4, 512;
  cp.async.cg.shared.global [%r5], [%rd4], 16, 4;
  cp.async.commit_group;
  ld.shared.u32 %r6, [%r4];            // before any wait: not yet there
  cp.async.wait_group 1;
  ld.shared.u32 %r7, [%r4];            // first group done
  ld.shared.u32 %r8, [%r5+4];          // second not yet
  cp.async.wait_all;
  ld.shared.v2.u32 {%r9, %r10}, [%r5];  // 4 bytes copied, then zeros
  mul.wide.u32 %rd5, %r1, 20;
  add.s64 %rd6, %rd2, %rd5;
  st.global.u32 [%rd6], %r6;
  st.global.u32 [%rd6+4], %r7;
  st.global.u32 [%rd6+8], %r8;
  st.global.u32 [%rd6+12], %r9;
  st.global.u32 [%rd6+16], %r10;
  ret;
}

// cp.async.bulk of 256 bytes completed through the mbarrier's transaction count
.visible .entry bulk(.param .u64 psrc, .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 8 .b8 bar[8];
  .shared .align 16 .b8 s[256];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, bar;
  mov.u32 %r3, s;
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_w;
  mbarrier.init.shared::cta.b64 [%r2], 1;
  fence.mbarrier_init.release.cluster;
  fence.proxy.async.shared::cta;        // the init (generic proxy) before the copy's complete_tx (async proxy)
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

// TMA store of a 32 x 8 box of u32 (128-byte rows) from shared memory, and a plain bulk store of 512 bytes
.visible .entry tma_store(.param .align 64 .b8 map[128], .param .u32 x, .param .u32 y, .param .u64 pplain)
{
  .reg .pred %p<2>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<8>;
  .shared .align 1024 .b8 s[1024];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, s;
  shl.b32 %r3, %r1, 2;
  add.s32 %r4, %r2, %r3;
  st.shared.u32 [%r4], %r1;              // s[i] = i, i < 256
  fence.proxy.async.shared::cta;
  bar.sync 0;
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_end;
  mov.u64 %rd1, map;
  cvta.param.u64 %rd2, %rd1;
  ld.param.u32 %r5, [x];
  ld.param.u32 %r6, [y];
  cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%rd2, {%r5, %r6}], [%r2];
  ld.param.u64 %rd3, [pplain];
  cp.async.bulk.global.shared::cta.bulk_group [%rd3], [%r2], 512;
  cp.async.bulk.commit_group;
  cp.async.bulk.wait_group.read 0;
$L_end:
  ret;
}

.visible .entry never(.param .u32 k)
{
  .reg .pred %p<2>;
  .reg .b32 %r<4>;
  .reg .b64 %rd<2>;
  .shared .align 8 .b8 bar[8];
  ld.param.u32 %r1, [k];
  mov.u32 %r2, bar;
  mbarrier.init.shared::cta.b64 [%r2], 2;
  mbarrier.arrive.shared::cta.b64 %rd1, [%r2], %r1;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r2], 0;
  @!%p1 bra $L_wait;
  ret;
}

.visible .entry noinit()
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<2>;
  .shared .align 8 .b8 bar[8];
  mov.u32 %r1, bar;
  mbarrier.arrive.shared::cta.b64 %rd1, [%r1];
  ret;
}
)";

int main() {
  Harness h(kPtx);
  for (int sched = 0; sched < 3; ++sched) {
    h.opt.random_schedule = sched > 0;
    h.opt.seed = uint64_t(sched) * 7;
    const uint64_t out = h.alloc(4 * 32 * 4);
    auto r = h.run("pc_rounds", {1, 1, 1}, {64, 1, 1}, {out});
    CHECK(r.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(out, 128);
    int bad = 0;
    for (uint32_t round = 0; round < 4; ++round)
      for (uint32_t l = 0; l < 32; ++l) bad += o[round * 32 + l] != round * 1000 + l;
    CHECK_EQ(bad, 0);
  }
  h.opt.random_schedule = false;

  std::vector<uint32_t> src(32 * 4);
  for (uint32_t i = 0; i < src.size(); ++i) src[i] = 0x1000 + i;
  const uint64_t dsrc = h.upload(src), dout = h.alloc(32 * 20);
  auto r = h.run("cpasync", {1, 1, 1}, {32, 1, 1}, {dsrc, dout});
  CHECK(r.status == Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto o = h.download<uint32_t>(dout, 32 * 5);
  int bad = 0;
  for (uint32_t t = 0; t < 32; ++t) {
    bad += o[t * 5 + 0] != 0xFFFFFFFFu;       // poison: the copy has not completed
    bad += o[t * 5 + 1] != src[t * 4];
    bad += o[t * 5 + 2] != 0xFFFFFFFFu;
    bad += o[t * 5 + 3] != src[t * 4];
    bad += o[t * 5 + 4] != 0u;                // zero fill past src-size
  }
  CHECK_EQ(bad, 0);

  const uint64_t bout = h.alloc(64 * 4);
  r = h.run("bulk", {2, 1, 1}, {64, 1, 1}, {dsrc, bout});
  CHECK(r.status == Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  o = h.download<uint32_t>(bout, 64);
  bad = 0;
  for (uint32_t t = 0; t < 64; ++t) bad += o[t] != src[t];
  CHECK_EQ(bad, 0);

  // TMA store: a 40 x 12 u32 tensor, the box at (16, 8) partly outside it; 128-byte swizzle or none
  for (int sw = 0; sw < 2; ++sw) {
    const int W = 40, H = 12;
    std::vector<uint32_t> g(W * H, 0xABABABABu);
    const uint64_t dg = h.upload(g), dplain = h.alloc(512);
    emu::tma::TensorMap t;
    t.data_type = emu::tma::kU32;
    t.rank = 2;
    t.address = dg;
    t.dims[0] = W;
    t.dims[1] = H;
    t.strides[0] = W * 4;
    t.box[0] = 32;
    t.box[1] = 8;
    t.swizzle = sw ? emu::tma::kSwizzle128B : emu::tma::kSwizzleNone;
    const emu::KernelInfo* ki = h.mod->kernel("tma_store");
    std::vector<uint8_t> buf(ki->param_bytes, 0);
    emu::tma::encode(t, buf.data() + ki->params[0].offset);
    const uint32_t x = 16, y = 8;
    std::memcpy(buf.data() + ki->params[1].offset, &x, 4);
    std::memcpy(buf.data() + ki->params[2].offset, &y, 4);
    std::memcpy(buf.data() + ki->params[3].offset, &dplain, 8);
    auto rs = h.run_raw("tma_store", {1, 1, 1}, {256, 1, 1}, buf);
    CHECK(rs.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(dg, W * H);
    int bad = 0;
    for (int r = 0; r < H; ++r)
      for (int c = 0; c < W; ++c) {
        uint32_t want = 0xABABABABu;
        if (r >= 8 && c >= 16) {  // inside the box: element (r - 8, c - 16) of the shared image
          uint32_t off = uint32_t((r - 8) * 128 + (c - 16) * 4);
          if (sw) off ^= ((off >> 7) & 7) << 4;
          want = off / 4;
        }
        bad += o[r * W + c] != want;
      }
    CHECK_EQ(bad, 0);
    auto pl = h.download<uint32_t>(dplain, 128);
    bad = 0;
    for (uint32_t i = 0; i < 128; ++i) bad += pl[i] != i;
    CHECK_EQ(bad, 0);
  }

  r = h.run("never", {1, 1, 1}, {1, 1, 1}, {1});  // 1 of 2 arrivals: the phase never completes
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Deadlock));
  if (!h.reports.empty()) CHECK(h.reports[0].text.find("waits on the mbarrier") != std::string::npos);
  r = h.run("never", {1, 1, 1}, {1, 1, 1}, {3});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::InvalidArgument));
  r = h.run("never", {1, 1, 1}, {1, 1, 1}, {2});
  CHECK(r.status == Status::Ok);
  r = h.run("noinit", {1, 1, 1}, {1, 1, 1}, {});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::InvalidArgument));
  return check::finish();
}
