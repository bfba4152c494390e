// checks_shared_oob_write.cu: negative test of the emulator's shared-memory window check. The kernel has
// only dynamic shared memory (1024 bytes at launch) and one thread writes the 4 bytes just past it; the
// emulator must report it and the program must observe cudaErrorIllegalAddress at the next synchronize.
// EXPECT-REPORT: Invalid __shared__ write of size 4 bytes
// EXPECT-ERROR: cudaErrorIllegalAddress
#include <cstdio>

#include <cuda_runtime.h>

__global__ void write_past_shared(float* out, int i) {
  extern __shared__ float s[];
  s[i] = 1.0f;  // i = 256: byte offset 1024, the first byte past the CTA's shared memory
  out[0] = s[0];
}

int main() {
  const int smem = 1024;
  float* out = nullptr;
  if (cudaMalloc(&out, sizeof(float)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  write_past_shared<<<1, 1, smem>>>(out, smem / int(sizeof(float)));
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
