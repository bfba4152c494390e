// checks_race_tma_ring.cu: negative test of racecheck on a bulk-copy pipeline (the pattern of
// cuda/fp8_gemm.cu; checks_race_tma_ring_synced.cu is the correct version). The consumers arrive on
// empty[s] *before* reading stage s, so the producer may already refill the stage while they read it:
// the next bulk copy's writes race with those reads, and the emulator must report it (whatever the
// schedule: the reads are not ordered before the copy by anything).
// EXPECT-REPORT: race reported
#include <cstdint>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

constexpr int kStages = 2, kIters = 6, kChunk = 256;  // floats per stage (1 KB)

__device__ uint32_t smem_addr(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__device__ void wait_parity(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  while (!done)
    asm volatile(
        "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
}

__global__ void ring(const float* src, float* out) {
  __shared__ alignas(128) float buf[kStages][kChunk];
  __shared__ uint64_t full[kStages], empty[kStages];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0)
    for (int s = 0; s < kStages; ++s) {
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem_addr(&full[s])) : "memory");
      asm volatile("mbarrier.init.shared::cta.b64 [%0], 64;" ::"r"(smem_addr(&empty[s])) : "memory");
    }
  if (threadIdx.x == 0)  // the inits (generic proxy) before the copies' complete_tx (async proxy)
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  if (warp == 0) {
    if (lane != 0) return;
    for (int it = 0; it < kIters; ++it) {
      const int s = it % kStages, use = it / kStages;
      if (use > 0) wait_parity(smem_addr(&empty[s]), (use - 1) & 1);
      const uint32_t fb = smem_addr(&full[s]);
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(fb), "r"(kChunk * 4) : "memory");
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                       smem_addr(buf[s])),
                   "l"(src + it * kChunk), "r"(kChunk * 4), "r"(fb)
                   : "memory");
    }
    return;
  }
  const int half = (warp - 1) * (kChunk / 2);  // warp 1: [0, 128), warp 2: [128, 256)
  for (int it = 0; it < kIters; ++it) {
    const int s = it % kStages, use = it / kStages;
    wait_parity(smem_addr(&full[s]), use & 1);
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_addr(&empty[s])) : "memory");  // too early
    for (int i = lane; i < kChunk / 2; i += 32) out[it * kChunk + half + i] = buf[s][half + i];
  }
}

int main() {
  std::vector<float> in(kIters * kChunk);
  for (int i = 0; i < kIters * kChunk; ++i) in[i] = float(i) * 0.5f - 7.0f;
  float *src = nullptr, *out = nullptr;
  const size_t bytes = in.size() * sizeof(float);
  if (cudaMalloc(&src, bytes) != cudaSuccess || cudaMalloc(&out, bytes) != cudaSuccess ||
      cudaMemcpy(src, in.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess || cudaMemset(out, 0, bytes) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  ring<<<1, 96>>>(src, out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;  // the values may or may not be overwritten in time: only the report matters
}
