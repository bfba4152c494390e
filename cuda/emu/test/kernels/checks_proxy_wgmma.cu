// checks_proxy_wgmma.cu: negative test of the generic -> async proxy fence check (src/interp/proxycheck.h).
// Every thread stores part of the wgmma's A and B tiles with ordinary shared-memory stores (generic
// proxy), then __syncthreads, then wgmma.mma_async reads them through the async proxy. Without a
// fence.proxy.async (here: fence.proxy.async.shared::cta) executed by each writing thread between its
// stores and the wgmma, the PTX ISA (memory consistency model, proxies; wgmma's smem accesses are in
// the async proxy) does not order the stores before the reads; the emulator must report it. The values
// come out right on the emulator either way: only the report matters. checks_proxy_wgmma_fenced.cu
// builds this file with the fence (clean, and the product is checked).
#ifndef KT_PROXY_FENCE
// EXPECT-REPORT: Missing fence.proxy.async
#define KT_PROXY_FENCE 0
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

// A (64 x 32) and B (8 x 32) e4m3, every element 1.0 (0x38) except A's row r, column 0 = r % 4 + 1:
// D = A * B (scale-d 0), so D[r][n] = 31 + (r % 4 + 1).
__global__ void k_proxy(float* D) {
  __shared__ __align__(128) uint8_t sa[8 * SBO];
  __shared__ __align__(128) uint8_t sb[SBO];
  const int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  const uint8_t e4m3[5] = {0x00, 0x38, 0x40, 0x44, 0x48};  // 0, 1, 2, 3, 4
  for (int i = t; i < M * 32; i += blockDim.x) sa[kmajor(i / 32, i % 32)] = i % 32 ? 0x38 : e4m3[(i / 32) % 4 + 1];
  for (int i = t; i < NN * 32; i += blockDim.x) sb[kmajor(i / 32, i % 32)] = 0x38;
  if (KT_PROXY_FENCE) asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // generic writes -> async proxy reads
  __syncthreads();
  float d[4] = {0, 0, 0, 0};
  const uint64_t da = desc(sa), db = desc(sb);
  // the zeroing stays before the wgmma.fence: without these, nvcc emits the movs between the fence and the
  // wgmma (asm volatile orders memory, not registers), an accumulator access the wgmma.fence rule forbids
  for (int i = 0; i < 4; ++i) asm volatile("" : "+f"(d[i])::"memory");
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  asm volatile("wgmma.mma_async.sync.aligned.m64n8k32.f32.e4m3.e4m3 {%0, %1, %2, %3}, %4, %5, 0, 1, 1;"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "l"(da), "l"(db) : "memory");
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  for (int i = 0; i < 4; ++i) D[(16 * w + gid + 8 * (i / 2)) * NN + 2 * tig + (i & 1)] = d[i];
}

int main() {
  float* D = nullptr;
  if (cudaMalloc(&D, M * NN * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  k_proxy<<<1, 128>>>(D);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  if (!KT_PROXY_FENCE) return 0;  // the report is the point
  std::vector<float> h(M * NN);
  if (synced != cudaSuccess || cudaMemcpy(h.data(), D, h.size() * sizeof(float), cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: launch\n");
    return 1;
  }
  int bad = 0;
  for (int r = 0; r < M; ++r)
    for (int n = 0; n < NN; ++n) bad += h[r * NN + n] != float(31 + r % 4 + 1);
  std::printf("%s: %d of %d products wrong\n", bad ? "FAIL" : "ok", bad, M * NN);
  return bad ? 1 : 0;
}
