// checks_wgmma_accum_inflight.cu: negative test of the wgmma.wait_group rule (PTX ISA 9.0 §9.7.15.7.3:
// accessing the accumulator registers of a wgmma.mma_async before a wgmma.wait_group that waits on its
// group is undefined). The threads read an accumulator between the commit and the wait (the emulator's
// register holds poison there); the emulator must report the read, naming the register and the wgmma.
// With KT_EXIT_PENDING the kernel instead returns without any wgmma.wait_group: the warp exits with the
// group in flight, which must be reported too (checks_wgmma_exit_pending.cu).
#ifndef KT_EXIT_PENDING
// EXPECT-REPORT: accumulator register read before the wgmma.wait_group that covers it
#define KT_EXIT_PENDING 0
#endif
#include <cstdint>
#include <cstdio>

#include <cuda_runtime.h>

constexpr int LBO = 128, SBO = 256;

__device__ inline uint64_t desc(const void* p) {
  const uint32_t a = uint32_t(__cvta_generic_to_shared(p));
  return uint64_t((a >> 4) & 0x3FFF) | (uint64_t((LBO >> 4) & 0x3FFF) << 16) | (uint64_t((SBO >> 4) & 0x3FFF) << 32);
}

__global__ void k_inflight(float* out) {
  __shared__ __align__(128) uint8_t sa[8 * SBO];
  __shared__ __align__(128) uint8_t sb[SBO];
  for (int i = threadIdx.x; i < 8 * SBO; i += blockDim.x) sa[i] = 0x38;
  for (int i = threadIdx.x; i < SBO; i += blockDim.x) sb[i] = 0x38;
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  float d[4] = {0, 0, 0, 0}, early = 0;
  for (int i = 0; i < 4; ++i) asm volatile("" : "+f"(d[i])::"memory");  // the zeroing before the wgmma.fence
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  asm volatile("wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0, %1, %2, %3}, %4, %5, 0, 1, 1;"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "l"(desc(sa)), "l"(desc(sb)) : "memory");
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  if (KT_EXIT_PENDING) return;
  asm volatile("add.f32 %0, %1, 0f3F800000;" : "=f"(early) : "f"(d[1]) : "memory");  // the bug: before the wait
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  out[threadIdx.x] = d[0] + d[1] + d[2] + d[3] + early;
}

int main() {
  float* out = nullptr;
  if (cudaMalloc(&out, 128 * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  k_inflight<<<1, 128>>>(out);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;  // the report is the point
}
