// checks_race_named_barrier_synced.cu: the control of checks_race_named_barrier.cu. Warp 0 writes a
// shared array, warps 0 and 1 synchronise on `bar.sync 1, 64`, warp 1 reads it; warp 2 runs alongside
// without touching the array. The named barrier orders the two accesses: nothing may be reported, and
// warp 1 must read what warp 0 wrote.
// EXPECT-CLEAN
#include <cstdio>

#include <cuda_runtime.h>

__global__ void named_barrier_pair(int* out) {
  __shared__ int s[32];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (warp == 0) s[lane] = lane + 1;
  if (warp < 2) asm volatile("bar.sync 1, 64;" ::: "memory");  // warps 0 and 1 only
  if (warp == 1) out[lane] = s[lane];
  if (warp == 2) out[32 + lane] = -lane;  // busy elsewhere, no shared access
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 64 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  named_barrier_pair<<<1, 96>>>(out);
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
  for (int i = 0; i < 64; ++i) {
    const int want = i < 32 ? i + 1 : -(i - 32);
    if (host[i] != want && wrong++ < 4) std::printf("FAIL: out[%d] = %d, want %d\n", i, host[i], want);
  }
  std::printf("%d passed, %d failed\n", 64 - wrong, wrong);
  return wrong ? 1 : 0;
}
