// checks_race_syncwarp_synced.cu: the control of checks_race_syncwarp.cu. Each of 2 warps reverses its
// own 32 values through its own half of a shared array, with __syncwarp() between the writes and the
// reads: lanes of one warp, ordered by bar.warp.sync, never race (and racecheck does not report
// intra-warp conflicts at all). Nothing may be reported and the values must come back reversed.
// EXPECT-CLEAN
#include <cstdio>

#include <cuda_runtime.h>

__global__ void reverse_in_warp(int* out) {
  __shared__ int s[64];
  const int t = threadIdx.x, base = t & ~31, lane = t & 31;
  s[t] = t + 1;
  __syncwarp();
  out[t] = s[base + 31 - lane];
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 64 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  reverse_in_warp<<<1, 64>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  int host[64];
  if (launched != cudaSuccess || synced != cudaSuccess ||
      cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: the launch must succeed\n");
    return 1;
  }
  int wrong = 0;
  for (int t = 0; t < 64; ++t) {
    const int want = (t & ~31) + 31 - (t & 31) + 1;
    if (host[t] != want && wrong++ < 4) std::printf("FAIL: out[%d] = %d, want %d\n", t, host[t], want);
  }
  std::printf("%d passed, %d failed\n", 64 - wrong, wrong);
  return wrong ? 1 : 0;
}
