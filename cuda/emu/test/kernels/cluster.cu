// cluster.cu: thread-block clusters (PTX ISA 9.0 sections 9.7.13.x barrier.cluster, 9.7.9.18 mapa,
// 5.1.x .shared::cluster distributed shared memory, 10.x %cluster_* registers): CTAs of a cluster
// (__cluster_dims__ and cudaLaunchKernelEx's cluster attribute) exchange data through each other's shared
// memory between cluster barriers; the values only come out right when the CTAs of a cluster run together.
#include "common.cuh"

using namespace kt;

constexpr int kThreads = 64;

__device__ inline uint32_t sreg_rank() { uint32_t r; asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r)); return r; }
__device__ inline uint32_t sreg_nrank() { uint32_t r; asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(r)); return r; }
__device__ inline void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release.aligned;\n\tbarrier.cluster.wait.acquire.aligned;" ::: "memory");
}

// Each CTA fills its shared buffer, then every thread reads the word of the next CTA in the cluster.
// out[block][t * 4 + 0..3] = read value, rank, nrank, clusterid.x
__device__ void exchange(uint32_t* out) {
  __shared__ uint32_t buf[kThreads];
  int t = threadIdx.x;
  uint32_t rank = sreg_rank(), n = sreg_nrank(), cid;
  asm volatile("mov.u32 %0, %%clusterid.x;" : "=r"(cid));
  buf[t] = blockIdx.x * 1000u + (uint32_t)t;
  cluster_sync();
  uint32_t peer = (rank + 1) % n, local = (uint32_t)__cvta_generic_to_shared(&buf[(t + 1) % kThreads]), remote, v;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(local), "r"(peer));
  asm volatile("ld.shared::cluster.u32 %0, [%1];" : "=r"(v) : "r"(remote) : "memory");
  cluster_sync();  // the peer's shared memory stays alive until every read is done
  uint32_t* o = out + (size_t)blockIdx.x * kThreads * 4 + t * 4;
  o[0] = v;
  o[1] = rank;
  o[2] = n;
  o[3] = cid;
}

__global__ void __cluster_dims__(2, 1, 1) k_static(uint32_t* out) { exchange(out); }
__global__ void k_dynamic(uint32_t* out) { exchange(out); }

static void check(const char* name, const std::vector<uint32_t>& o, int blocks, int csize) {
  Check ck(name);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < kThreads; ++t) {
      int rank = b % csize, peer_block = b - rank + (rank + 1) % csize;
      const uint32_t* w = &o[(size_t)b * kThreads * 4 + t * 4];
      uint32_t want[4] = {(uint32_t)peer_block * 1000u + (uint32_t)((t + 1) % kThreads), (uint32_t)rank, (uint32_t)csize,
                          (uint32_t)(b / csize)};
      bool ok = true;
      for (int k = 0; k < 4; ++k) ok &= w[k] == want[k];
      if (ok) ck.ok();
      else ck.fail(b * kThreads + t, "got %u %u %u %u want %u %u %u %u", w[0], w[1], w[2], w[3], want[0], want[1], want[2], want[3]);
    }
}

int main() {
  {
    const int blocks = 6;
    DevBuf<uint32_t> out((size_t)blocks * kThreads * 4);
    k_static<<<blocks, kThreads>>>(out);
    LAUNCH_CHECK();
    check("__cluster_dims__(2,1,1): mapa + ld.shared::cluster between cluster barriers", out.download(), blocks, 2);
  }
  {
    const int blocks = 8, csize = 4;
    DevBuf<uint32_t> out((size_t)blocks * kThreads * 4);
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(kThreads);
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = csize;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    CUDA_CHECK(cudaLaunchKernelEx(&cfg, k_dynamic, out.d));
    LAUNCH_CHECK();
    check("cudaLaunchKernelEx cluster of 4: the same exchange", out.download(), blocks, csize);
  }
  return finish();
}
