// dsv3-emu: the generic-proxy -> async-proxy fence check for one CTA's shared memory.
//
// PTX ISA 9.0, memory consistency model, "Proxies": an access through one proxy is ordered with an
// access to the same location through another proxy only by a proxy fence between them. Shared memory
// read or written by wgmma.mma_async (its smem operands, §9.7.15: "performed in the async proxy"), by
// cp.async.bulk / cp.async.bulk.tensor (§9.7.9.25.4/5: source or destination, and the complete_tx they
// perform on the mbarrier object, "in the asynchronous proxy") is accessed through the async proxy;
// st / atom / red / stmatrix on shared memory, the landing of a non-bulk cp.async (§9.7.9.25.3, generic
// proxy), and mbarrier.init (a generic-proxy write of the object) go through the generic proxy. So a
// generic write followed by an async access needs `fence.proxy.async` (no state space, .shared::cta or
// .shared::cluster; or the one-way fence.proxy.async::generic.release.sync_restrict::shared::cta.cluster)
// executed by the writing thread between the two: CUTLASS's fence_view_async_shared() after smem writes
// that feed wgmma / TMA stores, DeepGEMM's "Make initialized barrier visible in async proxy" after its
// mbarrier inits. fence.mbarrier_init.release.cluster is a release of the inits at cluster scope (generic
// proxy) and is not counted as a proxy fence here.
//
// The model (cheap, per byte): shadow = (writer thread, writer's fence epoch at the write, pc of the
// write); fence.proxy.async by a thread bumps that thread's epoch; an async-proxy access to a byte whose
// writer's epoch is unchanged since the write is a missing fence. Async-proxy writes (TMA / bulk copies
// landing) clear the shadow of their bytes. Cross-thread ordering (the writer fences, then bar.sync,
// then another thread issues the copy) is the race detector's business; this only asks whether the
// writing thread fenced at all after its last write. Pages are cleared lazily (a generation per page).
#pragma once
#include <cstdint>
#include <vector>

namespace emu {

class ProxyCheck {
 public:
  // A new CTA: `smem_bytes` of shared memory, `threads` threads (<= 2047).
  void reset(uint32_t smem_bytes, uint32_t threads);
  // A generic-proxy write (or atomic) by thread `thread` at instruction `pc`.
  void write(uint32_t thread, uint32_t addr, uint32_t n, uint32_t pc);
  // An async-proxy write: the bytes no longer hold a generic write.
  void async_write(uint32_t addr, uint32_t n);
  // fence.proxy.async (covering shared::cta) by thread `thread`.
  void fence(uint32_t thread) { ++epoch_[thread]; }
  // An async-proxy access of [addr, addr + n): false when some byte was written through the generic
  // proxy by a thread that has not executed a proxy fence since; `*out` names the first such byte.
  struct Unfenced { uint32_t thread, pc, addr; };
  bool check(uint32_t addr, uint32_t n, Unfenced* out);

 private:
  static constexpr uint32_t kPageBytes = 1024;
  static constexpr uint32_t kThreadBits = 11;  // thread + 1 (0: no pending generic write)
  static constexpr uint32_t kEpochMask = (1u << (32 - kThreadBits)) - 1;
  struct Cell { uint32_t tag, pc; };  // tag: (epoch & kEpochMask) << kThreadBits | (thread + 1)
  Cell* page(uint32_t addr);

  uint32_t smem_bytes_ = 0;
  uint32_t generation_ = 0;
  std::vector<Cell> shadow_;
  std::vector<uint32_t> page_gen_;
  std::vector<uint32_t> epoch_;
};

}  // namespace emu
