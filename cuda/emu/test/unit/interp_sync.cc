// dsv3-emu interpreter: warp collectives (shfl.sync up/down/bfly/idx with clamp and segment mask,
// vote.sync, redux.sync, match.sync, activemask), divergence and reconvergence (per-lane loop trip counts
// then a full-mask shuffle), and CTA barriers (bar.sync, named barriers with thread counts and
// bar.arrive producer/consumer, bar.red popc/and/or), each against the CPU, in round-robin and seeded
// random warp orders.
#include <random>

#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;

static const std::string kPtx = std::string(kHeader) + R"(
.visible .entry coll(.param .u64 pout)
{
  .reg .pred %p<6>;
  .reg .b32 %r<40>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd2, %r1, 64;
  add.s64 %rd3, %rd1, %rd2;
  mad.lo.s32 %r2, %r1, 7, 3;            // v = 7 tid + 3
  shfl.sync.bfly.b32 %r3|%p1, %r2, 5, 31, -1;
  st.global.u32 [%rd3], %r3;
  shfl.sync.up.b32 %r4|%p2, %r2, 3, 0, -1;
  selp.b32 %r5, 1000000, 0, %p2;
  add.s32 %r4, %r4, %r5;
  st.global.u32 [%rd3+4], %r4;
  shfl.sync.down.b32 %r6|%p3, %r2, 6, 31, -1;
  selp.b32 %r5, 1000000, 0, %p3;
  add.s32 %r6, %r6, %r5;
  st.global.u32 [%rd3+8], %r6;
  shfl.sync.idx.b32 %r7|%p4, %r2, 2, 6175, -1;   // c = 0x181f: segments of 8 lanes
  st.global.u32 [%rd3+12], %r7;
  and.b32 %r8, %r1, 3;
  setp.eq.s32 %p5, %r8, 0;
  vote.sync.ballot.b32 %r9, %p5, -1;
  st.global.u32 [%rd3+16], %r9;
  vote.sync.any.pred %p1, %p5, -1;
  vote.sync.all.pred %p2, %p5, -1;
  vote.sync.uni.pred %p3, !%p5, -1;
  selp.b32 %r10, 1, 0, %p1;
  selp.b32 %r11, 2, 0, %p2;
  selp.b32 %r12, 4, 0, %p3;
  or.b32 %r10, %r10, %r11;
  or.b32 %r10, %r10, %r12;
  st.global.u32 [%rd3+20], %r10;
  redux.sync.add.u32 %r13, %r2, -1;
  st.global.u32 [%rd3+24], %r13;
  sub.s32 %r14, 40, %r1;
  redux.sync.min.s32 %r15, %r14, -1;
  st.global.u32 [%rd3+28], %r15;
  redux.sync.xor.b32 %r16, %r2, -1;
  st.global.u32 [%rd3+32], %r16;
  rem.u32 %r17, %r1, 5;
  match.any.sync.b32 %r18, %r17, -1;
  st.global.u32 [%rd3+36], %r18;
  // divergence: lanes loop tid % 7 times, then reconverge for a full-mask shuffle
  rem.u32 %r19, %r1, 7;
  mov.u32 %r20, 0;
  mov.u32 %r21, 0;
  setp.eq.s32 %p1, %r19, 0;
  @%p1 bra $L_done;
$L_loop:
  add.s32 %r20, %r20, %r21;
  add.s32 %r20, %r20, 1;
  add.s32 %r21, %r21, 1;
  setp.lt.u32 %p2, %r21, %r19;
  @%p2 bra $L_loop;
$L_done:
  shfl.sync.bfly.b32 %r22|%p3, %r20, 1, 31, -1;
  add.s32 %r23, %r22, %r20;
  st.global.u32 [%rd3+40], %r23;
  // activemask inside a branch: odd lanes only
  and.b32 %r24, %r1, 1;
  setp.eq.s32 %p4, %r24, 0;
  mov.u32 %r25, 0;
  @%p4 bra $L_even;
  activemask.b32 %r25;
$L_even:
  st.global.u32 [%rd3+44], %r25;
  // match.all on a value uniform per warp, and on one that is not
  shr.u32 %r26, %r1, 5;
  match.all.sync.b32 %r27|%p5, %r26, -1;
  selp.b32 %r28, 1, 0, %p5;
  st.global.u32 [%rd3+48], %r27;
  st.global.u32 [%rd3+52], %r28;
  match.all.sync.b32 %r29|%p5, %r1, -1;
  selp.b32 %r30, 1, 0, %p5;
  add.s32 %r30, %r30, %r29;
  st.global.u32 [%rd3+56], %r30;
  ret;
}

.visible .entry bars(.param .u64 pin, .param .u64 pout)
{
  .reg .pred %p<4>;
  .reg .b32 %r<30>;
  .reg .b64 %rd<10>;
  .shared .align 4 .b8 s[1024];
  .shared .align 4 .b8 q[512];
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.u32 %r2, [%rd4];
  mov.u32 %r3, s;
  shl.b32 %r4, %r1, 2;
  add.s32 %r5, %r3, %r4;
  st.shared.u32 [%r5], %r2;
  bar.sync 0;
  sub.s32 %r6, 255, %r1;               // reverse
  shl.b32 %r7, %r6, 2;
  add.s32 %r8, %r3, %r7;
  ld.shared.u32 %r9, [%r8];
  mul.wide.u32 %rd5, %r1, 16;
  add.s64 %rd6, %rd2, %rd5;
  st.global.u32 [%rd6], %r9;
  // named barrier 1, 128 threads: warps 0-3 produce q[tid], warps 4-7 consume q[tid - 128]
  mov.u32 %r10, q;
  setp.lt.u32 %p1, %r1, 128;
  @!%p1 bra $L_consumer;
  mul.lo.s32 %r11, %r1, 3;
  add.s32 %r12, %r10, %r4;
  st.shared.u32 [%r12], %r11;
  bar.arrive 1, 256;
  mov.u32 %r15, 0;
  bra.uni $L_joined;
$L_consumer:
  bar.sync 1, 256;
  add.s32 %r13, %r10, %r4;
  ld.shared.u32 %r15, [%r13+-512];
$L_joined:
  st.global.u32 [%rd6+4], %r15;
  // bar.red: how many threads have an input divisible by 3; all / any even
  rem.u32 %r16, %r2, 3;
  setp.eq.s32 %p2, %r16, 0;
  bar.red.popc.u32 %r17, 2, %p2;
  and.b32 %r18, %r2, 1;
  setp.eq.s32 %p3, %r18, 0;
  bar.red.and.pred %p1, 3, %p3;
  bar.red.or.pred %p2, 4, %p3;
  selp.b32 %r19, 1, 0, %p1;
  selp.b32 %r20, 2, 0, %p2;
  or.b32 %r19, %r19, %r20;
  st.global.u32 [%rd6+8], %r17;
  st.global.u32 [%rd6+12], %r19;
  ret;
}

// elect.sync, stmatrix (x4, .trans) then ldmatrix back, in a CTA of 48 threads (a partial second warp)
.visible .entry misc(.param .u64 pout)
{
  .reg .pred %p<3>;
  .reg .b32 %r<30>;
  .reg .b64 %rd<6>;
  .shared .align 16 .b8 m[512];
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd2, %r1, 32;
  add.s64 %rd3, %rd1, %rd2;
  activemask.b32 %r24;
  elect.sync %r2|%p1, %r24;
  selp.b32 %r3, 1, 0, %p1;
  st.global.v2.u32 [%rd3], {%r2, %r3};
  // half warp: lanes 16.. of each warp elect among themselves
  and.b32 %r4, %r1, 31;
  setp.ge.u32 %p2, %r4, 16;
  @!%p2 bra $L_skip;
  elect.sync %r5|%p1, 0xFFFF0000;
  selp.b32 %r6, 1, 0, %p1;
  st.global.v2.u32 [%rd3+8], {%r5, %r6};
$L_skip:
  setp.ge.u32 %p2, %r1, 32;
  @%p2 bra $L_end;
  // stmatrix: lane l holds, of matrix q, elements (row l/4, cols 2(l%4), +1) = 1000 q + 8 row + col
  shr.u32 %r7, %r1, 2;
  and.b32 %r8, %r1, 3;
  shl.b32 %r9, %r8, 1;
  mad.lo.s32 %r10, %r7, 8, %r9;          // 8 row + col
  add.s32 %r11, %r10, 1;
  shl.b32 %r12, %r11, 16;
  or.b32 %r13, %r10, %r12;               // q = 0
  add.s32 %r14, %r13, 0x03E803E8;        // q = 1: + 1000 in both halves
  add.s32 %r15, %r14, 0x03E803E8;
  add.s32 %r16, %r15, 0x03E803E8;
  // row addresses: lane l -> matrix l/8, row l%8, 16 bytes per row, matrices 128 bytes apart
  mov.u32 %r17, m;
  shl.b32 %r18, %r1, 4;
  add.s32 %r19, %r17, %r18;
  stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%r19], {%r13, %r14, %r15, %r16};
  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r20, %r21, %r22, %r23}, [%r19];
  st.global.v4.u32 [%rd3+16], {%r20, %r21, %r22, %r23};
$L_end:
  ret;
}

// the same label in two brace blocks (inline asm pasted twice): each branch takes its own block's label
.visible .entry scoped_labels(.param .u64 pout)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, 0;
  {
    .reg .pred p;
    mov.u32 %r2, 0;
  $L_again:
    add.s32 %r1, %r1, 1;
    add.s32 %r2, %r2, 1;
    setp.lt.u32 p, %r2, 3;
    @p bra $L_again;
  }
  {
    .reg .pred p;
    mov.u32 %r2, 0;
  $L_again:
    add.s32 %r1, %r1, 100;
    add.s32 %r2, %r2, 1;
    setp.lt.u32 p, %r2, 2;
    @p bra $L_again;
  }
  st.global.u32 [%rd1], %r1;
  ret;
}

// the two halves of the CTA reach bar.sync 0 at different instructions: completes, reported
.visible .entry split_bar()
{
  .reg .pred %p<2>;
  .reg .b32 %r<2>;
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 32;
  @%p1 bra $L_b;
  bar.sync 0;
  bra.uni $L_end;
$L_b:
  bar.sync 0;
$L_end:
  ret;
}
)";

static uint32_t shfl_up(const std::vector<uint32_t>& v, int base, int lane, int b, bool* p) {
  *p = lane - b >= 0;
  return *p ? v[base + lane - b] : v[base + lane];
}

int main() {
  Harness h(kPtx);
  // ---- collectives, 2 warps ----
  const int N = 64;
  const uint64_t dout = h.alloc(N * 64);
  for (int sched = 0; sched < 3; ++sched) {
    h.opt.random_schedule = sched > 0;
    h.opt.seed = uint64_t(sched) * 977;
    auto r = h.run("coll", {1, 1, 1}, {N, 1, 1}, {dout});
    CHECK(r.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(dout, N * 16);
    std::vector<uint32_t> v(N);
    for (int t = 0; t < N; ++t) v[t] = 7 * t + 3;
    int bad = 0;
    for (int t = 0; t < N; ++t) {
      const int lane = t % 32, base = t - lane;
      const uint32_t* row = &o[t * 16];
      bool p;
      std::vector<uint32_t> want(15, 0);
      want[0] = v[base + (lane ^ 5)];
      want[1] = shfl_up(v, base, lane, 3, &p) + (p ? 1000000 : 0);
      want[2] = (lane + 6 <= 31 ? v[base + lane + 6] : v[t]) + (lane + 6 <= 31 ? 1000000 : 0);
      want[3] = v[base + (lane & 0x18) + 2];
      want[4] = 0x11111111u;
      want[5] = 1 | 0 | 0;  // any true, not all, not uniform
      uint32_t sum = 0, x = 0;
      int32_t mn = INT32_MAX;
      for (int k = 0; k < 32; ++k) sum += v[base + k], x ^= v[base + k], mn = std::min(mn, 40 - (base + k));
      want[6] = sum;
      want[7] = uint32_t(mn);
      want[8] = x;
      uint32_t mm = 0;
      for (int k = 0; k < 32; ++k) mm |= uint32_t((base + k) % 5 == t % 5) << k;
      want[9] = mm;
      auto tri = [](int n) { uint32_t s = 0; for (int i = 0; i < n; ++i) s += i + 1; return s; };
      want[10] = tri((base + (lane ^ 1)) % 7) + tri(t % 7);
      want[11] = (t & 1) ? 0xAAAAAAAAu : 0;
      want[12] = 0xFFFFFFFFu;
      want[13] = 1;
      want[14] = 0;
      for (int k = 0; k < 15; ++k)
        if (row[k] != want[k]) {
          if (bad < 5) std::fprintf(stderr, "coll: thread %d value %d: got %08x want %08x\n", t, k, row[k], want[k]);
          ++bad;
        }
    }
    CHECK_EQ(bad, 0);
  }

  // ---- barriers, 8 warps ----
  std::vector<uint32_t> in(256);
  std::mt19937 rng(11);
  for (auto& x : in) x = rng() % 1000;
  const uint64_t din = h.upload(in), dres = h.alloc(256 * 16);
  for (int sched = 0; sched < 4; ++sched) {
    h.opt.random_schedule = sched > 0;
    h.opt.seed = uint64_t(sched) * 31 + 1;
    auto r = h.run("bars", {2, 1, 1}, {256, 1, 1}, {din, dres});
    CHECK(r.status == Status::Ok);
    CHECK(h.reports.empty());
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(dres, 256 * 4);
    uint32_t popc = 0;
    bool all_even = true, any_even = false;
    for (auto x : in) popc += x % 3 == 0, all_even &= x % 2 == 0, any_even |= x % 2 == 0;
    int bad = 0;
    for (int t = 0; t < 256; ++t) {
      bad += o[t * 4] != in[255 - t];
      bad += o[t * 4 + 1] != (t < 128 ? 0u : uint32_t((t - 128) * 3));
      bad += o[t * 4 + 2] != popc;
      bad += o[t * 4 + 3] != (uint32_t(all_even) | (uint32_t(any_even) << 1));
    }
    CHECK_EQ(bad, 0);
  }
  // ---- elect.sync, stmatrix.trans + ldmatrix, a partial warp ----
  {
    h.opt.random_schedule = false;
    const uint64_t dm = h.alloc(48 * 32);
    std::vector<uint32_t> poison(48 * 8, 0xDEADBEEFu);
    std::memcpy(h.mem.host_of(dm), poison.data(), poison.size() * 4);
    auto r = h.run("misc", {1, 1, 1}, {48, 1, 1}, {dm});
    CHECK(r.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto o = h.download<uint32_t>(dm, 48 * 8);
    int bad = 0;
    for (int t = 0; t < 48; ++t) {
      const uint32_t* row = &o[t * 8];
      const int lane = t % 32;
      bad += row[0] != 0 || row[1] != uint32_t(lane == 0);
      if (lane >= 16) bad += row[2] != 16 || row[3] != uint32_t(lane == 16);
      if (t < 32) {
        // transposed store then plain load: lane l reads, of matrix q, row l/4 cols 2(l%4),+1 of the
        // stored transpose, i.e. the elements (row 2(l%4)+h, col l/4) of what was held
        for (int q = 0; q < 4; ++q) {
          uint32_t want = 0;
          for (int hh = 0; hh < 2; ++hh) want |= uint32_t(1000 * q + 8 * (2 * (lane % 4) + hh) + lane / 4) << (16 * hh);
          bad += row[4 + q] != want;
        }
      }
    }
    CHECK_EQ(bad, 0);
    r = h.run("scoped_labels", {1, 1, 1}, {1, 1, 1}, {dm});
    CHECK(r.status == Status::Ok);
    CHECK_EQ(h.download<uint32_t>(dm, 1)[0], 203u);
    r = h.run("split_bar", {1, 1, 1}, {64, 1, 1}, {});
    CHECK(r.status == Status::LaunchFailure);
    CHECK(h.reported(emu::Report::Kind::BarrierDivergence));
  }
  return check::finish();
}
