// Unit test of the shared-memory race detector (src/interp/racecheck.h): every race pattern by hand
// (W-W, W-R, R-W, with and without barriers, named barriers, bar.arrive, mbarriers, atomics, same warp,
// transitivity, reset), then random programs checked against an independent happens-before oracle (a
// DAG of events and its reachability, no vector clocks), then a speed figure.
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <random>
#include <vector>

#include "src/interp/racecheck.h"
#include "test/unit/check.h"

using emu::RaceCheck;

namespace {

bool rd(RaceCheck& rc, int w, uint32_t a, uint32_t n = 4, uint32_t pc = 1) { return rc.access(w, a, n, false, false, pc, nullptr); }
bool wr(RaceCheck& rc, int w, uint32_t a, uint32_t n = 4, uint32_t pc = 2) { return rc.access(w, a, n, true, false, pc, nullptr); }
bool at(RaceCheck& rc, int w, uint32_t a, uint32_t n = 4, uint32_t pc = 3) { return rc.access(w, a, n, true, true, pc, nullptr); }
// bar.sync `id` by `warps`, as the interpreter does it: each arrives, then the barrier completes.
void bar(RaceCheck& rc, uint32_t id, const std::vector<int>& warps) {
  for (int w : warps) rc.arrive(w, id);
  rc.complete(id, warps);
}

void basic_patterns() {
  RaceCheck rc;
  // W-W, W-R, R-W between two warps, no barrier: all races; each on its own bytes.
  rc.reset(1024, 4);
  CHECK(wr(rc, 0, 0));
  CHECK(!wr(rc, 1, 0));
  CHECK(wr(rc, 0, 16));
  CHECK(!rd(rc, 1, 16));
  CHECK(rd(rc, 0, 32));
  CHECK(!wr(rc, 1, 32));
  // Read-read is never a race.
  CHECK(rd(rc, 0, 48));
  CHECK(rd(rc, 1, 48));
  CHECK(rd(rc, 2, 48));
  // The same with a barrier of all warps between: none.
  rc.reset(1024, 4);
  CHECK(wr(rc, 0, 0));
  CHECK(wr(rc, 0, 16));
  CHECK(rd(rc, 0, 32));
  bar(rc, 0, {0, 1, 2, 3});
  CHECK(wr(rc, 1, 0));
  CHECK(rd(rc, 1, 16));
  CHECK(wr(rc, 1, 32));
  // A barrier orders only what came before it: warp 0's write after it races with warp 1's read.
  CHECK(wr(rc, 0, 64));
  CHECK(!rd(rc, 1, 64));
  // Lanes of one instruction (same warp and pc) meeting the same racing state: every one is a race,
  // not only the first (the detector reuses a verdict across calls only when it was race-free).
  rc.reset(1024, 4);
  CHECK(wr(rc, 0, 128, 4, 5));
  CHECK(wr(rc, 0, 132, 4, 5));
  CHECK(wr(rc, 0, 136, 4, 5));
  CHECK(!rd(rc, 1, 128, 4, 9));
  CHECK(!rd(rc, 1, 132, 4, 9));
  CHECK(!rd(rc, 1, 136, 4, 9));
  // Same warp never races with itself, in any order.
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 8));
  CHECK(rd(rc, 0, 8));
  CHECK(wr(rc, 0, 8));
  CHECK(at(rc, 0, 8));
  CHECK(rd(rc, 0, 8));
  CHECK(wr(rc, 0, 8, 8));
}

void conflict_fields() {
  RaceCheck rc;
  rc.reset(256, 3);
  RaceCheck::Conflict c{-1, 0, false, false, 0};
  CHECK(rc.access(2, 5, 1, true, false, 77, &c));
  // A 4-byte read [4,8) overlaps the written byte 5 only: the report names byte 5.
  CHECK(!rc.access(1, 4, 4, false, false, 88, &c));
  CHECK_EQ(c.warp, 2);
  CHECK_EQ(c.pc, 77u);
  CHECK(c.was_write);
  CHECK(!c.now_write);
  CHECK_EQ(c.addr, 5u);
  // Read-then-write: the earlier access is a read.
  CHECK(rc.access(0, 100, 4, false, false, 11, &c));
  CHECK(!rc.access(1, 100, 4, true, false, 12, &c));
  CHECK_EQ(c.warp, 0);
  CHECK_EQ(c.pc, 11u);
  CHECK(!c.was_write);
  CHECK(c.now_write);
  // Concurrent readers (a read set): the write names one of them, with its pc.
  CHECK(rc.access(0, 200, 4, false, false, 21, &c));
  CHECK(rc.access(1, 200, 4, false, false, 22, &c));
  CHECK(!rc.access(2, 200, 4, true, false, 23, &c));
  CHECK(c.warp == 0 || c.warp == 1);
  CHECK_EQ(c.pc, c.warp == 0 ? 21u : 22u);
  // Adjacent bytes do not conflict.
  CHECK(rc.access(0, 150, 2, true, false, 1, &c));
  CHECK(rc.access(1, 152, 2, true, false, 1, &c));
  CHECK(rc.access(1, 148, 2, true, false, 1, &c));
}

void read_sets() {
  RaceCheck rc;
  rc.reset(4096, 8);
  // Every warp reads a tile concurrently (read sets), then one warp writes: a race with the readers...
  for (int w = 0; w < 8; ++w)
    for (uint32_t a = 0; a < 512; a += 4) CHECK(rd(rc, w, a));
  CHECK(!wr(rc, 3, 0));
  // ...which a barrier of all warps removes (and a write after it supersedes the sets).
  bar(rc, 0, {0, 1, 2, 3, 4, 5, 6, 7});
  bool ok = true;
  for (uint32_t a = 4; a < 512; a += 4) ok &= wr(rc, (a / 4) % 8, a);
  CHECK(ok);
  // After those writes, a read by another warp without a barrier races again.
  CHECK(!rd(rc, 0, 4 * 9));  // written by warp 1
  // A read set that one warp missed: warps 0..6 are ordered, warp 7's read is not.
  rc.reset(4096, 8);
  for (int w = 0; w < 8; ++w) CHECK(rd(rc, w, 1000));
  bar(rc, 1, {0, 1, 2, 3, 4, 5, 6});
  RaceCheck::Conflict c{};
  CHECK(!rc.access(0, 1000, 4, true, false, 9, &c));
  CHECK_EQ(c.warp, 7);
  CHECK(!c.was_write);
}

void named_barriers() {
  RaceCheck rc;
  rc.reset(1024, 4);
  // bar.sync 1, 64: warps 0 and 1 only. It orders 0 -> 1 but not 0 -> 2.
  CHECK(wr(rc, 0, 0));
  CHECK(wr(rc, 0, 16));
  bar(rc, 1, {0, 1});
  CHECK(rd(rc, 1, 0));
  CHECK(!rd(rc, 2, 16));
  // A later use of barrier 1 by warps 2 and 3 does not inherit warp 0's release from the first use.
  CHECK(wr(rc, 0, 32));
  bar(rc, 1, {2, 3});
  CHECK(!rd(rc, 3, 32));
  // bar.arrive (producer) + bar.sync (consumer): the producer's writes before its arrive are ordered
  // before the consumer's reads; its writes after the arrive are not.
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 0));
  rc.arrive(0, 2);
  CHECK(wr(rc, 0, 16));
  rc.arrive(1, 2);
  rc.complete(2, {1});
  CHECK(rd(rc, 1, 0));
  CHECK(!rd(rc, 1, 16));
  // ...and the consumer's accesses are not ordered before the producer's later ones (arrive does not wait).
  CHECK(wr(rc, 1, 64));
  CHECK(!rd(rc, 0, 64));
  // complete() alone (a caller that does not call arrive()) is a full barrier of its participants.
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 0));
  rc.complete(0, {0, 1});
  CHECK(rd(rc, 1, 0));
  CHECK(wr(rc, 0, 4));
  CHECK(!rd(rc, 1, 4));
}

void transitivity() {
  RaceCheck rc;
  rc.reset(1024, 4);
  // 0 -> 2 (barrier 1), then 2 -> 1 (barrier 2): warp 0's write is ordered before warp 1's read.
  CHECK(wr(rc, 0, 0));
  bar(rc, 1, {0, 2});
  bar(rc, 2, {2, 1});
  CHECK(rd(rc, 1, 0));
  CHECK(!rd(rc, 3, 0));  // warp 3 was in neither
  // Through an mbarrier and then a named barrier.
  rc.reset(1024, 4);
  CHECK(wr(rc, 0, 8));
  rc.release(0, 16 + 5);
  rc.complete(16 + 5, {});
  rc.acquire(2, 16 + 5);
  bar(rc, 3, {2, 3});
  CHECK(wr(rc, 3, 8));
  CHECK(!wr(rc, 1, 8));
}

void mbarriers() {
  RaceCheck rc;
  rc.reset(1024, 3);
  const uint32_t mb = 16 + 0x40;  // the caller picks k (e.g. from the mbarrier's address)
  // Producer writes, arrives; the phase completes; the consumer's successful wait acquires.
  CHECK(wr(rc, 0, 0));
  rc.release(0, mb);
  rc.complete(mb, {});
  CHECK(!rd(rc, 2, 0));  // warp 2 never waited: a race
  rc.acquire(1, mb);
  CHECK(rd(rc, 1, 0));
  // Phase 2: the producer writes again and arrives, but the phase has not completed: a consumer that
  // (re)observes phase 1 does not see the new write.
  CHECK(wr(rc, 0, 16));
  rc.release(0, mb);
  rc.acquire(1, mb);
  CHECK(!rd(rc, 1, 16));
  // Once phase 2 completes and is observed, a new write is ordered.
  CHECK(wr(rc, 0, 32));
  rc.release(0, mb);
  rc.complete(mb, {});
  rc.acquire(1, mb);
  CHECK(rd(rc, 1, 32));
  // The release direction only: consumer accesses are not ordered before the producer's.
  CHECK(wr(rc, 1, 48));
  CHECK(!rd(rc, 0, 48));
  // Consumer-to-producer through a second mbarrier ("empty" slot): the producer may then overwrite.
  const uint32_t empty = 16 + 0x48;
  CHECK(rd(rc, 1, 64));
  rc.release(1, empty);
  rc.complete(empty, {});
  rc.acquire(0, empty);
  CHECK(wr(rc, 0, 64));
  // An mbarrier on which complete() is never called: acquire sees every release so far.
  const uint32_t loose = 16 + 1;
  CHECK(wr(rc, 2, 80));
  rc.release(2, loose);
  rc.acquire(0, loose);
  CHECK(rd(rc, 0, 80));
}

// The TMA pipeline of cuda/fp8_gemm.cu as the interpreter is to report it (racecheck.h, "asynchronous
// copies"): producer warp 0 waits on empty[s], arrive.expect_tx on full[s], issues a TMA load into slot s;
// the copy's bytes land (at issue, or late: just before the phase completes) as writes of the issuing
// warp followed by a release into full[s] (complete_tx); consumers 1..3 wait on full[s] (acquire), read
// the slot, arrive on empty[s]. The mbarrier objects' own accesses are atomics.
void tma_ring(bool late, bool consumer_skips_wait) {
  RaceCheck rc;
  const int warps = 4, slots = 2, iters = 6;
  const uint32_t slot_bytes = 1024, full0 = 2 * slot_bytes, empty0 = full0 + 16;
  rc.reset(full0 + 32, warps);
  auto full = [&](int s) { return 16u + 2 * s; };
  auto empty = [&](int s) { return 17u + 2 * s; };
  int races = 0;
  for (int s = 0; s < slots; ++s) {  // thread 0 inits both barriers of each slot, then __syncthreads
    races += !at(rc, 0, full0 + 8 * s, 8, 100);
    races += !at(rc, 0, empty0 + 8 * s, 8, 101);
  }
  bar(rc, 0, {0, 1, 2, 3});
  // Slots start empty: phase -1 of empty[s] counts as completed (the producer's first wait passes).
  for (int it = 0; it < iters; ++it) {
    const int s = it % slots;
    // producer
    if (it >= slots) {
      races += !at(rc, 0, empty0 + 8 * s, 8, 102);  // try_wait on the object
      rc.acquire(0, empty(s));
    }
    races += !at(rc, 0, full0 + 8 * s, 8, 103);  // arrive.expect_tx
    rc.release(0, full(s));
    auto land = [&] {  // the copy's bytes, then complete_tx
      races += !rc.access(0, s * slot_bytes, slot_bytes, true, false, 104, nullptr);
      rc.release(0, full(s));
    };
    if (!late) land();
    // consumers
    for (int w = 1; w < warps; ++w) {
      if (w == 1 && late) {
        land();
        rc.complete(full(s), {});  // arrivals and tx complete: the phase completes
      }
      if (w == 1 && !late) rc.complete(full(s), {});
      if (!(consumer_skips_wait && w == 2)) {
        races += !at(rc, w, full0 + 8 * s, 8, 105);  // try_wait
        rc.acquire(w, full(s));
      }
      for (uint32_t a = 0; a < slot_bytes; a += 16) races += !rd(rc, w, s * slot_bytes + a, 16, 106);
      races += !at(rc, w, empty0 + 8 * s, 8, 107);  // arrive on empty[s]
      rc.release(w, empty(s));
    }
    rc.complete(empty(s), {});
  }
  if (consumer_skips_wait) CHECK(races > 0);
  else CHECK_EQ(races, 0);
}

void atomics() {
  RaceCheck rc;
  rc.reset(1024, 4);
  // Atomics against atomics: never a race, from any number of warps.
  CHECK(at(rc, 0, 0));
  CHECK(at(rc, 1, 0));
  CHECK(at(rc, 2, 0));
  CHECK(at(rc, 3, 0));
  CHECK(at(rc, 1, 0));
  // A plain read or write against them is.
  CHECK(!rd(rc, 0, 0));
  CHECK(at(rc, 0, 16));
  CHECK(!wr(rc, 1, 16));
  // Plain accesses first, then an atomic of another warp.
  CHECK(wr(rc, 0, 32));
  CHECK(!at(rc, 1, 32));
  CHECK(rd(rc, 0, 48));
  CHECK(!at(rc, 1, 48));
  // A barrier orders atomics with later plain accesses.
  CHECK(at(rc, 0, 64));
  CHECK(at(rc, 1, 64));
  CHECK(at(rc, 0, 72));
  CHECK(at(rc, 1, 72));
  bar(rc, 0, {0, 1, 2, 3});
  CHECK(rd(rc, 2, 64));
  CHECK(wr(rc, 3, 72));
  // An atomic does not supersede reads: warp 0's read is ordered before warp 1's atomic (barrier) but
  // not before warp 2's atomic, which therefore races with it.
  rc.reset(1024, 4);
  CHECK(rd(rc, 0, 0));
  bar(rc, 1, {0, 1});
  CHECK(at(rc, 1, 0));
  CHECK(!at(rc, 2, 0));
}

void reset_clears() {
  RaceCheck rc;
  rc.reset(227 * 1024, 32);
  for (uint32_t a = 0; a < 227 * 1024; a += 4) wr(rc, 0, a);
  for (int i = 0; i < 3; ++i) {
    rc.reset(227 * 1024, 32);
    // Nothing of the previous CTA remains: other warps may read and write everything.
    bool ok = true;
    for (uint32_t a = 0; a < 227 * 1024; a += 4096) ok &= rd(rc, 1, a) && wr(rc, 1, a + 4);
    CHECK(ok);
  }
  // A smaller CTA after a larger one, then a larger one again.
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 1020));
  CHECK(rd(rc, 1, 1024));  // past the CTA's size: not the race checker's business
  rc.reset(64 * 1024, 2);
  CHECK(rd(rc, 1, 1020));
  CHECK(wr(rc, 1, 60000));
  // Barrier state is reset too: an arrive before reset does not release into the next CTA.
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 0));
  rc.arrive(0, 1);
  rc.reset(1024, 2);
  CHECK(wr(rc, 0, 0));
  rc.complete(1, {1});
  CHECK(!rd(rc, 1, 0));
  // Cheap: a reset of 227 KB costs far less than touching it.
  timespec t0, t1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  for (int i = 0; i < 100000; ++i) rc.reset(227 * 1024, 32);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  const double us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) * 1e-3) / 100000;
  std::printf("reset(227 KB, 32 warps): %.2f us of CPU time\n", us);
  CHECK(us < 20.0);
}

// ---- Random programs against an independent oracle --------------------------------------------------
// The oracle keeps every event in a DAG (program order per warp; arrivals -> barrier completion ->
// participants; releases -> mbarrier phase completion -> acquirers) and decides a race by searching every
// earlier access for an overlapping conflicting one that does not reach this one. The detector must agree
// on every access up to and including the first race (FastTrack is exact up to the first race on each
// location; after a race its summary keeps only what is needed to find one more).
struct Oracle {
  struct Acc { int warp; uint32_t lo, hi; bool write, atomic; int node; uint32_t pc; };
  std::vector<std::vector<int>> reach;  // reach[n]: nodes that happen before n (and n itself)
  std::vector<int> last;
  std::vector<std::vector<int>> bar_pending;
  std::vector<Acc> accs;
  std::vector<std::vector<int>> mb_pending;  // releases since the last completion (index by k)
  std::vector<int> mb_published;             // the last completion node, -1 if none
  std::vector<std::vector<int>> mb_all;      // every release (for an object never completed)
  explicit Oracle(int warps) : last(warps, -1), bar_pending(16), mb_pending(4), mb_published(4, -1), mb_all(4) {}
  int node(const std::vector<int>& preds) {
    const int n = static_cast<int>(reach.size());
    std::vector<int> r{n};
    for (int p : preds)
      if (p >= 0) r.insert(r.end(), reach[p].begin(), reach[p].end());
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    reach.push_back(std::move(r));
    return n;
  }
  bool before(int a, int b) const { return std::binary_search(reach[b].begin(), reach[b].end(), a); }
  // Also checks a detector's conflict report against the racing accesses, when there is one.
  bool access(int w, uint32_t lo, uint32_t n, bool write, bool atomic, uint32_t pc,
              const RaceCheck::Conflict* reported, bool* report_ok) {
    const int x = node({last[w]});
    last[w] = x;
    bool race = false, matched = false;
    for (const Acc& y : accs) {
      if (y.warp == w || y.hi <= lo || lo + n <= y.lo) continue;
      const bool conflicting = (atomic && y.atomic) ? false : (write || y.write);
      if (!conflicting || before(y.node, x)) continue;
      race = true;
      const RaceCheck::Conflict& c = *reported;
      if (c.warp == y.warp && c.pc == y.pc && c.was_write == (y.write || y.atomic) &&
          c.now_write == (write || atomic) && c.addr >= std::max(lo, y.lo) && c.addr < std::min(lo + n, y.hi))
        matched = true;
    }
    accs.push_back(Acc{w, lo, lo + n, write, atomic, x, pc});
    *report_ok = !race || matched;
    return !race;
  }
  void arrive(int w, int b) { last[w] = node({last[w]}); bar_pending[b].push_back(last[w]); }
  void complete(int b, const std::vector<int>& ps) {
    std::vector<int> preds = bar_pending[b];
    for (int p : ps) preds.push_back(last[p]);
    const int n = node(preds);
    for (int p : ps) last[p] = n;
    bar_pending[b].clear();
  }
  void release(int w, int k) {
    last[w] = node({last[w]});
    mb_pending[k].push_back(last[w]);
    mb_all[k].push_back(last[w]);
  }
  void mb_complete(int k) {
    std::vector<int> preds = mb_pending[k];
    preds.push_back(mb_published[k]);
    mb_published[k] = node(preds);
    mb_pending[k].clear();
  }
  void acquire(int w, int k) {
    std::vector<int> preds{last[w]};
    if (mb_published[k] >= 0) preds.push_back(mb_published[k]);
    else preds.insert(preds.end(), mb_all[k].begin(), mb_all[k].end());
    last[w] = node(preds);
  }
};

void random_programs() {
  std::mt19937 rng(12345);
  int programs = 0, with_race = 0, disagreements = 0;
  long accesses = 0;
  for (int prog = 0; prog < 20000; ++prog) {
    const int warps = prog % 8 == 7 ? 32 : 2 + rng() % 4;  // the full width of a vector clock too
    const uint32_t bytes = 8 * std::max(warps, 8);
    RaceCheck rc;
    rc.reset(bytes, warps);
    Oracle o(warps);
    bool raced = false, bad = false;
    for (int step = 0; step < 60 && !raced && !bad; ++step) {
      const int op = rng() % 10;
      const int w = rng() % warps;
      if (op < 6) {
        // One warp instruction: 1 to 8 lanes of warp w, one pc (a few pcs in all, so that the detector's
        // reuse of a previous access's verdict is exercised), each lane on its own word, the same word
        // (a broadcast), or pairs. Addresses mostly in the warp's own 8 bytes (never a race), else anywhere.
        const uint32_t n = 1u << (rng() % 4);
        const int kind = rng() % 5;  // read, read, write, write, atomic
        const bool write = kind >= 2, atomic = kind == 4;
        const uint32_t pc = rng() % 3;
        const int lanes = rng() % 2 ? 1 : 1 + rng() % 8;
        const int pattern = rng() % 3;
        const bool own = rng() % 6 != 0;
        const uint32_t span = own ? 8 : bytes, base = own ? 8 * w : 0;
        const uint32_t a0 = (rng() % (span / n)) * n;
        for (int lane = 0; lane < lanes && !raced && !bad; ++lane) {
          const uint32_t k = pattern == 0 ? lane : pattern == 1 ? 0 : lane / 2;
          const uint32_t a = base + (a0 + k * n) % span;
          RaceCheck::Conflict c{-1, 0, false, false, 0};
          const bool got = rc.access(w, a, n, write, atomic, pc, &c);
          bool report_ok = true;
          const bool want = o.access(w, a, n, write, atomic, pc, &c, &report_ok);
          ++accesses;
          if (got != want || !report_ok) {
            ++disagreements;
            if (disagreements <= 5)
              std::fprintf(stderr, "program %d step %d: detector %d, oracle %d, report %s (warp %d pc %u addr %u)\n",
                           prog, step, got, want, report_ok ? "ok" : "wrong", c.warp, c.pc, c.addr);
            bad = true;
            break;
          }
          raced = !want;
        }
      } else if (op < 8) {  // a barrier of a random subset (>= 1 warp), some of them only arriving
        const uint32_t b = rng() % 3;
        std::vector<int> ps;
        for (int u = 0; u < warps; ++u) {
          const int r = rng() % 4;
          if (r == 0) { rc.arrive(u, b); o.arrive(u, b); }  // bar.arrive
          else if (r >= 2) ps.push_back(u);
        }
        for (int p : ps) { rc.arrive(p, b); o.arrive(p, b); }
        rc.complete(b, ps);
        o.complete(b, ps);
      } else {
        const int k = rng() % 2;
        const int r = rng() % 3;
        if (r == 0) { rc.release(w, 16 + k); o.release(w, k); }
        else if (r == 1) { rc.complete(16 + k, {}); o.mb_complete(k); }
        else { rc.acquire(w, 16 + k); o.acquire(w, k); }
      }
    }
    ++programs;
    with_race += raced;
  }
  std::printf("random programs: %d (%d end in a race), %ld accesses compared, %d disagreements\n",
              programs, with_race, accesses, disagreements);
  CHECK_EQ(disagreements, 0);
  CHECK(with_race > programs / 10);          // the generator does produce races...
  CHECK(with_race < programs - programs / 10);  // ...and race-free programs
}

void speed() {
  // A tiled GEMM-like pattern, per lane as the interpreter calls it: 8 warps write their slice of a
  // 64 KB tile (4 bytes per lane), barrier, every warp reads the whole tile (16 bytes per lane), barrier.
  RaceCheck rc;
  const uint32_t tile = 64 * 1024;
  const int warps = 8;
  rc.reset(tile, warps);
  std::vector<int> all{0, 1, 2, 3, 4, 5, 6, 7};
  long writes = 0, reads = 0;
  double wsec = 0, rsec = 0;
  bool ok = true;
  // CPU time of this thread: the machine may be shared, wall time would measure the neighbours.
  struct clk {
    static double now() { timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
  };
  for (int iter = 0; iter < 6; ++iter) {
    auto t0 = clk::now();
    for (int w = 0; w < warps; ++w)
      for (uint32_t a = w * (tile / warps); a < (w + 1) * (tile / warps); a += 4, ++writes) ok &= wr(rc, w, a, 4, 10);
    bar(rc, 0, all);
    auto t1 = clk::now();
    for (int w = 0; w < warps; ++w)
      for (uint32_t a = 0; a < tile; a += 16, ++reads) ok &= rd(rc, w, a, 16, 20);
    bar(rc, 0, all);
    auto t2 = clk::now();
    wsec += t1 - t0;
    rsec += t2 - t1;
  }
  std::printf("speed (CPU time): %.1f M accesses/s (%ld 4-byte writes at %.1f M/s, %ld 16-byte concurrent reads at %.1f M/s)\n",
              (writes + reads) / (wsec + rsec) / 1e6, writes, writes / wsec / 1e6, reads, reads / rsec / 1e6);
  CHECK(ok);
  CHECK((writes + reads) / (wsec + rsec) > 0.5e6);  // ~25 M/s when measured; this only catches blow-ups
}

}  // namespace

int main() {
  basic_patterns();
  conflict_fields();
  read_sets();
  named_barriers();
  transitivity();
  mbarriers();
  atomics();
  tma_ring(false, false);
  tma_ring(true, false);
  tma_ring(false, true);
  tma_ring(true, true);
  reset_clears();
  random_programs();
  speed();
  return check::finish();
}
