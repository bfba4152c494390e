// checks_wgmma_operand_overwrite.cu: negative test of wgmma's operand check (src/interp/exec_wgmma.cc).
// A warpgroup issues wgmma.mma_async on shared-memory A and B tiles (written and fenced correctly), then,
// after __syncthreads (every warp has issued) and before wgmma.wait_group, thread 0 stores into B. The
// PTX ISA (wgmma.mma_async: the operands must not be modified until the wgmma-group completes) makes the
// product undefined; the emulator computes it from the bytes at issue and must report the store, naming
// the wgmma and the wait_group that covers it.
// EXPECT-REPORT: operand written between the wgmma and the wgmma.wait_group
#include <cstdint>
#include <cstdio>

#include <cuda_runtime.h>

constexpr int M = 64, NN = 8, LBO = 128, SBO = 256;

__device__ inline uint64_t desc(const void* p) {
  const uint32_t a = uint32_t(__cvta_generic_to_shared(p));
  return uint64_t((a >> 4) & 0x3FFF) | (uint64_t((LBO >> 4) & 0x3FFF) << 16) | (uint64_t((SBO >> 4) & 0x3FFF) << 32);
}

__global__ void k_overwrite(float* D) {
  __shared__ __align__(128) uint8_t sa[8 * SBO];
  __shared__ __align__(128) uint8_t sb[SBO];
  const int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  for (int i = t; i < M * 32; i += blockDim.x) sa[i] = 0x38;  // e4m3 1.0 (every layout reads the same)
  for (int i = t; i < NN * 32; i += blockDim.x) sb[i] = 0x38;
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  float d[4] = {0, 0, 0, 0};
  const uint64_t da = desc(sa), db = desc(sb);
  for (int i = 0; i < 4; ++i) asm volatile("" : "+f"(d[i])::"memory");  // the zeroing before the wgmma.fence
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  asm volatile("wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0, %1, %2, %3}, %4, %5, 0, 1, 1;"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "l"(da), "l"(db) : "memory");
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  __syncthreads();
  if (t == 0) *reinterpret_cast<volatile uint32_t*>(sb + 16) = 0x40404040u;  // too early: 2.0s into B
  asm volatile("wgmma.wait_group.sync.aligned 0;" : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) :: "memory");
  for (int i = 0; i < 4; ++i) D[(16 * w + gid + 8 * (i / 2)) * NN + 2 * tig + (i & 1)] = d[i];
}

int main() {
  float* D = nullptr;
  if (cudaMalloc(&D, M * NN * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  k_overwrite<<<1, 128>>>(D);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;  // only the report matters
}
