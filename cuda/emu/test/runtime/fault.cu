// dsv3-emu runtime test: a kernel fault is sticky. An out-of-bounds write is reported by the emulator and
// makes every later call return cudaErrorIllegalAddress, as on a real device. The emulator's report
// makes dsv3-emu exit non-zero: run-runtime-tests.sh expects exactly that (and this program's checks).
#include "check.cuh"

__global__ void write_past_end(int* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  p[i] = i;  // no bounds check: threads n.. write past the allocation
}

int main() {
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 100 * sizeof(int)));
  int n100 = 100;
  void* args[] = {&d, &n100};
  // The launch itself is valid (the fault comes later, on the device's timeline).
  CHECK_OK(cudaLaunchKernel(reinterpret_cast<const void*>(write_past_end), dim3(1), dim3(128), args, 0, nullptr));
  CHECK_ERR(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  // Sticky: every call fails the same way, and the error is never cleared by reading it.
  CHECK_ERR(cudaGetLastError(), cudaErrorIllegalAddress);
  CHECK_ERR(cudaGetLastError(), cudaErrorIllegalAddress);
  void* p = nullptr;
  CHECK_ERR(cudaMalloc(&p, 16), cudaErrorIllegalAddress);
  int h = 0;
  CHECK_ERR(cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost), cudaErrorIllegalAddress);
  write_past_end<<<1, 1>>>(d, 100);
  CHECK_ERR(cudaGetLastError(), cudaErrorIllegalAddress);
  CHECK_ERR(cudaStreamSynchronize(0), cudaErrorIllegalAddress);
  // Pure queries still answer.
  int n = 0;
  CHECK_OK(cudaGetDeviceCount(&n));
  CHECK_EQ(n, 1);
  return finish();
}
