// checks_race_named_barrier.cu: negative test of racecheck with a named barrier. Warp 0 writes a shared
// array; warps 0 and 1 synchronise on `bar.sync 1, 64` (only they take part); warp 1 reads the array
// (ordered) and so does warp 2, which never took part in the barrier: warp 2's read races with warp 0's
// write. checks_race_named_barrier_synced.cu is the same without warp 2's read.
// EXPECT-REPORT: race reported
#include <cstdio>

#include <cuda_runtime.h>

__global__ void named_barrier_subset(int* out, int with_outsider) {
  __shared__ int s[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 0) s[lane] = lane + 1;
  if (warp < 2) asm volatile("bar.sync 1, 64;" ::: "memory");  // warps 0 and 1 only
  if (warp == 1) out[lane] = s[lane];
  if (warp == 2 && with_outsider) out[32 + lane] = s[lane];  // not ordered after warp 0's write
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 64 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  named_barrier_subset<<<1, 96>>>(out, 1);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
