// CUDA kernels of MLA attention over the paged latent cache, twins of native/cpu/mla_attn.cc; the
// projections around it are cuda/mla_proj.cu. Loads, stores and warp reductions are cuda/codec.cuh's,
// shared-memory addresses cuda/sm90.cuh's.
// UNVERIFIED ON A GPU: written and compiled (sm_90a) on a machine without one; test/gpu/mla.gpu.test.ts
// checks every kernel against the CPU backend.
//
// mla_paged_attn_kernel (impl 0, f32 on CUDA cores): one CTA per (sequence, group of 8*R query rows, KV split),
// query rows = s_q * h (token-major, like FlashMLA's regrouping). Tiles of 32 cached tokens (c_kv | k_pe,
// FlashMLA's 576 layout) are widened to f32 in shared memory and shared by all rows of the CTA; a lane
// scores one token of the tile, the warp keeps an online softmax per row in f32 and accumulates
// out[512] in registers (lane owns columns lane + 32c). Bound: for a decode step the cache is read
// ceil(s_q*h / (8R)) times (from L2 after the first), b*len*(r+p)*2 B from HBM (bf16); FLOPs
// 2*b*s_q*h*len*(2r+p). With h*s_q >= 32 it is bound by CUDA-core FMAs and shared-memory loads, so it
// targets correctness and a fraction of the FP32 peak (~67 TFLOPS on H200), not FlashMLA's 600+ tensor
// TFLOPS. Split-KV: each split covers a fixed range of pages; partials (o, lse) are merged by
// mla_combine_kernel in split order (deterministic).
// mla_paged_attn_tc_kernel (impl 1, bf16 cache): the same attention on tensor cores (mma.sync m16n8k16
// bf16, f32 accumulation); see "impl 1" below.
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/codec.cuh"
#include "cuda/common.cuh"
#include "cuda/mla.h"
#include "cuda/sm90.cuh"

namespace dsv3::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 32;     // cached tokens per shared-memory tile (half a page)
constexpr int kMaxAcc = 16;   // r / 32 columns per lane: r <= 512

// 16 bytes of the cache row as f32 into shared memory.
__device__ __forceinline__ void widen16(const float* src, float* dst) {
  *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
}
__device__ __forceinline__ void widen16(const __nv_bfloat16* src, float* dst) {
  const uint4 u = *reinterpret_cast<const uint4*>(src);
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&u);
  float2 a = __bfloat1622float2(h[0]), b = __bfloat1622float2(h[1]), c = __bfloat1622float2(h[2]), d = __bfloat1622float2(h[3]);
  reinterpret_cast<float4*>(dst)[0] = make_float4(a.x, a.y, b.x, b.y);
  reinterpret_cast<float4*>(dst)[1] = make_float4(c.x, c.y, d.x, d.y);
}

// Rows per warp for s_q*h query rows of a sequence.
inline int rows_per_warp(int64_t q_rows) { return q_rows <= 8 ? 1 : q_rows <= 16 ? 2 : 4; }
inline size_t attn_smem_bytes(int R, int64_t d) { return sizeof(float) * (kTile * (d + 4) + kWarps * R * d); }

// grid (ceil(q_rows / (8R)), num_splits, b), kThreads threads.
template <int R, typename TKV>
__global__ void __launch_bounds__(kThreads) mla_paged_attn_kernel(const MlaPagedAttentionParams p, int tokens_per_split) {
  extern __shared__ float smem[];
  const int d = static_cast<int>(p.r + p.p), ds = d + 4, r = static_cast<int>(p.r), nacc = r / 32;
  float* kv_s = smem;                 // [kTile, d + 4]
  float* q_s = smem + kTile * ds;     // [8R, d]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bi = blockIdx.z, q_rows = p.s_q * p.h;
  const int split = blockIdx.y;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kWarps * R;
  const int64_t len = p.seq_lens[bi];

  // Keys each row may see; the CTA's range is [kv_begin, kv_end).
  int lim[R];  // < 2^31 tokens per sequence
  int64_t cta_lim = 0;
#pragma unroll
  for (int k = 0; k < R; ++k) {
    const int64_t rr = row0 + warp * R + k;
    int64_t l = 0;
    if (rr < q_rows) {
      const int64_t i = rr / p.h;
      l = p.causal ? len - p.s_q + i + 1 : len;
      l = l < 0 ? 0 : (l > len ? len : l);
    }
    lim[k] = static_cast<int>(l);
  }
  {
    const int64_t last = std::min<int64_t>(row0 + kWarps * R, q_rows) - 1;  // rows are token-major: the last row has the largest limit
    const int64_t i = last / p.h;
    int64_t l = p.causal ? len - p.s_q + i + 1 : len;
    cta_lim = l < 0 ? 0 : (l > len ? len : l);
  }
  const int64_t kv_begin = static_cast<int64_t>(split) * tokens_per_split;
  const int64_t kv_end = std::min<int64_t>(cta_lim, kv_begin + tokens_per_split);

  // Queries -> shared memory as f32: row k of the CTA is [r latent | p rope].
  for (int64_t e = threadIdx.x; e < static_cast<int64_t>(kWarps) * R * d; e += kThreads) {
    const int64_t k = e / d, c = e % d, rr = row0 + k;
    float v = 0.f;
    if (rr < q_rows) {
      const int64_t qrow = bi * q_rows + rr;
      v = c < r ? load_f32_bf16(p.q_latent, p.q_dtype, qrow * p.r + c) : load_f32_bf16(p.q_pe, p.q_dtype, qrow * p.p + (c - r));
    }
    q_s[e] = v;
  }

  float m[R], l[R], acc[R][kMaxAcc];
#pragma unroll
  for (int k = 0; k < R; ++k) {
    m[k] = -INFINITY;
    l[k] = 0.f;
#pragma unroll
    for (int c = 0; c < kMaxAcc; ++c) acc[k][c] = 0.f;
  }

  constexpr int kChunk = 16 / sizeof(TKV);  // elements per 16-byte load
  const int chunks_per_row = d / kChunk;
  const TKV* cache = static_cast<const TKV*>(p.kv_cache);
  for (int64_t t0 = kv_begin; t0 < kv_end; t0 += kTile) {
    __syncthreads();  // the previous tile (and, the first time, q_s) is complete / consumed
    for (int e = threadIdx.x; e < kTile * chunks_per_row; e += kThreads) {
      const int jj = e / chunks_per_row, c = (e % chunks_per_row) * kChunk;
      const int64_t j = t0 + jj;
      float* dst = kv_s + jj * ds + c;
      if (j < kv_end) {
        const int64_t page = j / kMlaPageSize < p.max_pages ? p.block_table[bi * p.max_pages + j / kMlaPageSize] : -1;
        if (page >= 0 && page < p.num_pages) {
          widen16(cache + (page * kMlaPageSize + j % kMlaPageSize) * d + c, dst);
        } else {  // a bad block-table entry: NaN keys, as the CPU twin, never a stray read
#pragma unroll
          for (int z = 0; z < kChunk; ++z) dst[z] = __uint_as_float(0x7fc00000u);
        }
      } else {
#pragma unroll
        for (int z = 0; z < kChunk; ++z) dst[z] = 0.f;  // past the range: never visible (skipped in P V below)
      }
    }
    __syncthreads();

    // Scores: lane = token of the tile, shared by the R rows of the warp.
    float s[R];
#pragma unroll
    for (int k = 0; k < R; ++k) s[k] = 0.f;
    const float* kr = kv_s + lane * ds;
    const float* qw = q_s + warp * R * d;
    for (int c = 0; c < d; c += 4) {
      const float4 kv4 = *reinterpret_cast<const float4*>(kr + c);
#pragma unroll
      for (int k = 0; k < R; ++k) {
        const float4 q4 = *reinterpret_cast<const float4*>(qw + k * d + c);
        s[k] = fmaf(q4.x, kv4.x, s[k]);
        s[k] = fmaf(q4.y, kv4.y, s[k]);
        s[k] = fmaf(q4.z, kv4.z, s[k]);
        s[k] = fmaf(q4.w, kv4.w, s[k]);
      }
    }
    // Row k sees keys jj < nv[k] of this tile (warp-uniform). Masked keys take no part at all, in the
    // softmax nor in P V: a non-finite value of a key a row must not see cannot reach it (0 * inf = NaN).
    // A visible key with a NaN score (a NaN in the cache, a bad page) poisons its row as on the CPU:
    // fmaxf skips the NaN, so alpha or p_j carries it (alpha = exp(-inf - -inf) when no finite score yet).
    float pj[R];
    int nv[R], nv_max = 0;
#pragma unroll
    for (int k = 0; k < R; ++k) {
      nv[k] = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(std::min<int64_t>(lim[k], kv_end) - t0, kTile)));
      nv_max = std::max(nv_max, nv[k]);
      pj[k] = 0.f;
      if (nv[k] == 0) continue;  // no key of this tile for this row
      const bool valid = lane < nv[k];
      const float sc = valid ? s[k] * p.softmax_scale : -INFINITY;
      const float m_new = fmaxf(m[k], warp_max(sc));
      const float alpha = expf(m[k] - m_new);
      pj[k] = valid ? expf(sc - m_new) : 0.f;
      l[k] = l[k] * alpha + warp_sum(pj[k]);
#pragma unroll
      for (int c = 0; c < kMaxAcc; ++c) acc[k][c] *= alpha;
      m[k] = m_new;
    }
    // out += p_j * c_kv[j] over the keys each row sees: lane owns columns lane + 32c.
    for (int jj = 0; jj < nv_max; ++jj) {
      float pb[R];
#pragma unroll
      for (int k = 0; k < R; ++k) pb[k] = __shfl_sync(0xffffffffu, pj[k], jj);
      const float* v = kv_s + jj * ds + lane;
#pragma unroll
      for (int c = 0; c < kMaxAcc; ++c) {
        if (c < nacc) {
          const float x = v[32 * c];
#pragma unroll
          for (int k = 0; k < R; ++k)
            if (jj < nv[k]) acc[k][c] = fmaf(pb[k], x, acc[k][c]);
        }
      }
    }
  }

  const int64_t covered = p.max_pages * kMlaPageSize;  // keys the block table's row can name
#pragma unroll
  for (int k = 0; k < R; ++k) {
    const int64_t rr = row0 + warp * R + k;
    if (rr >= q_rows) continue;
    // A row whose keys run past the block table's row is NaN (as on the CPU), never another row's pages.
    const bool over = lim[k] > covered;
    const bool has = l[k] != 0.f || over;  // a key was seen (l >= 1), or the row is NaN
    const float inv = over ? __uint_as_float(0x7fc00000u) : has ? 1.f / l[k] : 0.f;
    const float lse = over ? __uint_as_float(0x7fc00000u) : has ? m[k] + logf(l[k]) : -INFINITY;
    const int64_t qrow = bi * q_rows + rr;
    float* o = p.num_splits == 1 ? p.out + qrow * p.r : p.o_accum + (qrow * p.num_splits + split) * p.r;
#pragma unroll
    for (int c = 0; c < kMaxAcc; ++c)
      if (c < nacc) o[lane + 32 * c] = has ? acc[k][c] * inv : 0.f;
    if (lane == 0) {
      if (p.num_splits == 1) p.lse[(bi * p.h + rr % p.h) * p.s_q + rr / p.h] = lse;
      else p.lse_accum[qrow * p.num_splits + split] = lse;
    }
  }
}

// One CTA per query row: out = sum_s w_s o_s / sum_s w_s, w_s = exp(lse_s - max lse), in split order.
__global__ void mla_combine_kernel(const MlaPagedAttentionParams p) {
  extern __shared__ float w[];  // [num_splits]
  __shared__ float red[2];
  const int64_t qrow = blockIdx.x, q_rows = p.s_q * p.h, bi = qrow / q_rows, rr = qrow % q_rows;
  const int S = p.num_splits;
  const float* lse_s = p.lse_accum + qrow * S;
  if (threadIdx.x == 0) {
    float mx = -INFINITY;  // a NaN split (a NaN key, a bad page) makes the row NaN, as on the CPU
    for (int s = 0; s < S; ++s) mx = (lse_s[s] > mx || lse_s[s] != lse_s[s]) ? lse_s[s] : mx;
    red[0] = mx;
  }
  __syncthreads();
  const float mx = red[0];
  for (int s = threadIdx.x; s < S; s += blockDim.x) w[s] = mx == -INFINITY ? 0.f : expf(lse_s[s] - mx);
  __syncthreads();
  if (threadIdx.x == 0) {
    float z = 0.f;
    for (int s = 0; s < S; ++s) z += w[s];
    red[1] = z;
    p.lse[(bi * p.h + rr % p.h) * p.s_q + rr / p.h] = mx == -INFINITY ? -INFINITY : mx + logf(z);
  }
  __syncthreads();
  const float inv = mx == -INFINITY ? 0.f : 1.f / red[1];
  const float* o_s = p.o_accum + qrow * S * p.r;
  for (int64_t c = threadIdx.x; c < p.r; c += blockDim.x) {
    float a = 0.f;
    for (int s = 0; s < S; ++s)
      if (w[s] != 0.f) a = fmaf(w[s], o_s[s * p.r + c], a);  // a split without keys holds zeros; skip it anyway
    p.out[qrow * p.r + c] = a * inv;
  }
}

template <int R, typename TKV>
void launch_attn(const MlaPagedAttentionParams& p, int tokens_per_split, cudaStream_t st) {
  const size_t smem = attn_smem_bytes(R, p.r + p.p);
  auto kern = mla_paged_attn_kernel<R, TKV>;
  DSV3_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  const int64_t groups = ceil_div(p.s_q * p.h, kWarps * R);
  dim3 grid(static_cast<unsigned>(groups), static_cast<unsigned>(p.num_splits), static_cast<unsigned>(p.b));
  kern<<<grid, kThreads, smem, st>>>(p, tokens_per_split);
  DSV3_CUDA_CHECK_LAUNCH();
}

template <typename TKV>
void dispatch_attn(const MlaPagedAttentionParams& p, int tokens_per_split, cudaStream_t st) {
  switch (rows_per_warp(p.s_q * p.h)) {
    case 1: launch_attn<1, TKV>(p, tokens_per_split, st); break;
    case 2: launch_attn<2, TKV>(p, tokens_per_split, st); break;
    default: launch_attn<4, TKV>(p, tokens_per_split, st); break;
  }
}

// ---- impl 1: tensor cores (mma.sync m16n8k16 bf16, f32 accumulation), bf16 cache ----
// CTA = 4 warps and 16*MT query rows; per tile of 64 cached tokens (one page): S = Q K^T with each warp
// scoring 16 of the 64 tokens for all rows, S -> shared memory; the online softmax per row (f32) writes
// P in bf16; then each warp accumulates O[:, 128w : 128w + r/4] += P V with V = the c_kv part of the tile.
// Q is rounded to bf16 and P to bf16 (as FlashMLA does), so it matches the CPU to ~1e-2, not 1e-5. A key a
// row may not see (causal, s_q > 1) adds nothing to its O, not 0 * V (tc_pv's partial passes).
// Synchronous tile loads (no cp.async/TMA pipeline yet); 125 KB shared memory at MT = 2, d = 576.
constexpr int kTcWarps = 4, kTcThreads = kTcWarps * 32, kTcKeys = 64;

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(sm90::smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(sm90::smem_u32(p)));
}
// c += a (16x16, row) * b (16x8, col)
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

constexpr int kTcMaxNt = 16;  // 8-wide output n-tiles per warp: r / 4 / 8 for r <= 512

// O[:, this warp's columns] += P V over one tile of keys (P: [16 MT, 64] bf16 in p_s, V = the c_kv part of
// k_s). kPart: only the keys jj < nv enter (this lane's rows of V past them are zeroed in registers) and only
// the rows la..lb (CTA-local) take the result, so a key those rows may not see adds nothing, not 0 * V.
template <int MT, bool kPart>
__device__ __forceinline__ void tc_pv(float (&o)[MT][kTcMaxNt][4], const __nv_bfloat16* p_s, const __nv_bfloat16* k_s, int ds,
                                      int ncol, int nt_w, int warp, int lane, int nv, int la, int lb) {
  constexpr int PS = kTcKeys + 8;
#pragma unroll
  for (int k0 = 0; k0 < kTcKeys; k0 += 16) {
    if (kPart && k0 >= nv) break;
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) ldsm_x4(a[mt], p_s + (mt * 16 + lane % 16) * PS + k0 + (lane / 16) * 8);
    // ldmatrix.trans gives this lane keys kl, kl + 1 (b[0], b[2]) and kl + 8, kl + 9 (b[1], b[3]), low half first.
    uint32_t m_lo = 0xffffffffu, m_hi = 0xffffffffu;
    if (kPart) {
      const int kl = k0 + (lane % 4) * 2;
      m_lo = (kl < nv ? 0x0000ffffu : 0u) | (kl + 1 < nv ? 0xffff0000u : 0u);
      m_hi = (kl + 8 < nv ? 0x0000ffffu : 0u) | (kl + 9 < nv ? 0xffff0000u : 0u);
    }
#pragma unroll
    for (int nt = 0; nt < kTcMaxNt; nt += 2) {
      if (nt < nt_w) {
        uint32_t b[4];
        const int mi = lane / 8, key = k0 + (mi % 2) * 8 + lane % 8, col = warp * ncol + nt * 8 + (mi / 2) * 8;
        ldsm_x4_t(b, k_s + key * ds + col);
        if (kPart) { b[0] &= m_lo; b[2] &= m_lo; b[1] &= m_hi; b[3] &= m_hi; }
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          if (!kPart) {
            mma_bf16(o[mt][nt], a[mt], b[0], b[1]);
            mma_bf16(o[mt][nt + 1], a[mt], b[2], b[3]);
          } else {
            float c0[4] = {o[mt][nt][0], o[mt][nt][1], o[mt][nt][2], o[mt][nt][3]};
            float c1[4] = {o[mt][nt + 1][0], o[mt][nt + 1][1], o[mt][nt + 1][2], o[mt][nt + 1][3]};
            mma_bf16(c0, a[mt], b[0], b[1]);
            mma_bf16(c1, a[mt], b[2], b[3]);
            const int r0 = mt * 16 + lane / 4, r1 = r0 + 8;  // rows of c[0..1] and c[2..3]
            if (r0 >= la && r0 <= lb) { o[mt][nt][0] = c0[0]; o[mt][nt][1] = c0[1]; o[mt][nt + 1][0] = c1[0]; o[mt][nt + 1][1] = c1[1]; }
            if (r1 >= la && r1 <= lb) { o[mt][nt][2] = c0[2]; o[mt][nt][3] = c0[3]; o[mt][nt + 1][2] = c1[2]; o[mt][nt + 1][3] = c1[3]; }
          }
        }
      }
    }
  }
}

inline size_t tc_smem_bytes(int MT, int64_t d) {
  const int64_t rows = 16 * MT;
  return sizeof(__nv_bfloat16) * ((kTcKeys + rows) * (d + 8) + rows * (kTcKeys + 8)) + sizeof(float) * (rows * (kTcKeys + 4) + 3 * rows);
}

// grid (ceil(q_rows / (16 MT)), num_splits, b), kTcThreads threads. Needs r % 64 == 0, r <= 512, (r + p) % 16 == 0.
template <int MT>
__global__ void __launch_bounds__(kTcThreads) mla_paged_attn_tc_kernel(const MlaPagedAttentionParams p, int tokens_per_split) {
  constexpr int ROWS = 16 * MT, SS = kTcKeys + 4, PS = kTcKeys + 8, kMaxNt = kTcMaxNt;
  extern __shared__ __align__(16) unsigned char tc_smem[];
  const int d = static_cast<int>(p.r + p.p), ds = d + 8, r = static_cast<int>(p.r);
  __nv_bfloat16* k_s = reinterpret_cast<__nv_bfloat16*>(tc_smem);  // [64, d + 8]
  __nv_bfloat16* q_s = k_s + kTcKeys * ds;                          // [ROWS, d + 8]
  __nv_bfloat16* p_s = q_s + ROWS * ds;                             // [ROWS, 72]
  float* s_s = reinterpret_cast<float*>(p_s + ROWS * PS);           // [ROWS, 68]
  float* m_s = s_s + ROWS * SS;                                     // [ROWS] running max
  float* l_s = m_s + ROWS;                                          // [ROWS] running sum
  float* a_s = l_s + ROWS;                                          // [ROWS] this tile's rescale factor
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t bi = blockIdx.z, q_rows = p.s_q * p.h, row0 = static_cast<int64_t>(blockIdx.x) * ROWS;
  const int split = blockIdx.y;
  const int64_t len = p.seq_lens[bi];
  auto limit = [&](int64_t rr) -> int64_t {  // keys row rr may see
    if (rr >= q_rows) return 0;
    int64_t l = p.causal ? len - p.s_q + rr / p.h + 1 : len;
    return l < 0 ? 0 : (l > len ? len : l);
  };
  const int64_t kv_begin = static_cast<int64_t>(split) * tokens_per_split;
  const int64_t kv_end = std::min<int64_t>(limit(std::min<int64_t>(row0 + ROWS, q_rows) - 1), kv_begin + tokens_per_split);

  for (int e = threadIdx.x; e < ROWS * d; e += kTcThreads) {
    const int k = e / d, c = e % d;
    const int64_t rr = row0 + k, qrow = bi * q_rows + rr;
    float v = 0.f;
    if (rr < q_rows) v = c < r ? load_f32_bf16(p.q_latent, p.q_dtype, qrow * p.r + c) : load_f32_bf16(p.q_pe, p.q_dtype, qrow * p.p + (c - r));
    q_s[k * ds + c] = __float2bfloat16_rn(v);
  }
  for (int k = threadIdx.x; k < ROWS; k += kTcThreads) { m_s[k] = -INFINITY; l_s[k] = 0.f; }

  const int ncol = r / kTcWarps, nt_w = ncol / 8;  // output columns and 8-wide n-tiles of this warp
  float o[MT][kMaxNt][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int nt = 0; nt < kMaxNt; ++nt) o[mt][nt][0] = o[mt][nt][1] = o[mt][nt][2] = o[mt][nt][3] = 0.f;

  const __nv_bfloat16* cache = static_cast<const __nv_bfloat16*>(p.kv_cache);
  const int cpr = d / 8;  // 16-byte chunks per row
  for (int64_t t0 = kv_begin; t0 < kv_end; t0 += kTcKeys) {
    __syncthreads();  // the previous tile's P V is done (and q_s / stats are written)
    for (int e = threadIdx.x; e < kTcKeys * cpr; e += kTcThreads) {
      const int jj = e / cpr, c = (e % cpr) * 8;
      const int64_t j = t0 + jj;
      uint4 v = make_uint4(0, 0, 0, 0);  // rows past the range are zeros, never NaN (P = 0 there)
      if (j < kv_end) {
        const int64_t page = j / kMlaPageSize < p.max_pages ? p.block_table[bi * p.max_pages + j / kMlaPageSize] : -1;
        if (page >= 0 && page < p.num_pages)
          v = *reinterpret_cast<const uint4*>(cache + (page * kMlaPageSize + j % kMlaPageSize) * d + c);
        else  // a bad block-table entry: NaN keys, as the CPU twin, never a stray read
          v = make_uint4(0x7fc07fc0u, 0x7fc07fc0u, 0x7fc07fc0u, 0x7fc07fc0u);
      }
      *reinterpret_cast<uint4*>(k_s + jj * ds + c) = v;
    }
    __syncthreads();

    // S[ROWS, 16 keys of this warp] = Q K^T over d.
    float sacc[MT][2][4] = {};
    for (int k0 = 0; k0 < d; k0 += 16) {
      uint32_t b[4];
      {
        const int mi = lane / 8, key = warp * 16 + (mi / 2) * 8 + lane % 8, dim = k0 + (mi % 2) * 8;
        ldsm_x4(b, k_s + key * ds + dim);
      }
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        uint32_t a[4];
        ldsm_x4(a, q_s + (mt * 16 + lane % 16) * ds + k0 + (lane / 16) * 8);
        mma_bf16(sacc[mt][0], a, b[0], b[1]);
        mma_bf16(sacc[mt][1], a, b[2], b[3]);
      }
    }
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < 2; ++nt)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int row = mt * 16 + lane / 4 + (q / 2) * 8, key = warp * 16 + nt * 8 + (lane % 4) * 2 + q % 2;
          const bool valid = t0 + key < std::min<int64_t>(limit(row0 + row), kv_end);
          s_s[row * SS + key] = valid ? sacc[mt][nt][q] * p.softmax_scale : -INFINITY;
        }
    __syncthreads();

    // Online softmax: TPR threads per row, each 64 / TPR keys.
    {
      constexpr int TPR = kTcThreads / ROWS, KPT = kTcKeys / TPR;
      const int row = threadIdx.x / TPR, part = threadIdx.x % TPR;
      const float* sr = s_s + row * SS + part * KPT;
      float mx = -INFINITY;
#pragma unroll
      for (int k = 0; k < KPT; ++k) mx = fmaxf(mx, sr[k]);
#pragma unroll
      for (int o2 = 1; o2 < TPR; o2 <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o2));
      const float m_old = m_s[row], m_new = fmaxf(m_old, mx);
      float sum = 0.f;
#pragma unroll
      for (int k = 0; k < KPT; ++k) {
        // masked keys: 0; a NaN score (a NaN in the cache, a bad page) stays NaN and poisons the row, as on the CPU
        const float pk = sr[k] == -INFINITY ? 0.f : expf(sr[k] - m_new);
        sum += pk;
        p_s[row * PS + part * KPT + k] = __float2bfloat16_rn(pk);
      }
#pragma unroll
      for (int o2 = 1; o2 < TPR; o2 <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o2);
      __syncwarp();
      if (part == 0) {
        const float alpha = m_new == -INFINITY ? 1.f : expf(m_old - m_new);
        a_s[row] = alpha;
        l_s[row] = l_s[row] * alpha + sum;
        m_s[row] = m_new;
      }
    }
    __syncthreads();

    // O[:, this warp's columns] = O * alpha + P V.
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      const float a0 = a_s[mt * 16 + lane / 4], a1 = a_s[mt * 16 + lane / 4 + 8];
#pragma unroll
      for (int nt = 0; nt < kMaxNt; ++nt) { o[mt][nt][0] *= a0; o[mt][nt][1] *= a0; o[mt][nt][2] *= a1; o[mt][nt][3] *= a1; }
    }
    // Masked keys must add nothing (0 * inf = NaN would poison a row that may not see a non-finite value),
    // but an mma multiplies every row of P with every key of V. When the CTA's first row (rows are
    // token-major: the fewest keys) sees every loaded key of the tile, one pass; otherwise (the last tiles
    // of a causal step with s_q > 1) one pass per run of query tokens that see the same keys of the tile.
    const int n_loaded = static_cast<int>(std::min<int64_t>(kv_end - t0, kTcKeys));
    auto visible = [&](int64_t rr) -> int {  // keys of this tile that row rr sees
      return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(std::min<int64_t>(limit(rr), kv_end) - t0, kTcKeys)));
    };
    if (visible(row0) >= n_loaded) {
      tc_pv<MT, false>(o, p_s, k_s, ds, ncol, nt_w, warp, lane, kTcKeys, 0, ROWS - 1);
    } else {
      const int64_t r_last = std::min<int64_t>(row0 + ROWS, q_rows) - 1;
      for (int64_t ra = row0; ra <= r_last;) {
        const int nv = visible(ra);
        int64_t rb = std::min<int64_t>((ra / p.h + 1) * p.h, r_last + 1);  // the first row of the next token
        while (rb <= r_last && visible(rb) == nv) rb = std::min<int64_t>(rb + p.h, r_last + 1);
        if (nv > 0) tc_pv<MT, true>(o, p_s, k_s, ds, ncol, nt_w, warp, lane, nv, static_cast<int>(ra - row0), static_cast<int>(rb - 1 - row0));
        ra = rb;
      }
    }
  }
  __syncthreads();

#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = mt * 16 + lane / 4 + half * 8;
      const int64_t rr = row0 + row;
      if (rr >= q_rows) continue;
      // A row whose keys run past the block table's row is NaN (as on the CPU), never another row's pages.
      const bool over = limit(rr) > p.max_pages * kMlaPageSize;
      const bool has = l_s[row] != 0.f || over;  // a key was seen (l >= 1), or the row is NaN
      const float inv = over ? __uint_as_float(0x7fc00000u) : has ? 1.f / l_s[row] : 0.f;
      const int64_t qrow = bi * q_rows + rr;
      float* out = p.num_splits == 1 ? p.out + qrow * p.r : p.o_accum + (qrow * p.num_splits + split) * p.r;
#pragma unroll
      for (int nt = 0; nt < kMaxNt; ++nt)
        if (nt < nt_w) {
          const int col = warp * ncol + nt * 8 + (lane % 4) * 2;
          out[col] = has ? o[mt][nt][half * 2] * inv : 0.f;
          out[col + 1] = has ? o[mt][nt][half * 2 + 1] * inv : 0.f;
        }
      if (warp == 0 && lane % 4 == 0) {
        const float lse = over ? __uint_as_float(0x7fc00000u) : has ? m_s[row] + logf(l_s[row]) : -INFINITY;
        if (p.num_splits == 1) p.lse[(bi * p.h + rr % p.h) * p.s_q + rr / p.h] = lse;
        else p.lse_accum[qrow * p.num_splits + split] = lse;
      }
    }
}

template <int MT>
void launch_attn_tc(const MlaPagedAttentionParams& p, int tokens_per_split, cudaStream_t st) {
  const size_t smem = tc_smem_bytes(MT, p.r + p.p);
  auto kern = mla_paged_attn_tc_kernel<MT>;
  DSV3_CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  dim3 grid(static_cast<unsigned>(ceil_div(p.s_q * p.h, 16 * MT)), static_cast<unsigned>(p.num_splits), static_cast<unsigned>(p.b));
  kern<<<grid, kTcThreads, smem, st>>>(p, tokens_per_split);
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace

int mla_num_splits(int64_t b, int64_t q_rows, int64_t max_pages) {
  int dev = 0, sms = 132;
  DSV3_CUDA_CHECK(cudaGetDevice(&dev));
  DSV3_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  const int64_t ctas = std::max<int64_t>(1, b * ceil_div(q_rows, kWarps * rows_per_warp(q_rows)));
  const int64_t want = ceil_div(2 * sms, ctas);
  return static_cast<int>(std::max<int64_t>(1, std::min(want, max_pages / 4)));
}

bool mla_paged_attention_supports(const MlaPagedAttentionParams& p, std::string* why) {
  const std::string dims = "r = " + std::to_string(p.r) + ", p = " + std::to_string(p.p);
  if (p.r % 32 != 0 || p.r > 512 || p.p % 8 != 0 || p.r + p.p > 640) {
    *why = "r must be a multiple of 32 up to 512 and p a multiple of 8 (r + p <= 640), got " + dims;
    return false;
  }
  if (p.impl != 0 && p.impl != 1) {
    *why = "impl must be 0 (simple f32 kernel) or 1 (tensor cores), got " + std::to_string(p.impl);
    return false;
  }
  if (p.impl == 1 && (p.kv_dtype != DType::bf16 || p.r % 64 != 0 || (p.r + p.p) % 16 != 0)) {
    *why = std::string("impl 1 (tensor cores) needs a bf16 kvCache, r a multiple of 64 and r + p a multiple of 16, got ") +
           dtype_name(p.kv_dtype) + ", " + dims;
    return false;
  }
  return true;
}

void mla_paged_attention(const MlaPagedAttentionParams& p, void* stream) {
  if (p.b == 0 || p.s_q == 0 || p.h == 0) return;
  std::string why;
  if (!mla_paged_attention_supports(p, &why)) throw CudaError("mla_paged_attention: " + why);
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  // Whole pages per split, so a split never starts in the middle of a page.
  const int64_t pages_per_split = ceil_div(std::max<int64_t>(p.max_pages, 1), p.num_splits);
  const int tokens_per_split = static_cast<int>(pages_per_split * kMlaPageSize);
  if (p.impl == 1) {  // tensor cores (mla_paged_attention_supports: bf16 cache, r % 64 == 0, (r + p) % 16 == 0)
    if (p.s_q * p.h > 16) launch_attn_tc<2>(p, tokens_per_split, st);
    else launch_attn_tc<1>(p, tokens_per_split, st);
  } else if (p.kv_dtype == DType::bf16) {
    dispatch_attn<__nv_bfloat16>(p, tokens_per_split, st);
  } else {
    dispatch_attn<float>(p, tokens_per_split, st);
  }
  if (p.num_splits > 1) {
    mla_combine_kernel<<<static_cast<unsigned>(p.b * p.s_q * p.h), 128, sizeof(float) * p.num_splits, st>>>(p);
    DSV3_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace dsv3::cuda
