// checks_proxy_mbarrier_init.cu: negative test of the generic -> async proxy fence check
// (src/interp/proxycheck.h). Thread 0 initialises an mbarrier (mbarrier.init writes the object through
// the generic proxy), then, after __syncthreads only, issues a TMA load (cp.async.bulk.tensor.2d) whose
// complete_tx updates that object through the async proxy. The PTX ISA (memory consistency model,
// proxies) orders the two only with a fence.proxy.async by the initialising thread in between (CUTLASS's
// fence_view_async_shared(), DeepGEMM's "Make initialized barrier visible in async proxy");
// fence.mbarrier_init.release.cluster alone (present here) is a generic-proxy release, not a proxy fence.
// The emulator must report it. checks_proxy_mbarrier_init_fenced.cu builds this file with the fence.
#ifndef KT_PROXY_FENCE
// EXPECT-REPORT: Missing fence.proxy.async
#define KT_PROXY_FENCE 0
#endif
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

constexpr int W = 64, H = 16;  // u8 tensor of H rows of W bytes; the box is all of it

__device__ inline uint32_t smem(const void* p) { return uint32_t(__cvta_generic_to_shared(p)); }

__global__ void k_load(const __grid_constant__ CUtensorMap map, uint8_t* out) {
  __shared__ __align__(1024) uint8_t box[W * H];
  __shared__ __align__(8) uint64_t bar;
  const int t = threadIdx.x;
  if (t == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem(&bar)) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    if (KT_PROXY_FENCE) asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // init -> complete_tx
  }
  __syncthreads();
  if (t == 0) {
    uint64_t state;
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;" : "=l"(state) : "r"(smem(&bar)), "r"(W * H) : "memory");
    asm volatile("" ::"l"(state));
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
            smem(box)),
        "l"(&map), "r"(0), "r"(0), "r"(smem(&bar))
        : "memory");
  }
  uint32_t done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done)
                 : "r"(smem(&bar))
                 : "memory");
  for (int k = t; k < W * H; k += blockDim.x) out[k] = box[k];
}

typedef CUresult (*EncodeTiled)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

int main() {
  std::vector<uint8_t> src(W * H);
  for (int i = 0; i < W * H; ++i) src[i] = uint8_t(i * 7 + 3);
  uint8_t *dsrc = nullptr, *dout = nullptr;
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q{};
  if (cudaMalloc(&dsrc, src.size()) != cudaSuccess || cudaMalloc(&dout, src.size()) != cudaSuccess ||
      cudaMemcpy(dsrc, src.data(), src.size(), cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) != cudaSuccess || !fn) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  CUtensorMap map;
  cuuint64_t dims[2] = {W, H}, strides[1] = {W};
  cuuint32_t boxdim[2] = {W, H}, estride[2] = {1, 1};
  if (EncodeTiled(fn)(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, dsrc, dims, strides, boxdim, estride,
                      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_NONE,
                      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) != CUDA_SUCCESS) {
    std::printf("FAIL: cuTensorMapEncodeTiled\n");
    return 1;
  }
  k_load<<<1, 128>>>(map, dout);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  if (!KT_PROXY_FENCE) return 0;  // the report is the point
  std::vector<uint8_t> h(src.size());
  if (synced != cudaSuccess || cudaMemcpy(h.data(), dout, h.size(), cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: launch\n");
    return 1;
  }
  int bad = 0;
  for (size_t i = 0; i < h.size(); ++i) bad += h[i] != src[i];
  std::printf("%s: %d of %zu bytes wrong\n", bad ? "FAIL" : "ok", bad, h.size());
  return bad ? 1 : 0;
}
