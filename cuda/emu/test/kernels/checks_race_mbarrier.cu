// checks_race_mbarrier.cu: negative test of racecheck with an mbarrier (producer/consumer, as in TMA
// pipelines). Warp 0 writes data[lane] and arrives on an mbarrier (32 expected arrivals; arrive has
// release semantics), then writes data2[lane]; warp 1 waits for the phase (try_wait.parity, acquire)
// and reads both. data is ordered by the mbarrier, data2 is not (written after the release): the
// emulator must report a race. checks_race_mbarrier_synced.cu is the same without data2.
// EXPECT-REPORT: race reported
#include <cstdint>
#include <cstdio>

#include <cuda_runtime.h>

__device__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__global__ void producer_consumer(int* out, int late) {
  __shared__ uint64_t full;
  __shared__ int data[32], data2[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint32_t bar = smem_addr(&full);
  if (threadIdx.x == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], 32;" ::"r"(bar) : "memory");
  __syncthreads();
  if (warp == 0) {
    data[lane] = lane + 1;
    asm volatile("mbarrier.arrive.release.cta.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
    if (late) data2[lane] = lane + 2;  // after the release: not ordered before the consumer
  } else {
    uint32_t done = 0;
    while (!done)
      asm volatile(
          "{ .reg .pred p; mbarrier.try_wait.parity.acquire.cta.shared::cta.b64 p, [%1], 0; selp.u32 %0, 1, 0, p; }"
          : "=r"(done)
          : "r"(bar)
          : "memory");
    out[lane] = data[lane];
    if (late) out[32 + lane] = data2[lane];
  }
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 64 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  producer_consumer<<<1, 64>>>(out, 1);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
