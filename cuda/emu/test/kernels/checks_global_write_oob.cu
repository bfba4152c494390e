// checks_global_write_oob.cu: negative test of the emulator's global bounds check. One thread writes the
// element just past the end of a cudaMalloc'd buffer; the emulator must report it and the program must
// observe cudaErrorIllegalAddress at the next synchronize.
// EXPECT-REPORT: Invalid __global__ write of size 4 bytes
// EXPECT-ERROR: cudaErrorIllegalAddress
#include <cstdio>

#include <cuda_runtime.h>

__global__ void write_one_past_end(float* out, int n) {
  out[n] = 1.0f;  // out has n elements
}

int main() {
  const int n = 1000;
  float* out = nullptr;
  if (cudaMalloc(&out, n * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  write_one_past_end<<<1, 1>>>(out, n);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  // A GPU may already return the fault from cudaGetLastError (it reports errors of earlier asynchronous
  // launches); the synchronize must return it.
  if (synced != cudaErrorIllegalAddress || (launched != cudaSuccess && launched != cudaErrorIllegalAddress)) {
    std::printf("FAIL: not the CUDA error this defect must raise\n");
    return 1;
  }
  return 0;
}
