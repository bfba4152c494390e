// dsv3-emu runtime test: device memory. cudaMalloc/Free (alignment, poison, capacity, invalid frees),
// cudaMemGetInfo, pointer attributes, pinned host memory, stream-ordered allocations and the default
// memory pool's attributes.
#include <cstdint>
#include <cstring>
#include <vector>

#include "check.cuh"

__global__ void fill(uint32_t* p, uint32_t v, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = v + i;
}

int main() {
  size_t free0 = 0, total = 0;
  CHECK_OK(cudaMemGetInfo(&free0, &total));
  CHECK(total > 0);
  CHECK(free0 <= total);

  // cudaMalloc: 256-byte aligned, distinct, poisoned (0xFF) until written.
  void* a = nullptr;
  void* b = nullptr;
  CHECK_OK(cudaMalloc(&a, 100));
  CHECK_OK(cudaMalloc(&b, 100));
  CHECK(a && b && a != b);
  CHECK_EQ(reinterpret_cast<uintptr_t>(a) % 256, 0);
  CHECK_EQ(reinterpret_cast<uintptr_t>(b) % 256, 0);
  unsigned char bytes[100];
  CHECK_OK(cudaMemcpy(bytes, a, 100, cudaMemcpyDeviceToHost));
  bool poison = true;
  for (unsigned char c : bytes) poison &= c == 0xFF;
  CHECK(poison);
  size_t free1 = 0;
  CHECK_OK(cudaMemGetInfo(&free1, &total));
  CHECK(free1 <= free0 - 200);

  // Zero bytes: success and a null pointer.
  void* z = reinterpret_cast<void*>(1);
  CHECK_OK(cudaMalloc(&z, 0));
  CHECK(z == nullptr);

  // Beyond the device's memory: cudaErrorMemoryAllocation, returned and kept as the last error once.
  void* huge = nullptr;
  CHECK_ERR(cudaMalloc(&huge, total + 1), cudaErrorMemoryAllocation);
  CHECK_ERR(cudaGetLastError(), cudaErrorMemoryAllocation);
  CHECK_ERR(cudaGetLastError(), cudaSuccess);

  // Frees: a base frees; an interior pointer, a double free and a host pointer do not.
  CHECK_ERR(cudaFree(static_cast<char*>(b) + 4), cudaErrorInvalidValue);
  CHECK_OK(cudaFree(b));
  CHECK_ERR(cudaFree(b), cudaErrorInvalidValue);
  int local = 0;
  CHECK_ERR(cudaFree(&local), cudaErrorInvalidValue);
  CHECK_OK(cudaFree(nullptr));
  cudaGetLastError();

  // Pointer attributes.
  cudaPointerAttributes attr{};
  CHECK_OK(cudaPointerGetAttributes(&attr, a));
  CHECK_EQ(attr.type, cudaMemoryTypeDevice);
  CHECK_EQ(attr.device, 0);
  CHECK(attr.devicePointer == a);
  CHECK_OK(cudaPointerGetAttributes(&attr, &local));
  CHECK_EQ(attr.type, cudaMemoryTypeUnregistered);
  void* pinned = nullptr;
  CHECK_OK(cudaMallocHost(&pinned, 4096));
  CHECK(pinned != nullptr);
  CHECK_OK(cudaPointerGetAttributes(&attr, static_cast<char*>(pinned) + 100));
  CHECK_EQ(attr.type, cudaMemoryTypeHost);
  std::memset(pinned, 7, 4096);  // host-accessible
  CHECK_OK(cudaFreeHost(pinned));
  CHECK_ERR(cudaFreeHost(pinned), cudaErrorInvalidValue);
  cudaGetLastError();

  // A kernel writes what the host reads back.
  uint32_t* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 1000 * sizeof(uint32_t)));
  fill<<<4, 256>>>(d, 5, 1000);
  CHECK_OK(cudaGetLastError());
  std::vector<uint32_t> h(1000);
  CHECK_OK(cudaMemcpy(h.data(), d, 1000 * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  bool filled = true;
  for (int i = 0; i < 1000; ++i) filled &= h[i] == uint32_t(5 + i);
  CHECK(filled);
  CHECK_OK(cudaFree(d));

  // Stream-ordered allocations and the default pool.
  cudaStream_t s;
  CHECK_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaMemPool_t pool = nullptr;
  CHECK_OK(cudaDeviceGetDefaultMemPool(&pool, 0));
  CHECK(pool != nullptr);
  CHECK_ERR(cudaDeviceGetDefaultMemPool(&pool, 1), cudaErrorInvalidDevice);
  uint64_t keep = ~0ull, got = 0;
  CHECK_OK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &got));
  CHECK_EQ(got, keep);
  uint64_t used0 = 0, used1 = 0, high = 0;
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used0));
  void* p1 = nullptr;
  void* p2 = nullptr;
  CHECK_OK(cudaMallocAsync(&p1, 1 << 20, s));
  CHECK_OK(cudaMallocFromPoolAsync(&p2, 4096, pool, s));
  CHECK(p1 && p2 && p1 != p2);
  CHECK_EQ(reinterpret_cast<uintptr_t>(p1) % 256, 0);
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &used1));
  CHECK_EQ(used1, used0 + (1 << 20) + 4096);
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemCurrent, &got));
  CHECK(got >= used1);
  CHECK_OK(cudaMemsetAsync(p1, 0x5A, 1 << 20, s));
  unsigned char back[16];
  CHECK_OK(cudaMemcpyAsync(back, static_cast<char*>(p1) + 1000, 16, cudaMemcpyDeviceToHost, s));
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK(back[0] == 0x5A && back[15] == 0x5A);
  CHECK_OK(cudaFreeAsync(p1, s));
  CHECK_ERR(cudaFreeAsync(p1, s), cudaErrorInvalidValue);  // already freed (in stream order)
  cudaGetLastError();
  CHECK_OK(cudaFreeAsync(p2, s));
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemCurrent, &got));
  CHECK_EQ(got, used0);
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
  CHECK(high >= used1);
  uint64_t zero = 0;
  CHECK_OK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &zero));
  CHECK_OK(cudaMemPoolGetAttribute(pool, cudaMemPoolAttrUsedMemHigh, &high));
  CHECK_EQ(high, used0);
  CHECK_ERR(cudaMallocFromPoolAsync(&p2, 64, reinterpret_cast<cudaMemPool_t>(&keep), s), cudaErrorInvalidValue);
  // cudaMalloc memory is not a stream-ordered allocation.
  CHECK_ERR(cudaFreeAsync(a, s), cudaErrorInvalidValue);
  cudaGetLastError();
  // A stream-ordered allocation may also be freed by cudaFree (which synchronizes).
  void* p3 = nullptr;
  CHECK_OK(cudaMallocAsync(&p3, 256, s));
  CHECK_OK(cudaFree(p3));
  CHECK_OK(cudaStreamDestroy(s));
  CHECK_OK(cudaFree(a));
  size_t free2 = 0;
  CHECK_OK(cudaMemGetInfo(&free2, &total));
  CHECK_EQ(free2, free0);
  return finish();
}
