// dsv3-emu: shared-memory race detection for one CTA, in the manner of compute-sanitizer's racecheck.
// A race is two accesses to the same shared byte by different warps, at least one a write (atomics
// against atomics excepted), with no synchronisation ordering them. Synchronisation is tracked with
// vector clocks (FastTrack: one epoch per byte in the common case, a read vector only when reads are
// concurrent): a completed barrier (bar.sync / bar.red / barrier.cta with a thread count, named barriers
// included) orders every participating warp's accesses before it with every participant's after it;
// an mbarrier phase completion orders the arrivals before it with the waits that observe it; a
// bar.warp.sync or warp-collective orders only lanes of one warp (never relevant between warps).
// Intra-warp conflicts are not races here.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace emu {

class RaceCheck {
 public:
  // `smem_bytes`: the CTA's shared memory size; `warps`: warps in the CTA (<= 32).
  void reset(uint32_t smem_bytes, int warps);

  // An access by warp `warp` to [addr, addr + bytes) of shared memory. `pc` identifies the instruction
  // (an index the caller can turn into a PTX line). Returns false when it races with an earlier access;
  // `conflict` then describes the other access (its warp, pc, and whether it was a write).
  struct Conflict { int warp; uint32_t pc; bool was_write; bool now_write; uint32_t addr; };
  bool access(int warp, uint32_t addr, uint32_t bytes, bool write, bool atomic, uint32_t pc, Conflict* conflict);

  // Warp `warp` arrives at a barrier: its clock is released into `sync_id`'s accumulator.
  // When the barrier completes, complete(sync_id, participants) joins every participant's clock with it.
  // sync ids: 0..15 for bar.sync/bar.red named barriers; 16 + k for mbarrier objects (k: caller-chosen).
  void arrive(int warp, uint32_t sync_id);
  void complete(uint32_t sync_id, const std::vector<int>& participants);
  // Warp `warp` observes a completed phase of sync object `sync_id` (mbarrier try_wait that succeeded):
  // acquires what was released into it.
  void acquire(int warp, uint32_t sync_id);
  // Release into a sync object without waiting for others (mbarrier.arrive).
  void release(int warp, uint32_t sync_id);
  // Notes on the calls above (racecheck.cc):
  // - bar.arrive: arrive() for the arriving warp, which is then not named in complete()'s participants.
  // - mbarrier (sync_id >= 16): releases accumulate; complete(sync_id, {}) at a phase completion
  //   publishes them and acquire() then observes only completed phases. For an object on which
  //   complete() was never called, acquire() observes every release so far.
  // - the mbarrier object's own 8 bytes: access(..., atomic=true) for init / arrive / try_wait (they are
  //   atomic operations on it), or no access() at all; a plain access would race with other warps' arrives.
  // - asynchronous copies into shared memory (TMA, cp.async.bulk, cp.async): when the bytes land (at issue
  //   or later), access() them as writes of the issuing warp, then release(issuer, mbarrier) for the
  //   complete_tx (or the issuer's cp.async.wait_group covers them). Without that release, the waits on
  //   the mbarrier do not order the bytes before the consumers' reads: a false race. (Attributed to the
  //   issuer, the copy never races with the issuer's own accesses; see test/unit/racecheck_test.cc, tma_ring.)
  // True once a warp has passed 2^27 - 2 synchronisations in this CTA: checking is off until reset().
  bool saturated() const { return saturated_; }

 private:
  static constexpr int kMaxWarps = 32;
  static constexpr uint32_t kShared = 0xFFFFFFFFu;      // epoch value: the state is a read/atomic set
  static constexpr uint32_t kPageBytes = 1024;          // shadow pages, cleared lazily on first touch
  struct Clock { uint32_t c[kMaxWarps]; };
  // Shadow of one shared byte, or of a 4-byte granule whose bytes agree. Epochs are (clock << 5 | warp),
  // 0 = none. r (a) == kShared means concurrent plain reads (atomics): rpc (apc) then indexes sets_
  // instead of being a pc. A granule with w == kShared is split: wpc indexes splits_ (4 byte states).
  struct Cell { uint32_t w, r, a, wpc, rpc, apc; };
  struct Split { Cell bytes[4]; };
  struct Set { uint32_t clk[kMaxWarps]; uint32_t pc[kMaxWarps]; uint32_t refs; };  // immutable once made
  struct Sync { Clock acc{}, published{}; bool completed = false; };
  struct Memo { uint32_t from, from_pc, epoch, pc, to; };  // from state + (epoch, pc) -> set `to`

  static bool same(const Cell& x, const Cell& y);
  Cell* granule(uint32_t addr);
  Cell* split(Cell& g);
  void merge(Cell& g);
  bool record(Cell& x, int warp, uint32_t now, bool write, bool atomic, uint32_t pc, Conflict* out);
  bool ordered_set(uint32_t set, int warp, int* racer);
  uint32_t add_to_set(uint32_t from, uint32_t from_pc, int warp, uint32_t epoch, uint32_t pc);
  uint32_t new_set();
  void unref(uint32_t set, uint32_t n = 1);
  void bump(int warp);
  Sync& sync(uint32_t id);

  uint32_t smem_bytes_ = 0;
  int warps_ = 0;
  bool saturated_ = false;
  uint32_t generation_ = 0;
  std::vector<Cell> shadow_;                            // one per 4-byte granule
  std::vector<Split> splits_;
  std::vector<uint32_t> free_splits_;
  std::vector<uint32_t> page_gen_;
  Clock clock_[kMaxWarps] = {};
  uint32_t clock_version_[kMaxWarps] = {};             // bumped whenever a warp's clock changes
  std::vector<Set> sets_;
  std::vector<uint32_t> free_sets_;
  std::vector<Memo> memo_;
  uint32_t ord_set_ = kShared, ord_warp_ = 0, ord_version_ = 0; int ord_racer_ = -1;  // last set check
  // The last access's state transition (access()), reused for equal states while its key still holds.
  int run_warp_ = -1;
  uint32_t run_version_ = 0, run_pc_ = 0;
  bool run_write_ = false, run_atomic_ = false, run_ok_ = false;
  uint64_t run_frees_ = 0;
  Cell run_before_{}, run_after_{};
  uint64_t frees_ = 0;                                  // sets freed so far
  Sync bars_[16];
  std::unordered_map<uint32_t, Sync> mbars_;
};

}  // namespace emu
