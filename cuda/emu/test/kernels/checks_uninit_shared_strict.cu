// checks_uninit_shared_strict.cu: negative test of the emulator's --strict shared-memory initialisation
// check (compute-sanitizer initcheck for shared memory). Each thread reads a shared element that nobody
// wrote in this CTA (the only store is behind a flag that is false at run time, so the load stays in
// the program); with --strict the emulator must report the uninitialised read.
// EXPECT-STRICT-REPORT: uninitialized __shared__ read
#include <cstdio>

#include <cuda_runtime.h>

__global__ void read_unwritten_shared(float* out, int write_first) {
  __shared__ float s[64];
  const int t = threadIdx.x;
  if (write_first) s[t] = float(t);
  out[t] = s[t];
}

int main() {
  float* out = nullptr;
  if (cudaMalloc(&out, 64 * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  read_unwritten_shared<<<1, 64>>>(out, 0);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
