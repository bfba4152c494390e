// checks_race_syncwarp.cu: negative test of racecheck: __syncwarp() (bar.warp.sync) orders the lanes of
// one warp only (PTX ISA 9.0, bar.warp.sync), so using it where __syncthreads() is needed leaves a race.
// Warp 0 writes a shared array and calls __syncwarp(); warp 1 calls __syncwarp() and reads the array.
// checks_race_syncwarp_synced.cu is the correct use: the lanes of one warp exchanging through shared
// memory.
// EXPECT-REPORT: race reported
#include <cstdio>

#include <cuda_runtime.h>

__global__ void syncwarp_between_warps(int* out) {
  __shared__ int s[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 0) s[lane] = lane + 1;
  __syncwarp();  // orders nothing between warp 0 and warp 1
  if (warp == 1) out[lane] = s[31 - lane];
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  syncwarp_between_warps<<<1, 64>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
