// checks_race_atomics.cu: atomics and racecheck. Every thread of 4 warps adds 1 to a shared counter
// with atomicAdd (atomics never race with atomics), then __syncthreads() orders them before thread 0's
// plain read: nothing may be reported and the count must be 128. The negative twin is
// checks_race_atomic_vs_plain.cu.
// EXPECT-CLEAN
#include <cstdio>

#include <cuda_runtime.h>

__global__ void shared_counter(int* out) {
  __shared__ int count;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  atomicAdd(&count, 1);
  __syncthreads();
  if (threadIdx.x == 0) out[0] = count;
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  shared_counter<<<1, 128>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  int host = 0;
  if (launched != cudaSuccess || synced != cudaSuccess ||
      cudaMemcpy(&host, out, sizeof host, cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: the launch must succeed\n");
    return 1;
  }
  if (host != 128) std::printf("FAIL: count = %d, want 128\n", host);
  std::printf("%d passed, %d failed\n", host == 128, host != 128);
  return host == 128 ? 0 : 1;
}
