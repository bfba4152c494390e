// dsv3-emu runtime: the memory API. cudaMalloc/Free (cudaFree synchronizes the device), stream-ordered
// allocations (cudaMallocAsync / FromPoolAsync / FreeAsync: the address now, the allocation in stream
// order) and the device's default memory pool, pinned host memory, copies and memsets of every kind
// (run on the executor in stream order; synchronous calls wait; a pageable source is staged at the call
// as CUDA does), symbol copies and pointer attributes. The real runtime's API sync rules are kept.
#include <sys/mman.h>

#include <cstring>

#include "src/runtime/state.h"

// The device's default memory pool (the only pool: cudaMemPoolCreate is not emulated).
struct CUmemPoolHandle_st {
  uint64_t release_threshold = 0;
  int reuse_follow = 1, reuse_opportunistic = 1, reuse_internal = 1;
  uint64_t used = 0, used_high = 0;
};

namespace emu::rt {
namespace {

// Never destroyed (the executor may still use them while the process exits).
CUmemPoolHandle_st g_pool;
std::map<uint64_t, uint64_t>& g_async = *new std::map<uint64_t, uint64_t>;  // cudaMallocAsync: base -> bytes
uint64_t g_pending = 0;  // bytes reserved by cudaMallocAsync, not yet live
std::mutex& g_host_mu = *new std::mutex;
// Pinned host memory: base -> (bytes, allocated by us rather than registered).
std::map<uintptr_t, std::pair<size_t, bool>>& g_pinned = *new std::map<uintptr_t, std::pair<size_t, bool>>;

bool device_ptr(const void* p) { return gmem().in_device_range(reinterpret_cast<uint64_t>(p)); }

std::string hex(uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%llx", (unsigned long long)v);
  return b;
}

cudaError_t classify(void* dst, const void* src, cudaMemcpyKind& kind) {
  const bool dd = device_ptr(dst), sd = device_ptr(src);
  cudaMemcpyKind actual = dd ? (sd ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                             : (sd ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  if (kind == cudaMemcpyDefault) {
    kind = actual;
    return cudaSuccess;
  }
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
  return kind == actual ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace

// Queues (or captures) a copy; waits for it when `sync`, or when CUDA's rules make the async form
// synchronous (device to pageable host memory).
cudaError_t memcpy_impl(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t h, bool sync, const char* what) {
  return memcpy2d_impl(dst, n, src, n, n, 1, kind, h, sync, what);
}

// `height` rows of `width` bytes, `dpitch` / `spitch` bytes apart (a plain copy is one row).
cudaError_t memcpy2d_impl(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                          cudaMemcpyKind kind, cudaStream_t h, bool sync, const char* what) {
  if (cudaError_t s = sticky()) return s;
  if (height > 1 && (width > dpitch || width > spitch)) return cudaErrorInvalidPitchValue;
  if (width == 0 || height == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  if (cudaError_t e = classify(dst, src, kind)) return e;
  const uint64_t d = reinterpret_cast<uint64_t>(dst), sa = reinterpret_cast<uint64_t>(src);
  const uint64_t dspan = (height - 1) * dpitch + width, sspan = (height - 1) * spitch + width;
  const bool to_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool from_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (to_dev && !device_range_known(d, dspan)) return cudaErrorInvalidValue;
  if (from_dev && !device_range_known(sa, sspan)) return cudaErrorInvalidValue;
  const bool src_pageable = !from_dev && host_kind(src, sspan) == HostKind::Pageable;
  const bool dst_pageable = !to_dev && host_kind(dst, dspan) == HostKind::Pageable;

  std::unique_lock<std::mutex> lock(mu());
  if (sync)
    if (cudaError_t e = unsafe_call_check_locked()) return e;
  CUstream_st* s = resolve_locked(h);
  if (!s) return cudaErrorInvalidResourceHandle;
  if (cudaError_t e = capture_check_locked(s)) return e;
  if (s->capture && (src_pageable || dst_pageable))  // a graph cannot copy pageable host memory
    return invalidate_locked(s->capture, cudaErrorStreamCaptureUnsupported);

  Node node;
  node.kind = Node::Kind::Memcpy;
  if (kind == cudaMemcpyHostToDevice && src_pageable && !s->capture) {
    // Staged at the call: the caller may reuse its buffer as soon as this returns.
    auto staged = std::make_shared<std::vector<uint8_t>>(static_cast<const uint8_t*>(src),
                                                         static_cast<const uint8_t*>(src) + sspan);
    node.run = [d, staged, dpitch, spitch, width, height, dspan, what] {
      uint8_t* p = device_bytes(d, dspan, what);
      if (!p) {
        set_sticky(cudaErrorIllegalAddress);
        return;
      }
      for (size_t r = 0; r < height; ++r) std::memcpy(p + r * dpitch, staged->data() + r * spitch, width);
    };
  } else {
    node.run = [d, sa, dpitch, spitch, width, height, dspan, sspan, to_dev, from_dev, what] {
      uint8_t* out = to_dev ? device_bytes(d, dspan, what) : reinterpret_cast<uint8_t*>(d);
      const uint8_t* in = from_dev ? device_bytes(sa, sspan, what) : reinterpret_cast<const uint8_t*>(sa);
      if (!out || !in) {
        set_sticky(cudaErrorIllegalAddress);
        return;
      }
      for (size_t r = 0; r < height; ++r) std::memmove(out + r * dpitch, in + r * spitch, width);
    };
  }
  if (s->capture) {
    capture_add_locked(s, std::move(node));
    return cudaSuccess;
  }
  OpPtr op = enqueue_locked(s, std::move(node.run), what);
  if (sync || (kind == cudaMemcpyDeviceToHost && dst_pageable) || kind == cudaMemcpyHostToHost) {
    wait_locked(lock, op);
    return sticky();
  }
  return cudaSuccess;
}

cudaError_t memset_impl(void* dst, int value, size_t n, cudaStream_t h, bool sync, const char* what) {
  return memset2d_impl(dst, n, value, n, 1, h, sync, what);
}

cudaError_t memset2d_impl(void* dst, size_t pitch, int value, size_t width, size_t height, cudaStream_t h, bool sync,
                          const char* what) {
  if (cudaError_t s = sticky()) return s;
  if (height > 1 && width > pitch) return cudaErrorInvalidPitchValue;
  if (width == 0 || height == 0) return cudaSuccess;
  const uint64_t d = reinterpret_cast<uint64_t>(dst);
  const uint64_t n = (height - 1) * pitch + width;
  if (!device_range_known(d, n)) return cudaErrorInvalidValue;
  std::unique_lock<std::mutex> lock(mu());
  if (sync)
    if (cudaError_t e = unsafe_call_check_locked()) return e;
  CUstream_st* s = resolve_locked(h);
  if (!s) return cudaErrorInvalidResourceHandle;
  Node node;
  node.kind = Node::Kind::Memset;
  node.run = [d, value, n, pitch, width, height, what] {
    uint8_t* p = device_bytes(d, n, what);
    if (!p) {
      set_sticky(cudaErrorIllegalAddress);
      return;
    }
    for (size_t r = 0; r < height; ++r) std::memset(p + r * pitch, value, width);
  };
  const bool capturing = s->capture != nullptr;
  if (cudaError_t e = submit_locked(s, std::move(node), what)) return e;
  if (sync && !capturing) {
    wait_locked(lock, s->last);
    return sticky();
  }
  return cudaSuccess;
}

namespace {

cudaError_t malloc_async(void** out, size_t n, cudaStream_t h) {
  if (cudaError_t s = sticky()) return s;
  if (!out) return cudaErrorInvalidValue;
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return cudaErrorInvalidResourceHandle;
  if (cudaError_t e = capture_check_locked(s)) return e;
  if (n == 0) {
    *out = nullptr;
    return cudaSuccess;
  }
  uint64_t base = 0;
  if (s->capture) {
    if (cudaError_t e = capture_alloc_locked(s, n, &base)) return e;
    *out = reinterpret_cast<void*>(base);
    return cudaSuccess;
  }
  if (gmem().used() + g_pending + n > gmem().capacity()) return cudaErrorMemoryAllocation;
  base = gmem().reserve(n);
  if (!base) return cudaErrorMemoryAllocation;
  note_async_alloc_locked(base, n);
  g_pending += n;
  enqueue_locked(s, [base, n] {
    if (!gmem().allocate_at(base, "cudaMallocAsync")) {
      report("dsv3-emu: cudaMallocAsync of " + std::to_string(n) + " bytes failed on the device's timeline");
      set_sticky(cudaErrorMemoryAllocation);
    }
    std::lock_guard<std::mutex> l(mu());
    g_pending -= n;
  }, "cudaMallocAsync");
  *out = reinterpret_cast<void*>(base);
  return cudaSuccess;
}

cudaError_t free_async(void* p, cudaStream_t h) {
  if (cudaError_t s = sticky()) return s;
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return cudaErrorInvalidResourceHandle;
  if (cudaError_t e = capture_check_locked(s)) return e;
  if (!p) return cudaSuccess;
  const uint64_t base = reinterpret_cast<uint64_t>(p);
  if (s->capture) return capture_free_locked(s, base);
  const bool graph = graph_alloc_free_locked(base);
  const bool async = !graph && is_async_alloc_locked(base);
  if (!graph && !async) return cudaErrorInvalidValue;  // not a stream-ordered allocation (or freed)
  if (async) forget_async_alloc_locked(base);
  enqueue_locked(s, [base, async] {
    if (!gmem().release(base))
      report("dsv3-emu: cudaFreeAsync of memory that is not allocated on the device's timeline: " +
             gmem().describe(base, 1));
    if (async) gmem().unreserve(base);
  }, "cudaFreeAsync");
  return cudaSuccess;
}

}  // namespace

void note_async_alloc_locked(uint64_t base, uint64_t bytes) {
  g_async[base] = bytes;
  g_pool.used += bytes;
  g_pool.used_high = std::max(g_pool.used_high, g_pool.used);
}
bool is_async_alloc_locked(uint64_t base) { return g_async.count(base) > 0; }
void forget_async_alloc_locked(uint64_t base) {
  auto it = g_async.find(base);
  if (it == g_async.end()) return;
  g_pool.used -= it->second;
  g_async.erase(it);
}

HostKind host_kind(const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> l(g_host_mu);
  auto it = g_pinned.upper_bound(a);
  if (it == g_pinned.begin()) return HostKind::Pageable;
  --it;
  return a - it->first + bytes <= it->second.first ? HostKind::Pinned : HostKind::Pageable;
}

uint8_t* device_bytes(uint64_t addr, uint64_t bytes, const char* what) {
  if (uint8_t* p = gmem().translate(addr, bytes)) return p;
  report(std::string("========= dsv3-emu: invalid device access by ") + what + ": " + std::to_string(bytes) +
         " bytes at " + hex(addr) + " are " + gmem().describe(addr, bytes));
  return nullptr;
}

bool device_range_known(uint64_t addr, uint64_t bytes) {
  return gmem().translate(addr, bytes) != nullptr || gmem().reserved(addr, bytes);
}

}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

cudaError_t cudaMalloc(void** out, size_t n) {
  RT_STICKY();
  if (!out) return fail(cudaErrorInvalidValue);
  {
    std::lock_guard<std::mutex> l(mu());
    if (cudaError_t e = unsafe_call_check_locked()) return fail(e);
  }
  *out = nullptr;
  if (n == 0) return cudaSuccess;
  const uint64_t base = gmem().allocate(n, "cudaMalloc");
  if (!base) return fail(cudaErrorMemoryAllocation);
  *out = reinterpret_cast<void*>(base);
  return cudaSuccess;
}

// Synchronizes the device first, as the real cudaFree does.
cudaError_t cudaFree(void* p) {
  RT_STICKY();
  std::unique_lock<std::mutex> lock(mu());
  if (cudaError_t e = unsafe_call_check_locked()) return fail(e);
  if (!p) return cudaSuccess;
  wait_all_locked(lock);
  if (cudaError_t s = sticky()) return fail(s);
  const uint64_t base = reinterpret_cast<uint64_t>(p);
  const emu::Allocation* a = gmem().find(base);
  if (!a || a->base != base) return fail(cudaErrorInvalidValue);
  graph_alloc_free_locked(base);
  const bool async = is_async_alloc_locked(base);
  forget_async_alloc_locked(base);
  gmem().release(base);
  if (async) gmem().unreserve(base);
  return cudaSuccess;
}

cudaError_t cudaMallocAsync(void** out, size_t n, cudaStream_t s) { return fail(malloc_async(out, n, s)); }

cudaError_t cudaMallocFromPoolAsync(void** out, size_t n, cudaMemPool_t pool, cudaStream_t s) {
  if (pool != &g_pool) return fail(cudaErrorInvalidValue);
  return fail(malloc_async(out, n, s));
}

cudaError_t cudaFreeAsync(void* p, cudaStream_t s) { return fail(free_async(p, s)); }

cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  if (!pool) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  *pool = &g_pool;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetMemPool(cudaMemPool_t* pool, int device) { return cudaDeviceGetDefaultMemPool(pool, device); }

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (pool != &g_pool || !value) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> l(mu());
  switch (attr) {
    case cudaMemPoolReuseFollowEventDependencies: g_pool.reuse_follow = *static_cast<int*>(value); return cudaSuccess;
    case cudaMemPoolReuseAllowOpportunistic: g_pool.reuse_opportunistic = *static_cast<int*>(value); return cudaSuccess;
    case cudaMemPoolReuseAllowInternalDependencies: g_pool.reuse_internal = *static_cast<int*>(value); return cudaSuccess;
    case cudaMemPoolAttrReleaseThreshold: g_pool.release_threshold = *static_cast<uint64_t*>(value); return cudaSuccess;
    case cudaMemPoolAttrReservedMemHigh:
    case cudaMemPoolAttrUsedMemHigh:  // may only be reset (to 0)
      if (*static_cast<uint64_t*>(value) != 0) return fail(cudaErrorInvalidValue);
      g_pool.used_high = g_pool.used;
      return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
  }
}

// The emulator returns freed pool memory at once (no caching), so reserved == used.
cudaError_t cudaMemPoolGetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  if (pool != &g_pool || !value) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> l(mu());
  switch (attr) {
    case cudaMemPoolReuseFollowEventDependencies: *static_cast<int*>(value) = g_pool.reuse_follow; return cudaSuccess;
    case cudaMemPoolReuseAllowOpportunistic: *static_cast<int*>(value) = g_pool.reuse_opportunistic; return cudaSuccess;
    case cudaMemPoolReuseAllowInternalDependencies: *static_cast<int*>(value) = g_pool.reuse_internal; return cudaSuccess;
    case cudaMemPoolAttrReleaseThreshold: *static_cast<uint64_t*>(value) = g_pool.release_threshold; return cudaSuccess;
    case cudaMemPoolAttrReservedMemCurrent:
    case cudaMemPoolAttrUsedMemCurrent: *static_cast<uint64_t*>(value) = g_pool.used; return cudaSuccess;
    case cudaMemPoolAttrReservedMemHigh:
    case cudaMemPoolAttrUsedMemHigh: *static_cast<uint64_t*>(value) = g_pool.used_high; return cudaSuccess;
    default: return fail(cudaErrorInvalidValue);
  }
}

cudaError_t cudaMemPoolTrimTo(cudaMemPool_t pool, size_t) {
  return pool == &g_pool ? cudaSuccess : fail(cudaErrorInvalidValue);
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(mu());
  const uint64_t used = gmem().used() + g_pending;
  if (free_bytes) *free_bytes = used >= gmem().capacity() ? 0 : gmem().capacity() - used;
  if (total) *total = gmem().capacity();
  return cudaSuccess;
}

// ---- pinned host memory ----

cudaError_t cudaHostAlloc(void** out, size_t n, unsigned flags) {
  RT_STICKY();
  if (!out) return fail(cudaErrorInvalidValue);
  if (flags & ~unsigned(cudaHostAllocPortable | cudaHostAllocMapped | cudaHostAllocWriteCombined))
    return fail(cudaErrorInvalidValue);
  {
    std::lock_guard<std::mutex> l(mu());
    if (cudaError_t e = unsafe_call_check_locked()) return fail(e);
  }
  *out = nullptr;
  if (n == 0) return cudaSuccess;
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return fail(cudaErrorMemoryAllocation);
  std::lock_guard<std::mutex> l(g_host_mu);
  g_pinned[reinterpret_cast<uintptr_t>(p)] = {n, true};
  *out = p;
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** out, size_t n) { return cudaHostAlloc(out, n, cudaHostAllocDefault); }

cudaError_t cudaFreeHost(void* p) {
  RT_STICKY();
  if (!p) return cudaSuccess;
  {
    std::unique_lock<std::mutex> lock(mu());
    if (cudaError_t e = unsafe_call_check_locked()) return fail(e);
    wait_all_locked(lock);  // queued copies may still read or write it
  }
  std::lock_guard<std::mutex> l(g_host_mu);
  auto it = g_pinned.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_pinned.end() || !it->second.second) return fail(cudaErrorInvalidValue);
  munmap(p, it->second.first);
  g_pinned.erase(it);
  return cudaSuccess;
}

cudaError_t cudaHostRegister(void* p, size_t n, unsigned flags) {
  RT_STICKY();
  if (!p || n == 0) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> l(g_host_mu);
  if (g_pinned.count(reinterpret_cast<uintptr_t>(p))) return fail(cudaErrorHostMemoryAlreadyRegistered);
  g_pinned[reinterpret_cast<uintptr_t>(p)] = {n, false};
  return cudaSuccess;
}

cudaError_t cudaHostUnregister(void* p) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_host_mu);
  auto it = g_pinned.find(reinterpret_cast<uintptr_t>(p));
  if (it == g_pinned.end() || it->second.second) return fail(cudaErrorHostMemoryNotRegistered);
  g_pinned.erase(it);
  return cudaSuccess;
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* attr, const void* p) {
  if (!attr) return fail(cudaErrorInvalidValue);
  *attr = {};
  const uint64_t a = reinterpret_cast<uint64_t>(p);
  if (gmem().in_device_range(a) && device_range_known(a, 1)) {
    attr->type = cudaMemoryTypeDevice;
    attr->device = 0;
    attr->devicePointer = const_cast<void*>(p);
    return cudaSuccess;
  }
  if (p && host_kind(p, 1) == HostKind::Pinned) {
    attr->type = cudaMemoryTypeHost;
    attr->device = 0;
    attr->hostPointer = const_cast<void*>(p);
    attr->devicePointer = nullptr;  // the emulated device cannot address host memory
    return cudaSuccess;
  }
  attr->type = cudaMemoryTypeUnregistered;
  attr->device = -2;
  attr->hostPointer = const_cast<void*>(p);
  return cudaSuccess;
}

// ---- copies and memsets ----

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  return fail(memcpy_impl(dst, src, n, kind, nullptr, true, "cudaMemcpy"));
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  return fail(memcpy_impl(dst, src, n, kind, s, false, "cudaMemcpyAsync"));
}

cudaError_t cudaMemset(void* dst, int value, size_t n) { return fail(memset_impl(dst, value, n, nullptr, true, "cudaMemset")); }

cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s) {
  return fail(memset_impl(dst, value, n, s, false, "cudaMemsetAsync"));
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind) {
  return fail(memcpy2d_impl(dst, dpitch, src, spitch, width, height, kind, nullptr, true, "cudaMemcpy2D"));
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                              cudaMemcpyKind kind, cudaStream_t s) {
  return fail(memcpy2d_impl(dst, dpitch, src, spitch, width, height, kind, s, false, "cudaMemcpy2DAsync"));
}

cudaError_t cudaMemset2D(void* dst, size_t pitch, int value, size_t width, size_t height) {
  return fail(memset2d_impl(dst, pitch, value, width, height, nullptr, true, "cudaMemset2D"));
}

cudaError_t cudaMemset2DAsync(void* dst, size_t pitch, int value, size_t width, size_t height, cudaStream_t s) {
  return fail(memset2d_impl(dst, pitch, value, width, height, s, false, "cudaMemset2DAsync"));
}

// One device: a peer copy is a device-to-device copy.
cudaError_t cudaMemcpyPeer(void* dst, int dst_dev, const void* src, int src_dev, size_t n) {
  if (dst_dev != 0 || src_dev != 0) return fail(cudaErrorInvalidDevice);
  return fail(memcpy_impl(dst, src, n, cudaMemcpyDeviceToDevice, nullptr, true, "cudaMemcpyPeer"));
}

cudaError_t cudaMemcpyPeerAsync(void* dst, int dst_dev, const void* src, int src_dev, size_t n, cudaStream_t s) {
  if (dst_dev != 0 || src_dev != 0) return fail(cudaErrorInvalidDevice);
  return fail(memcpy_impl(dst, src, n, cudaMemcpyDeviceToDevice, s, false, "cudaMemcpyPeerAsync"));
}

// Pitched allocations: rows padded to 512 bytes (the texture pitch alignment).
cudaError_t cudaMallocPitch(void** out, size_t* pitch, size_t width, size_t height) {
  if (!out || !pitch) return fail(cudaErrorInvalidValue);
  *pitch = (width + 511) / 512 * 512;
  return cudaMalloc(out, *pitch * height);
}

// ---- module variables ----

cudaError_t cudaGetSymbolAddress(void** out, const void* symbol) {
  RT_STICKY();
  if (!out) return fail(cudaErrorInvalidValue);
  uint64_t addr = 0, size = 0;
  if (cudaError_t e = symbol_lookup(symbol, &addr, &size)) return fail(e);
  *out = reinterpret_cast<void*>(addr);
  return cudaSuccess;
}

cudaError_t cudaGetSymbolSize(size_t* out, const void* symbol) {
  RT_STICKY();
  if (!out) return fail(cudaErrorInvalidValue);
  uint64_t addr = 0, size = 0;
  if (cudaError_t e = symbol_lookup(symbol, &addr, &size)) return fail(e);
  *out = size;
  return cudaSuccess;
}

static cudaError_t symbol_copy(const void* symbol, size_t count, size_t offset, uint64_t* addr) {
  uint64_t size = 0;
  if (cudaError_t e = symbol_lookup(symbol, addr, &size)) return e;
  if (offset > size || count > size - offset) return cudaErrorInvalidValue;
  *addr += offset;
  return cudaSuccess;
}

cudaError_t cudaMemcpyToSymbol(const void* symbol, const void* src, size_t count, size_t offset, cudaMemcpyKind kind) {
  RT_STICKY();
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  uint64_t addr = 0;
  if (cudaError_t e = symbol_copy(symbol, count, offset, &addr)) return fail(e);
  return fail(memcpy_impl(reinterpret_cast<void*>(addr), src, count, kind, nullptr, true, "cudaMemcpyToSymbol"));
}

cudaError_t cudaMemcpyFromSymbol(void* dst, const void* symbol, size_t count, size_t offset, cudaMemcpyKind kind) {
  RT_STICKY();
  if (kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  uint64_t addr = 0;
  if (cudaError_t e = symbol_copy(symbol, count, offset, &addr)) return fail(e);
  return fail(memcpy_impl(dst, reinterpret_cast<void*>(addr), count, kind, nullptr, true, "cudaMemcpyFromSymbol"));
}

cudaError_t cudaMemcpyToSymbolAsync(const void* symbol, const void* src, size_t count, size_t offset,
                                    cudaMemcpyKind kind, cudaStream_t s) {
  RT_STICKY();
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  uint64_t addr = 0;
  if (cudaError_t e = symbol_copy(symbol, count, offset, &addr)) return fail(e);
  return fail(memcpy_impl(reinterpret_cast<void*>(addr), src, count, kind, s, false, "cudaMemcpyToSymbolAsync"));
}

cudaError_t cudaMemcpyFromSymbolAsync(void* dst, const void* symbol, size_t count, size_t offset,
                                      cudaMemcpyKind kind, cudaStream_t s) {
  RT_STICKY();
  if (kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  uint64_t addr = 0;
  if (cudaError_t e = symbol_copy(symbol, count, offset, &addr)) return fail(e);
  return fail(memcpy_impl(dst, reinterpret_cast<void*>(addr), count, kind, s, false, "cudaMemcpyFromSymbolAsync"));
}

}  // extern "C"
