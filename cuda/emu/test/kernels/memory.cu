// memory.cu: data movement (PTX ISA 9.0 sections 9.7.9.8 ld, 9.7.9.9 ld.global.nc, 9.7.9.10 st, 9.7.9.16
// cvta, 9.7.9.15 isspacep, 5.1 state spaces): ld/st of every width and vector shape in .global, .shared,
// .local and generic addressing, sign/zero extension of narrow loads, the cache operators (.ca .cg .cs
// .lu .cv .nc; .wb .cg .cs .wt), .const and .param reads, __constant__ and __device__ variables through
// cudaMemcpyToSymbol / FromSymbol, and dynamic shared memory above 48 KB (cudaFuncSetAttribute).
#include "common.cuh"

using namespace kt;

// ---- global: each mode copies 16 bytes per thread with one access shape ----
constexpr int kThreads = 128, kModes = 14;
const char* kModeNames[] = {"ld/st.global.u8", "ld/st.global.u16", "ld/st.global.u32", "ld/st.global.u64",
                            "ld/st.global.v2.u32", "ld/st.global.v4.u32", "ld/st.global.v2.u64",
                            "ld/st.global.v4.u16", "ld/st.global.v2.u8 (x8)", "ld.global.nc.v4.u32 / st.global.cs",
                            "ld.global.cg.u32 / st.global.cg", "ld.global.ca.u64 / st.global.wt",
                            "ld.global.cs.v2.f32 / st.global.wb", "ld.global.lu.u32 / ld.global.cv / st.global.v4.f32"};

__global__ void k_global(const uint8_t* src, uint8_t* dst) {
  int t = threadIdx.x;
  for (int m = 0; m < kModes; ++m) {
    const uint8_t* s = src + (size_t)m * kThreads * 16 + t * 16;
    uint8_t* d = dst + (size_t)m * kThreads * 16 + t * 16;
    switch (m) {
      case 0:
        for (int k = 0; k < 16; ++k) {
          unsigned short v;
          asm volatile("ld.global.u8 %0, [%1];" : "=h"(v) : "l"(s + k));
          asm volatile("st.global.u8 [%0], %1;" :: "l"(d + k), "h"(v) : "memory");
        }
        break;
      case 1:
        for (int k = 0; k < 16; k += 2) {
          unsigned short v;
          asm volatile("ld.global.u16 %0, [%1];" : "=h"(v) : "l"(s + k));
          asm volatile("st.global.u16 [%0], %1;" :: "l"(d + k), "h"(v) : "memory");
        }
        break;
      case 2:
        for (int k = 0; k < 16; k += 4) {
          uint32_t v;
          asm volatile("ld.global.u32 %0, [%1];" : "=r"(v) : "l"(s + k));
          asm volatile("st.global.u32 [%0], %1;" :: "l"(d + k), "r"(v) : "memory");
        }
        break;
      case 3:
        for (int k = 0; k < 16; k += 8) {
          uint64_t v;
          asm volatile("ld.global.u64 %0, [%1];" : "=l"(v) : "l"(s + k));
          asm volatile("st.global.u64 [%0], %1;" :: "l"(d + k), "l"(v) : "memory");
        }
        break;
      case 4:
        for (int k = 0; k < 16; k += 8) {
          uint32_t a, b;
          asm volatile("ld.global.v2.u32 {%0, %1}, [%2];" : "=r"(a), "=r"(b) : "l"(s + k));
          asm volatile("st.global.v2.u32 [%0], {%1, %2};" :: "l"(d + k), "r"(a), "r"(b) : "memory");
        }
        break;
      case 5: {
        uint32_t a, b, c, e;
        asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(e) : "l"(s));
        asm volatile("st.global.v4.u32 [%0], {%1, %2, %3, %4};" :: "l"(d), "r"(a), "r"(b), "r"(c), "r"(e) : "memory");
        break;
      }
      case 6: {
        uint64_t a, b;
        asm volatile("ld.global.v2.u64 {%0, %1}, [%2];" : "=l"(a), "=l"(b) : "l"(s));
        asm volatile("st.global.v2.u64 [%0], {%1, %2};" :: "l"(d), "l"(a), "l"(b) : "memory");
        break;
      }
      case 7:
        for (int k = 0; k < 16; k += 8) {
          unsigned short a, b, c, e;
          asm volatile("ld.global.v4.u16 {%0, %1, %2, %3}, [%4];" : "=h"(a), "=h"(b), "=h"(c), "=h"(e) : "l"(s + k));
          asm volatile("st.global.v4.u16 [%0], {%1, %2, %3, %4};" :: "l"(d + k), "h"(a), "h"(b), "h"(c), "h"(e) : "memory");
        }
        break;
      case 8:
        for (int k = 0; k < 16; k += 2) {
          unsigned short a, b;
          asm volatile("ld.global.v2.u8 {%0, %1}, [%2];" : "=h"(a), "=h"(b) : "l"(s + k));
          asm volatile("st.global.v2.u8 [%0], {%1, %2};" :: "l"(d + k), "h"(a), "h"(b) : "memory");
        }
        break;
      case 9: {
        uint32_t a, b, c, e;
        asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(e) : "l"(s));
        asm volatile("st.global.cs.v4.u32 [%0], {%1, %2, %3, %4};" :: "l"(d), "r"(a), "r"(b), "r"(c), "r"(e) : "memory");
        break;
      }
      case 10:
        for (int k = 0; k < 16; k += 4) {
          uint32_t v;
          asm volatile("ld.global.cg.u32 %0, [%1];" : "=r"(v) : "l"(s + k));
          asm volatile("st.global.cg.u32 [%0], %1;" :: "l"(d + k), "r"(v) : "memory");
        }
        break;
      case 11:
        for (int k = 0; k < 16; k += 8) {
          uint64_t v;
          asm volatile("ld.global.ca.u64 %0, [%1];" : "=l"(v) : "l"(s + k));
          asm volatile("st.global.wt.u64 [%0], %1;" :: "l"(d + k), "l"(v) : "memory");
        }
        break;
      case 12:
        for (int k = 0; k < 16; k += 8) {
          float a, b;
          asm volatile("ld.global.cs.v2.f32 {%0, %1}, [%2];" : "=f"(a), "=f"(b) : "l"(s + k));
          asm volatile("st.global.wb.v2.f32 [%0], {%1, %2};" :: "l"(d + k), "f"(a), "f"(b) : "memory");
        }
        break;
      case 13: {
        uint32_t a, b;
        float c, e;  // f32 moves keep every bit pattern (NaN payloads included)
        asm volatile("ld.global.lu.u32 %0, [%1];" : "=r"(a) : "l"(s));
        asm volatile("ld.global.cv.u32 %0, [%1];" : "=r"(b) : "l"(s + 4));
        asm volatile("ld.global.nc.f32 %0, [%1];" : "=f"(c) : "l"(s + 8));
        asm volatile("ld.global.f32 %0, [%1];" : "=f"(e) : "l"(s + 12));
        asm volatile("st.global.v4.f32 [%0], {%1, %2, %3, %4};" :: "l"(d), "f"(__uint_as_float(a)),
                     "f"(__uint_as_float(b)), "f"(c), "f"(e) : "memory");
        break;
      }
    }
  }
}

// Narrow loads extend into wider registers: out[t*8 + 0..7]
__global__ void k_extend(const uint8_t* src, uint64_t* out) {
  int t = threadIdx.x;
  const uint8_t* s = src + t * 8;
  uint32_t r;
  uint64_t l;
  asm volatile("ld.global.s8 %0, [%1];" : "=r"(r) : "l"(s)); out[t * 8 + 0] = r;
  asm volatile("ld.global.u8 %0, [%1];" : "=r"(r) : "l"(s + 1)); out[t * 8 + 1] = r;
  asm volatile("ld.global.s16 %0, [%1];" : "=r"(r) : "l"(s + 2)); out[t * 8 + 2] = r;
  asm volatile("ld.global.u16 %0, [%1];" : "=r"(r) : "l"(s + 2)); out[t * 8 + 3] = r;
  asm volatile("ld.global.s32 %0, [%1];" : "=l"(l) : "l"(s + 4)); out[t * 8 + 4] = l;
  asm volatile("ld.global.u32 %0, [%1];" : "=l"(l) : "l"(s + 4)); out[t * 8 + 5] = l;
  asm volatile("ld.global.s8 %0, [%1];" : "=l"(l) : "l"(s + 7)); out[t * 8 + 6] = l;
  asm volatile("ld.global.s16 %0, [%1];" : "=l"(l) : "l"(s + 6)); out[t * 8 + 7] = l;
}

// Generic (no state space) vector accesses on global memory: ld.v2.f32, ld.v4.u32, st.v2.u32, st.v4.f32.
__global__ void k_generic_vec(const uint32_t* src, uint32_t* dst) {
  int t = threadIdx.x;
  const uint32_t* s = src + t * 8;
  uint32_t* d = dst + t * 8;
  float f0, f1;
  uint32_t a, b, c, e;
  asm volatile("ld.v2.f32 {%0, %1}, [%2];" : "=f"(f0), "=f"(f1) : "l"(s));
  asm volatile("ld.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(e) : "l"(s + 4));
  asm volatile("st.v2.u32 [%0], {%1, %2};" :: "l"(d), "r"(__float_as_uint(f0)), "r"(__float_as_uint(f1)) : "memory");
  asm volatile("st.v4.f32 [%0], {%1, %2, %3, %4};" :: "l"(d + 4), "f"(__uint_as_float(a)), "f"(__uint_as_float(b)),
               "f"(__uint_as_float(c)), "f"(__uint_as_float(e)) : "memory");
}

// ---- shared, generic, local ----
// out per thread (u64): 0 ld.shared.u32 of a word written by another thread byte by byte, 1 the same
// through a generic pointer (cvta.shared), 2 ld.shared.v2.u32 (lo | hi << 32), 3 ld.shared.v4.u32 xor,
// 4 isspacep.shared(generic shared), 5 isspacep.global(generic shared), 6 isspacep.global(global ptr),
// 7 cvta.to.shared(cvta.shared(x)) == x, 8 local array round trip through st.local/ld.local, 9 the same
// through a generic local pointer, 10 isspacep.local, 11 ld.shared.u8 sign check (ld.shared.s8)
// (4, 5, 6, 10 only in k_shared<true>, launched last: an unsupported isspacep cannot hide the rest.)
constexpr int kSharedOut = 12;
template <bool kSpaces>
__global__ void k_shared(const uint32_t* in, uint64_t* out, const uint32_t* idx) {
  __shared__ __align__(16) uint8_t sm[kThreads * 16];
  int t = threadIdx.x;
  uint32_t sbase = (uint32_t)__cvta_generic_to_shared(sm);
  // byte stores: thread t writes bytes of word t
  uint32_t w = in[t];
  for (int k = 0; k < 4; ++k)
    asm volatile("st.shared.u8 [%0], %1;" :: "r"(sbase + t * 4 + k), "h"((unsigned short)((w >> (8 * k)) & 0xFF)) : "memory");
  // 16-bit and vector stores in the upper part
  asm volatile("st.shared.v2.u32 [%0], {%1, %2};" :: "r"(sbase + kThreads * 4 + t * 8), "r"(w), "r"(~w) : "memory");
  __syncthreads();
  if (t == 0)
    asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};" :: "r"(sbase + kThreads * 12), "r"(0x11111111u),
                 "r"(0x22222222u), "r"(0x44444444u), "r"(0x88888888u) : "memory");
  __syncthreads();
  int o = (t * 37 + 11) % kThreads;  // another thread's word
  uint64_t* res = out + t * kSharedOut;
  uint32_t r, a, b, c, d;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(r) : "r"(sbase + o * 4)); res[0] = r;
  uint64_t gen;
  asm volatile("cvta.shared.u64 %0, %1;" : "=l"(gen) : "l"((uint64_t)(sbase + o * 4)));
  asm volatile("ld.u32 %0, [%1];" : "=r"(r) : "l"(gen)); res[1] = r;
  asm volatile("ld.shared.v2.u32 {%0, %1}, [%2];" : "=r"(a), "=r"(b) : "r"(sbase + kThreads * 4 + o * 8));
  res[2] = a | ((uint64_t)b << 32);
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(a), "=r"(b), "=r"(c), "=r"(d) : "r"(sbase + kThreads * 12));
  res[3] = a ^ b ^ c ^ d;
  uint32_t p;
  if (kSpaces) {
    asm volatile("{ .reg .pred q; isspacep.shared q, %1; selp.u32 %0, 1, 0, q; }" : "=r"(p) : "l"(gen)); res[4] = p;
    asm volatile("{ .reg .pred q; isspacep.global q, %1; selp.u32 %0, 1, 0, q; }" : "=r"(p) : "l"(gen)); res[5] = p;
    asm volatile("{ .reg .pred q; isspacep.global q, %1; selp.u32 %0, 1, 0, q; }" : "=r"(p) : "l"(in)); res[6] = p;
  }
  uint64_t back;
  asm volatile("cvta.to.shared.u64 %0, %1;" : "=l"(back) : "l"(gen));
  res[7] = back == (uint64_t)(sbase + o * 4);
  // local memory: a dynamically indexed array lives in .local
  uint32_t loc[32];
  for (int k = 0; k < 32; ++k) loc[k] = w * (uint32_t)(k + 1);
  uint64_t lg = (uint64_t)(&loc[idx[t] & 31]);
  uint64_t la;
  asm volatile("cvta.to.local.u64 %0, %1;" : "=l"(la) : "l"(lg));
  asm volatile("st.local.u32 [%0], %1;" :: "l"(la), "r"(w ^ 0x5A5A5A5Au) : "memory");
  asm volatile("ld.local.u32 %0, [%1];" : "=r"(r) : "l"(la)); res[8] = r;
  res[9] = loc[(idx[t] + 1) & 31];
  if (kSpaces) {
    asm volatile("{ .reg .pred q; isspacep.local q, %1; selp.u32 %0, 1, 0, q; }" : "=r"(p) : "l"(lg)); res[10] = p;
  }
  int32_t sv;
  asm volatile("ld.shared.s8 %0, [%1];" : "=r"(sv) : "r"(sbase + o * 4 + 3)); res[11] = (uint64_t)(int64_t)sv;
}

// ---- const, device variables, param ----
__constant__ uint32_t c_table[256];
__constant__ double c_scale;
__device__ uint32_t d_words[64];
__device__ unsigned long long d_total;
// module-scope variables with initialisers in the PTX: the emulator must load them
__device__ uint32_t d_init[6] = {1u, 0xFFFFFFFFu, 0x80000000u, 12345u, 0u, 0xDEADBEEFu};
__constant__ float c_init[4] = {1.5f, -2.25f, 3.0e38f, 1.0e-40f};
__constant__ uint16_t c_small[3] = {0xBEEF, 7, 0x8000};
__device__ double d_dbl = -0.125;
__global__ void k_init(uint32_t* out) {
  int t = threadIdx.x;
  if (t < 6) out[t] = d_init[t];
  if (t < 4) out[6 + t] = __float_as_uint(c_init[t]);
  if (t < 3) out[10 + t] = c_small[t];
  if (t == 0) { out[13] = (uint32_t)__double_as_longlong(d_dbl); out[14] = (uint32_t)(__double_as_longlong(d_dbl) >> 32); }
}

struct BigParam {
  uint32_t words[40];
  double dbl;
  uint8_t bytes[7];
  uint16_t half;
};
__global__ void k_const(const uint32_t* idx, uint32_t* out, BigParam bp) {
  int t = threadIdx.x;
  uint32_t i = idx[t] & 255;
  out[t * 4 + 0] = c_table[i];                                  // ld.const
  out[t * 4 + 1] = (uint32_t)(int32_t)(c_scale * (double)d_words[t & 63]);
  out[t * 4 + 2] = bp.words[i % 40] + bp.bytes[t % 7] + bp.half;  // ld.param
  out[t * 4 + 3] = (uint32_t)(bp.dbl * 4.0);
  if (t < 64) atomicAdd(&d_total, (unsigned long long)d_words[t]);
}

// ---- dynamic shared memory above 48 KB ----
__global__ void k_dyn(uint32_t* out, int words) {
  extern __shared__ uint32_t dyn[];
  int t = threadIdx.x, nt = blockDim.x;
  for (int k = t; k < words; k += nt) dyn[k] = (uint32_t)k * 2654435761u;
  __syncthreads();
  uint32_t acc = 0;
  for (int k = nt - 1 - t; k < words; k += nt) acc += dyn[k] ^ (uint32_t)t;  // read what others wrote
  out[blockIdx.x * nt + t] = acc;
  // the last word: written and read through the generic address
  if (t == 0) out[gridDim.x * nt + blockIdx.x] = dyn[words - 1];
}

int main() {
  Rng g(0x3E3);
  // global
  {
    size_t bytes = (size_t)kModes * kThreads * 16;
    std::vector<uint8_t> src(bytes);
    for (auto& b : src) b = (uint8_t)g.u32();
    DevBuf<uint8_t> ds(src), dd(bytes);
    k_global<<<1, kThreads>>>(ds, dd);
    LAUNCH_CHECK();
    auto d = dd.download();
    for (int m = 0; m < kModes; ++m) {
      Check ck(kModeNames[m]);
      for (size_t k = (size_t)m * kThreads * 16; k < (size_t)(m + 1) * kThreads * 16; ++k)
        ck.u32((long)k, d[k], src[k]);
    }
    std::vector<uint8_t> e(kThreads * 8);
    for (auto& b : e) b = (uint8_t)g.u32();
    for (int t = 0; t < 8; ++t) { e[t * 8] = 0x80 | t; e[t * 8 + 3] = 0x80; e[t * 8 + 7] = 0xFF; }  // negative
    DevBuf<uint8_t> de(e);
    DevBuf<uint64_t> dout(kThreads * 8);
    k_extend<<<1, kThreads>>>(de, dout);
    LAUNCH_CHECK();
    auto o = dout.download();
    Check ck("ld.global.{s8,u8,s16,u16,s32,u32} sign/zero extension into wider registers");
    for (int t = 0; t < kThreads; ++t) {
      const uint8_t* s = &e[t * 8];
      int16_t s16 = (int16_t)(s[2] | (s[3] << 8));
      uint16_t u16 = (uint16_t)(s[2] | (s[3] << 8));
      uint32_t w32 = s[4] | (s[5] << 8) | (s[6] << 16) | ((uint32_t)s[7] << 24);
      int16_t s16b = (int16_t)(s[6] | (s[7] << 8));
      uint64_t want[8] = {(uint32_t)(int32_t)(int8_t)s[0], s[1], (uint32_t)(int32_t)s16, u16,
                          (uint64_t)(int64_t)(int32_t)w32, w32, (uint64_t)(int64_t)(int8_t)s[7],
                          (uint64_t)(int64_t)s16b};
      for (int k = 0; k < 8; ++k) ck.u64(t * 8 + k, o[t * 8 + k], want[k]);
    }
  }
  {
    std::vector<uint32_t> src(kThreads * 8);
    for (auto& v : src) v = g.u32();
    DevBuf<uint32_t> ds(src), dd(kThreads * 8);
    k_generic_vec<<<1, kThreads>>>(ds, dd);
    LAUNCH_CHECK();
    auto d = dd.download();
    Check ck("generic ld.v2.f32 / ld.v4.u32 / st.v2.u32 / st.v4.f32 on global memory");
    for (int i = 0; i < kThreads * 8; ++i) ck.u32(i, d[i], (i % 8 == 2 || i % 8 == 3) ? 0xFFFFFFFFu : src[i]);  // 2, 3: untouched
  }
  // shared / generic / local (isspacep last)
  auto shared_test = [&](bool spaces) {
    std::vector<uint32_t> in(kThreads), idx(kThreads);
    for (int t = 0; t < kThreads; ++t) { in[t] = g.u32(); idx[t] = g.u32(); }
    DevBuf<uint32_t> din(in), didx(idx);
    DevBuf<uint64_t> out(kThreads * kSharedOut);
    if (spaces) k_shared<true><<<1, kThreads>>>(din, out, didx);
    else k_shared<false><<<1, kThreads>>>(din, out, didx);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* names[kSharedOut] = {"st.shared.u8 then ld.shared.u32 (another thread)", "ld generic via cvta.shared",
                                     "st/ld.shared.v2.u32", "st/ld.shared.v4.u32", "isspacep.shared (shared)",
                                     "isspacep.global (shared)", "isspacep.global (global)", "cvta.to.shared round trip",
                                     "st.local/ld.local (cvta.to.local)", "local array through a generic pointer",
                                     "isspacep.local (local)", "ld.shared.s8 sign extension"};
    for (int k = 0; k < kSharedOut; ++k) {
      if (spaces != (k == 4 || k == 5 || k == 6 || k == 10)) continue;
      Check ck(names[k]);
      for (int t = 0; t < kThreads; ++t) {
        int ot = (t * 37 + 11) % kThreads;
        uint32_t w = in[t], wo = in[ot];
        uint64_t want = 0;
        switch (k) {
          case 0: case 1: want = wo; break;
          case 2: want = wo | ((uint64_t)(~wo) << 32); break;
          case 3: want = 0x11111111u ^ 0x22222222u ^ 0x44444444u ^ 0x88888888u; break;
          case 4: want = 1; break;
          case 5: want = 0; break;
          case 6: want = 1; break;
          case 7: want = 1; break;
          case 8: want = w ^ 0x5A5A5A5Au; break;
          case 9: {
            uint32_t j = (idx[t] + 1) & 31;
            want = (j == (idx[t] & 31)) ? (w ^ 0x5A5A5A5Au) : w * (j + 1);
            break;
          }
          case 10: want = 1; break;
          case 11: want = (uint64_t)(int64_t)(int8_t)(wo >> 24); break;
        }
        ck.u64(t, o[t * kSharedOut + k], want);
      }
    }
  };
  shared_test(false);
  // const / device variables / param
  {
    std::vector<uint32_t> table(256), words(64), idx(kThreads);
    for (auto& v : table) v = g.u32();
    for (auto& v : words) v = g.below(100000);
    for (auto& v : idx) v = g.u32();
    double scale = 2.5;
    CUDA_CHECK(cudaMemcpyToSymbol(c_table, table.data(), 256 * 4));
    CUDA_CHECK(cudaMemcpyToSymbol(c_scale, &scale, 8));
    CUDA_CHECK(cudaMemcpyToSymbol(d_words, words.data(), 64 * 4));
    unsigned long long zero = 0;
    CUDA_CHECK(cudaMemcpyToSymbol(d_total, &zero, 8));
    BigParam bp;
    std::memset(&bp, 0, sizeof bp);
    for (int k = 0; k < 40; ++k) bp.words[k] = g.u32();
    for (int k = 0; k < 7; ++k) bp.bytes[k] = (uint8_t)g.u32();
    bp.half = 0xBEEF;
    bp.dbl = 1234.25;
    DevBuf<uint32_t> didx(idx), out(kThreads * 4);
    k_const<<<1, kThreads>>>(didx, out, bp);
    LAUNCH_CHECK();
    auto o = out.download();
    Check cc("ld.const (__constant__ table, cudaMemcpyToSymbol)"), cd("__device__ variable and __constant__ double"),
        cp("ld.param (struct by value)"), cq("ld.param f64");
    for (int t = 0; t < kThreads; ++t) {
      uint32_t i = idx[t] & 255;
      cc.u32(t, o[t * 4 + 0], table[i]);
      cd.u32(t, o[t * 4 + 1], (uint32_t)(int32_t)(scale * words[t & 63]));
      cp.u32(t, o[t * 4 + 2], bp.words[i % 40] + bp.bytes[t % 7] + bp.half);
      cq.u32(t, o[t * 4 + 3], (uint32_t)(bp.dbl * 4.0));
    }
    unsigned long long total = 0, want = 0;
    for (auto v : words) want += v;
    CUDA_CHECK(cudaMemcpyFromSymbol(&total, d_total, 8));
    Check ct("__device__ variable written by the kernel (cudaMemcpyFromSymbol)");
    ct.u64(0, total, want);
    void* addr = nullptr;
    CUDA_CHECK(cudaGetSymbolAddress(&addr, d_words));
    std::vector<uint32_t> back(64);
    CUDA_CHECK(cudaMemcpy(back.data(), addr, 64 * 4, cudaMemcpyDeviceToHost));
    Check ca("cudaGetSymbolAddress of a __device__ array");
    for (int k = 0; k < 64; ++k) ca.u32(k, back[k], words[k]);
  }
  // initialised module-scope variables
  {
    DevBuf<uint32_t> out(15);
    k_init<<<1, 32>>>(out);
    LAUNCH_CHECK();
    auto o = out.download();
    const double dd = -0.125;
    uint64_t db = dbits(dd);
    const uint32_t want[15] = {1u, 0xFFFFFFFFu, 0x80000000u, 12345u, 0u, 0xDEADBEEFu, fbits(1.5f), fbits(-2.25f),
                               fbits(3.0e38f), fbits(1.0e-40f), 0xBEEF, 7, 0x8000, (uint32_t)db, (uint32_t)(db >> 32)};
    Check ck("__device__ / __constant__ variables with initialisers");
    for (int k = 0; k < 15; ++k) ck.u32(k, o[k], want[k]);
  }
  // dynamic shared memory above 48 KB
  {
    const int words = 150 * 1024 / 4, threads = 256, blocks = 3;
    CUDA_CHECK(cudaFuncSetAttribute(k_dyn, cudaFuncAttributeMaxDynamicSharedMemorySize, words * 4));
    DevBuf<uint32_t> out(threads * blocks + blocks);
    k_dyn<<<blocks, threads, words * 4>>>(out, words);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("150 KB of dynamic shared memory (cudaFuncSetAttribute)");
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < threads; ++t) {
        uint32_t acc = 0;
        for (int k = threads - 1 - t; k < words; k += threads) acc += ((uint32_t)k * 2654435761u) ^ (uint32_t)t;
        ck.u32(b * threads + t, o[b * threads + t], acc);
      }
    for (int b = 0; b < blocks; ++b) ck.u32(blocks * threads + b, o[blocks * threads + b], (uint32_t)(words - 1) * 2654435761u);
  }
  shared_test(true);
  return finish();
}
