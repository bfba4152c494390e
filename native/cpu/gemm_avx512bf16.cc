// The GEMM kernels on AVX512_BF16 (vdpbf16ps: 32 multiply-adds per instruction, twice an f32 FMA's), for the
// problems whose operands bf16 holds exactly: bf16 and FP8 e4m3 (every e4m3 value, subnormals included, is a
// bf16). Packed (prefill-sized) problems: panels hold bf16 pairs (elements k and k + 1 of a row in one 32-bit
// word) instead of f32; the driver, tiles, K blocks and scale epilogue are the f32 set's (gemm.cc run_packed),
// so only the packing and the inner product change. Skinny (decode) problems: A as bf16 words, weight rows
// streamed one at a time (below). Each product of two bf16 is exact in f32 and the sums are f32 as before; the
// instruction treats bf16 subnormal inputs (|x| < 2^-126) as zero and flushes subnormal sums, so results differ
// from the f32 kernels by rounding only (within the GEMM tests' tolerances). Compiled for its ISA by target
// pragmas; gemm.cc calls it only when the CPU has AVX512_BF16 besides the AVX-512 set's features.
#include <algorithm>
#include <cstring>
#include <utility>

#include "native/cpu/gemm_internal.h"
#include "native/cpu/rowops.h"  // transpose16, store_rows, store_thin_block

#if defined(__x86_64__)
#include <immintrin.h>

namespace dsv3::cpu::gemm_detail {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
#pragma GCC diagnostic ignored "-Wuninitialized"       // the same, for _mm512_undefined_* in the unpack / extract intrinsics
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16,avx2,fma")
#endif
namespace avx512bf16 {
constexpr int MR = 12, NR = 32;  // as the AVX-512 set: 24 zmm accumulators, 2 B vectors, broadcasts

inline __mmask32 mask32(int64_t left) { return left >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((1u << left) - 1); }

// 64 e4m3fn codes -> 64 bf16, per 128-bit lane: two 128-entry byte lookups give each bf16's low and high byte
// (vpermi2b ignores the index's sign bit; the sign is or-ed into the high byte), interleaved into words.
inline void e4m3x64_lanes(__m512i x, const Bf16Lut& l, __m512i v[2]) {
  const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(l.lo), x, _mm512_load_si512(l.lo + 64));
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(_mm512_load_si512(l.hi), x, _mm512_load_si512(l.hi + 64)), x,
                                               _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);
  v[0] = _mm512_unpacklo_epi8(lo, hi);  // 128-bit lane L: codes 16 L + 0..7
  v[1] = _mm512_unpackhi_epi8(lo, hi);  // 128-bit lane L: codes 16 L + 8..15
}
// The same in element order: v[0] codes 0..31, v[1] codes 32..63.
inline void e4m3x64_bf16(__m512i x, const Bf16Lut& l, __m512i v[2]) {
  __m512i w[2];
  e4m3x64_lanes(x, l, w);
  v[0] = _mm512_permutex2var_epi64(w[0], _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), w[1]);
  v[1] = _mm512_permutex2var_epi64(w[0], _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), w[1]);
}

// Packs `rows` rows (row stride ld elements) x kc elements as a panel of bf16 pairs: the 32-bit word
// dst[p * width + r] holds elements 2p and 2p + 1 of row r (element 2p in the low half); rows rows..width
// and the elements past kc are zero. Writes whole groups of 16 pairs (the panel is kKB deep).
template <DType T>
void pack_t(const char* src, int64_t ld, int rows, int width, int kc, float* dst) {
  static_assert(T == DType::bf16 || T == DType::f8_e4m3, "bf16 pairs hold bf16 and e4m3 exactly");
  uint32_t* d = reinterpret_cast<uint32_t*>(dst);
  const Bf16Lut& lut = bf16_lut();
  constexpr int kStep = T == DType::bf16 ? 32 : 64;  // elements of a row per load
  for (int h = 0; h < width; h += 16) {
    const int lanes = std::min(16, width - h), nr = std::max(0, std::min(16, rows - h));
    const __mmask16 store_mask = lanes >= 16 ? __mmask16(0xffff) : __mmask16((1u << lanes) - 1);
    for (int k = 0; k < kc; k += kStep) {
      __m512 r[kStep / 32][16];
      for (int i = 0; i < 16; ++i) {
        if (i >= nr) {
          for (int q = 0; q < kStep / 32; ++q) r[q][i] = _mm512_setzero_ps();
          continue;
        }
        if constexpr (T == DType::bf16) {
          r[0][i] = _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mask32(kc - k), src + ((h + i) * ld + k) * 2));
        } else {
          const int64_t left = kc - k;
          const __mmask64 m = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
          __m512i v[2];
          e4m3x64_bf16(_mm512_maskz_loadu_epi8(m, src + (h + i) * ld + k), lut, v);  // code 0 -> +0
          r[0][i] = _mm512_castsi512_ps(v[0]);
          r[1][i] = _mm512_castsi512_ps(v[1]);
        }
      }
      for (int q = 0; q < kStep / 32 && k + 32 * q < kc; ++q) {
        transpose16(r[q]);  // r[q][t]: pair t of the 16 rows
        for (int t = 0; t < 16; ++t) _mm512_mask_storeu_ps(reinterpret_cast<float*>(d + ((k + 32 * q) / 2 + t) * width + h), store_mask, r[q][t]);
      }
    }
  }
}

void pack(const char* src, DType t, int64_t ld, int rows, int width, int kc, float* /*tmp*/, float* dst) {
  if (t == DType::bf16) pack_t<DType::bf16>(src, ld, rows, width, kc, dst);
  else pack_t<DType::f8_e4m3>(src, ld, rows, width, kc, dst);  // the driver sends only bf16 and e4m3 here
}

// tile[R, NR] = sum over the kc elements of A's and B's pair panels; then C = tile * s[r] (first K block)
// or C += tile * s[r], as the f32 set's micro-kernel.
template <int R>
void micro(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first) {
  const uint32_t* a = reinterpret_cast<const uint32_t*>(A);
  __m512 c0[R], c1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  const int pairs = (kc + 1) / 2;
  for (int p = 0; p < pairs; ++p) {
    const __m512bh b0 = reinterpret_cast<__m512bh>(_mm512_load_si512(B + p * NR));
    const __m512bh b1 = reinterpret_cast<__m512bh>(_mm512_load_si512(B + p * NR + 16));
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(a[p * MR + r])));
      c0[r] = _mm512_dpbf16_ps(c0[r], av, b0);
      c1[r] = _mm512_dpbf16_ps(c1[r], av, b1);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    const __m512 sv = _mm512_set1_ps(s[r]);
    float* c = C + r * ldc;
    if (first) {
      _mm512_storeu_ps(c, _mm512_mul_ps(c0[r], sv));
      _mm512_storeu_ps(c + 16, _mm512_mul_ps(c1[r], sv));
    } else {
      _mm512_storeu_ps(c, _mm512_fmadd_ps(c0[r], sv, _mm512_loadu_ps(c)));
      _mm512_storeu_ps(c + 16, _mm512_fmadd_ps(c1[r], sv, _mm512_loadu_ps(c + 16)));
    }
  }
}

// ---- Skinny (decode) kernels: m <= 8 rows of A (bf16 words, see skinny_a) against B rows streamed once --------
// A step is 64 elements of a B row: bf16, two loads; e4m3, one load decoded to two vectors of bf16 by
// e4m3x64_lanes (without e4m3x64_bf16's cross-lane reorder: skinny_a puts A in that order instead). Two
// accumulators per (row of A, row of B), one per vector of a step, whatever M, so that a row's result does not
// depend on the batch it decodes in. Block-scaled problems keep, per (row of A, row of B), the 128-element block's
// sum apart and add it times a_scale * b_scale (the recipe's product, f32) at the block's end: bf16 A cannot carry
// the scales exactly, as the f32 kernels' folded A does.
template <DType T>
inline void load_step(const char* p, int64_t left, const Bf16Lut& lut, __m512i v[2]) {
  if constexpr (T == DType::f8_e4m3) {
    const __m512i x = left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((__mmask64(1) << left) - 1, p);
    e4m3x64_lanes(x, lut, v);
  } else {
    v[0] = _mm512_maskz_loadu_epi16(mask32(left), p);
    v[1] = left > 32 ? _mm512_maskz_loadu_epi16(mask32(left - 32), p + 64) : _mm512_setzero_si512();
  }
}

// B rows js[0..R) against the M rows of A -> sum[r * M + i] (16 lanes whose sum is out[i, js[r]]). Each row front
// to back; R rows advance in lockstep, each row's sums in the same order whatever R (bit-identical results). A task
// streams its rows one after the other (R = 1), or at M = 1 two far-apart runs of them at once (R = 2,
// two_streams_half): each run is one sequential stream, which the hardware prefetchers follow best. Streaming
// neighbouring rows together (4 at once, the f32 kernels' former scheme, tuned on an Intel CPU) read 2048 x 1024
// weights from DRAM at 13-24 GB/s on a Zen 4 (2 threads) against 29-37 one row at a time (bench/RESULTS.md,
// 2026-12-04); two neighbouring FP8 rows, 17-19 GB/s against 35.
template <int R, int M, DType T, bool Scaled>
inline void row(const SkinnyArgs& g, const int64_t* js, const Bf16Lut& lut, __m512* sum) {
  constexpr int64_t bsz = kSize<T>;
  const int64_t k = g.k, lda = g.lda * 2;  // A in bf16 words
  const uint16_t* a = reinterpret_cast<const uint16_t*>(g.a);
  const char* b[R];
  int64_t rb[R];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) b[r] = g.b + js[r] * k * bsz, rb[r] = js[r] / kKB;
  __m512 acc[R][M * 2], tot[R][Scaled ? M : 1];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int q = 0; q < M * 2; ++q) acc[r][q] = _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int q = 0; q < (Scaled ? M : 1); ++q) tot[r][q] = _mm512_setzero_ps();
  }
  for (int64_t c = 0; c < k; c += 64) {
    __m512i v[R][2];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      // FP8 only: 1 KB ahead in the row (its decode makes a step long enough that the hardware prefetchers alone
      // leave the loads waiting); bf16 rows stream faster without (Zen 4, small decode: bf16 215-241 -> 257-283
      // tok/s without it; fp8 375-411 with it against 319-387 without).
      if constexpr (T == DType::f8_e4m3) _mm_prefetch(b[r] + c * bsz + 1024, _MM_HINT_T0);
      load_step<T>(b[r] + c * bsz, k - c, lut, v[r]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m512bh ah = reinterpret_cast<__m512bh>(_mm512_load_si512(a + i * lda + c + 32 * h));
#pragma GCC unroll 2
        for (int r = 0; r < R; ++r) acc[r][2 * i + h] = _mm512_dpbf16_ps(acc[r][2 * i + h], ah, reinterpret_cast<__m512bh>(v[r][h]));
      }
    if constexpr (Scaled) {
      if ((c + 64) % kKB == 0 || c + 64 >= k) {  // the end of K block kb: tot += (its sum) * a_scale * b_scale
        const int64_t kb = c / kKB;
#pragma GCC unroll 8
        for (int i = 0; i < M; ++i)
#pragma GCC unroll 2
          for (int r = 0; r < R; ++r) {
            const __m512 sv = _mm512_set1_ps(g.as[i * g.nkb + kb] * g.bs[rb[r] * g.nkb + kb]);
            tot[r][i] = _mm512_fmadd_ps(_mm512_add_ps(acc[r][2 * i], acc[r][2 * i + 1]), sv, tot[r][i]);
            acc[r][2 * i] = acc[r][2 * i + 1] = _mm512_setzero_ps();
          }
      }
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) sum[r * M + i] = Scaled ? tot[r][i] : _mm512_add_ps(acc[r][2 * i], acc[r][2 * i + 1]);
}

// B rows js[0..G), R at a time in lockstep: their G * M sum vectors reduced and stored. Grouping B rows (G = 4
// for M = 1, 2 for M = 2) fills every reduce4 instead of padding it with zeros: 10-18% faster at M = 1 on 384- to
// 1024-element rows in the cache.
template <int R, int M, int G, DType T, bool Scaled>
inline void rows(const SkinnyArgs& g, const int64_t* js, const Bf16Lut& lut) {
  static_assert(G % R == 0, "whole lockstep groups");
  __m512 sum[M * G];
#pragma GCC unroll 4
  for (int r = 0; r < G; r += R) row<R, M, T, Scaled>(g, js + r, lut, sum + r * M);
  store_rows<M, G>(sum, js, g.out, g.ot, g.ldo);
}

template <int M, DType T, bool Scaled>
void skinny_t(const SkinnyArgs& g) {
  constexpr int G = M < 4 ? 4 / M : 1;
  const Bf16Lut& lut = bf16_lut();
  int64_t j = g.j0;
  if constexpr (M == 1) {  // two streams: rows j0 + i and j0 + h + i in lockstep, two pairs per reduce4
    const int64_t h = two_streams_half(g.j1 - g.j0);
    for (int64_t i = 0; i < h; i += 2) {
      const int64_t js[4] = {g.j0 + i, g.j0 + h + i, g.j0 + i + 1, g.j0 + h + i + 1};
      rows<2, 1, 4, T, Scaled>(g, js, lut);
    }
    j += 2 * h;
  }
  for (; j + G <= g.j1; j += G) {
    int64_t js[G];
    for (int r = 0; r < G; ++r) js[r] = j + r;
    rows<1, M, G, T, Scaled>(g, js, lut);
  }
  for (; j < g.j1; ++j) rows<1, M, 1, T, Scaled>(g, &j, lut);
}

template <int M>
void skinny(const SkinnyArgs& g) {  // the driver sends only bf16 and e4m3 B here
  const bool scaled = g.as != nullptr;
  if (g.bt == DType::f8_e4m3) scaled ? skinny_t<M, DType::f8_e4m3, true>(g) : skinny_t<M, DType::f8_e4m3, false>(g);
  else scaled ? skinny_t<M, DType::bf16, true>(g) : skinny_t<M, DType::bf16, false>(g);
}

// One row of A (k elements of dtype t, B's too: gemm.cc sends this set only problems whose A and B share it) ->
// `cols` (whole K blocks) bf16 words in the order a step of B decodes in, zero past k: for e4m3, within each 64:
// the codes 16 L + 0..7 of the four 128-bit lanes L, then their codes 16 L + 8..15 (e4m3x64_lanes' own order);
// for bf16, natural order. 64 elements per step (scalar lookups took 1.8 us per call at k = 1024, more than a
// small decode GEMV's weights).
void skinny_a(const void* src, DType t, int64_t k, int64_t cols, uint16_t* dst) {
  const Bf16Lut& lut = bf16_lut();
  for (int64_t c = 0; c < cols; c += 64) {
    const int64_t left = std::max<int64_t>(0, k - c);
    __m512i v[2];
    if (t == DType::f8_e4m3) {
      const uint8_t* p = static_cast<const uint8_t*>(src) + c;
      e4m3x64_lanes(left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((__mmask64(1) << left) - 1, p), lut, v);  // code 0 -> +0
    } else {
      const uint16_t* p = static_cast<const uint16_t*>(src) + c;
      v[0] = _mm512_maskz_loadu_epi16(mask32(left), p);
      v[1] = left > 32 ? _mm512_maskz_loadu_epi16(mask32(left - 32), p + 32) : _mm512_setzero_si512();
    }
    _mm512_storeu_si512(dst + c, v[0]);
    _mm512_storeu_si512(dst + c + 32, v[1]);
  }
}
// ---- Thin kernels: 9 <= m <= 32 rows of A, bf16, unscaled (the prefill's routed experts) ----------------
// As the AVX-512 set's (B never packed, each B element broadcast from its row against MV vectors of A^T), on bf16
// pairs: A^T is pack's panel of pairs (word p of lane i: elements 2p, 2p + 1 of row i) and a B row's pair, one
// 32-bit broadcast, meets it in one vdpbf16ps. An odd K's last pair takes B's last element alone (the word past
// the row is not read: the next row's element, or past the buffer, times A's zero could be a NaN).
constexpr int kThinNB = 8;
template <int MV, int NB>
inline void thin_block(const ThinArgs& g, int64_t j) {
  constexpr int W = 16 * MV;
  const int64_t k = g.k, pairs = k / 2;
  const uint16_t* b[NB];
#pragma GCC unroll 8
  for (int r = 0; r < NB; ++r) b[r] = reinterpret_cast<const uint16_t*>(g.b) + (j + r) * k;
  __m512 acc[NB][MV];
#pragma GCC unroll 8
  for (int r = 0; r < NB; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_setzero_ps();
  const uint32_t* at = reinterpret_cast<const uint32_t*>(g.at);
  // The next block's rows, a line every other pair (NB = 8 rows of 4-byte pairs), as the AVX-512 set's.
  const char* pf = g.b + (j + NB) * k * 2;
  auto step = [&](const uint32_t* ap, auto pair_of) {
    __m512bh a[MV];
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) a[v] = reinterpret_cast<__m512bh>(_mm512_load_si512(ap + 16 * v));
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const __m512bh bv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(pair_of(b[r]))));
#pragma GCC unroll 2
      for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], a[v], bv);
    }
  };
#pragma GCC unroll 2
  for (int64_t p = 0; p < pairs; ++p, at += W) {
    if (NB == kThinNB && (p & 1) == 0) _mm_prefetch(pf + p * 32, _MM_HINT_T0);
    step(at, [p](const uint16_t* row) { uint32_t w; std::memcpy(&w, row + 2 * p, 4); return w; });
  }
  if (k & 1) step(at, [k](const uint16_t* row) { return static_cast<uint32_t>(row[k - 1]); });
  store_thin_block<NB, MV>(acc, g.m, g.tile + (j - g.j0), g.j1 - g.j0);
}

template <int MV>
void thin_t(const ThinArgs& g) {
  int64_t j = g.j0;
  for (; j + kThinNB <= g.j1; j += kThinNB) thin_block<MV, kThinNB>(g, j);
  for (; j < g.j1; ++j) thin_block<MV, 1>(g, j);
}
void thin(const ThinArgs& g) { g.m > 16 ? thin_t<2>(g) : thin_t<1>(g); }

}  // namespace avx512bf16
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop

namespace avx512bf16 {
// Outside the target region: baseline code, safe on any CPU. No decode: A and B stay bf16 words.
template <size_t... I>
KernelSet make(std::index_sequence<I...>) {
  KernelSet ks;
  ks.mr = MR; ks.nr = NR; ks.pack = &pack;
  ((ks.micro[I + 1] = &micro<static_cast<int>(I) + 1>), ...);
  ks.skinny_max = 8;
  ks.skinny_a = &skinny_a;
  ks.skinny[1] = &skinny<1>; ks.skinny[2] = &skinny<2>; ks.skinny[3] = &skinny<3>; ks.skinny[4] = &skinny<4>;
  ks.skinny[5] = &skinny<5>; ks.skinny[6] = &skinny<6>; ks.skinny[7] = &skinny<7>; ks.skinny[8] = &skinny<8>;
  ks.thin_min = 9; ks.thin_max = 32; ks.thin_dtype = DType::bf16; ks.thin = &thin;
  return ks;
}
}  // namespace avx512bf16

}  // namespace

const KernelSet& avx512bf16_kernels() {
  static const KernelSet ks = avx512bf16::make(std::make_index_sequence<avx512bf16::MR>());
  return ks;
}

}  // namespace dsv3::cpu::gemm_detail
#endif  // __x86_64__
