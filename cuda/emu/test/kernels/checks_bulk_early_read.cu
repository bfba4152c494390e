// checks_bulk_early_read.cu: negative test of the bulk copy's completion (PTX ISA 9.0 cp.async.bulk: the
// copy's writes are complete, and visible, for a thread that observes the phase of its mbarrier complete;
// nothing is promised before). Thread 0 issues a 256-byte cp.async.bulk into shared memory and reads its
// destination before waiting on the mbarrier: on the emulator the destination holds poison (0xFF bytes) from
// the issue until the copy lands, and under --strict the read is reported. The value read early and the
// one after the wait are printed (the early one must be poison, the late one the data).
// EXPECT-STRICT-REPORT: has not landed
#include <cstdint>
#include <cstdio>

#include <cuda_runtime.h>

__global__ void k_early(const uint32_t* src, uint32_t* out) {
  __shared__ __align__(16) uint32_t buf[64];
  __shared__ __align__(8) uint64_t bar;
  if (threadIdx.x != 0) return;
  const uint32_t b = uint32_t(__cvta_generic_to_shared(&bar)), s = uint32_t(__cvta_generic_to_shared(buf));
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(b) : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], 256;" ::"r"(b) : "memory");
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], 256, [%2];"
               ::"r"(s), "l"(src), "r"(b) : "memory");
  uint32_t early;
  asm volatile("ld.shared.u32 %0, [%1+4];" : "=r"(early) : "r"(s) : "memory");  // the bug: before the wait
  uint32_t done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done) : "r"(b) : "memory");
  out[0] = early;
  out[1] = buf[1];
}

int main() {
  uint32_t h[64], *src = nullptr, *out = nullptr;
  for (int i = 0; i < 64; ++i) h[i] = 0x5000u + uint32_t(i);
  if (cudaMalloc(&src, sizeof h) != cudaSuccess || cudaMalloc(&out, 8) != cudaSuccess ||
      cudaMemcpy(src, h, sizeof h, cudaMemcpyHostToDevice) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  k_early<<<1, 32>>>(src, out);
  const cudaError_t launched = cudaGetLastError(), synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  uint32_t o[2] = {0, 0};
  cudaMemcpy(o, out, 8, cudaMemcpyDeviceToHost);
  std::printf("early 0x%08x, after the wait 0x%08x\n", o[0], o[1]);
  return o[0] == 0xFFFFFFFFu && o[1] == 0x5001u ? 0 : 1;
}
