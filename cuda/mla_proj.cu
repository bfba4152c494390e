// CUDA kernels of the MLA projections around the attention (twins of native/cpu/mla_proj.cc): the
// down-projection epilogue (RMSNorm of c_q and c_kv, RoPE of k_pe, the paged-cache write), the absorbed
// query (q_nope @ W_UK, RoPE of q_pe) and the output (o_latent @ W_UV^T). Loads, stores and reductions
// are cuda/codec.cuh's; RoPE is cuda/rope.cuh's, the same bits as cuda/rope.cu.
// UNVERIFIED ON A GPU: written and compiled (sm_90a) on a machine without one; test/gpu/mla.gpu.test.ts
// checks every kernel against the CPU backend.
//
// mla_bgemm_kernel: per-head GEMMs of the absorption (q_nope @ W_UK) and the output (o_latent @ W_UV^T),
// 64x64 tiles, f32 FMAs; bound by FLOPs 2*t*h*nope*r (t*16.8 MFLOP for V3) once t >= ~64, else by the
// weight read (h*nope*r*2 B = 16 MiB bf16 per layer and projection).
// mla_down_epilogue_kernel: one CTA per token; bytes: t*(q_lora + r + p)*(in + out) elements, HBM-bound.
#include <algorithm>
#include <cmath>

#include "cuda/codec.cuh"
#include "cuda/common.cuh"
#include "cuda/mla.h"
#include "cuda/rope.cuh"

namespace dsv3::cuda {
namespace {

__device__ __forceinline__ int64_t position(const void* pos, DType t, int64_t i) {
  return t == DType::i64 ? static_cast<const int64_t*>(pos)[i] : static_cast<const int32_t*>(pos)[i];
}
// The pair (x0, x1) at position pos rotated as cuda/rope.cu does (cuda/rope.cuh).
__device__ __forceinline__ float2 rope_pair(float x0, float x1, int64_t pos, float inv_freq) {
  return rope_rotate(x0, x1, rope_cos_sin(pos, inv_freq));
}

// One CTA of 256 threads per token; the sums of squares are reduced as cuda/norm.cu's (codec.cuh block_sum).
__global__ void __launch_bounds__(256) mla_down_epilogue_kernel(const MlaDownEpilogueParams p) {
  __shared__ float red[32];
  const int64_t i = blockIdx.x, width = p.q_lora + p.r + p.p;
  const size_t base = static_cast<size_t>(i * width);
  if (p.q_lora > 0) {
    float ss = 0.f;
    for (int64_t j = threadIdx.x; j < p.q_lora; j += blockDim.x) { const float x = load_f32_bf16(p.qkv, p.qkv_dtype, base + j); ss += x * x; }
    const float rn = 1.0f / sqrtf(block_sum(ss, red) / static_cast<float>(p.q_lora) + p.eps);
    for (int64_t j = threadIdx.x; j < p.q_lora; j += blockDim.x)
      store_f32_bf16(p.cq, p.cq_dtype, static_cast<size_t>(i * p.q_lora + j), p.q_norm[j] * (load_f32_bf16(p.qkv, p.qkv_dtype, base + j) * rn));
  }
  const int64_t slot = p.slot_mapping[i];
  if (slot < 0 || slot >= p.num_slots) return;  // uniform across the CTA
  const size_t kvb = base + p.q_lora, row = static_cast<size_t>(slot * (p.r + p.p));
  float ss = 0.f;
  for (int64_t j = threadIdx.x; j < p.r; j += blockDim.x) { const float x = load_f32_bf16(p.qkv, p.qkv_dtype, kvb + j); ss += x * x; }
  const float rn = 1.0f / sqrtf(block_sum(ss, red) / static_cast<float>(p.r) + p.eps);
  for (int64_t j = threadIdx.x; j < p.r; j += blockDim.x)
    store_f32_bf16(p.kv_cache, p.kv_dtype, row + j, p.kv_norm[j] * (load_f32_bf16(p.qkv, p.qkv_dtype, kvb + j) * rn));
  const int64_t pos = position(p.positions, p.positions_dtype, i);
  for (int64_t k = threadIdx.x; k < p.p / 2; k += blockDim.x) {
    const float2 y = rope_pair(load_f32_bf16(p.qkv, p.qkv_dtype, kvb + p.r + 2 * k), load_f32_bf16(p.qkv, p.qkv_dtype, kvb + p.r + 2 * k + 1), pos, p.inv_freq[k]);
    store_f32_bf16(p.kv_cache, p.kv_dtype, row + p.r + 2 * k, y.x);
    store_f32_bf16(p.kv_cache, p.kv_dtype, row + p.r + 2 * k + 1, y.y);
  }
}

// q_pe[i, hh] = rope(q[i, hh, nope:]); one thread per (row, pair).
__global__ void mla_rope_q_kernel(const MlaAbsorbQParams p) {
  const int64_t half = p.p / 2, n = p.t * p.h * half;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n; e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = e / half, k = e % half, i = row / p.h;
    const size_t src = static_cast<size_t>(row * (p.nope + p.p) + p.nope + 2 * k);
    const float2 y = rope_pair(load_f32_bf16(p.q, p.q_dtype, src), load_f32_bf16(p.q, p.q_dtype, src + 1), position(p.positions, p.positions_dtype, i), p.inv_freq[k]);
    store_f32_bf16(p.q_pe, p.out_dtype, static_cast<size_t>(row * p.p + 2 * k), y.x);
    store_f32_bf16(p.q_pe, p.out_dtype, static_cast<size_t>(row * p.p + 2 * k + 1), y.y);
  }
}

// ---- per-head batched GEMM: C[hh](i, j) = sum_k A[hh](i, k) B[hh](k, j), f32 accumulation ----
struct BGemm {
  const void* a; DType ta; int64_t a_h, a_i;           // A(i, k) = a[hh*a_h + i*a_i + k]
  const void* b; DType tb; int64_t b_h, b_k, b_j;      // B(k, j) = b[hh*b_h + k*b_k + j*b_j]; b_k == 1 or b_j == 1
  void* c; DType tc; int64_t c_h, c_i;                 // C(i, j) = c[hh*c_h + i*c_i + j]
  int64_t m, n, k;
};
constexpr int kBM = 64, kBN = 64, kBK = 16;

// grid (ceil(n/64), ceil(m/64), heads), 256 threads, each a 4x4 block of C. k runs in order (the CPU's order).
__global__ void __launch_bounds__(256) mla_bgemm_kernel(const BGemm g) {
  __shared__ float As[kBK][kBM + 4], Bs[kBK][kBN + 4];
  const int64_t hh = blockIdx.z, i0 = static_cast<int64_t>(blockIdx.y) * kBM, j0 = static_cast<int64_t>(blockIdx.x) * kBN;
  const int tid = threadIdx.x, ty = tid / 16, tx = tid % 16;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < g.k; k0 += kBK) {
    for (int e = tid; e < kBM * kBK; e += 256) {
      const int ii = e / kBK, kk = e % kBK;
      const int64_t i = i0 + ii, k = k0 + kk;
      As[kk][ii] = (i < g.m && k < g.k) ? load_f32_bf16(g.a, g.ta, static_cast<size_t>(hh * g.a_h + i * g.a_i + k)) : 0.f;
    }
    for (int e = tid; e < kBK * kBN; e += 256) {
      int kk, jj;
      if (g.b_j == 1) { kk = e / kBN; jj = e % kBN; } else { jj = e / kBK; kk = e % kBK; }  // coalesced either way
      const int64_t k = k0 + kk, j = j0 + jj;
      Bs[kk][jj] = (k < g.k && j < g.n) ? load_f32_bf16(g.b, g.tb, static_cast<size_t>(hh * g.b_h + k * g.b_k + j * g.b_j)) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int q = 0; q < 4; ++q) { a[q] = As[kk][ty * 4 + q]; b[q] = Bs[kk][tx * 4 + q]; }
#pragma unroll
      for (int x = 0; x < 4; ++x)
#pragma unroll
        for (int y = 0; y < 4; ++y) acc[x][y] = fmaf(a[x], b[y], acc[x][y]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int x = 0; x < 4; ++x)
#pragma unroll
    for (int y = 0; y < 4; ++y) {
      const int64_t i = i0 + ty * 4 + x, j = j0 + tx * 4 + y;
      if (i < g.m && j < g.n) store_f32_bf16(g.c, g.tc, static_cast<size_t>(hh * g.c_h + i * g.c_i + j), acc[x][y]);
    }
}

void launch_bgemm(const BGemm& g, int64_t heads, cudaStream_t st) {
  if (g.m == 0 || g.n == 0 || heads == 0) return;
  dim3 grid(static_cast<unsigned>(ceil_div(g.n, kBN)), static_cast<unsigned>(ceil_div(g.m, kBM)), static_cast<unsigned>(heads));
  mla_bgemm_kernel<<<grid, 256, 0, st>>>(g);
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace

void mla_down_epilogue(const MlaDownEpilogueParams& p, void* stream) {
  if (p.t == 0) return;
  mla_down_epilogue_kernel<<<static_cast<unsigned>(p.t), 256, 0, static_cast<cudaStream_t>(stream)>>>(p);
  DSV3_CUDA_CHECK_LAUNCH();
}

void mla_absorb_q(const MlaAbsorbQParams& p, void* stream) {
  if (p.t == 0 || p.h == 0) return;
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const int64_t w = p.nope + p.p;
  launch_bgemm(BGemm{p.q, p.q_dtype, w, p.h * w, p.w_uk, p.w_dtype, p.nope * p.r, p.r, 1, p.q_latent, p.out_dtype, p.r, p.h * p.r,
                     p.t, p.r, p.nope},
               p.h, st);
  const int64_t pairs = p.t * p.h * (p.p / 2);
  if (pairs > 0) {
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(ceil_div(pairs, 256), 65535));
    mla_rope_q_kernel<<<blocks, 256, 0, st>>>(p);
    DSV3_CUDA_CHECK_LAUNCH();
  }
}

void mla_output(const MlaOutputParams& p, void* stream) {
  if (p.t == 0 || p.h == 0 || p.v == 0) return;
  launch_bgemm(BGemm{p.o_latent, p.o_dtype, p.r, p.h * p.r, p.w_uv, p.w_dtype, p.v * p.r, 1, p.r, p.out, p.out_dtype, p.v, p.h * p.v,
                     p.t, p.v, p.r},
               p.h, static_cast<cudaStream_t>(stream));
}

}  // namespace dsv3::cuda
