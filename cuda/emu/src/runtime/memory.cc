// dsv3-emu: the emulated device's global memory (memory.h). Two mappings of equal size: the device
// address range (PROT_NONE, so a host dereference of a device pointer faults as on a real GPU) and the
// read-write backing bytes at a fixed delta, both MAP_NORESERVE so that only touched pages cost memory.
// Allocations are bump-allocated with red zones; freed ranges are reused only once fresh space runs out.
#include "src/runtime/memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <sstream>
#include <stdexcept>

namespace emu {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kAlign = 256;              // cudaMalloc's guaranteed alignment
constexpr uint64_t kLargeAlign = kPage;       // large allocations start on a page: freeing returns all of it
constexpr uint64_t kLarge = 64 * 1024;
constexpr uint64_t kStartOffset = 2ull << 20;  // the first bytes of the range stay unallocated

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Bytes left unallocated after an allocation: wide enough that a read a few rows past the end is
// outside every allocation, proportionate for big buffers, never more than 2 MiB.
uint64_t red_zone(uint64_t size) { return std::clamp<uint64_t>(round_up(size / 2, kPage), kPage, 2ull << 20); }

std::string hex(uint64_t v) {
  std::ostringstream os;
  os << "0x" << std::hex << v;
  return os.str();
}

std::string name_of(const Allocation& a) {
  std::ostringstream os;
  os << "allocation #" << a.id << " (" << hex(a.base) << ", " << a.size << " bytes, " << a.kind << ")";
  return os.str();
}

}  // namespace

GlobalMemory::GlobalMemory(uint64_t capacity) : capacity_(capacity) {
  // Address space is cheap: reserve far more than the capacity so that freed ranges need not be reused
  // for a long time. If the kernel refuses (strict overcommit), halve down to what the capacity needs.
  uint64_t want = std::clamp<uint64_t>(round_up(capacity, 2ull << 20) * 16, 1ull << 30, 8ull << 40);
  const uint64_t least = round_up(capacity + capacity / 4 + (64ull << 20), 2ull << 20);
  for (;;) {
    void* va = mmap(nullptr, want, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (va != MAP_FAILED) {
      void* bytes = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (bytes != MAP_FAILED) {
        va_base_ = reinterpret_cast<uint64_t>(va);
        va_size_ = want;
        delta_ = static_cast<int64_t>(reinterpret_cast<uint64_t>(bytes) - va_base_);
        next_ = va_base_ + kStartOffset;
        return;
      }
      munmap(va, want);
    }
    if (want <= least) throw std::bad_alloc();
    want = std::max(least, want / 2);
  }
}

GlobalMemory::~GlobalMemory() {
  if (!va_size_) return;
  munmap(reinterpret_cast<void*>(va_base_), va_size_);
  munmap(host_of(va_base_), va_size_);
}

uint64_t GlobalMemory::place(uint64_t bytes) {
  const uint64_t align = bytes >= kLarge ? kLargeAlign : kAlign;
  const uint64_t span = round_up(std::max<uint64_t>(bytes, 1), kAlign) + red_zone(bytes);
  const uint64_t end = va_base_ + va_size_;

  uint64_t base = round_up(next_, align);
  if (base + span <= end) {
    next_ = base + span;
    return base;
  }
  // Fresh address space is exhausted: first fit in a gap between live allocations and reservations
  // (each keeps its red zone after it). Freed allocations overlapping the reused range are forgotten.
  std::map<uint64_t, uint64_t> taken(reserved_);
  for (const auto& [b, a] : live_) taken[b] = std::max(taken[b], a.size);
  base = 0;
  uint64_t from = va_base_ + kStartOffset;
  for (const auto& [b, size] : taken) {
    const uint64_t cand = round_up(from, align);
    if (cand + span <= b) { base = cand; break; }
    from = std::max(from, b + round_up(std::max<uint64_t>(size, 1), kAlign) + red_zone(size));
  }
  if (!base) {
    const uint64_t cand = round_up(from, align);
    if (cand + span <= end) base = cand;
  }
  if (!base) return 0;
  auto it = freed_.lower_bound(base);
  if (it != freed_.begin()) --it;
  while (it != freed_.end() && it->first < base + span) {
    if (it->first + std::max<uint64_t>(it->second.size, 1) > base) it = freed_.erase(it);
    else ++it;
  }
  return base;
}

Allocation GlobalMemory::make_live(uint64_t base, uint64_t bytes, const char* kind) {
  Allocation a;
  a.base = base;
  a.size = bytes;
  a.host = host_of(base);
  a.id = next_id_++;
  a.kind = kind;
  a.live = true;
  std::memset(a.host, 0xFF, bytes);  // poison: NaN in every float format the kernels use
  used_ += bytes;
  freed_.erase(base);  // a graph allocation living again at its address
  live_.emplace(base, a);
  return a;
}

uint64_t GlobalMemory::allocate(uint64_t bytes, const char* kind) {
  std::unique_lock lock(mu_);
  if (bytes > capacity_ || used_ + bytes > capacity_) return 0;
  const uint64_t base = place(bytes);
  if (base) make_live(base, bytes, kind);
  return base;
}

uint64_t GlobalMemory::reserve(uint64_t bytes) {
  std::unique_lock lock(mu_);
  if (bytes > capacity_) return 0;
  const uint64_t base = place(bytes);
  if (base) reserved_[base] = bytes;
  return base;
}

bool GlobalMemory::allocate_at(uint64_t base, const char* kind) {
  std::unique_lock lock(mu_);
  auto r = reserved_.find(base);
  if (r == reserved_.end() || live_.count(base) || used_ + r->second > capacity_) return false;
  make_live(base, r->second, kind);
  return true;
}

void GlobalMemory::unreserve(uint64_t base) {
  std::unique_lock lock(mu_);
  reserved_.erase(base);
}

bool GlobalMemory::reserved(uint64_t addr, uint64_t bytes) const {
  std::shared_lock lock(mu_);
  auto it = reserved_.upper_bound(addr);
  if (it == reserved_.begin()) return false;
  --it;
  const uint64_t off = addr - it->first;
  return off < std::max<uint64_t>(it->second, 1) && bytes <= it->second - std::min(off, it->second);
}

bool GlobalMemory::release(uint64_t base) {
  std::unique_lock lock(mu_);
  auto it = live_.find(base);
  if (it == live_.end()) return false;
  Allocation a = it->second;
  live_.erase(it);
  used_ -= a.size;
  // Give the whole pages back to the system (they read as zero afterwards, but no one may read them:
  // translate() refuses freed ranges). The partial pages at either end are shared with neighbours.
  const uint64_t lo = round_up(a.base, kPage), hi = (a.base + a.size) / kPage * kPage;
  if (hi > lo) madvise(host_of(lo), hi - lo, MADV_DONTNEED);
  a.live = false;
  a.host = nullptr;
  freed_[a.base] = a;
  return true;
}

uint8_t* GlobalMemory::translate(uint64_t addr, uint64_t bytes) const {
  std::shared_lock lock(mu_);
  auto it = live_.upper_bound(addr);
  if (it == live_.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  const uint64_t off = addr - a.base;
  if (off >= a.size || bytes > a.size - off) return nullptr;
  return a.host + (addr - a.base);
}

const Allocation* GlobalMemory::find(uint64_t addr) const {
  std::shared_lock lock(mu_);
  auto it = live_.upper_bound(addr);
  if (it == live_.begin()) return nullptr;
  --it;
  const Allocation& a = it->second;
  return addr - a.base < a.size ? &a : nullptr;
}

std::string GlobalMemory::describe(uint64_t addr, uint64_t bytes) const {
  std::shared_lock lock(mu_);
  const uint64_t last = addr + (bytes ? bytes - 1 : 0);
  // The nearest allocation (live or freed) below or containing `addr`, and the next one above it.
  const Allocation* below = nullptr;
  const Allocation* above = nullptr;
  for (const auto* m : {&live_, &freed_}) {
    auto it = m->upper_bound(addr);
    if (it != m->end() && (!above || it->first < above->base)) above = &it->second;
    if (it != m->begin()) {
      --it;
      const Allocation& a = it->second;
      // A live allocation wins over a freed one at the same place (its range was reused).
      if (!below || a.base > below->base || (a.base == below->base && a.live)) below = &a;
    }
  }
  std::ostringstream os;
  if (below && addr < below->base + below->size) {
    const uint64_t off = addr - below->base;
    if (!below->live) {
      os << "inside " << name_of(*below) << ", freed";
    } else if (last >= below->base + below->size) {
      os << "at offset " << off << " of " << name_of(*below) << ", running " << (last + 1 - below->base - below->size)
         << " bytes past its end";
    } else {
      os << "at offset " << off << " of " << name_of(*below);
    }
    return os.str();
  }
  // A stream-ordered or graph allocation whose address was handed out but which does not exist yet.
  auto r = reserved_.upper_bound(addr);
  if (r != reserved_.begin() && addr - std::prev(r)->first < std::prev(r)->second) {
    --r;
    os << "at offset " << addr - r->first << " of a stream-ordered or graph allocation (" << hex(r->first) << ", "
       << r->second << " bytes) that is not allocated at this point of the device's timeline";
    return os.str();
  }
  // Outside every allocation: say which one it is nearest to.
  const uint64_t after = below ? addr - (below->base + below->size) : UINT64_MAX;
  const uint64_t before = above ? above->base - addr : UINT64_MAX;
  if (!in_device_range(addr) || (after > (64ull << 20) && before > (64ull << 20))) {
    os << "not in any allocation";
    if (!in_device_range(addr)) os << " (not a device address)";
    return os.str();
  }
  if (after <= before) {
    os << after << " bytes after the end of " << name_of(*below) << (below->live ? "" : ", freed");
  } else {
    os << before << " bytes before the start of " << name_of(*above) << (above->live ? "" : ", freed");
  }
  return os.str();
}

uint64_t GlobalMemory::used() const {
  std::shared_lock lock(mu_);
  return used_;
}

}  // namespace emu
