// checks_use_after_free.cu: negative test of the emulator's allocation tracking. A kernel reads a buffer
// that cudaFree released before the launch (the output buffer is allocated first, so the freed range is
// not simply handed out again); the emulator must report a read of freed memory and the program must
// observe cudaErrorIllegalAddress at the next synchronize.
// EXPECT-REPORT: freed
// EXPECT-ERROR: cudaErrorIllegalAddress
#include <cstdio>

#include <cuda_runtime.h>

__global__ void read_freed(const float* in, float* out, int i) { out[0] = in[i]; }

int main() {
  const int n = 1000;
  float *in = nullptr, *out = nullptr;
  if (cudaMalloc(&out, sizeof(float)) != cudaSuccess || cudaMalloc(&in, n * sizeof(float)) != cudaSuccess ||
      cudaMemset(in, 0, n * sizeof(float)) != cudaSuccess || cudaFree(in) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  read_freed<<<1, 1>>>(in, out, 10);
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
