// Storage allocation: 64-byte aligned host memory on the CPU, the caching pool on CUDA devices.
// Host storages of kHostMapBytes or more are anonymous mappings of their own, unmapped when freed (up to
// 64 MiB of them kept for reuse by the same size, least recently freed evicted first: HostMapCache), so memory goes back to the system after a burst of work (glibc kept freed arenas: 1.7 GiB of RSS with no
// live tensor, issue 18); smaller ones come from malloc, and after every kTrimBytes of them freed,
// malloc_trim gives the arenas' free pages back.
#include "native/storage.h"

#include <sys/mman.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <list>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#ifdef DSV3_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dsv3 {
namespace {
// Storages allocated while a CUDA graph was being captured, per device (see adopt_into_graph).
std::mutex g_captured_m;
std::vector<std::pair<int, std::weak_ptr<Storage>>> g_captured;

constexpr int64_t kTrimBytes = int64_t{64} << 20;
std::atomic<int64_t> g_freed_since_trim{0};
void host_freed(size_t bytes) {
#ifdef __GLIBC__
  if (g_freed_since_trim.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes) >= kTrimBytes) {
    g_freed_since_trim.store(0);
    malloc_trim(0);
  }
#else
  (void)bytes;
#endif
}
}  // namespace

void Storage::adopt_into_graph(Device d, const std::vector<void*>& owned) {
  std::lock_guard<std::mutex> l(g_captured_m);
  for (auto& [dev, w] : g_captured) {
    if (dev != d.index) continue;
    if (auto s = w.lock())
      if (std::find(owned.begin(), owned.end(), s->ptr) != owned.end()) s->release = [](void*, size_t) {};
  }
  g_captured.erase(std::remove_if(g_captured.begin(), g_captured.end(), [&](auto& e) { return e.first == d.index; }), g_captured.end());
}

namespace {
// Freed host mappings kept for the next allocation of the same size: a model step allocates the same sizes
// every step, and a fresh mapping costs a page fault per 4 KiB on first touch (a fifth of a CPU prefill's
// time before). At most kHostCacheBytes are kept, least recently freed evicted first: sizes that stop coming
// (another phase's shapes) age out instead of filling the cache for good, which had sent a bf16 prefill's own
// sizes back to fresh mappings (a 128-token prefill of the small preset: 5600-7300 page faults, 1700-2600 with
// LRU; 63-73 -> 57 ms).
constexpr size_t kHostCacheBytes = size_t{64} << 20;
class HostMapCache {
 public:
  void* take(size_t bytes) {
    std::lock_guard<std::mutex> l(m_);
    auto it = by_size_.find(bytes);
    if (it == by_size_.end() || it->second.empty()) return nullptr;
    const auto e = it->second.back();  // the most recently freed of this size
    it->second.pop_back();
    void* p = e->ptr;
    lru_.erase(e);
    held_ -= bytes;
    return p;
  }
  void give(void* p, size_t bytes) {
    std::vector<Entry> evicted;
    {
      std::lock_guard<std::mutex> l(m_);
      if (bytes <= kHostCacheBytes) {
        lru_.push_front(Entry{p, bytes});
        by_size_[bytes].push_back(lru_.begin());
        held_ += bytes;
        p = nullptr;
      }
      while (held_ > kHostCacheBytes) {  // the oldest entry overall is the oldest of its size: its list's front
        const Entry e = lru_.back();
        auto& same = by_size_[e.bytes];
        same.erase(same.begin());
        lru_.pop_back();
        held_ -= e.bytes;
        evicted.push_back(e);
      }
    }
    if (p) ::munmap(p, bytes);
    for (const Entry& e : evicted) ::munmap(e.ptr, e.bytes);
  }

 private:
  struct Entry { void* ptr; size_t bytes; };
  std::mutex m_;
  std::list<Entry> lru_;  // most recently freed first
  std::unordered_map<size_t, std::vector<std::list<Entry>::iterator>> by_size_;  // per size, oldest first
  size_t held_ = 0;
};
HostMapCache& host_map_cache() {
  static HostMapCache* c = new HostMapCache();  // leaked on purpose: storages may be freed by static destructors
  return *c;
}

// A fresh anonymous mapping of `bytes` (a multiple of 4 KiB). From 2 MiB up it starts on a 2 MiB boundary and
// asks for transparent huge pages (where the system's THP mode is `madvise`, the default of many distributions,
// nothing is huge without asking): a model's weights and activations then take a TLB entry per 2 MiB instead of
// per 4 KiB, and a first touch faults once per 2 MiB.
constexpr size_t kHuge = size_t{2} << 20;
void* map_fresh(size_t bytes) {
  static const bool thp = !std::getenv("DSV3_NO_THP");
  if (!thp || bytes < kHuge) return ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* raw = ::mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return raw;
  const uintptr_t r = reinterpret_cast<uintptr_t>(raw), a = (r + kHuge - 1) / kHuge * kHuge;
  if (a > r) ::munmap(raw, a - r);                                              // the head before the boundary
  ::munmap(reinterpret_cast<void*>(a + bytes), r + kHuge - a);                    // the tail after the mapping (a < r + kHuge)
#ifdef MADV_HUGEPAGE
  ::madvise(reinterpret_cast<void*>(a), bytes, MADV_HUGEPAGE);  // advice only: no error if THP is off
#endif
  return reinterpret_cast<void*>(a);
}
}  // namespace

std::shared_ptr<Storage> Storage::allocate(Device d, size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->device = d;
  s->bytes = bytes;
  const size_t alloc = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  if (d.type == DeviceType::cpu) {
    if (alloc >= kHostMapBytes) {
      const size_t mapped = (alloc + 4095) / 4096 * 4096;
      void* p = host_map_cache().take(mapped);
      if (!p) p = map_fresh(mapped);
      if (p == MAP_FAILED) throw OomError("out of host memory allocating " + std::to_string(bytes) + " bytes");
      s->ptr = p;
      s->release = [mapped](void* q, size_t) { host_map_cache().give(q, mapped); };
      return s;
    }
    s->ptr = std::aligned_alloc(64, alloc);
    if (!s->ptr) throw OomError("out of host memory allocating " + std::to_string(bytes) + " bytes");
  } else {
#ifdef DSV3_WITH_CUDA
    s->ptr = cuda::device_alloc(d.index, alloc);
    if (cuda::capturing(d.index)) {
      std::lock_guard<std::mutex> l(g_captured_m);
      g_captured.emplace_back(d.index, s);
    }
#else
    throw CudaError("this build of dsv3 has no CUDA backend");
#endif
  }
  return s;
}

Storage::~Storage() {
  if (!ptr) return;
  if (release) { release(ptr, bytes); return; }
  if (device.type == DeviceType::cpu) {
    std::free(ptr);
    host_freed(bytes);
  } else {
#ifdef DSV3_WITH_CUDA
    cuda::device_free(device.index, ptr);  // stream-ordered: after all work queued so far
#endif
  }
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace dsv3
