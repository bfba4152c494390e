// Storage allocation: 64-byte aligned host memory on the CPU, the caching pool on CUDA devices.
#include "native/storage.h"

#include <cstdlib>
#include <stdexcept>

#ifdef DSV3_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dsv3 {

std::shared_ptr<Storage> Storage::allocate(Device d, size_t bytes) {
  auto s = std::make_shared<Storage>();
  s->device = d;
  s->bytes = bytes;
  const size_t alloc = bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  if (d.type == DeviceType::cpu) {
    s->ptr = std::aligned_alloc(64, alloc);
    if (!s->ptr) throw OomError("out of host memory allocating " + std::to_string(bytes) + " bytes");
  } else {
#ifdef DSV3_WITH_CUDA
    s->ptr = cuda::device_alloc(d.index, alloc);
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
