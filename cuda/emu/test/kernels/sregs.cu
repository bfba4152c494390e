// sregs.cu: special registers (PTX ISA 9.0 chapter 10 "Special Registers"): %laneid and the %lanemask_*
// family exactly, %warpid < %nwarpid, %smid < %nsmid, %clock / %clock64 / %globaltimer never going
// backwards within a thread, %dynamic_smem_size and %total_smem_size, and the cluster registers of a
// launch without clusters (one CTA per cluster: %cluster_ctarank 0, %clusterid = %ctaid, ...).
#include "common.cuh"

using namespace kt;

constexpr int kThreads = 96, kBlocks = 3, kDyn = 1000, kOut = 24;

#define SREG32(name, var) asm volatile("mov.u32 %0, %%" name ";" : "=r"(var))
__global__ void k_sregs(uint32_t* out) {
  __shared__ uint32_t st[100];  // 400 bytes of static shared memory
  extern __shared__ uint32_t dyn[];
  int t = threadIdx.x;
  st[t % 100] = t;
  dyn[t] = t;
  uint32_t* o = out + (size_t)(blockIdx.x * kThreads + t) * kOut;
  uint32_t v;
  SREG32("laneid", v); o[0] = v;
  SREG32("lanemask_eq", v); o[1] = v;
  SREG32("lanemask_lt", v); o[2] = v;
  SREG32("lanemask_le", v); o[3] = v;
  SREG32("lanemask_gt", v); o[4] = v;
  SREG32("lanemask_ge", v); o[5] = v;
  uint32_t w, nw, sm, nsm;
  SREG32("warpid", w);
  SREG32("nwarpid", nw);
  SREG32("smid", sm);
  SREG32("nsmid", nsm);
  o[6] = w < nw;
  o[7] = sm < nsm;
  uint64_t c0, c1, g0, g1;
  uint32_t k0, k1;
  asm volatile("mov.u64 %0, %%clock64;" : "=l"(c0));
  asm volatile("mov.u32 %0, %%clock;" : "=r"(k0));
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g0));
  uint32_t acc = 0;
  for (int i = 0; i < 50 + t; ++i) acc = acc * 3 + st[t % 100] + dyn[t];  // own data only: no race
  asm volatile("mov.u64 %0, %%clock64;" : "=l"(c1));
  asm volatile("mov.u32 %0, %%clock;" : "=r"(k1));
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(g1));
  o[8] = c1 >= c0;
  o[9] = (uint32_t)(k1 - k0) < 0x80000000u;  // 32-bit clock: forward modulo 2^32
  o[10] = g1 >= g0;
  SREG32("dynamic_smem_size", v); o[11] = v;
  SREG32("total_smem_size", v); o[12] = v;
  asm volatile("{ .reg .pred p; mov.pred p, %%is_explicit_cluster; selp.u32 %0, 1, 0, p; }" : "=r"(v)); o[13] = v;
  SREG32("cluster_ctarank", v); o[14] = v;
  SREG32("cluster_nctarank", v); o[15] = v;
  SREG32("clusterid.x", v); o[16] = v;
  SREG32("nclusterid.x", v); o[17] = v;
  SREG32("cluster_ctaid.x", v); o[18] = v;
  SREG32("cluster_nctaid.x", v); o[19] = v;
  SREG32("nctaid.x", v); o[20] = v;
  SREG32("ctaid.x", v); o[21] = v;
  SREG32("ntid.x", v); o[22] = v;
  o[23] = acc | 1u;  // keep the loop
}

int main() {
  DevBuf<uint32_t> out((size_t)kBlocks * kThreads * kOut);
  k_sregs<<<kBlocks, kThreads, kDyn * 4>>>(out);
  LAUNCH_CHECK();
  auto o = out.download();
  const char* names[kOut] = {"%laneid", "%lanemask_eq", "%lanemask_lt", "%lanemask_le", "%lanemask_gt",
                             "%lanemask_ge", "%warpid < %nwarpid", "%smid < %nsmid", "%clock64 forward",
                             "%clock forward", "%globaltimer forward", "%dynamic_smem_size",
                             "%total_smem_size >= static + dynamic", "%is_explicit_cluster (no cluster)",
                             "%cluster_ctarank", "%cluster_nctarank", "%clusterid.x = %ctaid.x",
                             "%nclusterid.x = %nctaid.x", "%cluster_ctaid.x", "%cluster_nctaid.x", "%nctaid.x",
                             "%ctaid.x", "%ntid.x", "loop ran"};
  for (int k = 0; k < kOut; ++k) {
    Check ck(names[k]);
    for (int b = 0; b < kBlocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        uint32_t lane = t % 32, got = o[((size_t)b * kThreads + t) * kOut + k];
        uint32_t eq = 1u << lane, lt = eq - 1, le = lt | eq;
        long i = b * kThreads + t;
        switch (k) {
          case 0: ck.u32(i, got, lane); break;
          case 1: ck.u32(i, got, eq); break;
          case 2: ck.u32(i, got, lt); break;
          case 3: ck.u32(i, got, le); break;
          case 4: ck.u32(i, got, ~le); break;
          case 5: ck.u32(i, got, ~lt); break;
          case 11: ck.u32(i, got, kDyn * 4); break;
          case 12: ck.expect(got >= 400 + kDyn * 4 && got <= 232448, i, "total_smem_size out of range"); break;
          case 13: ck.u32(i, got, 0); break;
          case 14: ck.u32(i, got, 0); break;
          case 15: ck.u32(i, got, 1); break;
          case 16: ck.u32(i, got, (uint32_t)b); break;
          case 17: ck.u32(i, got, kBlocks); break;
          case 18: ck.u32(i, got, 0); break;
          case 19: ck.u32(i, got, 1); break;
          case 20: ck.u32(i, got, kBlocks); break;
          case 21: ck.u32(i, got, (uint32_t)b); break;
          case 22: ck.u32(i, got, kThreads); break;
          case 23: ck.expect(got & 1, i, "not written"); break;
          default: ck.u32(i, got, 1); break;  // the boolean checks
        }
      }
  }
  return finish();
}
