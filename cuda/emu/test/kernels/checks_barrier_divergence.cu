// checks_barrier_divergence.cu: negative test of the emulator's barrier check (compute-sanitizer
// synccheck). __syncthreads() (bar.sync 0, expecting every thread of the CTA) sits inside a branch that
// only half of the block takes; the other half exits. The barrier can never complete as written: the
// emulator must report barrier divergence, never hang.
// EXPECT-REPORT: barrier divergence
#include <cstdio>

#include <cuda_runtime.h>

__global__ void half_block_barrier(int* out, int half) {
  __shared__ int s[128];
  const int t = threadIdx.x;
  if (t < half) {
    s[t] = t;
    __syncthreads();  // reached by threads 0..63 only
    out[t] = s[half - 1 - t];
  }
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 128 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  half_block_barrier<<<1, 128>>>(out, 64);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
