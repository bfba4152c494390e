// checks_assert.cu: negative test of the emulator's device-side assert. One thread fails an assert():
// nvcc turns it into a call of __assertfail (message, file, line, function), which on a GPU prints
// "...: Assertion `...` failed." and stops the kernel with cudaErrorAssert. The emulator must report the
// failed assertion and the program must observe cudaErrorAssert at the next synchronize.
// EXPECT-REPORT: assertion
// EXPECT-ERROR: cudaErrorAssert
#undef NDEBUG
#include <cassert>
#include <cstdio>

#include <cuda_runtime.h>

__global__ void assert_positive(const int* in, int* out) {
  const int t = threadIdx.x;
  assert(in[t] > 0);  // in[5] is 0
  out[t] = in[t];
}

int main() {
  int host[32];
  for (int i = 0; i < 32; ++i) host[i] = i == 5 ? 0 : i + 1;
  int *in = nullptr, *out = nullptr;
  if (cudaMalloc(&in, sizeof host) != cudaSuccess || cudaMalloc(&out, sizeof host) != cudaSuccess ||
      cudaMemcpy(in, host, sizeof host, cudaMemcpyHostToDevice) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  assert_positive<<<1, 32>>>(in, out);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  // A GPU may already return the fault from cudaGetLastError (it reports errors of earlier asynchronous
  // launches); the synchronize must return it.
  if (synced != cudaErrorAssert || (launched != cudaSuccess && launched != cudaErrorAssert)) {
    std::printf("FAIL: not the CUDA error this defect must raise\n");
    return 1;
  }
  return 0;
}
