// checks_shared_race.cu: negative test of the emulator's shared-memory race check (racecheck). Warp 0
// writes a shared array that warp 1 reads, with no barrier between them: whichever order the warps run
// in, the two accesses are unordered and one is a write, so the emulator must report a race (like
// compute-sanitizer --tool racecheck). checks_shared_race_synced.cu is the same kernel with the barrier.
// EXPECT-REPORT: race reported
#include <cstdio>

#include <cuda_runtime.h>

__global__ void unsynchronised(int* out) {
  __shared__ int s[32];
  const int t = threadIdx.x;
  if (t < 32) s[t] = t + 1;          // warp 0 writes
  else out[t - 32] = s[t - 32];      // warp 1 reads, no __syncthreads() in between
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  unsynchronised<<<1, 64>>>(out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  // A race is a report, not a device fault: which error (if any) the emulator attaches is its choice.
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
