// checks_wgmma_fence.cu: negative test of the wgmma.fence rule (PTX ISA 9.0 §9.7.15.7.1: wgmma.fence must
// be executed by the warpgroup before the first wgmma.mma_async and between a register access by a thread
// and a wgmma.mma_async that accesses the same registers as accumulator or A fragment, except accumulator
// accesses across wgmma.mma_async of the same shape; otherwise undefined). A K loop of two blocks like
// cuda/fp8_gemm.cu: each block's first wgmma zeroes the accumulators (scale-d 0), a second one chains on
// them, then commit / wait and the threads add the fragment to their sums. Here the wgmma.fence is executed
// once, before the loop: the second block's first wgmma uses accumulators the threads read after the
// first block's wait, with no fence in between, and the emulator must report it. The values come out right
// on the emulator either way: only the report matters. checks_wgmma_fence_fenced.cu builds this file with
// the fence inside the loop (clean, and the sums are checked).
#ifndef KT_FENCE_IN_LOOP
// EXPECT-REPORT: uses a register accessed by another instruction since the last wgmma.fence
#define KT_FENCE_IN_LOOP 0
#endif
#include <cstdint>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

constexpr int M = 64, NN = 8, LBO = 128, SBO = 256;  // K-major, no swizzle: 8 x 16-byte core matrices

__device__ inline uint64_t desc(const void* p) {
  const uint32_t a = uint32_t(__cvta_generic_to_shared(p));
  return uint64_t((a >> 4) & 0x3FFF) | (uint64_t((LBO >> 4) & 0x3FFF) << 16) | (uint64_t((SBO >> 4) & 0x3FFF) << 32);
}
__device__ inline int kmajor(int row, int kbyte) { return (row / 8) * SBO + (kbyte / 16) * LBO + (row % 8) * 16 + kbyte % 16; }

__device__ inline void mma(float (&d)[4], uint64_t da, uint64_t db, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %6, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0, %1, %2, %3}, %4, %5, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "l"(da), "l"(db), "r"(scale_d)
      : "memory");
}

// A (64 x 32) and B (8 x 32) e4m3, every element 1.0: each wgmma adds 32 to every D element; a block of
// two (the first with scale-d 0) gives 64, the sums over two blocks 128.
__global__ void k_fence(float* D) {
  __shared__ __align__(128) uint8_t sa[8 * SBO];
  __shared__ __align__(128) uint8_t sb[SBO];
  const int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  for (int i = t; i < M * 32; i += blockDim.x) sa[kmajor(i / 32, i % 32)] = 0x38;
  for (int i = t; i < NN * 32; i += blockDim.x) sb[kmajor(i / 32, i % 32)] = 0x38;
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  float d[4], acc[4] = {0, 0, 0, 0};
  const uint64_t da = desc(sa), db = desc(sb);
  if (!KT_FENCE_IN_LOOP) asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  for (int kb = 0; kb < 2; ++kb) {
    if (KT_FENCE_IN_LOOP) asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
    mma(d, da, db, 0);
    mma(d, da, db, 1);
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
    for (int i = 0; i < 4; ++i) {
      asm volatile("" : "+f"(d[i])::"memory");
      acc[i] += d[i];
    }
  }
  for (int i = 0; i < 4; ++i) D[(16 * w + gid + 8 * (i / 2)) * NN + 2 * tig + (i & 1)] = acc[i];
}

int main() {
  float* D = nullptr;
  if (cudaMalloc(&D, M * NN * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  k_fence<<<1, 128>>>(D);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  if (!KT_FENCE_IN_LOOP) return 0;  // the report is the point
  std::vector<float> h(M * NN);
  if (synced != cudaSuccess || cudaMemcpy(h.data(), D, h.size() * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: launch\n");
    return 1;
  }
  int bad = 0;
  for (float v : h) bad += v != 128.f;
  std::printf("%s: %d of %d sums wrong\n", bad ? "FAIL" : "ok", bad, M * NN);
  return bad ? 1 : 0;
}
