// async_copy.cu: asynchronous copies and the mbarrier object (PTX ISA 9.0 sections 9.7.9.25 cp.async with
// cp-size 4/8/16 and src-size zero fill, cp.async.commit_group / wait_group / wait_all, 9.7.9.25.4
// cp.async.bulk global->shared with mbarrier::complete_tx, 9.7.13.15 mbarrier init / arrive /
// arrive.expect_tx / try_wait.parity over several phases): data that is only right when the copies and
// phases complete in order, checked on the host.
#include "common.cuh"

using namespace kt;

constexpr int kThreads = 128, kBlocks = 2;

__device__ inline uint32_t smem(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 1. cp.async: thread t copies 16 bytes of row t with three cp-sizes and a partial (zero-filled) copy.
//    out[b][t][16 words]: words 0-3 via 4+4+8-byte copies (.ca), 4-7 one 16-byte .cg copy, 8-11 a 16-byte
//    copy with src-size t % 17 (the rest zero), 12-15 read from another thread's row after the barrier.
__global__ void k_cpasync(const uint32_t* src, uint32_t* out) {
  __shared__ __align__(16) uint32_t sm[kThreads * 16];
  int t = threadIdx.x;
  const uint32_t* s = src + ((size_t)blockIdx.x * kThreads + t) * 16;
  uint32_t* d = sm + t * 16;
  for (int k = 0; k < 16; ++k) d[k] = 0xDEADBEEFu;  // visible garbage that the zero fill must replace
  __syncthreads();
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"(smem(d + 0)), "l"(s + 0) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" :: "r"(smem(d + 1)), "l"(s + 1) : "memory");
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;" :: "r"(smem(d + 2)), "l"(s + 2) : "memory");
  asm volatile("cp.async.commit_group;" ::: "memory");
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" :: "r"(smem(d + 4)), "l"(s + 4) : "memory");
  asm volatile("cp.async.commit_group;" ::: "memory");
  uint32_t srcsize = (uint32_t)(t % 17);
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(smem(d + 8)), "l"(s + 8), "r"(srcsize) : "memory");
  asm volatile("cp.async.commit_group;" ::: "memory");
  asm volatile("cp.async.wait_group 1;" ::: "memory");  // the first two groups are complete
  uint32_t early[8];
  for (int k = 0; k < 8; ++k) early[k] = d[k];
  asm volatile("cp.async.wait_all;" ::: "memory");
  __syncthreads();
  uint32_t* o = out + ((size_t)blockIdx.x * kThreads + t) * 16;
  for (int k = 0; k < 8; ++k) o[k] = early[k];
  for (int k = 8; k < 12; ++k) o[k] = d[k];
  const uint32_t* other = sm + ((t + 5) % kThreads) * 16;
  for (int k = 12; k < 16; ++k) o[k] = other[k - 8];
}

// 2. mbarrier phases: every thread arrives once per round; the round's data is read after try_wait.parity.
constexpr int kRounds = 5;
__global__ void k_mbar(const uint32_t* in, uint32_t* out) {
  __shared__ __align__(8) uint64_t bar;
  __shared__ uint32_t buf[2][kThreads];
  int t = threadIdx.x;
  if (t == 0) asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" :: "r"(smem(&bar)), "r"(kThreads) : "memory");
  __syncthreads();
  uint32_t acc = 0, parity = 0;
  for (int r = 0; r < kRounds; ++r) {
    buf[r & 1][t] = in[blockIdx.x * kThreads + t] + (uint32_t)r * 1000u;
    uint64_t state;
    asm volatile("mbarrier.arrive.shared::cta.b64 %0, [%1];" : "=l"(state) : "r"(smem(&bar)) : "memory");
    asm volatile("" :: "l"(state));  // the arrival state is not needed
    uint32_t done = 0;
    while (!done)
      asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                   : "=r"(done) : "r"(smem(&bar)), "r"(parity) : "memory");
    parity ^= 1;
    acc = acc * 7u + buf[r & 1][(t + r + 1) % kThreads];
  }
  out[blockIdx.x * kThreads + t] = acc;
}

// 3. cp.async.bulk global -> shared, completed through the mbarrier's transaction count; two phases.
constexpr int kBulkWords = 1024;  // 4 KB per phase
__global__ void k_bulk(const uint32_t* src, uint32_t* out) {
  __shared__ __align__(128) uint32_t sm[kBulkWords];
  __shared__ __align__(8) uint64_t bar;
  int t = threadIdx.x;
  if (t == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&bar)) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // init (generic proxy) -> complete_tx (async proxy)
  }
  __syncthreads();
  uint32_t sum = 0;
  for (int phase = 0; phase < 2; ++phase) {
    if (t == 0) {
      uint64_t state;
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;" : "=l"(state)
                   : "r"(smem(&bar)), "r"(kBulkWords * 4) : "memory");
      asm volatile("" :: "l"(state));  // the arrival state is not needed
      asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];"
                   :: "r"(smem(sm)), "l"(src + (size_t)(blockIdx.x * 2 + phase) * kBulkWords), "r"(kBulkWords * 4),
                      "r"(smem(&bar)) : "memory");
    }
    uint32_t done = 0;
    while (!done)
      asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                   : "=r"(done) : "r"(smem(&bar)), "r"((uint32_t)phase) : "memory");
    for (int k = t; k < kBulkWords; k += kThreads) sum += sm[k] * (uint32_t)(k + 1);
    __syncthreads();  // everyone read this phase before the next copy overwrites it
  }
  out[blockIdx.x * kThreads + t] = sum;
}

int main() {
  Rng g(0xA5C);
  {
    std::vector<uint32_t> in(kBlocks * kThreads);
    for (auto& v : in) v = g.u32();
    DevBuf<uint32_t> din(in), out(kBlocks * kThreads);
    k_mbar<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("mbarrier arrive / try_wait.parity over 5 phases");
    for (int b = 0; b < kBlocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        uint32_t acc = 0;
        for (int r = 0; r < kRounds; ++r) acc = acc * 7u + in[b * kThreads + (t + r + 1) % kThreads] + (uint32_t)r * 1000u;
        ck.u32(b * kThreads + t, o[b * kThreads + t], acc);
      }
  }
  {
    std::vector<uint32_t> src((size_t)kBlocks * 2 * kBulkWords);
    for (auto& v : src) v = g.u32();
    DevBuf<uint32_t> ds(src), out(kBlocks * kThreads);
    k_bulk<<<kBlocks, kThreads>>>(ds, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("cp.async.bulk + mbarrier expect_tx / complete_tx, two phases");
    for (int b = 0; b < kBlocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        uint32_t sum = 0;
        for (int phase = 0; phase < 2; ++phase)
          for (int k = t; k < kBulkWords; k += kThreads) sum += src[(size_t)(b * 2 + phase) * kBulkWords + k] * (uint32_t)(k + 1);
        ck.u32(b * kThreads + t, o[b * kThreads + t], sum);
      }
  }
  // cp.async last: a fault in it cannot hide the mbarrier results above
  {
    std::vector<uint32_t> src((size_t)kBlocks * kThreads * 16);
    for (auto& v : src) v = g.u32();
    DevBuf<uint32_t> ds(src), out((size_t)kBlocks * kThreads * 16);
    k_cpasync<<<kBlocks, kThreads>>>(ds, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check c1("cp.async.ca 4/8 bytes and .cg 16 bytes, wait_group 1"), c2("cp.async src-size zero fill, wait_all"),
        c3("cp.async data seen by other threads after the barrier");
    for (int b = 0; b < kBlocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        size_t i = (size_t)b * kThreads + t;
        const uint32_t* s = &src[i * 16];
        const uint32_t* w = &o[i * 16];
        for (int k = 0; k < 8; ++k) c1.u32((long)(i * 16 + k), w[k], s[k]);
        int n = t % 17;
        for (int k = 8; k < 12; ++k) {
          uint32_t want = 0;
          for (int byte = 0; byte < 4; ++byte) {
            int off = (k - 8) * 4 + byte;
            if (off < n) want |= s[k] & (0xFFu << (8 * byte));
          }
          c2.u32((long)(i * 16 + k), w[k], want);
        }
        const uint32_t* so = &src[((size_t)b * kThreads + (t + 5) % kThreads) * 16];
        for (int k = 12; k < 16; ++k) c3.u32((long)(i * 16 + k), w[k], so[k - 8]);
      }
  }
  return finish();
}
