// checks_race_atomic_vs_plain.cu: negative test of racecheck with atomics. Warps 0..2 add to a shared
// counter with atomicAdd while warp 3 reads it with a plain load and no barrier in between: atomics do
// not race with each other, but a plain access against them does (PTX ISA 9.0, memory consistency
// model: a data race needs one access that is not morally strong), so the emulator must report a race.
// EXPECT-REPORT: race reported
#include <cstdio>

#include <cuda_runtime.h>

__global__ void counter_read_too_early(int* out) {
  __shared__ int count;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (threadIdx.x == 0) count = 0;
  __syncthreads();
  if (warp < 3) atomicAdd(&count, 1);
  else out[lane] = count;  // plain read, unordered with the atomics
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  counter_read_too_early<<<1, 128>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
