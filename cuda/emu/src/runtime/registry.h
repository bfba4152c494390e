// dsv3-emu runtime: what nvcc's host code registers (fatbinaries, kernels, __device__ / __constant__
// variables) and the lazily loaded module of each fatbinary (parsed and decoded at the first launch or
// symbol use, then cached). Kernels are the cudaKernel_t handles of __cudaGetKernel.
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "src/interp/emu.h"
#include "src/runtime/state.h"

namespace emu::rt {

struct FatBinary {
  void* slot = nullptr;        // what the void** handle points at (nvcc's code only passes it back)
  const void* data = nullptr;  // the fatbinary
  std::string origin;          // "<file> (fatbinary #N)", for messages
  bool tried = false;          // loading was attempted (under registry_mutex())
  cudaError_t error = cudaSuccess;
  std::string ptx;
  int ptx_version = 0;         // .version 9.0 -> 90
  std::unique_ptr<emu::Module> module;
};

// Loads the module of `fb` once; its error (cudaErrorNoKernelImageForDevice, cudaErrorInvalidPtx) after.
cudaError_t ensure_loaded(FatBinary* fb);

}  // namespace emu::rt

struct CUkern_st {
  emu::rt::FatBinary* fb = nullptr;
  std::string name;             // mangled device name
  const void* host_fun = nullptr;
  const emu::KernelInfo* info = nullptr;  // once loaded (nullptr: not in the PTX)
  // cudaFuncSetAttribute values (-1: the default)
  int max_dyn_smem = -1;
  int carveout = -1;
  int cluster[3] = {0, 0, 0};
  int non_portable_cluster = 0;
  int cluster_policy = 0;
};

namespace emu::rt {
using Kernel = ::CUkern_st;
// The kernel of a host stub (the address nvcc's code passes), or nullptr.
Kernel* kernel_of(const void* host_fun);
// Loads the kernel's module and finds the kernel in it: cudaErrorInvalidDeviceFunction if absent.
cudaError_t ensure_kernel(Kernel* k);
// The dynamic shared memory limit of a launch of `k` (its attribute or the default 48 KB - static).
uint32_t max_dyn_smem(const Kernel* k);
}  // namespace emu::rt
