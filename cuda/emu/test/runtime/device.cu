// dsv3-emu runtime test: the emulated device. Properties and attributes agree with each other and with
// an H200 (sm_90 limits), versions, device selection, function attributes, occupancy, and launches
// through cudaLaunchKernel / cudaLaunchKernelExC with a cluster dimension.
#include <cstring>

#include "check.cuh"

__global__ void which_block(int* out) {
  if (threadIdx.x == 0) out[blockIdx.x + gridDim.x * blockIdx.y] = blockIdx.x * 100 + blockIdx.y;
}
__global__ void with_static_smem(int* out) {
  __shared__ int buf[1024];
  buf[threadIdx.x] = threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = buf[1023 - threadIdx.x];
}

int main() {
  int n = 0;
  CHECK_OK(cudaGetDeviceCount(&n));
  CHECK_EQ(n, 1);
  CHECK_OK(cudaSetDevice(0));
  CHECK_ERR(cudaSetDevice(-1), cudaErrorInvalidDevice);
  cudaGetLastError();
  int v = 0;
  CHECK_OK(cudaDriverGetVersion(&v));
  CHECK_EQ(v, 13000);
  CHECK_OK(cudaRuntimeGetVersion(&v));
  CHECK_EQ(v, 13000);

  cudaDeviceProp p;
  std::memset(&p, 0, sizeof p);
  CHECK_OK(cudaGetDeviceProperties(&p, 0));
  CHECK(std::strcmp(p.name, "NVIDIA H200 (dsv3-emu)") == 0);
  CHECK_EQ(p.major, 9);
  CHECK_EQ(p.minor, 0);
  CHECK_EQ(p.multiProcessorCount, 132);
  CHECK_EQ(p.warpSize, 32);
  CHECK_EQ(p.maxThreadsPerBlock, 1024);
  CHECK_EQ(p.maxThreadsDim[2], 64);
  CHECK_EQ(p.maxGridSize[0], 2147483647);
  CHECK_EQ(p.maxGridSize[1], 65535);
  CHECK_EQ(p.sharedMemPerBlock, 48 * 1024);
  CHECK_EQ(p.sharedMemPerBlockOptin, 227 * 1024);
  CHECK_EQ(p.sharedMemPerMultiprocessor, 228 * 1024);
  CHECK_EQ(p.regsPerBlock, 65536);
  CHECK_EQ(p.maxThreadsPerMultiProcessor, 2048);
  CHECK_EQ(p.maxBlocksPerMultiProcessor, 32);
  CHECK_EQ(p.l2CacheSize, 50 * 1024 * 1024);
  CHECK_EQ(p.totalConstMem, 65536);
  CHECK_EQ(p.unifiedAddressing, 1);
  CHECK_EQ(p.clusterLaunch, 1);
  CHECK_EQ(p.memoryPoolsSupported, 1);
  size_t free_b = 0, total = 0;
  CHECK_OK(cudaMemGetInfo(&free_b, &total));
  CHECK_EQ(p.totalGlobalMem, total);
  CHECK_ERR(cudaGetDeviceProperties(&p, 1), cudaErrorInvalidDevice);
  cudaGetLastError();

  // Attributes agree with the properties.
  const struct { cudaDeviceAttr a; int want; } attrs[] = {
      {cudaDevAttrComputeCapabilityMajor, 9}, {cudaDevAttrComputeCapabilityMinor, 0},
      {cudaDevAttrMultiProcessorCount, 132}, {cudaDevAttrMaxSharedMemoryPerBlockOptin, 232448},
      {cudaDevAttrMaxSharedMemoryPerBlock, 49152}, {cudaDevAttrMaxThreadsPerBlock, 1024},
      {cudaDevAttrWarpSize, 32}, {cudaDevAttrMaxBlockDimX, 1024}, {cudaDevAttrMaxGridDimY, 65535},
      {cudaDevAttrMaxSharedMemoryPerMultiprocessor, 233472}, {cudaDevAttrL2CacheSize, 52428800},
      {cudaDevAttrClusterLaunch, 1}, {cudaDevAttrMemoryPoolsSupported, 1}, {cudaDevAttrReservedSharedMemoryPerBlock, 1024},
  };
  for (const auto& t : attrs) {
    int got = -1;
    CHECK_OK(cudaDeviceGetAttribute(&got, t.a, 0));
    CHECK_EQ(got, t.want);
  }
  CHECK_ERR(cudaDeviceGetAttribute(&v, cudaDevAttrWarpSize, 1), cudaErrorInvalidDevice);
  CHECK_ERR(cudaDeviceGetAttribute(&v, static_cast<cudaDeviceAttr>(100000), 0), cudaErrorInvalidValue);
  cudaGetLastError();

  // One cache configuration; stream ids tell streams apart.
  cudaFuncCache cache = cudaFuncCachePreferL1;
  CHECK_OK(cudaDeviceSetCacheConfig(cudaFuncCachePreferShared));
  CHECK_OK(cudaDeviceGetCacheConfig(&cache));
  CHECK_EQ(cache, cudaFuncCachePreferNone);
  cudaStream_t s1, s2;
  CHECK_OK(cudaStreamCreate(&s1));
  CHECK_OK(cudaStreamCreate(&s2));
  unsigned long long id1 = 0, id2 = 0;
  CHECK_OK(cudaStreamGetId(s1, &id1));
  CHECK_OK(cudaStreamGetId(s2, &id2));
  CHECK(id1 != id2);
  CHECK_OK(cudaStreamDestroy(s1));
  CHECK_OK(cudaStreamDestroy(s2));

  // Function attributes.
  cudaFuncAttributes fa;
  CHECK_OK(cudaFuncGetAttributes(&fa, with_static_smem));
  CHECK_EQ(fa.sharedSizeBytes, 4096);
  CHECK_EQ(fa.maxDynamicSharedSizeBytes, 48 * 1024 - 4096);
  CHECK_EQ(fa.ptxVersion, 90);
  CHECK(fa.numRegs > 0);
  CHECK_ERR(cudaFuncSetAttribute(with_static_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024 - 4096 + 1),
            cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK_OK(cudaFuncSetAttribute(with_static_smem, cudaFuncAttributeMaxDynamicSharedMemorySize, 100000));
  CHECK_OK(cudaFuncGetAttributes(&fa, with_static_smem));
  CHECK_EQ(fa.maxDynamicSharedSizeBytes, 100000);

  // Occupancy: limited by threads, then by shared memory.
  int blocks = 0;
  CHECK_OK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, which_block, 256, 0));
  CHECK_EQ(blocks, 8);
  CHECK_OK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, which_block, 32, 0));
  CHECK_EQ(blocks, 32);
  CHECK_OK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, which_block, 128, 100 * 1024));
  CHECK_EQ(blocks, 2);

  // Launch APIs.
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 64 * sizeof(int)));
  void* args[] = {&d};
  CHECK_OK(cudaLaunchKernel(reinterpret_cast<const void*>(which_block), dim3(4, 2), dim3(32), args, 0, nullptr));
  int h[8] = {};
  CHECK_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 0);
  CHECK_EQ(h[3], 300);
  CHECK_EQ(h[5], 101);
  cudaLaunchAttribute at[1];
  at[0].id = cudaLaunchAttributeClusterDimension;
  at[0].val.clusterDim.x = 2;
  at[0].val.clusterDim.y = 1;
  at[0].val.clusterDim.z = 1;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(4, 2);
  cfg.blockDim = dim3(32);
  cfg.attrs = at;
  cfg.numAttrs = 1;
  CHECK_OK(cudaMemset(d, 0, 64 * sizeof(int)));
  CHECK_OK(cudaLaunchKernelExC(&cfg, reinterpret_cast<const void*>(which_block), args));
  CHECK_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  CHECK_EQ(h[7], 301);
  cfg.gridDim = dim3(3, 2);  // not a multiple of the cluster
  CHECK_ERR(cudaLaunchKernelExC(&cfg, reinterpret_cast<const void*>(which_block), args), cudaErrorInvalidClusterSize);
  at[0].val.clusterDim.x = 16;  // beyond the portable size of 8
  cfg.gridDim = dim3(16, 1);
  CHECK_ERR(cudaLaunchKernelExC(&cfg, reinterpret_cast<const void*>(which_block), args), cudaErrorInvalidClusterSize);
  cudaGetLastError();
  CHECK_OK(cudaDeviceSynchronize());
  CHECK_OK(cudaFree(d));
  return finish();
}
