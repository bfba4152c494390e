// checks_named_barrier_deadlock.cu: negative test of the emulator's deadlock detection. Warps 0 and 1
// (64 threads) synchronise on named barrier 1 with a thread count of 96, as if a third warp took part;
// warps 2 and 3 wait at __syncthreads() for them. No barrier can ever complete and no thread exits: the
// emulator must report a deadlock instead of hanging (PTX ISA 9.0, bar/barrier: the barrier completes
// when the given number of threads has arrived).
// EXPECT-REPORT: deadlock
#include <cstdio>

#include <cuda_runtime.h>

__global__ void count_never_filled(int* out) {
  const int t = threadIdx.x;
  if (t < 64) asm volatile("bar.sync 1, 96;" ::: "memory");  // only 64 threads ever arrive
  __syncthreads();
  out[t] = t;
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 128 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  count_never_filled<<<1, 128>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
