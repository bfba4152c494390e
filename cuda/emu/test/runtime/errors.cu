// dsv3-emu runtime test: error names and strings (NVIDIA's, for every code), last-error semantics, and
// launch-configuration errors (returned by the launch, kept as the last error until read, not sticky).
#include <cstring>

#include "check.cuh"

__global__ void noop(int* p) {
  if (p) *p = 1;
}
__global__ void __launch_bounds__(128) bounded(int* p) {
  if (p) p[threadIdx.x] = 1;
}
__global__ void big_smem(int* p) {
  extern __shared__ int buf[];
  buf[threadIdx.x] = threadIdx.x;
  __syncthreads();
  if (p) p[threadIdx.x] = buf[(threadIdx.x + 1) % blockDim.x];
}

static bool same(const char* a, const char* b) { return a && b && std::strcmp(a, b) == 0; }

int main() {
  // Names and strings as NVIDIA's runtime writes them.
  CHECK(same(cudaGetErrorName(cudaSuccess), "cudaSuccess"));
  CHECK(same(cudaGetErrorString(cudaSuccess), "no error"));
  CHECK(same(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue"));
  CHECK(same(cudaGetErrorString(cudaErrorInvalidValue), "invalid argument"));
  CHECK(same(cudaGetErrorString(cudaErrorMemoryAllocation), "out of memory"));
  CHECK(same(cudaGetErrorString(cudaErrorInvalidConfiguration), "invalid configuration argument"));
  CHECK(same(cudaGetErrorName(cudaErrorIllegalAddress), "cudaErrorIllegalAddress"));
  CHECK(same(cudaGetErrorString(cudaErrorIllegalAddress), "an illegal memory access was encountered"));
  CHECK(same(cudaGetErrorString(cudaErrorLaunchFailure), "unspecified launch failure"));
  CHECK(same(cudaGetErrorString(cudaErrorNoKernelImageForDevice), "no kernel image is available for execution on the device"));
  CHECK(same(cudaGetErrorName(cudaErrorStreamCaptureImplicit), "cudaErrorStreamCaptureImplicit"));
  CHECK(same(cudaGetErrorName(cudaErrorUnknown), "cudaErrorUnknown"));
  CHECK(same(cudaGetErrorString(cudaErrorUnknown), "unknown error"));
  CHECK(same(cudaGetErrorName(static_cast<cudaError_t>(12345)), "unrecognized error code"));
  CHECK(same(cudaGetErrorString(static_cast<cudaError_t>(12345)), "unrecognized error code"));
  // Every code of driver_types.h has a name that is not the unknown one.
  int named = 0;
  for (int e = 0; e <= 1000; ++e)
    if (!same(cudaGetErrorName(static_cast<cudaError_t>(e)), "unrecognized error code")) ++named;
  CHECK(named >= 130);

  // Last error: set by a failing call, read and cleared by cudaGetLastError, only read by Peek.
  CHECK_OK(cudaGetLastError());
  int dev = 0;
  CHECK_ERR(cudaSetDevice(1), cudaErrorInvalidDevice);
  CHECK_ERR(cudaPeekAtLastError(), cudaErrorInvalidDevice);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidDevice);
  CHECK_OK(cudaGetLastError());
  CHECK_OK(cudaGetDevice(&dev));
  CHECK_EQ(dev, 0);

  // Launch configuration errors: returned by the launch, kept as the last error, nothing runs.
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 4096));
  noop<<<1, 2048>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidConfiguration);
  noop<<<1, dim3(32, 32, 2)>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidConfiguration);
  noop<<<0, 32>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidConfiguration);
  noop<<<dim3(1, 70000), 32>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidConfiguration);
  noop<<<1, dim3(1, 1, 65)>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidConfiguration);
  bounded<<<1, 256>>>(d);  // more threads than __launch_bounds__(128)
  CHECK_ERR(cudaGetLastError(), cudaErrorLaunchOutOfResources);
  bounded<<<1, 128>>>(d);
  CHECK_OK(cudaGetLastError());
  // Dynamic shared memory above 48 KB needs the attribute; above 227 KB it is never possible.
  big_smem<<<1, 32, 64 * 1024>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidValue);
  CHECK_ERR(cudaFuncSetAttribute(big_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024),
            cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK_OK(cudaFuncSetAttribute(big_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024));
  big_smem<<<1, 32, 64 * 1024>>>(d);
  CHECK_OK(cudaGetLastError());
  big_smem<<<1, 32, 227 * 1024 + 16>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidValue);
  // A stream that does not exist.
  cudaStream_t s;
  CHECK_OK(cudaStreamCreate(&s));
  CHECK_OK(cudaStreamDestroy(s));
  noop<<<1, 1, 0, s>>>(d);
  CHECK_ERR(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  // A host function that is not a kernel.
  void* args[] = {&d};
  CHECK_ERR(cudaLaunchKernel(reinterpret_cast<const void*>(&same), dim3(1), dim3(1), args, 0, nullptr),
            cudaErrorInvalidDeviceFunction);
  cudaGetLastError();
  // None of these is sticky: the device still works.
  CHECK_OK(cudaDeviceSynchronize());
  int h[2] = {0, 0};
  CHECK_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 1);  // big_smem's thread 0 wrote buf[1] = 1
  CHECK_OK(cudaFree(d));
  return finish();
}
