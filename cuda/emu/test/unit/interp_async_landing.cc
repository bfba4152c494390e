// dsv3-emu interpreter: where a bulk / tensor load lands (issue 15). A global -> shared bulk copy lands
// at a seeded, randomised warp switch after its issue, or at the latest point (a wait on its mbarrier, a
// stall, the CTA's end); never at issue. A deliberately unsynchronised reader (another warp, polling the
// destination between barriers) sees when: the landing point differs between seeds, is the same for the
// same seed, and the issuing thread's own read right after the issue always sees poison. Under --strict
// such reads are reported whether or not the bytes have landed (the reader has not observed the
// mbarrier phase), and a waiter always sees the data.
#include "test/unit/interp_harness.h"

#include <set>

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;

static const std::string kPtx = std::string(kHeader) + R"(
// 64 threads. Thread 0 issues a 256-byte bulk copy and reads its first word at once (out[0]); then 32
// rounds of bar.sync in which thread 32 reads the first word unsynchronised (out[1 + i]); then every
// thread waits on the mbarrier and reads its word (out[40 + tid]).
.visible .entry landing(.param .u64 psrc, .param .u64 pout)
{
  .reg .pred %p<3>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<10>;
  .shared .align 8 .b8 bar[8];
  .shared .align 16 .b8 s[256];
  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, bar;
  mov.u32 %r3, s;
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_rounds;
  mbarrier.init.shared::cta.b64 [%r2], 1;
  fence.mbarrier_init.release.cluster;
  fence.proxy.async.shared::cta;
  mbarrier.arrive.expect_tx.shared::cta.b64 %rd3, [%r2], 256;
  cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r3], [%rd1], 256, [%r2];
  ld.shared.u32 %r4, [%r3];
  st.global.u32 [%rd2], %r4;
$L_rounds:
  mov.u32 %r5, 0;
  setp.eq.s32 %p2, %r1, 32;
$L_loop:
  bar.sync 0;
  @!%p2 bra $L_next;
  ld.shared.u32 %r6, [%r3];
  add.s32 %r7, %r5, 1;
  mul.wide.u32 %rd4, %r7, 4;
  add.s64 %rd5, %rd2, %rd4;
  st.global.u32 [%rd5], %r6;
$L_next:
  add.s32 %r5, %r5, 1;
  setp.lt.u32 %p1, %r5, 32;
  @%p1 bra $L_loop;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p1, [%r2], 0;
  @!%p1 bra $L_wait;
  shl.b32 %r8, %r1, 2;
  add.s32 %r9, %r3, %r8;
  ld.shared.u32 %r10, [%r9];
  add.s32 %r11, %r1, 40;
  mul.wide.u32 %rd6, %r11, 4;
  add.s64 %rd7, %rd2, %rd6;
  st.global.u32 [%rd7], %r10;
  ret;
}
)";

struct Outcome {
  int landed_round = -1;  // the first round whose read saw the data; 32: only after the rounds
  bool poison_at_issue = false, data_ok = false, early = false;
  Status status = Status::Ok;
  std::string reports;
  bool strict_reported = false, race_reported = false;
};

static Outcome run_once(Harness& h, uint64_t dsrc, const std::vector<uint32_t>& src) {
  const uint64_t out = h.alloc(104 * 4);
  auto r = h.run("landing", {1, 1, 1}, {64, 1, 1}, {dsrc, out});
  Outcome o;
  o.status = r.status;
  o.reports = h.all_reports();
  o.strict_reported = h.reported(Kind::Uninitialized);
  o.race_reported = h.reported(Kind::Race);
  o.early = r.early_landings > 0;
  CHECK_EQ(r.bulk_loads, 1u);
  auto v = h.download<uint32_t>(out, 104);
  o.poison_at_issue = v[0] == 0xFFFFFFFFu;
  o.landed_round = 32;
  for (int i = 0; i < 32; ++i) {
    if (v[size_t(1 + i)] == src[0]) {
      o.landed_round = i;
      break;
    }
    CHECK_EQ(v[size_t(1 + i)], 0xFFFFFFFFu);  // poison until it lands
  }
  for (int i = o.landed_round; i < 32; ++i) CHECK_EQ(v[size_t(1 + i)], src[0]);  // and data from then on
  o.data_ok = true;
  for (uint32_t t = 0; t < 64; ++t) o.data_ok &= v[40 + t] == src[t];
  return o;
}

int main() {
  Harness h(kPtx);
  std::vector<uint32_t> src(64);
  for (uint32_t i = 0; i < 64; ++i) src[i] = 0x5000 + i;
  const uint64_t dsrc = h.upload(src);

  for (int sched = 0; sched < 2; ++sched) {
    h.opt.random_schedule = sched == 1;
    h.opt.strict = false;
    h.opt.racecheck = false;  // the rounds' reads are unsynchronised on purpose (checked below)
    std::set<int> points;
    int early = 0, late = 0;
    for (uint64_t seed = 1; seed <= 24; ++seed) {
      h.opt.seed = seed;
      const Outcome a = run_once(h, dsrc, src);
      CHECK(a.status == Status::Ok);
      if (a.status != Status::Ok) std::fputs(a.reports.c_str(), stderr);
      CHECK(a.poison_at_issue);  // (b) never at issue
      CHECK(a.data_ok);          // the waiter sees the data
      // at the latest point: the first wait on the mbarrier, by warp 0 after its last round (before or
      // after warp 1's last read)
      if (!a.early) CHECK(a.landed_round >= 31);
      points.insert(a.landed_round);
      (a.early ? early : late)++;
      // the same seed lands at the same point
      const Outcome b = run_once(h, dsrc, src);
      CHECK_EQ(a.landed_round, b.landed_round);
    }
    // (a) different seeds, different landing points: some early (at several points), some at the wait
    CHECK(points.size() >= 4);
    CHECK(early > 0);
    CHECK(late > 0);
    std::fprintf(stderr, "%s: %zu landing points over 24 seeds (%d early, %d at the wait)\n",
                 sched ? "random" : "round robin", points.size(), early, late);

    // --strict: the unsynchronised reads are reported whether or not the bytes had landed
    h.opt.strict = true;
    int early_reported = 0;
    for (uint64_t seed = 1; seed <= 24; ++seed) {
      h.opt.seed = seed;
      const Outcome a = run_once(h, dsrc, src);
      CHECK(a.strict_reported);
      CHECK(a.reports.find("has not landed") != std::string::npos);
      CHECK(a.data_ok);
      if (a.early && a.landed_round < 31 && a.strict_reported) ++early_reported;
    }
    CHECK(early_reported > 0);

    // the race detector: a landing, early or late, races with the reads of the rounds it is not ordered
    // with; the waiters' reads never race with it
    h.opt.strict = false;
    h.opt.racecheck = true;
    int races = 0;
    for (uint64_t seed = 1; seed <= 24; ++seed) {
      h.opt.seed = seed;
      const Outcome a = run_once(h, dsrc, src);
      CHECK(a.data_ok);
      races += a.race_reported;
      CHECK(a.reports.find("PTX line 49") == std::string::npos);  // the waiters' ld.shared
    }
    CHECK(races > 0);
    std::fprintf(stderr, "  races reported in %d of 24 runs\n", races);
  }
  return check::finish();
}
