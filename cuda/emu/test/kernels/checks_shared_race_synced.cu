// checks_shared_race_synced.cu: the control of checks_shared_race.cu. Warp 0 writes a shared array,
// __syncthreads(), warp 1 reads it: the barrier orders the accesses, so the emulator must report nothing,
// and warp 1 must read what warp 0 wrote.
// EXPECT-CLEAN
#include <cstdio>

#include <cuda_runtime.h>

__global__ void synchronised(int* out) {
  __shared__ int s[32];
  const int t = threadIdx.x;
  if (t < 32) s[t] = t + 1;          // warp 0 writes
  __syncthreads();
  if (t >= 32) out[t - 32] = s[t - 32];  // warp 1 reads after the barrier
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess || cudaMemset(out, 0, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  synchronised<<<1, 64>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  if (launched != cudaSuccess || synced != cudaSuccess) {
    std::printf("FAIL: the launch must succeed\n");
    return 1;
  }
  int host[32];
  if (cudaMemcpy(host, out, sizeof host, cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: copy back\n");
    return 1;
  }
  int wrong = 0;
  for (int i = 0; i < 32; ++i)
    if (host[i] != i + 1) {
      if (wrong++ < 4) std::printf("FAIL: out[%d] = %d, want %d\n", i, host[i], i + 1);
    }
  std::printf("%d passed, %d failed\n", 32 - wrong, wrong);
  return wrong ? 1 : 0;
}
