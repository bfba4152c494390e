// dsv3-emu: the emulated device's global memory. Device addresses are a range of the host's address
// space reserved PROT_NONE, so a host dereference of a device pointer faults as it would with a real
// GPU; the bytes live in a second (read-write) mapping at a fixed delta. Every allocation is filled with
// poison (0xFF bytes: NaN in f32, f16, bf16 and e4m3) and separated from its neighbours by a red zone,
// so that a read one element past the end is outside every allocation. Freed address ranges are not
// reused while others are free, so a use after free is reported as such.
// Owned by the runtime (src/runtime); the interpreter translates addresses through it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <string>

namespace emu {

struct Allocation {
  uint64_t base = 0;      // device address (256-byte aligned, as cudaMalloc's)
  uint64_t size = 0;      // bytes asked for
  uint8_t* host = nullptr;  // where the bytes are, for the emulator
  uint64_t id = 0;        // 1, 2, ... in order of allocation (named in reports)
  const char* kind = "";  // "cudaMalloc", "cudaMallocAsync", "module variable", "graph", ...
  bool live = true;
};

class GlobalMemory {
 public:
  // `capacity`: the emulated device's memory size (what cudaMemGetInfo reports as total).
  explicit GlobalMemory(uint64_t capacity);
  ~GlobalMemory();
  GlobalMemory(const GlobalMemory&) = delete;
  GlobalMemory& operator=(const GlobalMemory&) = delete;

  // New poisoned allocation; 0 when the emulated capacity would be exceeded (the caller turns it into
  // cudaErrorMemoryAllocation). Thread-safe.
  uint64_t allocate(uint64_t bytes, const char* kind);
  // Frees a live allocation by its base address; false if `base` is not one (the caller's error).
  bool release(uint64_t base);

  // Stream-ordered and graph allocations: the address is handed out when the API call returns (reserve)
  // but the allocation becomes live only when it runs on the device's timeline (allocate_at), and may
  // die and live again at the same address (a graph's memory node at each replay). reserve() checks no
  // capacity (the caller accounts for what will be live) and returns 0 when address space runs out;
  // allocate_at() makes a live poisoned allocation of the reserved size, false if `base` is not reserved,
  // is already live, or the capacity would be exceeded. unreserve() forgets the reservation (a live
  // allocation there stays live until released). reserved(): [addr, addr + bytes) lies in one reservation.
  uint64_t reserve(uint64_t bytes);
  bool allocate_at(uint64_t base, const char* kind);
  void unreserve(uint64_t base);
  bool reserved(uint64_t addr, uint64_t bytes) const;

  // The host bytes of [addr, addr + bytes) when the whole range lies inside one live allocation, else
  // nullptr. Thread-safe; the interpreter calls it on its slow path only (it caches the allocation).
  uint8_t* translate(uint64_t addr, uint64_t bytes) const;
  // The live allocation containing `addr`, or nullptr. The pointer stays valid until that allocation is
  // released (frees happen only on the device's own timeline, never during a kernel).
  const Allocation* find(uint64_t addr) const;
  // A sentence for reports: "4 bytes after the end of allocation #12 (0x7f1e00000000, 1024 bytes,
  // cudaMalloc)", "inside allocation #3, freed", "not in any allocation".
  std::string describe(uint64_t addr, uint64_t bytes) const;

  uint64_t capacity() const { return capacity_; }
  uint64_t used() const;  // bytes in live allocations

  // Device address <-> host address of the backing bytes, for the runtime's copies (no checks).
  uint8_t* host_of(uint64_t addr) const { return reinterpret_cast<uint8_t*>(addr + delta_); }
  bool in_device_range(uint64_t addr) const { return addr >= va_base_ && addr < va_base_ + va_size_; }

 private:
  uint64_t capacity_;
  uint64_t va_base_ = 0, va_size_ = 0, next_ = 0;
  int64_t delta_ = 0;  // host address of the bytes = device address + delta_
  uint64_t used_ = 0, next_id_ = 1;
  std::map<uint64_t, Allocation> live_, freed_;  // by base
  std::map<uint64_t, uint64_t> reserved_;         // base -> bytes (reserve / allocate_at)
  uint64_t place(uint64_t bytes);                 // a fresh (or, when none is left, reused) base; 0 if none
  Allocation make_live(uint64_t base, uint64_t bytes, const char* kind);
  mutable std::shared_mutex mu_;
};

}  // namespace emu
