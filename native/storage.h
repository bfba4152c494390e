// Device memory blocks shared by tensors. A Storage is reference-counted (std::shared_ptr): queued
// work holds a reference, so memory a JS tensor disposed stays valid until that work is done.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "native/dtype.h"

namespace dsv3 {

enum class DeviceType : int { cpu = 0, cuda = 1 };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return type == DeviceType::cpu ? "cpu" : "cuda:" + std::to_string(index); }
};

// Host storages at least this large are mapped and unmapped on their own (storage.cc).
constexpr size_t kHostMapBytes = size_t{256} << 10;

struct Storage {
  Device device;
  void* ptr = nullptr;
  size_t bytes = 0;
  // Set for memory the storage does not own (a memory-mapped file): called instead of freeing.
  std::function<void(void*, size_t)> release;
  // A memory-mapped file (mapFile): reading it may fault if the file shrinks (native/fault.h).
  bool file_backed = false;
  // The error of the failed op that last wrote this storage (null once an op writes it successfully):
  // reading the storage, or running an op on it, gives that error (issue 18: an op's error belongs to
  // its outputs). Accessed through storage_error / set_storage_error (native/stream.h), under a lock.
  std::exception_ptr error;
  static std::shared_ptr<Storage> allocate(Device d, size_t bytes);  // throws OomError / CudaError
  // After a CUDA-graph capture on `d`: the storages allocated during it whose memory the graph now owns
  // (`owned`, the allocations alive at its end) stop freeing it themselves; the graph frees it.
  static void adopt_into_graph(Device d, const std::vector<void*>& owned);
  ~Storage();
};

// A tensor's data as seen by an op: the storage it keeps alive, and where its elements start.
// Every dsv3 tensor is contiguous and row-major; views only move the byte offset along dim 0.
struct TensorRef {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes
  DType dtype = DType::f32;
  std::vector<int64_t> shape;

  Device device() const { return storage->device; }
  int64_t numel() const { int64_t n = 1; for (auto s : shape) n *= s; return n; }
  size_t nbytes() const { return static_cast<size_t>(numel()) * itemsize(dtype); }
  int64_t dim(int i) const { return shape[i < 0 ? static_cast<int>(shape.size()) + i : i]; }
  int ndim() const { return static_cast<int>(shape.size()); }
  template <class T = void> T* data() const {
    return reinterpret_cast<T*>(static_cast<char*>(storage->ptr) + offset);
  }
};

// Errors raised by the runtime and the backends; the binding layer maps them to typed JS errors.
struct OomError : std::runtime_error { using std::runtime_error::runtime_error; };
struct CudaError : std::runtime_error { using std::runtime_error::runtime_error; };

std::string shape_str(const std::vector<int64_t>& s);

}  // namespace dsv3
