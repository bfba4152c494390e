// Shared helpers for dsv3 CUDA files: error checks that throw dsv3::CudaError with the failing call.
#pragma once
#include <cuda_runtime.h>

#include <string>

#include "native/storage.h"

namespace dsv3::cuda {

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  std::string msg = std::string(what) + " failed: " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
                    ") at " + file + ":" + std::to_string(line);
  if (e == cudaErrorMemoryAllocation) throw OomError("CUDA out of memory: " + msg);
  throw CudaError(msg);
}

}  // namespace dsv3::cuda

#define DSV3_CUDA_CHECK(call)                                                            \
  do {                                                                                   \
    cudaError_t dsv3_err_ = (call);                                                      \
    if (dsv3_err_ != cudaSuccess) ::dsv3::cuda::throw_cuda(dsv3_err_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: report launch-configuration errors at the launch site.
#define DSV3_CUDA_CHECK_LAUNCH() DSV3_CUDA_CHECK(cudaGetLastError())
