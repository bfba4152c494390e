// dsv3-emu sm90: the memory interfaces through which the models of Hopper's asynchronous units (wgmma,
// TMA, mbarrier) touch shared and global memory. The interpreter implements them so that it can bounds-
// check and race-check every byte these units read or write; the units never see interpreter internals.
#pragma once
#include <cstdint>

namespace emu::sm90 {

// Shared memory of the CTA (addresses are shared-window offsets, as in a `.shared` operand).
// read/write return false when the implementation refused the access (out of the window, a fault it has
// already reported, ...); the unit then stops and returns an error of its own.
struct SmemView {
  virtual ~SmemView() = default;
  virtual bool read(uint32_t addr, void* dst, uint32_t n) = 0;
  virtual bool write(uint32_t addr, const void* src, uint32_t n) = 0;
};

// Global (device) memory, addressed by device virtual addresses.
struct GlobalView {
  virtual ~GlobalView() = default;
  virtual bool read(uint64_t addr, void* dst, uint32_t n) = 0;
  virtual bool write(uint64_t addr, const void* src, uint32_t n) = 0;
};

}  // namespace emu::sm90
