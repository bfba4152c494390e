// dsv3-emu runtime: the remaining small entry points. Hints the emulated device honours trivially (cache
// configuration, profiler start/stop), stream ids, and a clear refusal (a report and cudaErrorNotSupported)
// for what the emulator cannot do, so that a program gets an error it can print instead of a missing symbol.
#include <atomic>

#include "src/runtime/state.h"

using namespace emu::rt;

namespace {
cudaError_t refuse(const char* what, const char* why) {
  report(std::string("dsv3-emu: ") + what + " is not supported by the emulator (" + why + ")");
  return fail(cudaErrorNotSupported);
}
}  // namespace

extern "C" {

// L1 / shared-memory split and bank-size hints: the emulated device has one configuration.
cudaError_t cudaDeviceSetCacheConfig(cudaFuncCache) { return cudaSuccess; }
cudaError_t cudaDeviceGetCacheConfig(cudaFuncCache* c) {
  if (!c) return fail(cudaErrorInvalidValue);
  *c = cudaFuncCachePreferNone;
  return cudaSuccess;
}
cudaError_t cudaFuncSetCacheConfig(const void*, cudaFuncCache) { return cudaSuccess; }

// No profiler is attached to the emulator.
cudaError_t cudaProfilerStart(void) { return cudaSuccess; }
cudaError_t cudaProfilerStop(void) { return cudaSuccess; }

cudaError_t cudaStreamGetId(cudaStream_t h, unsigned long long* id) {
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (!id) return fail(cudaErrorInvalidValue);
  *id = reinterpret_cast<uintptr_t>(s);  // unique while the stream lives
  return cudaSuccess;
}

cudaError_t cudaStreamGetDevice(cudaStream_t h, int* device) {
  std::lock_guard<std::mutex> l(mu());
  if (!resolve_locked(h)) return fail(cudaErrorInvalidResourceHandle);
  if (!device) return fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaMallocManaged(void**, size_t, unsigned) {
  return refuse("cudaMallocManaged", "managed memory is not emulated");
}
cudaError_t cudaLaunchCooperativeKernel(const void*, dim3, dim3, void**, size_t, cudaStream_t) {
  return refuse("cudaLaunchCooperativeKernel", "CTAs run one after another, so a grid-wide sync cannot complete");
}
cudaError_t cudaLaunchCooperativeKernel_ptsz(const void*, dim3, dim3, void**, size_t, cudaStream_t) {
  return refuse("cudaLaunchCooperativeKernel", "CTAs run one after another, so a grid-wide sync cannot complete");
}
cudaError_t cudaMemPoolCreate(cudaMemPool_t*, const cudaMemPoolProps*) {
  return refuse("cudaMemPoolCreate", "only the default memory pool exists");
}
cudaError_t cudaIpcGetMemHandle(cudaIpcMemHandle_t*, void*) {
  return refuse("cudaIpcGetMemHandle", "device memory cannot be shared between processes");
}
cudaError_t cudaGraphCreate(cudaGraph_t*, unsigned) {
  return refuse("cudaGraphCreate", "graphs are made by stream capture only");
}

}  // extern "C"
