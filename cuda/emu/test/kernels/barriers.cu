// barriers.cu: CTA barriers (PTX ISA 9.0 section 9.7.13.1 bar/barrier: bar.sync / barrier.sync with
// named barrier ids and thread counts, bar.arrive for producer/consumer hand-off, bar.red.popc/and/or
// behind __syncthreads_count/_and/_or), checked through shared-memory data that is only correct when the
// barriers order the writes and reads; several CTAs, several rounds.
#include "common.cuh"

using namespace kt;

constexpr int kThreads = 256, kBlocks = 3, kRounds = 6;

// 1. __syncthreads: a ring shift per round; out[b][t] after kRounds rounds.
__global__ void k_ring(const uint32_t* in, uint32_t* out) {
  __shared__ uint32_t buf[kThreads];
  int t = threadIdx.x;
  uint32_t v = in[blockIdx.x * kThreads + t];
  for (int r = 0; r < kRounds; ++r) {
    buf[t] = v * 3u + (uint32_t)r;
    __syncthreads();
    v = buf[(t + 1 + r) % kThreads];
    __syncthreads();
  }
  out[blockIdx.x * kThreads + t] = v;
}

// 2. named barriers with thread counts: warps 0-3 sync on barrier 1 (128 threads), warps 4-7 on barrier 2.
//    Each half reverses its values through shared memory, kRounds times.
__global__ void k_named(const uint32_t* in, uint32_t* out) {
  __shared__ uint32_t buf[kThreads];
  int t = threadIdx.x, half = t / 128, h = t % 128;
  uint32_t v = in[blockIdx.x * kThreads + t];
  for (int r = 0; r < kRounds; ++r) {
    buf[t] = v + (uint32_t)(r * 7);
    if (half == 0) asm volatile("bar.sync 1, 128;" ::: "memory");
    else asm volatile("barrier.sync 2, 128;" ::: "memory");
    v = buf[half * 128 + (127 - h)];
    if (half == 0) asm volatile("bar.sync 1, 128;" ::: "memory");
    else asm volatile("barrier.sync.aligned 2, 128;" ::: "memory");
  }
  out[blockIdx.x * kThreads + t] = v;
}

// 3. producer/consumer: warps 0-3 produce into a slot and bar.arrive on FULL (id 3), then bar.sync on EMPTY
//    (id 4); warps 4-7 bar.sync on FULL, consume, bar.arrive on EMPTY. 256 threads take part in each.
__global__ void k_pc(const uint32_t* in, uint32_t* out) {
  __shared__ uint32_t slot[128];
  int t = threadIdx.x;
  bool producer = t < 128;
  uint32_t acc = 0;
  for (int r = 0; r < kRounds; ++r) {
    if (producer) {
      if (r > 0) asm volatile("bar.sync 4, 256;" ::: "memory");  // wait until the slot was consumed
      slot[t] = in[blockIdx.x * kThreads + t] * (uint32_t)(r + 1);
      asm volatile("bar.arrive 3, 256;" ::: "memory");
    } else {
      asm volatile("bar.sync 3, 256;" ::: "memory");  // wait until the slot is full
      acc = acc * 31u + slot[(t - 128 + r) % 128];
      if (r + 1 < kRounds) asm volatile("bar.arrive 4, 256;" ::: "memory");
    }
  }
  out[blockIdx.x * kThreads + t] = producer ? 0xC0FFEEu : acc;
}

// 4. bar.red: __syncthreads_count / _and / _or; out[b][t*3 + 0..2]
__global__ void k_red(const uint32_t* in, uint32_t* out) {
  int t = threadIdx.x;
  uint32_t v = in[blockIdx.x * kThreads + t];
  int pred = (v % 3) == 0;
  int cnt = __syncthreads_count(pred);
  int all = __syncthreads_and(blockIdx.x == 1 ? 1 : pred);
  int any = __syncthreads_or(blockIdx.x == 2 ? 0 : pred);
  uint32_t popc;
  asm volatile("{ .reg .pred p; setp.ne.u32 p, %1, 0; bar.red.popc.u32 %0, 0, p; }" : "=r"(popc) : "r"(v & 1));
  out[(blockIdx.x * kThreads + t) * 4 + 0] = (uint32_t)cnt;
  out[(blockIdx.x * kThreads + t) * 4 + 1] = (uint32_t)all;
  out[(blockIdx.x * kThreads + t) * 4 + 2] = (uint32_t)any;
  out[(blockIdx.x * kThreads + t) * 4 + 3] = popc;
}

int main() {
  Rng g(0xBA55);
  std::vector<uint32_t> in(kBlocks * kThreads);
  for (auto& v : in) v = g.u32();
  DevBuf<uint32_t> din(in);
  {
    DevBuf<uint32_t> out(kBlocks * kThreads);
    k_ring<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("__syncthreads ring exchange");
    for (int b = 0; b < kBlocks; ++b) {
      std::vector<uint32_t> v(in.begin() + b * kThreads, in.begin() + (b + 1) * kThreads), buf(kThreads);
      for (int r = 0; r < kRounds; ++r) {
        for (int t = 0; t < kThreads; ++t) buf[t] = v[t] * 3u + (uint32_t)r;
        for (int t = 0; t < kThreads; ++t) v[t] = buf[(t + 1 + r) % kThreads];
      }
      for (int t = 0; t < kThreads; ++t) ck.u32(b * kThreads + t, o[b * kThreads + t], v[t]);
    }
  }
  {
    DevBuf<uint32_t> out(kBlocks * kThreads);
    k_named<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("bar.sync / barrier.sync with ids 1, 2 and 128 threads");
    for (int b = 0; b < kBlocks; ++b) {
      std::vector<uint32_t> v(in.begin() + b * kThreads, in.begin() + (b + 1) * kThreads), buf(kThreads);
      for (int r = 0; r < kRounds; ++r) {
        for (int t = 0; t < kThreads; ++t) buf[t] = v[t] + (uint32_t)(r * 7);
        for (int t = 0; t < kThreads; ++t) v[t] = buf[(t / 128) * 128 + (127 - t % 128)];
      }
      for (int t = 0; t < kThreads; ++t) ck.u32(b * kThreads + t, o[b * kThreads + t], v[t]);
    }
  }
  {
    DevBuf<uint32_t> out(kBlocks * kThreads);
    k_pc<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("bar.arrive / bar.sync producer-consumer");
    for (int b = 0; b < kBlocks; ++b)
      for (int t = 0; t < kThreads; ++t) {
        uint32_t want = 0xC0FFEEu;
        if (t >= 128) {
          want = 0;
          for (int r = 0; r < kRounds; ++r) want = want * 31u + in[b * kThreads + (t - 128 + r) % 128] * (uint32_t)(r + 1);
        }
        ck.u32(b * kThreads + t, o[b * kThreads + t], want);
      }
  }
  {
    DevBuf<uint32_t> out(kBlocks * kThreads * 4);
    k_red<<<kBlocks, kThreads>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check cc("__syncthreads_count"), ca("__syncthreads_and"), co("__syncthreads_or"), cp("bar.red.popc.u32");
    for (int b = 0; b < kBlocks; ++b) {
      uint32_t cnt = 0, pc = 0;
      for (int t = 0; t < kThreads; ++t) { cnt += in[b * kThreads + t] % 3 == 0; pc += in[b * kThreads + t] & 1; }
      uint32_t all = b == 1 ? 1 : cnt == (uint32_t)kThreads, any = b == 2 ? 0 : cnt > 0;
      for (int t = 0; t < kThreads; ++t) {
        size_t i = (size_t)(b * kThreads + t) * 4;
        cc.u32(b * kThreads + t, o[i], cnt);
        ca.u32(b * kThreads + t, o[i + 1] != 0, all);
        co.u32(b * kThreads + t, o[i + 2] != 0, any);
        cp.u32(b * kThreads + t, o[i + 3], pc);
      }
    }
  }
  return finish();
}
