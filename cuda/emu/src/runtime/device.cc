// dsv3-emu runtime: the one emulated device, "NVIDIA H200 (dsv3-emu)": compute capability 9.0 with the
// sm_90 limits of emu::DeviceLimits, 132 SMs, DSV3_EMU_MEMORY of global memory. cudaDeviceGetAttribute
// is the single source of the values (cudaGetDeviceProperties is filled from it); they are what an H200
// reports, except where the emulator cannot do what the attribute promises (mapped or managed memory,
// cooperative launches, IPC), which read 0.
#include <cstring>

#include "src/runtime/state.h"

namespace emu::rt {
namespace {

thread_local int t_device = 0;
unsigned g_device_flags = 0;
size_t g_limits[8] = {1024, 1048576, 8388608, 2, 2048, 32, 0, 0};  // indexed by cudaLimit

using L = emu::DeviceLimits;

bool attribute(cudaDeviceAttr a, int* v) {
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock: *v = L::max_threads_per_block; return true;
    case cudaDevAttrMaxBlockDimX: *v = L::max_block_dim[0]; return true;
    case cudaDevAttrMaxBlockDimY: *v = L::max_block_dim[1]; return true;
    case cudaDevAttrMaxBlockDimZ: *v = L::max_block_dim[2]; return true;
    case cudaDevAttrMaxGridDimX: *v = static_cast<int>(L::max_grid_dim[0]); return true;
    case cudaDevAttrMaxGridDimY: *v = static_cast<int>(L::max_grid_dim[1]); return true;
    case cudaDevAttrMaxGridDimZ: *v = static_cast<int>(L::max_grid_dim[2]); return true;
    case cudaDevAttrMaxSharedMemoryPerBlock: *v = L::smem_per_block_default; return true;
    case cudaDevAttrTotalConstantMemory: *v = 65536; return true;
    case cudaDevAttrWarpSize: *v = L::warp_size; return true;
    case cudaDevAttrMaxPitch: *v = 2147483647; return true;
    case cudaDevAttrMaxRegistersPerBlock: *v = L::regs_per_block; return true;
    case cudaDevAttrClockRate: *v = 1980000; return true;  // kHz
    case cudaDevAttrTextureAlignment: *v = 512; return true;
    case cudaDevAttrGpuOverlap: *v = 1; return true;
    case cudaDevAttrMultiProcessorCount: *v = L::sm_count; return true;
    case cudaDevAttrKernelExecTimeout: *v = 0; return true;
    case cudaDevAttrIntegrated: *v = 0; return true;
    case cudaDevAttrCanMapHostMemory: *v = 0; return true;  // kernels cannot address host memory here
    case cudaDevAttrComputeMode: *v = cudaComputeModeDefault; return true;
    case cudaDevAttrMaxTexture1DWidth: *v = 131072; return true;
    case cudaDevAttrMaxTexture2DWidth: *v = 131072; return true;
    case cudaDevAttrMaxTexture2DHeight: *v = 65536; return true;
    case cudaDevAttrMaxTexture3DWidth: case cudaDevAttrMaxTexture3DHeight: case cudaDevAttrMaxTexture3DDepth:
      *v = 16384; return true;
    case cudaDevAttrMaxTexture2DLayeredWidth: case cudaDevAttrMaxTexture2DLayeredHeight: *v = 32768; return true;
    case cudaDevAttrMaxTexture2DLayeredLayers: *v = 2048; return true;
    case cudaDevAttrSurfaceAlignment: *v = 512; return true;
    case cudaDevAttrConcurrentKernels: *v = 1; return true;
    case cudaDevAttrEccEnabled: *v = 1; return true;
    case cudaDevAttrPciBusId: case cudaDevAttrPciDeviceId: case cudaDevAttrPciDomainId: *v = 0; return true;
    case cudaDevAttrTccDriver: *v = 0; return true;
    case cudaDevAttrMemoryClockRate: *v = 3201000; return true;  // kHz (HBM3e)
    case cudaDevAttrGlobalMemoryBusWidth: *v = 6144; return true;
    case cudaDevAttrL2CacheSize: *v = 50 * 1024 * 1024; return true;
    case cudaDevAttrMaxThreadsPerMultiProcessor: *v = L::max_threads_per_sm; return true;
    case cudaDevAttrAsyncEngineCount: *v = 3; return true;
    case cudaDevAttrUnifiedAddressing: *v = 1; return true;
    case cudaDevAttrMaxTexture1DLayeredWidth: *v = 32768; return true;
    case cudaDevAttrMaxTexture1DLayeredLayers: *v = 2048; return true;
    case cudaDevAttrMaxTexture2DGatherWidth: case cudaDevAttrMaxTexture2DGatherHeight: *v = 32768; return true;
    case cudaDevAttrMaxTexture3DWidthAlt: case cudaDevAttrMaxTexture3DHeightAlt: *v = 8192; return true;
    case cudaDevAttrMaxTexture3DDepthAlt: *v = 32768; return true;
    case cudaDevAttrTexturePitchAlignment: *v = 32; return true;
    case cudaDevAttrMaxTextureCubemapWidth: case cudaDevAttrMaxTextureCubemapLayeredWidth: *v = 32768; return true;
    case cudaDevAttrMaxTextureCubemapLayeredLayers: *v = 2046; return true;
    case cudaDevAttrMaxSurface1DWidth: *v = 32768; return true;
    case cudaDevAttrMaxSurface2DWidth: *v = 131072; return true;
    case cudaDevAttrMaxSurface2DHeight: *v = 65536; return true;
    case cudaDevAttrMaxSurface3DWidth: case cudaDevAttrMaxSurface3DHeight: case cudaDevAttrMaxSurface3DDepth:
      *v = 16384; return true;
    case cudaDevAttrMaxSurface1DLayeredWidth: *v = 32768; return true;
    case cudaDevAttrMaxSurface1DLayeredLayers: *v = 2048; return true;
    case cudaDevAttrMaxSurface2DLayeredWidth: case cudaDevAttrMaxSurface2DLayeredHeight: *v = 32768; return true;
    case cudaDevAttrMaxSurface2DLayeredLayers: *v = 2048; return true;
    case cudaDevAttrMaxSurfaceCubemapWidth: case cudaDevAttrMaxSurfaceCubemapLayeredWidth: *v = 32768; return true;
    case cudaDevAttrMaxSurfaceCubemapLayeredLayers: *v = 2046; return true;
    case cudaDevAttrMaxTexture1DLinearWidth: *v = 268435456; return true;
    case cudaDevAttrMaxTexture2DLinearWidth: *v = 131072; return true;
    case cudaDevAttrMaxTexture2DLinearHeight: *v = 65000; return true;
    case cudaDevAttrMaxTexture2DLinearPitch: *v = 2097120; return true;
    case cudaDevAttrMaxTexture2DMipmappedWidth: case cudaDevAttrMaxTexture2DMipmappedHeight: *v = 32768; return true;
    case cudaDevAttrComputeCapabilityMajor: *v = 9; return true;
    case cudaDevAttrComputeCapabilityMinor: *v = 0; return true;
    case cudaDevAttrMaxTexture1DMipmappedWidth: *v = 32768; return true;
    case cudaDevAttrStreamPrioritiesSupported: *v = 1; return true;
    case cudaDevAttrGlobalL1CacheSupported: case cudaDevAttrLocalL1CacheSupported: *v = 1; return true;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor: *v = L::smem_per_sm; return true;
    case cudaDevAttrMaxRegistersPerMultiprocessor: *v = 65536; return true;
    case cudaDevAttrManagedMemory: *v = 0; return true;  // managed memory is not emulated
    case cudaDevAttrIsMultiGpuBoard: case cudaDevAttrMultiGpuBoardGroupID: *v = 0; return true;
    case cudaDevAttrHostNativeAtomicSupported: *v = 0; return true;
    case cudaDevAttrSingleToDoublePrecisionPerfRatio: *v = 2; return true;
    case cudaDevAttrPageableMemoryAccess: case cudaDevAttrConcurrentManagedAccess: *v = 0; return true;
    case cudaDevAttrComputePreemptionSupported: *v = 1; return true;
    case cudaDevAttrCanUseHostPointerForRegisteredMem: *v = 0; return true;
    case cudaDevAttrCooperativeLaunch: *v = 0; return true;  // CTAs run one after another: no grid sync
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *v = L::smem_per_block_optin; return true;
    case cudaDevAttrCanFlushRemoteWrites: *v = 0; return true;
    case cudaDevAttrHostRegisterSupported: *v = 1; return true;
    case cudaDevAttrPageableMemoryAccessUsesHostPageTables: case cudaDevAttrDirectManagedMemAccessFromHost:
      *v = 0; return true;
    case cudaDevAttrMaxBlocksPerMultiprocessor: *v = L::max_blocks_per_sm; return true;
    case cudaDevAttrMaxPersistingL2CacheSize: *v = 32440320; return true;
    case cudaDevAttrMaxAccessPolicyWindowSize: *v = 134213632; return true;
    case cudaDevAttrReservedSharedMemoryPerBlock: *v = 1024; return true;
    case cudaDevAttrSparseCudaArraySupported: *v = 0; return true;
    case cudaDevAttrHostRegisterReadOnlySupported: *v = 1; return true;
    case cudaDevAttrTimelineSemaphoreInteropSupported: *v = 0; return true;
    case cudaDevAttrMemoryPoolsSupported: *v = 1; return true;
    case cudaDevAttrGPUDirectRDMASupported: case cudaDevAttrGPUDirectRDMAFlushWritesOptions:
    case cudaDevAttrGPUDirectRDMAWritesOrdering: *v = 0; return true;
    case cudaDevAttrMemoryPoolSupportedHandleTypes: *v = 0; return true;  // no IPC handles
    case cudaDevAttrClusterLaunch: *v = 1; return true;
    case cudaDevAttrDeferredMappingCudaArraySupported: *v = 0; return true;
    case cudaDevAttrIpcEventSupport: *v = 0; return true;
    case cudaDevAttrMemSyncDomainCount: *v = 4; return true;
    case cudaDevAttrNumaConfig: *v = 0; return true;
    case cudaDevAttrNumaId: case cudaDevAttrHostNumaId: *v = -1; return true;
    case cudaDevAttrMpsEnabled: *v = 0; return true;
    case cudaDevAttrD3D12CigSupported: case cudaDevAttrVulkanCigSupported: *v = 0; return true;
    case cudaDevAttrGpuPciDeviceId: *v = 0x233510de; return true;  // H200 SXM (device 0x2335, vendor 0x10de)
    case cudaDevAttrGpuPciSubsystemId: *v = 0; return true;
    case cudaDevAttrHostNumaMemoryPoolsSupported: case cudaDevAttrHostNumaMultinodeIpcSupported:
    case cudaDevAttrHostMemoryPoolsSupported: case cudaDevAttrOnlyPartialHostNativeAtomicSupported:
      *v = 0; return true;
    default: return false;
  }
}

int attr(cudaDeviceAttr a) {
  int v = 0;
  attribute(a, &v);
  return v;
}

}  // namespace
}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

cudaError_t cudaGetDeviceCount(int* n) {
  if (!n) return fail(cudaErrorInvalidValue);
  *n = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* d) {
  if (!d) return fail(cudaErrorInvalidValue);
  *d = t_device;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int d) {
  if (d != 0) return fail(cudaErrorInvalidDevice);
  t_device = d;
  return cudaSuccess;
}

cudaError_t cudaInitDevice(int d, unsigned, unsigned) { return d == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice); }

cudaError_t cudaChooseDevice(int* d, const cudaDeviceProp*) {
  if (!d) return fail(cudaErrorInvalidValue);
  *d = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDeviceFlags(unsigned flags) {
  g_device_flags = flags;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceFlags(unsigned* flags) {
  if (!flags) return fail(cudaErrorInvalidValue);
  *flags = g_device_flags | cudaDeviceMapHost;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr a, int device) {
  if (!value) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  if (!attribute(a, value)) return fail(cudaErrorInvalidValue);
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (!p) return fail(cudaErrorInvalidValue);
  if (device != 0) return fail(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::strncpy(p->name, "NVIDIA H200 (dsv3-emu)", sizeof p->name - 1);
  std::memcpy(p->uuid.bytes, "dsv3-emu-H200-00", 16);
  p->totalGlobalMem = gmem().capacity();
  p->sharedMemPerBlock = attr(cudaDevAttrMaxSharedMemoryPerBlock);
  p->regsPerBlock = attr(cudaDevAttrMaxRegistersPerBlock);
  p->warpSize = attr(cudaDevAttrWarpSize);
  p->memPitch = attr(cudaDevAttrMaxPitch);
  p->maxThreadsPerBlock = attr(cudaDevAttrMaxThreadsPerBlock);
  p->maxThreadsDim[0] = attr(cudaDevAttrMaxBlockDimX);
  p->maxThreadsDim[1] = attr(cudaDevAttrMaxBlockDimY);
  p->maxThreadsDim[2] = attr(cudaDevAttrMaxBlockDimZ);
  p->maxGridSize[0] = attr(cudaDevAttrMaxGridDimX);
  p->maxGridSize[1] = attr(cudaDevAttrMaxGridDimY);
  p->maxGridSize[2] = attr(cudaDevAttrMaxGridDimZ);
  p->totalConstMem = attr(cudaDevAttrTotalConstantMemory);
  p->major = attr(cudaDevAttrComputeCapabilityMajor);
  p->minor = attr(cudaDevAttrComputeCapabilityMinor);
  p->textureAlignment = attr(cudaDevAttrTextureAlignment);
  p->texturePitchAlignment = attr(cudaDevAttrTexturePitchAlignment);
  p->multiProcessorCount = attr(cudaDevAttrMultiProcessorCount);
  p->integrated = attr(cudaDevAttrIntegrated);
  p->canMapHostMemory = attr(cudaDevAttrCanMapHostMemory);
  p->maxTexture1D = attr(cudaDevAttrMaxTexture1DWidth);
  p->maxTexture1DMipmap = attr(cudaDevAttrMaxTexture1DMipmappedWidth);
  p->maxTexture2D[0] = attr(cudaDevAttrMaxTexture2DWidth);
  p->maxTexture2D[1] = attr(cudaDevAttrMaxTexture2DHeight);
  p->maxTexture2DMipmap[0] = attr(cudaDevAttrMaxTexture2DMipmappedWidth);
  p->maxTexture2DMipmap[1] = attr(cudaDevAttrMaxTexture2DMipmappedHeight);
  p->maxTexture2DLinear[0] = attr(cudaDevAttrMaxTexture2DLinearWidth);
  p->maxTexture2DLinear[1] = attr(cudaDevAttrMaxTexture2DLinearHeight);
  p->maxTexture2DLinear[2] = attr(cudaDevAttrMaxTexture2DLinearPitch);
  p->maxTexture2DGather[0] = attr(cudaDevAttrMaxTexture2DGatherWidth);
  p->maxTexture2DGather[1] = attr(cudaDevAttrMaxTexture2DGatherHeight);
  p->maxTexture3D[0] = attr(cudaDevAttrMaxTexture3DWidth);
  p->maxTexture3D[1] = attr(cudaDevAttrMaxTexture3DHeight);
  p->maxTexture3D[2] = attr(cudaDevAttrMaxTexture3DDepth);
  p->maxTexture3DAlt[0] = attr(cudaDevAttrMaxTexture3DWidthAlt);
  p->maxTexture3DAlt[1] = attr(cudaDevAttrMaxTexture3DHeightAlt);
  p->maxTexture3DAlt[2] = attr(cudaDevAttrMaxTexture3DDepthAlt);
  p->maxTextureCubemap = attr(cudaDevAttrMaxTextureCubemapWidth);
  p->maxTexture1DLayered[0] = attr(cudaDevAttrMaxTexture1DLayeredWidth);
  p->maxTexture1DLayered[1] = attr(cudaDevAttrMaxTexture1DLayeredLayers);
  p->maxTexture2DLayered[0] = attr(cudaDevAttrMaxTexture2DLayeredWidth);
  p->maxTexture2DLayered[1] = attr(cudaDevAttrMaxTexture2DLayeredHeight);
  p->maxTexture2DLayered[2] = attr(cudaDevAttrMaxTexture2DLayeredLayers);
  p->maxTextureCubemapLayered[0] = attr(cudaDevAttrMaxTextureCubemapLayeredWidth);
  p->maxTextureCubemapLayered[1] = attr(cudaDevAttrMaxTextureCubemapLayeredLayers);
  p->maxSurface1D = attr(cudaDevAttrMaxSurface1DWidth);
  p->maxSurface2D[0] = attr(cudaDevAttrMaxSurface2DWidth);
  p->maxSurface2D[1] = attr(cudaDevAttrMaxSurface2DHeight);
  p->maxSurface3D[0] = attr(cudaDevAttrMaxSurface3DWidth);
  p->maxSurface3D[1] = attr(cudaDevAttrMaxSurface3DHeight);
  p->maxSurface3D[2] = attr(cudaDevAttrMaxSurface3DDepth);
  p->maxSurface1DLayered[0] = attr(cudaDevAttrMaxSurface1DLayeredWidth);
  p->maxSurface1DLayered[1] = attr(cudaDevAttrMaxSurface1DLayeredLayers);
  p->maxSurface2DLayered[0] = attr(cudaDevAttrMaxSurface2DLayeredWidth);
  p->maxSurface2DLayered[1] = attr(cudaDevAttrMaxSurface2DLayeredHeight);
  p->maxSurface2DLayered[2] = attr(cudaDevAttrMaxSurface2DLayeredLayers);
  p->maxSurfaceCubemap = attr(cudaDevAttrMaxSurfaceCubemapWidth);
  p->maxSurfaceCubemapLayered[0] = attr(cudaDevAttrMaxSurfaceCubemapLayeredWidth);
  p->maxSurfaceCubemapLayered[1] = attr(cudaDevAttrMaxSurfaceCubemapLayeredLayers);
  p->surfaceAlignment = attr(cudaDevAttrSurfaceAlignment);
  p->concurrentKernels = attr(cudaDevAttrConcurrentKernels);
  p->ECCEnabled = attr(cudaDevAttrEccEnabled);
  p->pciBusID = attr(cudaDevAttrPciBusId);
  p->pciDeviceID = attr(cudaDevAttrPciDeviceId);
  p->pciDomainID = attr(cudaDevAttrPciDomainId);
  p->tccDriver = attr(cudaDevAttrTccDriver);
  p->asyncEngineCount = attr(cudaDevAttrAsyncEngineCount);
  p->unifiedAddressing = attr(cudaDevAttrUnifiedAddressing);
  p->memoryBusWidth = attr(cudaDevAttrGlobalMemoryBusWidth);
  p->l2CacheSize = attr(cudaDevAttrL2CacheSize);
  p->persistingL2CacheMaxSize = attr(cudaDevAttrMaxPersistingL2CacheSize);
  p->maxThreadsPerMultiProcessor = attr(cudaDevAttrMaxThreadsPerMultiProcessor);
  p->streamPrioritiesSupported = attr(cudaDevAttrStreamPrioritiesSupported);
  p->globalL1CacheSupported = attr(cudaDevAttrGlobalL1CacheSupported);
  p->localL1CacheSupported = attr(cudaDevAttrLocalL1CacheSupported);
  p->sharedMemPerMultiprocessor = attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor);
  p->regsPerMultiprocessor = attr(cudaDevAttrMaxRegistersPerMultiprocessor);
  p->managedMemory = attr(cudaDevAttrManagedMemory);
  p->isMultiGpuBoard = attr(cudaDevAttrIsMultiGpuBoard);
  p->multiGpuBoardGroupID = attr(cudaDevAttrMultiGpuBoardGroupID);
  p->hostNativeAtomicSupported = attr(cudaDevAttrHostNativeAtomicSupported);
  p->pageableMemoryAccess = attr(cudaDevAttrPageableMemoryAccess);
  p->concurrentManagedAccess = attr(cudaDevAttrConcurrentManagedAccess);
  p->computePreemptionSupported = attr(cudaDevAttrComputePreemptionSupported);
  p->canUseHostPointerForRegisteredMem = attr(cudaDevAttrCanUseHostPointerForRegisteredMem);
  p->cooperativeLaunch = attr(cudaDevAttrCooperativeLaunch);
  p->sharedMemPerBlockOptin = attr(cudaDevAttrMaxSharedMemoryPerBlockOptin);
  p->pageableMemoryAccessUsesHostPageTables = attr(cudaDevAttrPageableMemoryAccessUsesHostPageTables);
  p->directManagedMemAccessFromHost = attr(cudaDevAttrDirectManagedMemAccessFromHost);
  p->maxBlocksPerMultiProcessor = attr(cudaDevAttrMaxBlocksPerMultiprocessor);
  p->accessPolicyMaxWindowSize = attr(cudaDevAttrMaxAccessPolicyWindowSize);
  p->reservedSharedMemPerBlock = attr(cudaDevAttrReservedSharedMemoryPerBlock);
  p->hostRegisterSupported = attr(cudaDevAttrHostRegisterSupported);
  p->sparseCudaArraySupported = attr(cudaDevAttrSparseCudaArraySupported);
  p->hostRegisterReadOnlySupported = attr(cudaDevAttrHostRegisterReadOnlySupported);
  p->timelineSemaphoreInteropSupported = attr(cudaDevAttrTimelineSemaphoreInteropSupported);
  p->memoryPoolsSupported = attr(cudaDevAttrMemoryPoolsSupported);
  p->gpuDirectRDMASupported = attr(cudaDevAttrGPUDirectRDMASupported);
  p->gpuDirectRDMAFlushWritesOptions = attr(cudaDevAttrGPUDirectRDMAFlushWritesOptions);
  p->gpuDirectRDMAWritesOrdering = attr(cudaDevAttrGPUDirectRDMAWritesOrdering);
  p->memoryPoolSupportedHandleTypes = attr(cudaDevAttrMemoryPoolSupportedHandleTypes);
  p->deferredMappingCudaArraySupported = attr(cudaDevAttrDeferredMappingCudaArraySupported);
  p->ipcEventSupported = attr(cudaDevAttrIpcEventSupport);
  p->clusterLaunch = attr(cudaDevAttrClusterLaunch);
  p->unifiedFunctionPointers = 1;
  p->deviceNumaConfig = attr(cudaDevAttrNumaConfig);
  p->deviceNumaId = attr(cudaDevAttrNumaId);
  p->mpsEnabled = attr(cudaDevAttrMpsEnabled);
  p->hostNumaId = attr(cudaDevAttrHostNumaId);
  p->gpuPciDeviceID = attr(cudaDevAttrGpuPciDeviceId);
  p->gpuPciSubsystemID = attr(cudaDevAttrGpuPciSubsystemId);
  p->hostNumaMultinodeIpcSupported = attr(cudaDevAttrHostNumaMultinodeIpcSupported);
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  if (!v) return fail(cudaErrorInvalidValue);
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  if (!v) return fail(cudaErrorInvalidValue);
  *v = 13000;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetLimit(size_t* value, cudaLimit limit) {
  if (!value || limit < 0 || limit >= static_cast<int>(sizeof g_limits / sizeof g_limits[0]))
    return fail(cudaErrorUnsupportedLimit);
  *value = g_limits[limit];
  return cudaSuccess;
}

cudaError_t cudaDeviceSetLimit(cudaLimit limit, size_t value) {
  if (limit < 0 || limit >= static_cast<int>(sizeof g_limits / sizeof g_limits[0])) return fail(cudaErrorUnsupportedLimit);
  g_limits[limit] = value;
  return cudaSuccess;
}

cudaError_t cudaDeviceCanAccessPeer(int* can, int, int) {
  if (!can) return fail(cudaErrorInvalidValue);
  *can = 0;
  return cudaSuccess;
}

// Waits for the device and clears its errors (the device's memory and handles are kept: the emulator
// does not tear the context down).
cudaError_t cudaDeviceReset(void) {
  {
    std::unique_lock<std::mutex> lock(mu());
    wait_all_locked(lock);
  }
  clear_errors();
  return cudaSuccess;
}

}  // extern "C"
