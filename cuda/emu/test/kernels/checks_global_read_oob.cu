// checks_global_read_oob.cu: negative test of the emulator's global bounds check. One thread reads the
// element just past the end of a cudaMalloc'd buffer; the emulator must report it (compute-sanitizer
// memcheck style) and the program must observe cudaErrorIllegalAddress at the next synchronize.
// EXPECT-REPORT: Invalid __global__ read of size 4 bytes
// EXPECT-ERROR: cudaErrorIllegalAddress
#include <cstdio>

#include <cuda_runtime.h>

__global__ void read_one_past_end(const float* in, float* out, int n) {
  out[0] = in[n];  // in has n elements: in[n] is the first byte past the allocation
}

int main() {
  const int n = 1000;
  float *in = nullptr, *out = nullptr;
  if (cudaMalloc(&in, n * sizeof(float)) != cudaSuccess || cudaMalloc(&out, sizeof(float)) != cudaSuccess ||
      cudaMemset(in, 0, n * sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  read_one_past_end<<<1, 1>>>(in, out, n);
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
