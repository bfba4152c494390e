// FP8 block-scaled GEMM for Hopper (sm_90a), DeepSeek's recipe: out[i, j] = sum over 128-wide K blocks
// kb of (sum_k a[i,k] b[j,k]) * a_scale[i,kb] * b_scale[j/128,kb], f32 promotion every 128 of K.
// Dense, grouped contiguous and grouped masked layouts (native/ops.h) share one kernel.
//
// Design (one CTA = one 128-weight-row x BT-token tile):
// - "Swap AB": the weights are wgmma's M side (2 consumer warpgroups x 64 rows) and the tokens its N
//   side (BT = 8..128 columns), so decode sizes (M = 1..128 tokens) need no padding to 64 rows and the
//   128x128 weight-scale block is one scalar per tile and K block.
// - A producer warp streams both tiles with TMA (128-byte swizzle, 128 K bytes per row = one K block)
//   through a STAGES-deep ring of mbarriers; the consumers run 4 wgmma m64nBTk32 per K block into a
//   temporary f32 fragment, then promote it with the scales into the accumulator (DeepGEMM's two-level
//   accumulation), while the producer already loads the next stages.
// - Small-M problems that would leave SMs idle are split along K (split-K); each split writes its f32
//   fragment to a workspace and the last split of a tile (an atomic ticket, one array per launch) adds
//   them in split order, so the result does not depend on which CTA finishes last.
// - Grouped GEMMs (MoE experts) run a persistent grid of at most one CTA per SM that visits only the
//   tiles of non-empty groups (TileScheduler), as DeepGEMM's scheduler does: for V3 decode (256 experts,
//   a few tokens) a grid sized for the worst case would launch thousands of CTAs to find a few dozen tiles.
// Bound: weights are read once per token tile: memory-bound below ~200 tokens (target: the copy
// bandwidth on the weight bytes), compute-bound above (target: the dense FP8 wgmma rate).
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/gemm.gpu.test.ts: the tile shapes, the
// descriptor and fragment layouts and the pipeline follow the PTX ISA but have never executed.
#include <cuda_bf16.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "cuda/codec.cuh"
#include "cuda/common.cuh"
#include "cuda/e4m3.cuh"
#include "cuda/moe.h"
#include "cuda/gemm.h"
#include "cuda/runtime.h"
#include "cuda/sm90.cuh"
#include "cuda/wgmma_e4m3.cuh"

namespace dsv3::cuda {
namespace {

constexpr int kTileN = 128;                    // weight rows per CTA (2 warpgroups x 64)
constexpr int kBlockK = 128;                   // K bytes per stage = one scale block
constexpr int kConsumers = 256;                // two warpgroups
constexpr int kThreads = kConsumers + 32;      // + one producer warp
constexpr int kWeightStageBytes = kTileN * kBlockK;

enum Mode : int { kDense = 0, kContiguous = 1, kMasked = 2 };

struct Problem {
  int mode;
  int m;             // dense: rows of a; contiguous: sum_m; masked: m_max
  int n, k, kb, nb, g;   // n: output columns (GLU: the intermediate size; b has 2n rows per group)
  int token_tiles;   // dense: token tiles (the grid's raster); grouped: an upper bound (host-side grid sizing)
  int weight_tiles;  // ceil(n / 128)
  int splits;        // split-K (dense only)
  const float* a_scale;    // [rows of a, kb]
  const float* b_scale;    // [g, nb, kb] (GLU: nb = ceil(2n / 128))
  const int32_t* offsets;  // contiguous: [g + 1]
  const int32_t* counts;   // masked: [g]
  void* out;               // [rows of a, n]: bf16 / f32, or (GLU) e4m3 codes
  int out_f32;
  float* out_scale;        // GLU: [rows of a, n / 128] f32 scales of the re-quantized output
  int ue8m0;               // GLU: power-of-two scales
  float* partial;          // split-K: [tiles][splits][BT/2 registers][256 threads]
  int* tickets;            // split-K: [tiles], zeroed on the stream before this launch (one array per launch)
};

// kGlu: the fused gate/up variant: each CTA loads the gate rows [n0, n0 + 128) and the up rows
// [n + n0, n + n0 + 128) of the group's [w1; w3] and writes quantize_fp8(silu(gate) * up).
template <int BT, bool kGlu>
struct Config {
  static constexpr int kWeightTiles = kGlu ? 2 : 1;
  static constexpr int kTokenStageBytes = BT * kBlockK;
  static constexpr int kStageBytes = kWeightTiles * kWeightStageBytes + kTokenStageBytes;
  static constexpr int kStages = (220 * 1024) / kStageBytes < 12 ? (220 * 1024) / kStageBytes : 12;
  static constexpr int kRegs = BT / 2;
  static constexpr size_t kSmem = 1024 /* alignment slack */ + size_t(kStages) * kStageBytes +
                                  4 * BT * sizeof(float) /* token scales, 2 warpgroups x 2 buffers */ +
                                  (kGlu ? 8 * BT * sizeof(uint32_t) : 0) /* per-warp amax of each token */ +
                                  2 * kStages * sizeof(uint64_t);
  static_assert(kStages >= 4, "pipeline depth");
  static_assert(kSmem <= 232448, "shared memory budget of sm_90");
  static_assert(!kGlu || BT <= 64, "registers: the GLU variant keeps four BT/2 fragments");
};

// A tile: group e, token rows [row0, row_end), weight rows [n0, n0 + 128).
struct Tile { int e, row0, row_end, n0; };

// The tiles a CTA computes, in order. Every warp of the CTA runs its own copy and visits the same
// sequence (a pure function of the problem), so the producer and the consumers need no hand-off.
// - Dense: one tile per CTA (blockIdx.x), in a grouped raster: 8 weight tiles x every token tile, so a
//   wave re-reads few weight tiles from DRAM. Split-K runs along blockIdx.y.
// - Grouped (contiguous, masked): a persistent grid walks the tiles of non-empty groups only. Linear tile
//   i = tt * weight_tiles + weight tile, where tt indexes the concatenation of every group's
//   ceil(rows / BT) token tiles; CTA c takes i = c, c + gridDim.x, ... A forward-only cursor over the
//   groups (32 per warp step) finds the group of each tt, so a CTA reads each group's rows about once.
template <int BT>
struct TileScheduler {
  const Problem& p;
  int next;             // the next linear tile; -1 once a dense CTA has had its tile
  int e = 0, base = 0;  // cursor: group e, and the token tiles of the groups before it

  __device__ explicit TileScheduler(const Problem& q) : p(q), next(static_cast<int>(blockIdx.x)) {}

  // Rows [lo, hi) of group g. Offsets and counts are device data: clamped to a's rows, so bad ones give
  // wrong rows, never stray accesses or unbounded work.
  __device__ void rows_of(int g, int& lo, int& hi) const {
    if (p.mode == kMasked) {
      lo = g * p.m;
      hi = lo + min(max(p.counts[g], 0), p.m);
      return;
    }
    lo = min(max(p.offsets[g], 0), p.m);
    hi = min(max(p.offsets[g + 1], lo), p.m);
  }

  // The next tile into t, or false when the CTA is done. All 32 lanes of the calling warp call it together.
  __device__ bool next_tile(Tile& t) {
    const int i = next;
    if (i < 0) return false;
    if (p.mode == kDense) {
      next = -1;
      constexpr int kGroup = 8;
      const int per_group = kGroup * p.token_tiles;
      const int first = i / per_group * kGroup;
      const int size = min(p.weight_tiles - first, kGroup);
      const int r = i % per_group;
      t.e = 0;
      t.n0 = (first + r % size) * kTileN;
      t.row0 = r / size * BT;
      t.row_end = min(t.row0 + BT, p.m);
      return true;
    }
    next += static_cast<int>(gridDim.x);
    const int tt = i / p.weight_tiles;
    t.n0 = i % p.weight_tiles * kTileN;
    const int lane = threadIdx.x % 32;
    while (e < p.g) {
      const int g = e + lane;
      int lo = 0, hi = 0;
      if (g < p.g) rows_of(g, lo, hi);
      const int tiles = (hi - lo + BT - 1) / BT;
      int incl = tiles;
#pragma unroll
      for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o) incl += v;
      }
      const int total = __shfl_sync(0xffffffffu, incl, 31);
      if (tt < base + total) {  // tt is in one of these 32 groups: the first whose inclusive count passes it
        const int src = __ffs(__ballot_sync(0xffffffffu, tt < base + incl)) - 1;
        e += src;
        base += __shfl_sync(0xffffffffu, incl - tiles, src);
        const int lo_e = __shfl_sync(0xffffffffu, lo, src), hi_e = __shfl_sync(0xffffffffu, hi, src);
        t.e = e;
        t.row0 = lo_e + (tt - base) * BT;
        t.row_end = min(t.row0 + BT, hi_e);
        return true;
      }
      e += 32;
      base += total;
    }
    next = -1;
    return false;
  }
};

__device__ __forceinline__ void store_out(const Problem& p, int r, int c, float v) {
  const size_t i = static_cast<size_t>(r) * p.n + c;
  if (p.out_f32) static_cast<float*>(p.out)[i] = v;
  else static_cast<uint16_t*>(p.out)[i] = bf16_store(v);  // the CPU's rounding and NaN encoding (cuda/codec.cuh)
}

template <int BT, bool kGlu>
__global__ void __launch_bounds__(kThreads, 1)
    fp8_gemm_wgmma_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                          const Problem p) {
#ifdef DSV3_SM90A
  using C = Config<BT, kGlu>;
  using Mma = sm90::WgmmaE4m3<BT>;
  constexpr int kWeightBytes = C::kWeightTiles * kWeightStageBytes;
  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(smem_raw) + 1023) & ~uintptr_t{1023});
  uint8_t* s_b = smem;                                                    // [stages][1|2 x 128 rows][128 B] weights
  uint8_t* s_a = s_b + C::kStages * kWeightBytes;                         // [stages][BT rows][128 B] tokens
  float* s_scale = reinterpret_cast<float*>(s_a + C::kStages * C::kTokenStageBytes);  // [2 wg][2][BT]
  uint32_t* s_amax = reinterpret_cast<uint32_t*>(s_scale + 4 * BT);      // GLU: [8 warps][BT]
  uint64_t* full = reinterpret_cast<uint64_t*>(s_amax + (kGlu ? 8 * BT : 0));  // [stages]: TMA landed
  uint64_t* empty = full + C::kStages;                                    // [stages]: consumers done
  __shared__ int s_last;

  const int split = blockIdx.y;
  const int kb0 = static_cast<int>(static_cast<int64_t>(split) * p.kb / p.splits);
  const int kb1 = static_cast<int>(static_cast<int64_t>(split + 1) * p.kb / p.splits);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // Rows of b per group: n, or 2n for [w1; w3]; the up rows of a GLU tile start n rows after its gate rows.
  const int b_rows_per_group = kGlu ? 2 * p.n : p.n;

  if (threadIdx.x == 0) {
    for (int s = 0; s < C::kStages; ++s) {
      sm90::mbar_init(&full[s], 1);
      sm90::mbar_init(&empty[s], kConsumers / 32);  // lane 0 of each consumer warp
    }
    sm90::fence_barrier_init();
    sm90::fence_proxy_async_shared();  // the TMA completes transactions on these barriers (async proxy)
  }
  __syncthreads();

  if (warp == kConsumers / 32) {  // ---- producer warp: TMA loads ----
    if (lane == 0) {
      sm90::prefetch_tensor_map(&map_a);
      sm90::prefetch_tensor_map(&map_b);
    }
    TileScheduler<BT> tiles(p);
    Tile t;
    int s = 0;
    uint32_t phase = 0;
    while (tiles.next_tile(t)) {  // the ring's stage and phase run on across tiles
      const int b_row0 = t.e * b_rows_per_group + t.n0;
      for (int kb = kb0; kb < kb1; ++kb) {
        if (lane == 0) {
          sm90::mbar_wait(&empty[s], phase ^ 1);
          sm90::mbar_arrive_expect_tx(&full[s], C::kStageBytes);
          sm90::tma_load_2d(s_b + s * kWeightBytes, &map_b, kb * kBlockK, b_row0, &full[s]);
          if constexpr (kGlu) sm90::tma_load_2d(s_b + s * kWeightBytes + kWeightStageBytes, &map_b, kb * kBlockK, b_row0 + p.n, &full[s]);
          sm90::tma_load_2d(s_a + s * C::kTokenStageBytes, &map_a, kb * kBlockK, t.row0, &full[s]);
        }
        if (++s == C::kStages) { s = 0; phase ^= 1; }
      }
      __syncwarp();
    }
    return;
  }

  // ---- consumers: warpgroup wg owns weight rows n0 + 64 wg .. +64 (GLU: of the gate and of the up tile) ----
  constexpr int kU = kGlu ? C::kRegs : 1;  // the up fragments exist only in the GLU variant
  const int wg = warp / 4, tid = threadIdx.x % 128;
  constexpr int kScalesPerThread = (BT + 127) / 128;
  TileScheduler<BT> tiles(p);
  Tile t;
  int s = 0;
  uint32_t phase = 0;
  int it = 0;  // K blocks this warpgroup has consumed: its token-scale buffer is it & 1
  while (tiles.next_tile(t)) {
    float acc[C::kRegs], tmp[C::kRegs], acc_u[kU], tmp_u[kU];
#pragma unroll
    for (int i = 0; i < C::kRegs; ++i) acc[i] = 0.f;
#pragma unroll
    for (int i = 0; i < kU; ++i) acc_u[i] = 0.f;
    const float* b_scale = p.b_scale + (static_cast<size_t>(t.e) * p.nb + t.n0 / kTileN) * p.kb;
    const float* b_scale_u = b_scale + (kGlu ? static_cast<size_t>(p.n / kTileN) * p.kb : 0);  // GLU: n % 128 == 0
    for (int kb = kb0; kb < kb1; ++kb, ++it) {
      // This K block's token scales (rows past the tile's end get 0: they are never stored anyway).
      float sa[kScalesPerThread];
#pragma unroll
      for (int q = 0; q < kScalesPerThread; ++q) {
        const int r = t.row0 + tid + q * 128;
        sa[q] = (tid + q * 128 < BT && r < t.row_end) ? p.a_scale[static_cast<size_t>(r) * p.kb + kb] : 0.f;
      }
      const float sb = b_scale[kb];
      const float sb_u = kGlu ? b_scale_u[kb] : 0.f;
      sm90::mbar_wait(&full[s], phase);
      sm90::wgmma_fence();
      const uint8_t* tile_b = s_b + s * kWeightBytes + wg * 64 * kBlockK;
      const uint8_t* tile_a = s_a + s * C::kTokenStageBytes;
#pragma unroll
      for (int ks = 0; ks < kBlockK / 32; ++ks) {
        const uint64_t da = sm90::smem_desc_k128_sw128(tile_a + ks * 32);
        Mma::mma(tmp, sm90::smem_desc_k128_sw128(tile_b + ks * 32), da, ks > 0);
        if constexpr (kGlu) Mma::mma(tmp_u, sm90::smem_desc_k128_sw128(tile_b + kWeightStageBytes + ks * 32), da, ks > 0);
      }
      sm90::wgmma_commit();
      // Publish the token scales to the warpgroup while the MMAs run (double-buffered: a thread writes a
      // buffer again only after the next barrier, which every reader of its previous contents has passed).
      float* scales = s_scale + (wg * 2 + (it & 1)) * BT;
#pragma unroll
      for (int q = 0; q < kScalesPerThread; ++q)
        if (tid + q * 128 < BT) scales[tid + q * 128] = sa[q];
      sm90::named_barrier_sync(1 + wg, 128);
      sm90::wgmma_wait<0>();
#pragma unroll
      for (int i = 0; i < C::kRegs; ++i) sm90::fence_operand(tmp[i]);
      if constexpr (kGlu) {
#pragma unroll
        for (int i = 0; i < kU; ++i) sm90::fence_operand(tmp_u[i]);
      }
      if (lane == 0) sm90::mbar_arrive(&empty[s]);
      // Fragment: register 4i + {0,1} is (weight row lane/4, token 8i + 2(lane%4) + {0,1}); +2 is row + 8.
#pragma unroll
      for (int i = 0; i < BT / 8; ++i) {
        const float2 sc = reinterpret_cast<const float2*>(scales)[4 * i + lane % 4];  // tokens 8i + 2(lane%4) + {0,1}
        const float s0 = sc.x * sb, s1 = sc.y * sb;
        acc[4 * i + 0] = fmaf(tmp[4 * i + 0], s0, acc[4 * i + 0]);
        acc[4 * i + 1] = fmaf(tmp[4 * i + 1], s1, acc[4 * i + 1]);
        acc[4 * i + 2] = fmaf(tmp[4 * i + 2], s0, acc[4 * i + 2]);
        acc[4 * i + 3] = fmaf(tmp[4 * i + 3], s1, acc[4 * i + 3]);
        if constexpr (kGlu) {
          const float u0 = sc.x * sb_u, u1 = sc.y * sb_u;
          acc_u[4 * i + 0] = fmaf(tmp_u[4 * i + 0], u0, acc_u[4 * i + 0]);
          acc_u[4 * i + 1] = fmaf(tmp_u[4 * i + 1], u1, acc_u[4 * i + 1]);
          acc_u[4 * i + 2] = fmaf(tmp_u[4 * i + 2], u0, acc_u[4 * i + 2]);
          acc_u[4 * i + 3] = fmaf(tmp_u[4 * i + 3], u1, acc_u[4 * i + 3]);
        }
      }
      if (++s == C::kStages) { s = 0; phase ^= 1; }
    }

    const int row_w = t.n0 + wg * 64 + (warp % 4) * 16 + lane / 4;  // this thread's weight rows: row_w, row_w + 8

    if constexpr (kGlu) {
      // GLU epilogue: h = silu(gate) * up in f32 (silu_mul's expression), then quantize_fp8 of each token's
      // 128 intermediates of this tile: amax over the tile's 128 rows (8 lanes x 2 rows per warp, then the
      // 8 warps through shared memory), scale = max(amax, 1e-4) / 448, codes e4m3(h / scale).
#pragma unroll
      for (int i = 0; i < C::kRegs; ++i) acc[i] = silu_mul_f32(acc[i], acc_u[i]);
#pragma unroll
      for (int i = 0; i < BT / 8; ++i) {
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          uint32_t m = max(__float_as_uint(acc[4 * i + j]) & 0x7fffffffu, __float_as_uint(acc[4 * i + 2 + j]) & 0x7fffffffu);
          m = max(m, __shfl_xor_sync(0xffffffffu, m, 4));
          m = max(m, __shfl_xor_sync(0xffffffffu, m, 8));
          m = max(m, __shfl_xor_sync(0xffffffffu, m, 16));
          if (lane < 4) s_amax[warp * BT + 8 * i + 2 * lane + j] = m;
        }
      }
      sm90::named_barrier_sync(3, kConsumers);
      const int groups = p.n / kTileN;  // output scale columns per row
#pragma unroll
      for (int i = 0; i < BT / 8; ++i) {
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const int col = 8 * i + 2 * (lane % 4) + j, r = t.row0 + col;
          if (r >= t.row_end) continue;
          uint32_t m = 0;
#pragma unroll
          for (int w = 0; w < kConsumers / 32; ++w) m = max(m, s_amax[w * BT + col]);
          const float sc = fp8_group_scale(m, p.ue8m0);
          uint8_t* out = static_cast<uint8_t*>(p.out) + static_cast<size_t>(r) * p.n;
          out[row_w] = e4m3_quantize(acc[4 * i + j], sc);
          out[row_w + 8] = e4m3_quantize(acc[4 * i + 2 + j], sc);
          if (warp == 0 && lane < 4) p.out_scale[static_cast<size_t>(r) * groups + t.n0 / kTileN] = sc;
        }
      }
      sm90::named_barrier_sync(3, kConsumers);  // every warp has read s_amax before the next tile writes it
      continue;
    }

    if (p.splits > 1) {
      // Split-K: publish this split's fragment; the last split of the tile sums all of them in order.
      const int tile_id = blockIdx.x;  // dense: one tile per CTA
      float* part = p.partial + static_cast<size_t>(tile_id) * p.splits * C::kRegs * kConsumers;
#pragma unroll
      for (int i = 0; i < C::kRegs; ++i) part[(static_cast<size_t>(split) * C::kRegs + i) * kConsumers + threadIdx.x] = acc[i];
      __threadfence();
      sm90::named_barrier_sync(3, kConsumers);
      if (threadIdx.x == 0) s_last = atomicAdd(&p.tickets[tile_id], 1) == p.splits - 1;
      sm90::named_barrier_sync(3, kConsumers);
      if (!s_last) continue;
      __threadfence();
#pragma unroll
      for (int i = 0; i < C::kRegs; ++i) {
        float v = 0.f;
        for (int sp = 0; sp < p.splits; ++sp) v += __ldcg(&part[(static_cast<size_t>(sp) * C::kRegs + i) * kConsumers + threadIdx.x]);
        acc[i] = v;
      }
    }

    // Epilogue: out[token][weight row]. Columns past n and token rows past the tile's end are skipped.
#pragma unroll
    for (int i = 0; i < BT / 8; ++i) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int r = t.row0 + 8 * i + 2 * (lane % 4) + j;
        if (r >= t.row_end) continue;
        if (row_w < p.n) store_out(p, r, row_w, acc[4 * i + j]);
        if (row_w + 8 < p.n) store_out(p, r, row_w + 8, acc[4 * i + 2 + j]);
      }
    }
  }  // tiles
#else
  __trap();
#endif
}

// Ceiling kernel for the benchmarks: wgmma m64n128k32 back to back on whatever is in shared memory.
__global__ void __launch_bounds__(256, 1) fp8_mma_peak_kernel(int iters, float* sink) {
#ifdef DSV3_SM90A
  __shared__ __align__(1024) uint8_t tile[2 * 64 * 128 + 128 * 128];
  for (int i = threadIdx.x; i < static_cast<int>(sizeof(tile)); i += blockDim.x) tile[i] = 0x38;  // 1.0
  sm90::fence_proxy_async_shared();  // generic stores, then wgmma reads them through the async proxy
  __syncthreads();
  const int wg = threadIdx.x / 128;
  float d[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) {
    d[i] = 0.f;
    sm90::fence_operand(d[i]);  // the zeroing stays before the first wgmma.fence (the ISA's register rule)
  }
  const uint64_t da = sm90::smem_desc_k128_sw128(tile + wg * 64 * 128);
  const uint64_t db = sm90::smem_desc_k128_sw128(tile + 2 * 64 * 128);
  for (int it = 0; it < iters; ++it) {
    sm90::wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ++ks) sm90::WgmmaE4m3<128>::mma(d, da + 2 * ks, db + 2 * ks, 1);
    sm90::wgmma_commit();
    sm90::wgmma_wait<0>();
  }
#pragma unroll
  for (int i = 0; i < 64; ++i) sm90::fence_operand(d[i]);
  float s = 0.f;
#pragma unroll
  for (int i = 0; i < 64; ++i) s += d[i];
  if (s == -1.f) sink[threadIdx.x] = s;  // never true; keeps the MMAs alive
#else
  __trap();
#endif
}

// ---------------------------------------------------------------- host side

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*, const cuuint64_t*,
                                 const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encode_tiled() {
  static EncodeTiled fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q{};
#if CUDART_VERSION >= 12050
    DSV3_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q));
#else
    DSV3_CUDA_CHECK(cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &f, cudaEnableDefault, &q));
#endif
    if (q != cudaDriverEntryPointSuccess || !f) throw CudaError("cuTensorMapEncodeTiled is not available from the driver");
    return reinterpret_cast<EncodeTiled>(f);
  }();
  return fn;
}

// A row-major [rows, k] e4m3 matrix as TMA tiles of box_rows x 128 bytes, 128-byte swizzled;
// out-of-bounds rows and columns read as zeros.
CUtensorMap tensor_map(const void* base, int64_t rows, int64_t k, int box_rows) {
  CUtensorMap m;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(k)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kBlockK), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  const CUresult r = encode_tiled()(&m, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<void*>(base), dims, strides, box, elem,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw CudaError("cuTensorMapEncodeTiled failed (error " + std::to_string(static_cast<int>(r)) + ") for a [" +
                    std::to_string(rows) + ", " + std::to_string(k) + "] e4m3 operand");
  return m;
}

struct DeviceCaps { int cc = 0, sms = 0; };
DeviceCaps caps(int device) {
  static std::mutex mu;
  static std::vector<DeviceCaps> cache;
  std::lock_guard<std::mutex> l(mu);
  if (device >= static_cast<int>(cache.size())) cache.resize(device + 1);
  DeviceCaps& c = cache[device];
  if (c.cc == 0) {
    int major = 0, minor = 0;
    DSV3_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    DSV3_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    DSV3_CUDA_CHECK(cudaDeviceGetAttribute(&c.sms, cudaDevAttrMultiProcessorCount, device));
    c.cc = major * 10 + minor;
  }
  return c;
}

template <int BT, bool kGlu>
void launch_bt(Problem p, const void* a, int64_t a_rows, const void* b, int64_t b_rows, int device, cudaStream_t s) {
  using C = Config<BT, kGlu>;
  {  // the dynamic shared memory limit is a per-device attribute of the kernel
    static std::mutex mu;
    static std::vector<bool> done;
    std::lock_guard<std::mutex> l(mu);
    if (device >= static_cast<int>(done.size())) done.resize(device + 1, false);
    if (!done[device]) {
      DSV3_CUDA_CHECK(cudaFuncSetAttribute(fp8_gemm_wgmma_kernel<BT, kGlu>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(C::kSmem)));
      done[device] = true;
    }
  }
  const CUtensorMap map_a = tensor_map(a, a_rows, p.k, BT);
  const CUtensorMap map_b = tensor_map(b, b_rows, p.k, kTileN);
  // Dense: the exact tile count; grouped: an upper bound, and the persistent grid is at most one CTA per SM.
  const int64_t tiles = static_cast<int64_t>(p.token_tiles) * p.weight_tiles;
  if (tiles > 0x7fffffff) throw CudaError("fp8Gemm: too many tiles for one launch");
  const int64_t ctas = p.mode == kDense ? tiles : std::min<int64_t>(tiles, caps(device).sms);
  // Split-K: the partial fragments and the tickets of this launch (its own, so launches on other streams
  // cannot take each other's tickets), zeroed in stream order.
  void* work = nullptr;
  if (p.splits > 1) {
    const size_t partial_bytes = static_cast<size_t>(tiles) * p.splits * C::kRegs * kConsumers * sizeof(float);
    work = device_alloc(device, partial_bytes + static_cast<size_t>(tiles) * sizeof(int));
    p.partial = static_cast<float*>(work);
    p.tickets = reinterpret_cast<int*>(static_cast<char*>(work) + partial_bytes);
    const cudaError_t e = cudaMemsetAsync(p.tickets, 0, static_cast<size_t>(tiles) * sizeof(int), s);
    if (e != cudaSuccess) {
      device_free(device, work);
      throw_cuda(e, "fp8Gemm split-K tickets", __FILE__, __LINE__);
    }
  }
  fp8_gemm_wgmma_kernel<BT, kGlu><<<dim3(static_cast<unsigned>(ctas), p.splits), kThreads, C::kSmem, s>>>(map_a, map_b, p);
  cudaError_t launch_err = cudaGetLastError();
  if (work) device_free(device, work);  // stream-ordered: after the kernel
  if (launch_err != cudaSuccess) throw_cuda(launch_err, "fp8_gemm_wgmma_kernel launch", __FILE__, __LINE__);
}

// Token tile for `rows` tokens per group: the smallest wgmma N that covers them, up to 128.
int token_tile(int64_t rows) { return rows <= 8 ? 8 : rows <= 16 ? 16 : rows <= 32 ? 32 : rows <= 64 ? 64 : 128; }

void launch(Problem p, int bt, const void* a, int64_t a_rows, const void* b, int64_t b_rows, int device, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (bt) {
    case 8: return launch_bt<8, false>(p, a, a_rows, b, b_rows, device, s);
    case 16: return launch_bt<16, false>(p, a, a_rows, b, b_rows, device, s);
    case 32: return launch_bt<32, false>(p, a, a_rows, b, b_rows, device, s);
    case 64: return launch_bt<64, false>(p, a, a_rows, b, b_rows, device, s);
    default: return launch_bt<128, false>(p, a, a_rows, b, b_rows, device, s);
  }
}

void launch_glu(Problem p, int bt, const void* a, int64_t a_rows, const void* b, int64_t b_rows, int device, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (bt) {
    case 8: return launch_bt<8, true>(p, a, a_rows, b, b_rows, device, s);
    case 16: return launch_bt<16, true>(p, a, a_rows, b, b_rows, device, s);
    case 32: return launch_bt<32, true>(p, a, a_rows, b, b_rows, device, s);
    default: return launch_bt<64, true>(p, a, a_rows, b, b_rows, device, s);
  }
}

bool built_for_sm90a() {
#ifdef DSV3_CUDA_ARCHS_STR
  return std::strstr(DSV3_CUDA_ARCHS_STR, "90a") != nullptr;
#else
  return false;
#endif
}

void check_dims(int64_t m, int64_t n, int64_t k, int64_t g) {
  if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff || g * n > 0x7fffffff)
    throw CudaError("fp8Gemm (wgmma kernel): dimensions beyond 2^31 are not supported");
}

GemmKernel resolve(GemmKernel kernel, int device, const void* a, const void* b, int64_t k) {
  std::string why;
  if (kernel == GemmKernel::simple) return kernel;
  if (wgmma_usable(device, a, b, k, &why)) return GemmKernel::wgmma;
  if (kernel == GemmKernel::wgmma) throw CudaError("fp8Gemm: the wgmma kernel cannot run this call: " + why);
  return GemmKernel::simple;
}

}  // namespace

bool wgmma_usable(int device, const void* a, const void* b, int64_t k, std::string* why) {
  if (!built_for_sm90a()) { *why = "this build has no sm_90a code (DSV3_CUDA_ARCHS)"; return false; }
  const DeviceCaps c = caps(device);
  if (c.cc != 90) { *why = "the device is sm_" + std::to_string(c.cc) + ", not sm_90"; return false; }
  if (k % 16 != 0) { *why = "k = " + std::to_string(k) + " is not a multiple of 16 (TMA row stride)"; return false; }
  if (reinterpret_cast<uintptr_t>(a) % 16 || reinterpret_cast<uintptr_t>(b) % 16) { *why = "operands are not 16-byte aligned"; return false; }
  return true;
}

void fp8_gemm(const Fp8GemmParams& p, GemmKernel kernel, int device, void* stream) {
  if (p.m == 0 || p.n == 0) return;
  if (resolve(kernel, device, p.a, p.b, p.k) == GemmKernel::simple || p.k == 0) return fp8_gemm_simple(p, stream);
  check_dims(p.m, p.n, p.k, 1);
  const int bt = token_tile(p.m);
  Problem q{};
  q.mode = kDense;
  q.m = static_cast<int>(p.m); q.n = static_cast<int>(p.n); q.k = static_cast<int>(p.k); q.g = 1;
  q.kb = static_cast<int>(ceil_div(p.k, kQuantBlock)); q.nb = static_cast<int>(ceil_div(p.n, kQuantBlock));
  q.token_tiles = static_cast<int>(ceil_div(p.m, bt));
  q.weight_tiles = static_cast<int>(ceil_div(p.n, kTileN));
  q.a_scale = p.a_scale; q.b_scale = p.b_scale; q.out = p.out; q.out_f32 = p.out_dtype == DType::f32;
  // Split K when the tiles cannot fill the SMs: each split keeps >= 2 K blocks.
  const int64_t tiles = static_cast<int64_t>(q.token_tiles) * q.weight_tiles;
  const int sms = caps(device).sms;
  q.splits = 1;
  if (tiles < sms)
    q.splits = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({sms / tiles, q.kb / 2, 32})));
  launch(q, bt, p.a, p.m, p.b, p.n, device, stream);
}

void grouped_gemm(const GroupedGemmParams& p, GemmKernel kernel, int64_t expected_m, int device, void* stream) {
  if (p.g == 0 || p.m == 0 || p.n == 0) return;
  const bool fp8 = p.a_dtype == DType::f8_e4m3;
  if (!fp8 || resolve(kernel, device, p.a, p.b, p.k) == GemmKernel::simple || p.k == 0) return grouped_gemm_simple(p, stream);
  check_dims(p.masked ? p.g * p.m : p.m, p.n, p.k, p.g);
  const int64_t per_group = expected_m > 0 ? expected_m : p.masked ? p.m : ceil_div(p.m, p.g);
  const int bt = token_tile(per_group);
  Problem q{};
  q.mode = p.masked ? kMasked : kContiguous;
  q.m = static_cast<int>(p.m); q.n = static_cast<int>(p.n); q.k = static_cast<int>(p.k); q.g = static_cast<int>(p.g);
  q.kb = static_cast<int>(ceil_div(p.k, kQuantBlock)); q.nb = static_cast<int>(ceil_div(p.n, kQuantBlock));
  q.token_tiles = static_cast<int>(p.masked ? p.g * ceil_div(p.m, bt) : ceil_div(p.m, bt) + p.g);
  q.weight_tiles = static_cast<int>(ceil_div(p.n, kTileN));
  q.splits = 1;
  q.a_scale = p.a_scale; q.b_scale = p.b_scale; q.offsets = p.offsets; q.counts = p.counts;
  q.out = p.out; q.out_f32 = p.out_dtype == DType::f32;
  launch(q, bt, p.a, p.masked ? p.g * p.m : p.m, p.b, p.g * p.n, device, stream);
}

void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams& p, GemmKernel kernel, int64_t expected_m, int device, void* stream) {
  const int64_t rows = p.masked ? p.g * p.m : p.m;
  if (p.g == 0 || rows == 0 || p.n == 0) return;
  const GemmKernel kern = resolve(kernel, device, p.a, p.b, p.k);
  if (kern == GemmKernel::wgmma && p.n % kTileN == 0 && p.k > 0) {
    // Fused: one pass over [w1; w3], SiLU-multiply and re-quantization in the epilogue.
    check_dims(rows, 2 * p.n, p.k, p.g);
    const int64_t per_group = expected_m > 0 ? expected_m : p.masked ? p.m : ceil_div(p.m, p.g);
    const int bt = std::min(token_tile(per_group), 64);
    Problem q{};
    q.mode = p.masked ? kMasked : kContiguous;
    q.m = static_cast<int>(p.m); q.n = static_cast<int>(p.n); q.k = static_cast<int>(p.k); q.g = static_cast<int>(p.g);
    q.kb = static_cast<int>(ceil_div(p.k, kQuantBlock)); q.nb = static_cast<int>(ceil_div(2 * p.n, kQuantBlock));
    q.token_tiles = static_cast<int>(p.masked ? p.g * ceil_div(p.m, bt) : ceil_div(p.m, bt) + p.g);
    q.weight_tiles = static_cast<int>(p.n / kTileN);
    q.splits = 1;
    q.a_scale = p.a_scale; q.b_scale = p.b_scale; q.offsets = p.offsets; q.counts = p.counts;
    q.out = p.out; q.out_scale = p.out_scale; q.ue8m0 = p.ue8m0;
    return launch_glu(q, bt, p.a, rows, p.b, p.g * 2 * p.n, device, stream);
  }
  // Two steps: the grouped GEMM into an f32 [rows, 2n] buffer, then SiLU-multiply-quantize per group row.
  float* gu = static_cast<float*>(device_alloc(device, static_cast<size_t>(rows) * 2 * p.n * sizeof(float)));
  try {
    grouped_gemm(GroupedGemmParams{p.a, DType::f8_e4m3, p.a_scale, p.b, DType::f8_e4m3, p.b_scale, gu, DType::f32,
                                   p.offsets, p.counts, p.g, p.m, 2 * p.n, p.k, p.masked},
                 kern, expected_m, device, stream);
    silu_mul_quant_grouped(SiluMulQuantParams{gu, gu + p.n, DType::f32, 2 * p.n, p.out, p.out_scale, rows, p.n, p.ue8m0},
                           p.masked ? nullptr : p.offsets, p.masked ? p.counts : nullptr, p.g, p.m, stream);
  } catch (...) {
    device_free(device, gu);
    throw;
  }
  device_free(device, gu);  // stream-ordered: after both kernels
}

void fp8_mma_peak(int device, int ctas, int iters, void* stream) {
  if (!built_for_sm90a() || caps(device).cc != 90) throw CudaError("fp8MmaPeak needs an sm_90 device and an sm_90a build");
  float* sink = static_cast<float*>(device_alloc(device, 256 * sizeof(float)));
  fp8_mma_peak_kernel<<<ctas, 256, 0, static_cast<cudaStream_t>(stream)>>>(iters, sink);
  cudaError_t e = cudaGetLastError();
  device_free(device, sink);
  if (e != cudaSuccess) throw_cuda(e, "fp8_mma_peak_kernel launch", __FILE__, __LINE__);
}

}  // namespace dsv3::cuda
