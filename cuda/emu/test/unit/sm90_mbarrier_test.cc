// Unit test of the mbarrier model (src/sm90/mbarrier.h, PTX ISA 9.0 9.7.13.15): phase sequences, parity
// and token waits, tx accounting (including complete_tx before expect_tx), every error the model
// reports, and random producer/consumer sequences against an independent counting model.
#include "src/sm90/mbarrier.h"

#include "test/unit/check.h"
#include "test/unit/sm90_views.h"

using namespace emu::sm90;
using sm90test::Rng;
using sm90test::VecSmem;

static MbarrierUnit::View view_of(MbarrierUnit& u, uint32_t addr) {
  MbarrierUnit::View v{~0ull, ~0u, ~0u, -1};
  CHECK(u.view(addr, &v));
  return v;
}

static void test_phases_and_waits() {
  VecSmem smem(1024);
  MbarrierUnit u(smem);
  const uint32_t bar = 64;
  CHECK(u.init(bar, 3).error == MbarError::none);
  auto v = view_of(u, bar);
  CHECK_EQ(v.phase, 0u);
  CHECK_EQ(v.pending, 3u);
  CHECK_EQ(v.expected, 3u);
  CHECK_EQ(v.tx, 0);
  // A fresh barrier is in phase 0: the phase of parity 1 ("the preceding one") counts as complete.
  CHECK(!u.test_wait_parity(bar, 0).ready);
  CHECK(u.test_wait_parity(bar, 1).ready);

  MbarResult a1 = u.arrive(bar);
  CHECK(a1.error == MbarError::none && !a1.phase_completed);
  CHECK_EQ(MbarrierUnit::pending_count(a1.state), 2u);
  CHECK(!u.test_wait(bar, a1.state).ready);
  MbarResult a2 = u.arrive(bar);
  CHECK(!a2.phase_completed);
  CHECK(!u.test_wait_parity(bar, 0).ready);
  MbarResult a3 = u.arrive(bar);
  CHECK(a3.phase_completed);
  CHECK_EQ(MbarrierUnit::pending_count(a3.state), 0u);
  v = view_of(u, bar);
  CHECK_EQ(v.phase, 1u);
  CHECK_EQ(v.pending, 3u);
  CHECK(u.test_wait_parity(bar, 0).ready);
  CHECK(!u.test_wait_parity(bar, 1).ready);
  CHECK(u.test_wait(bar, a1.state).ready);  // tokens of phase 0 see their phase complete
  CHECK(u.test_wait(bar, a3.state).ready);

  // arrive with a count: 3 at once completes phase 1.
  MbarResult b = u.arrive(bar, 2);
  CHECK(!b.phase_completed);
  CHECK(!u.test_wait(bar, b.state).ready);
  CHECK(u.arrive(bar, 1).phase_completed);
  CHECK(u.test_wait(bar, b.state).ready);
  CHECK_EQ(view_of(u, bar).phase, 2u);
  // A token two phases old is no longer valid (the ISA allows the current and the preceding phase).
  CHECK(u.test_wait(bar, a1.state).error == MbarError::bad_token);
  CHECK(u.test_wait(bar, 0x1234).error == MbarError::bad_token);  // not a token at all

  // arrive_drop lowers the expected count of later phases.
  CHECK(u.arrive(bar, 1, /*drop=*/true).error == MbarError::none);
  v = view_of(u, bar);
  CHECK_EQ(v.pending, 2u);
  CHECK_EQ(v.expected, 2u);
  CHECK(!u.arrive(bar).phase_completed);
  CHECK(u.arrive(bar).phase_completed);
  v = view_of(u, bar);
  CHECK_EQ(v.phase, 3u);
  CHECK_EQ(v.pending, 2u);

  // The state lives in the program's 8 bytes: they changed with every operation.
  uint64_t w0;
  std::memcpy(&w0, smem.bytes.data() + bar, 8);
  CHECK(u.arrive(bar).error == MbarError::none);
  uint64_t w1;
  std::memcpy(&w1, smem.bytes.data() + bar, 8);
  CHECK(w0 != w1);
  CHECK(u.describe(bar).find("phase 3") != std::string::npos);
}

static void test_tx() {
  VecSmem smem(256);
  MbarrierUnit u(smem);
  const uint32_t bar = 8;
  CHECK(u.init(bar, 1).error == MbarError::none);
  // The producer's arrive.expect_tx: the phase waits for the bytes.
  MbarResult r = u.arrive_expect_tx(bar, 4096);
  CHECK(r.error == MbarError::none && !r.phase_completed);
  auto v = view_of(u, bar);
  CHECK_EQ(v.pending, 0u);
  CHECK_EQ(v.tx, 4096);
  CHECK(!u.test_wait_parity(bar, 0).ready);
  CHECK(!u.complete_tx(bar, 1000).phase_completed);
  CHECK_EQ(view_of(u, bar).tx, 3096);
  CHECK(u.complete_tx(bar, 3096).phase_completed);
  CHECK(u.test_wait_parity(bar, 0).ready);
  v = view_of(u, bar);
  CHECK_EQ(v.phase, 1u);
  CHECK_EQ(v.pending, 1u);
  CHECK_EQ(v.tx, 0);

  // The TMA may complete before the producer's expect_tx: tx-count goes negative, the phase waits for
  // the arrival that brings it back to zero.
  CHECK(!u.complete_tx(bar, 512).phase_completed);
  CHECK_EQ(view_of(u, bar).tx, -512);
  CHECK(u.arrive_expect_tx(bar, 512).phase_completed);

  // expect_tx without arrival, then arrival, then bytes.
  CHECK(!u.expect_tx(bar, 64).phase_completed);
  CHECK(!u.arrive(bar).phase_completed);
  CHECK(u.complete_tx(bar, 64).phase_completed);
  CHECK_EQ(view_of(u, bar).phase, 3u);

  // Arrivals complete nothing while bytes are outstanding, even with pending reaching 0.
  VecSmem smem2(64);
  MbarrierUnit u2(smem2);
  CHECK(u2.init(0, 2).error == MbarError::none);
  CHECK(!u2.arrive_expect_tx(0, 16).phase_completed);
  CHECK(!u2.arrive(0).phase_completed);
  CHECK(u2.complete_tx(0, 16).phase_completed);
}

static void test_errors() {
  VecSmem smem(256);
  MbarrierUnit u(smem);
  CHECK(u.arrive(0).error == MbarError::not_initialized);
  CHECK(u.test_wait_parity(0, 0).error == MbarError::not_initialized);
  CHECK(u.init(4, 1).error == MbarError::misaligned);
  CHECK(u.init(256, 1).error == MbarError::smem_fault);
  CHECK(u.init(0, 0).error == MbarError::bad_count);
  CHECK(u.init(0, 1u << 20).error == MbarError::bad_count);
  CHECK(u.init(0, (1u << 20) - 1).error == MbarError::none);
  CHECK(u.inval(0).error == MbarError::none);
  CHECK(u.arrive(0).error == MbarError::not_initialized);  // use after inval

  CHECK(u.init(0, 2).error == MbarError::none);
  CHECK(u.arrive(0, 0).error == MbarError::bad_count);
  CHECK(u.arrive(0, 3).error == MbarError::arrival_underflow);
  CHECK_EQ(view_of(u, 0).pending, 2u);  // an erroneous operation changes nothing
  CHECK(u.expect_tx(0, 1u << 20).error == MbarError::bad_count);
  CHECK(u.complete_tx(0, 1u << 20).error == MbarError::bad_count);
  // tx-count range [-(2^20-1), 2^20-1]
  CHECK(u.expect_tx(0, (1u << 20) - 1).error == MbarError::none);
  CHECK(u.expect_tx(0, 1).error == MbarError::tx_overflow);
  CHECK_EQ(view_of(u, 0).tx, (1 << 20) - 1);
  CHECK(u.complete_tx(0, (1u << 20) - 1).error == MbarError::none);
  CHECK(u.complete_tx(0, (1u << 20) - 1).error == MbarError::none);
  CHECK_EQ(view_of(u, 0).tx, -((1 << 20) - 1));
  CHECK(u.complete_tx(0, 1).error == MbarError::tx_underflow);
  CHECK(u.expect_tx(0, (1u << 20) - 1).error == MbarError::none);
  // .noComplete may not complete the phase
  CHECK(u.arrive(0, 1, false, /*no_complete=*/true).error == MbarError::none);
  CHECK(u.arrive(0, 1, false, true).error == MbarError::nocomplete_completed);
  CHECK(u.arrive(0).phase_completed);
  // pending 0 with bytes outstanding: one more arrival is an underflow
  CHECK(u.arrive_expect_tx(0, 32, 2).error == MbarError::none);
  CHECK(u.arrive(0).error == MbarError::arrival_underflow);
  // init over an object with work outstanding
  CHECK(u.init(0, 4).error == MbarError::reinit_active);
  CHECK(u.complete_tx(0, 32).phase_completed);
  CHECK(u.init(0, 4).error == MbarError::none);  // idle: re-initialization is allowed
  CHECK(u.test_wait_parity(0, 2).error == MbarError::bad_parity);

  // A plain store over the object is caught at the next mbarrier operation.
  CHECK(u.init(16, 1).error == MbarError::none);
  smem.bytes[16 + 3] ^= 0x40;
  MbarResult c = u.arrive(16);
  CHECK(c.error == MbarError::corrupted);
  CHECK(!c.detail.empty());
  CHECK(u.test_wait_parity(16, 0).error == MbarError::corrupted);
  CHECK(u.init(16, 1).error == MbarError::none);  // a new init makes it valid again
  CHECK(u.arrive(16).phase_completed);
  for (int e = 0; e <= static_cast<int>(MbarError::bad_parity); ++e)
    CHECK(std::string(to_string(static_cast<MbarError>(e))) != "?");
}

// Random phases: a consumer barrier with E expected arrivals and a random number of TMA bytes, the
// operations of each phase shuffled (complete_tx may come first). The reference only counts: the phase
// must complete exactly at the operation after which all E arrivals and all bytes are in.
static void test_random_sequences() {
  Rng rng(7);
  VecSmem smem(64);
  int phases = 0, mismatches = 0;
  for (int trial = 0; trial < 200; ++trial) {
    MbarrierUnit u(smem);
    const uint32_t expected = 1 + rng.below(8);
    CHECK(u.init(8, expected).error == MbarError::none);
    for (int phase = 0; phase < 20; ++phase, ++phases) {
      struct Op { int kind; uint32_t n; };  // 0 arrive(n), 1 arrive.expect_tx(n), 2 complete_tx(n), 3 expect_tx(n)
      std::vector<Op> ops;
      uint32_t left = expected;
      while (left) {
        const uint32_t n = 1 + rng.below(left);
        left -= n;
        ops.push_back({0, n});
      }
      uint32_t bytes_total = 0;
      const int chunks = rng.below(4);
      for (int c = 0; c < chunks; ++c) {
        const uint32_t nbytes = 16 * (1 + rng.below(64));
        bytes_total += nbytes;
        ops.push_back({2, nbytes});
      }
      if (bytes_total) {  // the bytes are announced by one expect (arrive.expect_tx or a separate expect_tx)
        if (rng.below(2)) ops.push_back({3, bytes_total});
        else ops[0].kind = 1, ops[0].n = ops[0].n | (bytes_total << 8);
      }
      for (size_t i = ops.size(); i > 1; --i) std::swap(ops[i - 1], ops[rng.below(static_cast<uint32_t>(i))]);
      // An order in which every arrival lands before the bytes are announced would complete the phase
      // early (a racy program: that is what the hardware does too); keep only orders where the counts
      // first balance at the last operation, by moving the announcement to the front otherwise.
      {
        uint32_t arr = 0, ann = 0, dn = 0;
        size_t first = ops.size();
        for (size_t i = 0; i < ops.size() && first == ops.size(); ++i) {
          const Op& o = ops[i];
          if (o.kind == 0) arr += o.n;
          if (o.kind == 1) arr += o.n & 0xFF, ann += o.n >> 8;
          if (o.kind == 2) dn += o.n;
          if (o.kind == 3) ann += o.n;
          if (arr == expected && ann == dn) first = i;
        }
        if (first + 1 != ops.size())
          for (size_t i = 0; i < ops.size(); ++i)
            if (ops[i].kind == 1 || ops[i].kind == 3) { std::swap(ops[0], ops[i]); break; }
      }
      uint32_t arrived = 0, announced = 0, done = 0;
      for (size_t i = 0; i < ops.size(); ++i) {
        MbarResult r;
        switch (ops[i].kind) {
          case 0: r = u.arrive(8, ops[i].n); arrived += ops[i].n; break;
          case 1: r = u.arrive_expect_tx(8, ops[i].n >> 8, ops[i].n & 0xFF); arrived += ops[i].n & 0xFF;
                  announced += ops[i].n >> 8; break;
          case 2: r = u.complete_tx(8, ops[i].n); done += ops[i].n; break;
          case 3: r = u.expect_tx(8, ops[i].n); announced += ops[i].n; break;
        }
        const bool last = i + 1 == ops.size();
        const bool should = arrived == expected && announced == done && last;
        if (r.error != MbarError::none || r.phase_completed != should) ++mismatches;
        if (!last && u.test_wait_parity(8, phase & 1).ready) ++mismatches;
      }
      if (!u.test_wait_parity(8, phase & 1).ready) ++mismatches;
    }
  }
  CHECK_EQ(mismatches, 0);
  std::printf("random sequences: %d phases\n", phases);
}

int main() {
  test_phases_and_waits();
  test_tx();
  test_errors();
  test_random_sequences();
  return check::finish();
}
