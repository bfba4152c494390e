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
};

}  // namespace emu
