// Hopper (sm_90a) building blocks as thin PTX wrappers: mbarriers, TMA tile loads, wgmma fences and
// shared-memory matrix descriptors. Written from the PTX ISA; used by cuda/fp8_gemm.cu. Everything here
// compiles to a trap outside sm_90a so that other architectures build (and use the fallback kernels).
// Unverified on a GPU until a GPU-drawn issue runs test/gpu.
#pragma once
#include <cuda.h>  // CUtensorMap (a 128-byte opaque struct; the driver encodes it on the host)
#include <cstdint>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DSV3_SM90A 1
#endif

namespace dsv3::cuda::sm90 {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

#ifdef DSV3_SM90A
#define DSV3_SM90_ASM(...) asm volatile(__VA_ARGS__)
#else
#define DSV3_SM90_ASM(...) __trap()
#endif

// ---- mbarrier (shared::cta, 64-bit) ----
__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  DSV3_SM90_ASM("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count));
}
// Orders this thread's mbarrier.init operations before later arrivals of the cluster's other threads.
__device__ __forceinline__ void fence_barrier_init() {
  DSV3_SM90_ASM("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// Orders this thread's earlier generic-proxy accesses of shared memory (ordinary stores, mbarrier.init)
// before later async-proxy accesses of it (TMA writing a tile and completing its transactions on an
// mbarrier, wgmma reading its operands). The PTX memory model treats the two proxies as separate paths
// to memory: without this fence the async proxy may see the bytes as they were before the generic write.
// Then a CTA barrier orders it for the thread that issues the async operation.
__device__ __forceinline__ void fence_proxy_async_shared() {
  DSV3_SM90_ASM("fence.proxy.async.shared::cta;" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  DSV3_SM90_ASM("{\n.reg .b64 st;\nmbarrier.arrive.shared::cta.b64 st, [%0];\n}" ::"r"(smem_u32(bar)) : "memory");
}
// One arrival plus `bytes` of expected TMA transactions for the current phase.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  DSV3_SM90_ASM("{\n.reg .b64 st;\nmbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1;\n}" ::"r"(smem_u32(bar)), "r"(bytes)
                : "memory");
}
// Waits until the phase with parity `parity` has completed. A fresh barrier is in phase 0, so waiting
// on parity 1 returns at once (producers start on the "empty" barriers that way).
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  DSV3_SM90_ASM(
      "{\n.reg .pred done;\nWAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n}" ::"r"(smem_u32(bar)),
      "r"(parity)
      : "memory");
}

// ---- TMA: a 2-D tile [c1 .. c1+box1) x [c0 .. c0+box0) of the tensor map into shared memory; completes
// `bytes` (the whole box, out-of-bounds elements zero-filled) on `bar`. c0 is the innermost coordinate.
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, int32_t c0, int32_t c1, uint64_t* bar) {
  DSV3_SM90_ASM(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
          smem_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(smem_u32(bar))
      : "memory");
}
__device__ __forceinline__ void prefetch_tensor_map(const CUtensorMap* map) {
  DSV3_SM90_ASM("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// ---- wgmma ----
__device__ __forceinline__ void wgmma_fence() { DSV3_SM90_ASM("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { DSV3_SM90_ASM("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  DSV3_SM90_ASM("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads or writes of an accumulator register across a wgmma wait.
__device__ __forceinline__ void fence_operand(float& r) { asm volatile("" : "+f"(r)::"memory"); }

// Shared-memory matrix descriptor for a K-major operand tile stored as rows of exactly 128 bytes with the
// 128-byte swizzle (the layout TMA writes with CU_TENSOR_MAP_SWIZZLE_128B and a 128-byte inner box).
// Core matrices are 8 rows x 16 bytes; 8-row groups are 1024 bytes apart (stride byte offset); the
// leading byte offset is unused for swizzled K-major layouts (1 by convention). Bits: start address
// >> 4 in [0,14), LBO >> 4 in [16,30), SBO >> 4 in [32,46), base offset 0 (tiles are 1024-byte
// aligned), layout type in [62,64) with 1 = 128-byte swizzle. Stepping K by 32 e4m3 (32 bytes) inside
// the 128-byte row is done by adding 32 to the start address: the swizzle is applied on address bits.
__device__ __forceinline__ uint64_t smem_desc_k128_sw128(const void* tile) {
  const uint64_t addr = smem_u32(tile);
  return ((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
}

// Named barrier for a subset of the CTA's warps (id 1..15; 0 is __syncthreads).
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

}  // namespace dsv3::cuda::sm90
