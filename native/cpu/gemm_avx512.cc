// The GEMMs' AVX-512 kernel set (F, BW, VL, DQ, VBMI, plus AVX2 and FMA): a 12 x 32 register tile,
// panels decoded and transposed in registers, FP8 decoded 64 codes at a time by VBMI byte lookups.
// Compiled for that ISA by function-level target pragmas only, so the addon still loads anywhere;
// native/cpu/gemm.cc calls it only when the CPU has every one of those features.
#include <algorithm>
#include <cmath>
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
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx2,fma")
#endif
namespace avx512 {
constexpr int MR = 12, NR = 32;  // 24 zmm accumulators + 2 B vectors + broadcasts

// 16 e4m3fn codes -> f32: normals by exponent rebias ((e + 120) << 23 | m << 20), subnormals m * 2^-9,
// 0x7f -> NaN, then the sign bit.
inline __m512 e4m3x16(__m128i bytes) {
  const __m512i x = _mm512_cvtepu8_epi32(bytes);
  const __m512i mag = _mm512_and_si512(x, _mm512_set1_epi32(0x7f));
  const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(x, _mm512_set1_epi32(0x80)), 24);
  const __m512 normal = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(mag, 20), _mm512_set1_epi32(120 << 23)));
  const __m512 sub = _mm512_mul_ps(_mm512_cvtepi32_ps(mag), _mm512_set1_ps(1.f / 512.f));
  __m512 r = _mm512_mask_blend_ps(_mm512_cmplt_epi32_mask(mag, _mm512_set1_epi32(8)), normal, sub);
  r = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(mag, _mm512_set1_epi32(0x7f)), r, _mm512_set1_ps(NAN));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(r), sign));
}
inline __m512 bf16x16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

// 64 e4m3fn codes at once (VBMI): two 128-entry byte lookups give the bf16 bytes (vpermi2b ignores
// the index's sign bit; the sign is or-ed into the high byte), then interleaves widen to f32.
// f[q], 128-bit lane L, element t holds code 16 L + 4 q + t.
struct Lut64 { __m512i lo0, lo1, hi0, hi1; };
inline Lut64 load_lut() {
  const Bf16Lut& l = bf16_lut();
  return {_mm512_load_si512(l.lo), _mm512_load_si512(l.lo + 64), _mm512_load_si512(l.hi), _mm512_load_si512(l.hi + 64)};
}
inline void e4m3x64(__m512i x, const Lut64& t, __m512 f[4]) {
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, x, t.lo1);
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, x, t.hi1), x, _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);
  const __m512i w0 = _mm512_unpacklo_epi8(lo, hi), w1 = _mm512_unpackhi_epi8(lo, hi), z = _mm512_setzero_si512();
  f[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(z, w0));
  f[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(z, w0));
  f[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(z, w1));
  f[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(z, w1));
}

// The skinny kernels' variant of e4m3x64, with 2 shuffles (the lookups) instead of 8: the byte pairs
// are merged into bf16 words with shifts and bit selects, and the words widened to f32 the same way
// (x << 16 is the low word of each dword, x & 0xffff0000 the high one), which run on the vector ALUs
// instead of the shuffle port. f[q] element d holds code 4 d + kE4m3Order[q] (skinny_prep orders A so).
inline void e4m3x64_words(__m512i x, const Lut64& t, __m512 f[4]) {
  const __m512i lo = _mm512_permutex2var_epi8(t.lo0, x, t.lo1);
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(t.hi0, x, t.hi1), x, _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);
  const __m512i byte0 = _mm512_set1_epi16(0x00ff), high = _mm512_set1_epi32(static_cast<int>(0xffff0000u));
  // even codes: hi << 8 | (lo & 0xff); odd codes: (hi & 0xff00) | lo >> 8   (0xCA: a ? b : c, per bit)
  const __m512i ev = _mm512_ternarylogic_epi32(byte0, lo, _mm512_slli_epi16(hi, 8), 0xCA);
  const __m512i od = _mm512_ternarylogic_epi32(byte0, _mm512_srli_epi16(lo, 8), hi, 0xCA);
  f[0] = _mm512_castsi512_ps(_mm512_slli_epi32(ev, 16));  // code 4d
  f[1] = _mm512_castsi512_ps(_mm512_and_si512(ev, high));   // code 4d + 2
  f[2] = _mm512_castsi512_ps(_mm512_slli_epi32(od, 16));  // code 4d + 1
  f[3] = _mm512_castsi512_ps(_mm512_and_si512(od, high));   // code 4d + 3
}
constexpr int kE4m3Order[4] = {0, 2, 1, 3};

// Up to 16 elements (lanes outside `m` are zero).
template <DType T>
inline __m512 load16(const char* p, __mmask16 m) {
  if constexpr (T == DType::f8_e4m3) return e4m3x16(_mm_maskz_loadu_epi8(m, p));
  else if constexpr (T == DType::bf16) return bf16x16(_mm256_maskz_loadu_epi16(m, p));
  else return _mm512_maskz_loadu_ps(m, p);
}
inline __mmask16 tail_mask(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

template <DType T>
void decode_t(const char* s, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(dst + i, m, load16<T>(s + i * kSize<T>, m));
  }
}
void decode(const void* src, DType t, float* dst, int64_t n) {
  const char* s = static_cast<const char*>(src);
  switch (t) {
    case DType::f8_e4m3: decode_t<DType::f8_e4m3>(s, dst, n); break;
    case DType::bf16: decode_t<DType::bf16>(s, dst, n); break;
    case DType::f32: std::memcpy(dst, s, static_cast<size_t>(n) * 4); break;
    default: to_f32(src, t, dst, static_cast<size_t>(n));
  }
}

// Decode 16 rows x 16 K in registers, transpose, store 16 K rows of `lanes` (<= 16) floats at
// dst[k * width]. Rows >= rows are zero. Writes whole groups of 16 K (the panel is kKB deep).
template <DType T>
void pack_t(const char* src, int64_t ld, int rows, int width, int kc, float* dst) {
  for (int h = 0; h < width; h += 16) {
    const int lanes = std::min(16, width - h), nr = std::max(0, std::min(16, rows - h));
    const __mmask16 store_mask = tail_mask(lanes);
    for (int k = 0; k < kc; k += 16) {
      const __mmask16 m = tail_mask(kc - k);
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? load16<T>(src + ((h + i) * ld + k) * kSize<T>, m) : _mm512_setzero_ps();
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + (k + i) * width + h, store_mask, r[i]);
    }
  }
}
// FP8 rows: 4 rows x 16 codes per vector, lane L holding row 4 L + G, so that after e4m3x64 an in-lane
// 4x4 transpose of the four vectors' f[q] gives 16 rows in order at one K.
void pack_fp8(const char* src, int64_t ld, int rows, int width, int kc, float* dst) {
  const Lut64 lut = load_lut();
  for (int h = 0; h < width; h += 16) {
    const int nr = std::max(0, std::min(16, rows - h));
    const __mmask16 store_mask = tail_mask(std::min(16, width - h));
    for (int k = 0; k < kc; k += 16) {
      const __mmask16 m = tail_mask(kc - k);
      auto row = [&](int r) { return r < nr ? _mm_maskz_loadu_epi8(m, src + (h + r) * ld + k) : _mm_setzero_si128(); };
      __m512 f[4][4];
      for (int G = 0; G < 4; ++G) {
        __m512i x = _mm512_castsi128_si512(row(G));
        x = _mm512_inserti32x4(x, row(4 + G), 1);
        x = _mm512_inserti32x4(x, row(8 + G), 2);
        x = _mm512_inserti32x4(x, row(12 + G), 3);
        e4m3x64(x, lut, f[G]);
      }
      for (int q = 0; q < 4; ++q) {
        const __m512d t0 = _mm512_castps_pd(_mm512_unpacklo_ps(f[0][q], f[1][q])), t1 = _mm512_castps_pd(_mm512_unpackhi_ps(f[0][q], f[1][q]));
        const __m512d t2 = _mm512_castps_pd(_mm512_unpacklo_ps(f[2][q], f[3][q])), t3 = _mm512_castps_pd(_mm512_unpackhi_ps(f[2][q], f[3][q]));
        float* d = dst + (k + 4 * q) * width + h;
        _mm512_mask_storeu_ps(d, store_mask, _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2)));
        _mm512_mask_storeu_ps(d + width, store_mask, _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)));
        _mm512_mask_storeu_ps(d + 2 * width, store_mask, _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)));
        _mm512_mask_storeu_ps(d + 3 * width, store_mask, _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3)));
      }
    }
  }
}

void pack(const char* src, DType t, int64_t ld, int rows, int width, int kc, float* tmp, float* dst) {
  switch (t) {
    case DType::f8_e4m3: pack_fp8(src, ld, rows, width, kc, dst); break;
    case DType::bf16: pack_t<DType::bf16>(src, ld, rows, width, kc, dst); break;
    case DType::f32: pack_t<DType::f32>(src, ld, rows, width, kc, dst); break;
    default: pack_rows<decode>(src, t, ld, rows, width, kc, tmp, dst);
  }
}

template <int R>
void micro(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first) {
  __m512 c0[R], c1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm512_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(B + k * NR), b1 = _mm512_load_ps(B + k * NR + 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(A[k * MR + r]);
      c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
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

// ---- Skinny (decode) kernels: m <= 8 rows of A against B rows streamed once from memory ----------
// A arrives decoded to f32, carrying any block scales (gemm.cc folds them in), and permuted by skinny_prep
// into the order in which a step of B decodes (so B needs no shuffles beyond its decode). `row` streams one row
// of B along all of K (each decoded B vector used for the M rows of A). Steps (elements of a B row per iteration):
// fp8 64 codes (VBMI byte lookups, e4m3x64_words), bf16 32 (x << 16 gives the even elements, x & 0xffff0000
// the odd ones), f32 32 (two loads).
template <DType T> struct StepOf;
template <> struct StepOf<DType::f8_e4m3> { static constexpr int kElems = 64, kVecs = 4; };
template <> struct StepOf<DType::bf16> { static constexpr int kElems = 32, kVecs = 2; };
template <> struct StepOf<DType::f32> { static constexpr int kElems = 32, kVecs = 2; };

// One step of a B row: `left` (> 0) elements remain in the row; those past it are zero.
template <DType T>
inline void load_step(const char* p, int64_t left, const Lut64& lut, __m512 f[]) {
  if constexpr (T == DType::f8_e4m3) {
    const __m512i x = left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8((__mmask64(1) << left) - 1, p);
    e4m3x64_words(x, lut, f);
  } else if constexpr (T == DType::bf16) {
    const __m512i x = left >= 32 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(static_cast<__mmask32>((1u << left) - 1), p);
    f[0] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    f[1] = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  } else {
    const float* q = reinterpret_cast<const float*>(p);
    if (left >= 32) {
      f[0] = _mm512_loadu_ps(q);
      f[1] = _mm512_loadu_ps(q + 16);
    } else {
      f[0] = _mm512_maskz_loadu_ps(tail_mask(left), q);
      f[1] = left > 16 ? _mm512_maskz_loadu_ps(tail_mask(left - 16), q + 16) : _mm512_setzero_ps();
    }
  }
}

// B rows js[0..R) against the M rows of A -> sum[r * M + i] (16 lanes whose sum is out[i, js[r]]). Each row front
// to back; R rows advance in lockstep, each row's sums in the same order whatever R. A task streams its rows one
// after the other (R = 1), or at M = 1 two far-apart runs of them at once (R = 2, two_streams_half): each run is one
// sequential stream, which the hardware prefetchers follow best. Streaming 4 neighbouring rows together (the
// previous scheme, tuned on an Intel CPU) decoded `small` 1.2x (f32) to 1.5x (bf16, fp8 with DSV3_CPU_ISA=avx512)
// slower on a Zen 4 (bench/RESULTS.md, 2026-12-04); the Intel CPU was not measured again.
template <int R, int M, DType T>
inline void row(const SkinnyArgs& g, const int64_t* js, const Lut64& lut, __m512* sum) {
  constexpr int E = StepOf<T>::kElems, V = StepOf<T>::kVecs;
  // Two accumulators per row of A, even and odd vectors of a step: enough chains for the FMA latency, and the
  // same summation order for every M, so that a row's result does not depend on the batch it decodes in (the
  // serving tests compare batched decode with decode alone).
  constexpr int P = 2;
  constexpr int64_t bsz = kSize<T>;
  const int64_t k = g.k, lda = g.lda;
  const char* b[R];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r) b[r] = g.b + js[r] * k * bsz;
  // Every loop over the accumulator array is unrolled completely, so that it lives in registers.
  __m512 acc[R][M * P];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int q = 0; q < M * P; ++q) acc[r][q] = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; c += E) {
    __m512 f[R][V];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      // FP8 only: 1 KB ahead in the row. Its decode makes a step long enough that the hardware prefetchers alone
      // leave the loads waiting; for f32 and bf16 rows they do better alone (Zen 4, small decode: f32 87-120 ->
      // 120-152 tok/s without it, bf16 on this set 233-262 -> 300-325; fp8 400 / 433 without, 431 / 342 with: kept).
      if constexpr (T == DType::f8_e4m3) _mm_prefetch(b[r] + c * bsz + 1024, _MM_HINT_T0);
      load_step<T>(b[r] + c * bsz, k - c, lut, f[r]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        const __m512 av = _mm512_loadu_ps(g.a + i * lda + c + 16 * v);
#pragma GCC unroll 2
        for (int r = 0; r < R; ++r) {
          __m512& d = acc[r][i * P + v % P];
          d = _mm512_fmadd_ps(av, f[r][v], d);
        }
      }
  }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) sum[r * M + i] = _mm512_add_ps(acc[r][i * P], acc[r][i * P + 1]);
}

// B rows js[0..G), R at a time in lockstep: their G * M sum vectors reduced and stored.
template <int R, int M, int G, DType T>
inline void rows(const SkinnyArgs& g, const int64_t* js, const Lut64& lut) {
  static_assert(G % R == 0, "whole lockstep groups");
  __m512 sum[M * G];
#pragma GCC unroll 4
  for (int r = 0; r < G; r += R) row<R, M, T>(g, js + r, lut, sum + r * M);
  store_rows<M, G>(sum, js, g.out, g.ot, g.ldo);
}

template <int M, DType T>
void skinny_t(const SkinnyArgs& g) {
  constexpr int G = M < 4 ? 4 / M : 1;  // B rows per reduction: four sums per reduce4
  const Lut64 lut = T == DType::f8_e4m3 ? load_lut() : Lut64{};
  int64_t j = g.j0;
  if constexpr (M == 1) {  // two streams: rows j0 + i and j0 + h + i in lockstep, two pairs per reduce4
    const int64_t h = two_streams_half(g.j1 - g.j0);
    for (int64_t i = 0; i < h; i += 2) {
      const int64_t js[4] = {g.j0 + i, g.j0 + h + i, g.j0 + i + 1, g.j0 + h + i + 1};
      rows<2, 1, 4, T>(g, js, lut);
    }
    j += 2 * h;
  }
  for (; j + G <= g.j1; j += G) {
    int64_t js[G];
    for (int r = 0; r < G; ++r) js[r] = j + r;
    rows<1, M, G, T>(g, js, lut);
  }
  for (; j < g.j1; ++j) rows<1, M, 1, T>(g, &j, lut);
}

template <int M>
void skinny(const SkinnyArgs& g) {
  switch (g.bt) {
    case DType::f8_e4m3: skinny_t<M, DType::f8_e4m3>(g); break;
    case DType::bf16: skinny_t<M, DType::bf16>(g); break;
    default: skinny_t<M, DType::f32>(g);
  }
}

// A rows (f32, `cols` = whole K blocks of each, zero past k, row stride lda) into the step order of B's dtype: fp8 within each
// 64: position 16 q + d holds element 4 d + kE4m3Order[q] (e4m3x64_words' order); bf16 within each
// 32: the 16 even elements, then the 16 odd ones.
void skinny_prep(DType bt, float* a, int64_t m, int64_t cols, int64_t lda, float* tmp) {
  if (bt == DType::f8_e4m3) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < cols; c += 64) {
        float* x = a + i * lda + c;
        std::memcpy(tmp, x, 64 * sizeof(float));
        for (int q = 0; q < 4; ++q)
          for (int d = 0; d < 16; ++d) x[16 * q + d] = tmp[4 * d + kE4m3Order[q]];
      }
  } else if (bt == DType::bf16) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t c = 0; c < cols; c += 32) {
        float* x = a + i * lda + c;
        std::memcpy(tmp, x, 32 * sizeof(float));
        for (int d = 0; d < 16; ++d) { x[d] = tmp[2 * d]; x[16 + d] = tmp[2 * d + 1]; }
      }
  }
}

// ---- Thin kernels: 9 <= m <= 32 rows of A, f32, unscaled (the prefill's routed experts: ~16 tokens each) ----
// At so few rows the packed path spends as long packing B panels as multiplying them. Here B is never packed: A^T
// is packed once per problem ([k][16 MV], lane i of vector v holding row 16 v + i), and each element of a block of
// NB B rows, broadcast straight from its row, multiplies the MV vectors of A^T at its k. One sum per output, in k
// order. 32 experts x 16 rows x 256 x 1024 from DRAM, 2 threads: 81 -> 162 GFLOP/s (bf16 on its set: 151 -> 315).
constexpr int kThinNB = 8;  // B rows per block: 8 (MV = 1) or 16 (MV = 2) accumulators, 8 row pointers
template <int MV, int NB>
inline void thin_block(const ThinArgs& g, int64_t j) {
  constexpr int W = 16 * MV;
  const int64_t k = g.k;
  const float* b[NB];
#pragma GCC unroll 8
  for (int r = 0; r < NB; ++r) b[r] = reinterpret_cast<const float*>(g.b) + (j + r) * k;
  __m512 acc[NB][MV];
#pragma GCC unroll 8
  for (int r = 0; r < NB; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* at = g.at;
  // The next block's rows, one line every other k (NB = 8 rows of 4-byte elements: a line per 2 k), ahead of the
  // loads: a block's rows are 8 short streams (1 KB at k = 256), too short for the hardware prefetchers to pick up.
  const char* pf = g.b + (j + NB) * k * 4;
#pragma GCC unroll 2
  for (int64_t kk = 0; kk < k; ++kk, at += W) {
    if (NB == kThinNB && (kk & 1) == 0) _mm_prefetch(pf + kk * 32, _MM_HINT_T0);
    __m512 a[MV];
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) a[v] = _mm512_load_ps(at + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) {
      const __m512 bv = _mm512_set1_ps(b[r][kk]);
#pragma GCC unroll 2
      for (int v = 0; v < MV; ++v) acc[r][v] = _mm512_fmadd_ps(a[v], bv, acc[r][v]);
    }
  }
  store_thin_block<NB, MV>(acc, g.m, g.tile + (j - g.j0), g.j1 - g.j0);
}

template <int MV>
void thin_t(const ThinArgs& g) {
  int64_t j = g.j0;
  for (; j + kThinNB <= g.j1; j += kThinNB) thin_block<MV, kThinNB>(g, j);
  for (; j < g.j1; ++j) thin_block<MV, 1>(g, j);
}
void thin(const ThinArgs& g) { g.m > 16 ? thin_t<2>(g) : thin_t<1>(g); }

}  // namespace avx512
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop

namespace avx512 {
// Outside the target region: filling the set is baseline code, safe on any CPU (the kernels it points
// to keep their target).
template <size_t... I>
KernelSet make(std::index_sequence<I...>) {
  KernelSet ks;
  ks.mr = MR; ks.nr = NR; ks.decode = decode; ks.pack = &pack;
  ((ks.micro[I + 1] = &micro<static_cast<int>(I) + 1>), ...);
  ks.skinny_max = 8;
  ks.thin_min = 9; ks.thin_max = 32; ks.thin_dtype = DType::f32; ks.thin = &thin;
  ks.skinny_prep = &skinny_prep;
  ks.skinny[5] = &skinny<5>; ks.skinny[6] = &skinny<6>; ks.skinny[7] = &skinny<7>; ks.skinny[8] = &skinny<8>;
  ks.skinny[1] = &skinny<1>; ks.skinny[2] = &skinny<2>; ks.skinny[3] = &skinny<3>; ks.skinny[4] = &skinny<4>;
  return ks;
}
}  // namespace avx512

}  // namespace

const KernelSet& avx512_kernels() {
  static const KernelSet ks = avx512::make(std::make_index_sequence<avx512::MR>());
  return ks;
}

}  // namespace dsv3::cpu::gemm_detail
#endif  // __x86_64__
