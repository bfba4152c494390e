// Row primitives shared by the CPU ops, so that fused ops (native/cpu/mla_proj.cc) compute exactly what
// the ops they fuse do (norm.cc, rope.cc): the same f32 operations in the same order, bit for bit.
// Independent partial sums let -O3 vectorize without -ffast-math (no reassociation needed).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "native/cpu/gemm_kernel.h"
#include "native/dtype.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dsv3::cpu {

// The constants of exp_f32 and exp16 (Cephes expf), one set for both: their results are equal bit for bit only
// while they use the same numbers.
namespace expf_cephes {
inline constexpr float kMin = -104.f, kMax = 89.f, kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln 2 in two parts
inline constexpr float kP[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
}  // namespace expf_cephes

// sum_j a[j] b[j] with 16 partial sums. The multiply-adds are explicit fma, so every function that repeats
// these sums (mla_common.h dot_multi, the tiles of mla_proj.cc) rounds the same way however the compiler
// vectorizes it.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k) acc[k] = std::fma(a[i + k], b[i + k], acc[k]);
  float s = 0.f;
  for (; i < n; ++i) s = std::fma(a[i], b[i], s);
  for (int k = 0; k < 16; ++k) s += acc[k];
  return s;
}

// An element of f32 or bf16 (bits) weights or cache rows, as f32 (exact).
inline float widen_f32(float x) { return x; }
inline float widen_f32(uint16_t x) { return bf16_to_f32(x); }

#if defined(__x86_64__)
// dot() of NA vectors a[ia] against NB vectors b[ib] at once with AVX2 + FMA (callers check cpu_has_avx2_fma()):
// each dot's 16 partial sums are two 8-lane vectors, then the tail and the lanes are summed in dot()'s order,
// so out[ia][ib] equals dot(a[ia], b[ib], n) bit for bit. NA x NB <= 8 (two accumulators each).
// 8 f32 from f32, or from bf16 bits (exact: the bits << 16).
__attribute__((target("avx2,fma"))) inline __m256 load8_f32(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma"))) inline __m256 load8_f32(const uint16_t* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

// (b may be f32 or bf16 bits: TB = float or uint16_t)
template <int NA, int NB, class TB = float>
__attribute__((target("avx2,fma"))) inline void dot_tile_avx2(const float* const* a, const TB* const* b, int64_t n,
                                                             float (*out)[NB]) {
  __m256 lo[NA][NB], hi[NA][NB];
  for (int ia = 0; ia < NA; ++ia)
    for (int ib = 0; ib < NB; ++ib) lo[ia][ib] = hi[ia][ib] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256 b0[NB], b1[NB];
    for (int ib = 0; ib < NB; ++ib) { b0[ib] = load8_f32(b[ib] + i); b1[ib] = load8_f32(b[ib] + i + 8); }
    for (int ia = 0; ia < NA; ++ia) {
      const __m256 a0 = _mm256_loadu_ps(a[ia] + i), a1 = _mm256_loadu_ps(a[ia] + i + 8);
      for (int ib = 0; ib < NB; ++ib) {
        lo[ia][ib] = _mm256_fmadd_ps(a0, b0[ib], lo[ia][ib]);
        hi[ia][ib] = _mm256_fmadd_ps(a1, b1[ib], hi[ia][ib]);
      }
    }
  }
  alignas(32) float lanes[NA][NB][16];
  for (int ia = 0; ia < NA; ++ia)
    for (int ib = 0; ib < NB; ++ib) {
      _mm256_store_ps(lanes[ia][ib], lo[ia][ib]);
      _mm256_store_ps(lanes[ia][ib] + 8, hi[ia][ib]);
      float t = 0.f;
      for (int64_t j = i; j < n; ++j) t = std::fma(a[ia][j], widen_f32(b[ib][j]), t);
      out[ia][ib] = t;
    }
  for (int k = 0; k < 16; ++k)  // NA x NB independent chains, interleaved
    for (int ia = 0; ia < NA; ++ia)
      for (int ib = 0; ib < NB; ++ib) out[ia][ib] += lanes[ia][ib][k];
}
// The CPU (and OS) run AVX2 + FMA: the feature check the GEMMs' dispatch already makes (gemm.cc).
inline bool cpu_has_avx2_fma() { return gemm_isa_supported() >= GemmIsa::avx2; }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
// ---- AVX-512 (callers check cpu_has_avx512(): the GEMMs' AVX-512 set, F/BW/VL/DQ/VBMI) -----------------
#define DSV3_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
inline bool cpu_has_avx512() { return gemm_isa_supported() >= GemmIsa::avx512; }

// 16 f32 from f32, or from bf16 bits (exact: the bits << 16, as widen_f32).
DSV3_TARGET_AVX512 inline __m512 load16_f32(const float* p) { return _mm512_loadu_ps(p); }
DSV3_TARGET_AVX512 inline __m512 load16_f32(const uint16_t* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

// In-register 16x16 transpose: r[i] (row i) becomes column i.
DSV3_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + j], 128-bit lane L: rows 4i..4i+3 at column 4L + j
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {  // gather lane L of r[j], r[4+j], r[8+j], r[12+j] into column 4L + j
    const __m512 u0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), u1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88), u3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
    t[j] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    t[8 + j] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
    t[4 + j] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    t[12 + j] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// Four vectors' lane sums -> one __m128 {sum v0, sum v1, sum v2, sum v3} (the skinny GEMM kernels' row results).
DSV3_TARGET_AVX512 inline __m128 reduce4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
  const __m512 a = _mm512_add_ps(_mm512_unpacklo_ps(v0, v1), _mm512_unpackhi_ps(v0, v1));
  const __m512 b = _mm512_add_ps(_mm512_unpacklo_ps(v2, v3), _mm512_unpackhi_ps(v2, v3));
  const __m512 c = _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xEE));
  const __m256 d = _mm256_add_ps(_mm512_castps512_ps256(c), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(c), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(d), _mm256_extractf128_ps(d, 1));
}

// Each of S vectors' lane sum: out[q] = the sum of v[q] (reduce4 four vectors at a time, the last four padded with
// zero vectors; each vector's lanes are summed alone, so the grouping changes no result). out holds S rounded up
// to a multiple of 4 floats, 16-byte aligned. The skinny GEMM kernels' results for a group of weight rows.
template <int S>
DSV3_TARGET_AVX512 inline void reduce_each(const __m512* v, float* out) {
  constexpr int Q = (S + 3) / 4 * 4;
  __m512 w[Q];  // no lambda here: GCC gives lambdas no target attribute
#pragma GCC unroll 8
  for (int q = 0; q < Q; ++q) w[q] = q < S ? v[q] : _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int q = 0; q < Q; q += 4) _mm_store_ps(out + q, reduce4(w[q], w[q + 1], w[q + 2], w[q + 3]));
}

// The skinny GEMM kernels' results for G weight rows js[0..G) against M rows of A: the lane sum of sum[r * M + i]
// into out element (i, js[r]), at i * ldo + js[r] in dtype ot.
template <int M, int G>
DSV3_TARGET_AVX512 inline void store_rows(const __m512* sum, const int64_t* js, char* out, DType ot, int64_t ldo) {
  alignas(16) float s[(M * G + 3) / 4 * 4];
  reduce_each<M * G>(sum, s);
  for (int q = 0; q < M * G; ++q) store_f32(out, ot, static_cast<size_t>((q % M) * ldo + js[q / M]), s[q]);
}

// The thin GEMM kernels' block result: acc[r][v] lane i (weight row j + r, output row 16 v + i) into
// tile[i * ldt + r] for the m output rows.
template <int NB, int MV>
DSV3_TARGET_AVX512 inline void store_thin_block(const __m512 (&acc)[NB][MV], int64_t m, float* tile, int64_t ldt) {
  alignas(64) float t[NB][16 * MV];
#pragma GCC unroll 8
  for (int r = 0; r < NB; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < MV; ++v) _mm512_store_ps(t[r] + 16 * v, acc[r][v]);
  for (int64_t i = 0; i < m; ++i)
#pragma GCC unroll 8
    for (int r = 0; r < NB; ++r) tile[i * ldt + r] = t[r][i];
}

// The 16 partial sums of 16 dots at once, summed in dot()'s order: element i of the result is
// ((0 + v[i][0]) + v[i][1]) + ... + v[i][15], i.e. dot() of a length that is a multiple of 16 when v[i] holds
// its partial sums, bit for bit. One transpose and 16 vector adds instead of 16 x 16 dependent scalar adds.
// v is overwritten.
DSV3_TARGET_AVX512 inline __m512 lane_sums16(__m512 v[16]) {
  transpose16(v);
  __m512 s = _mm512_setzero_ps();
  for (int k = 0; k < 16; ++k) s = _mm512_add_ps(s, v[k]);
  return s;
}

// exp16: exp_f32 (below) for 16 lanes, bit for bit (2^n by vscalefps, which rounds as ldexp; x is clamped
// with x as max/min's second operand, which they return for NaN).
DSV3_TARGET_AVX512 inline __m512 exp16(__m512 x) {
  using namespace expf_cephes;
  x = _mm512_min_ps(_mm512_set1_ps(kMax), _mm512_max_ps(_mm512_set1_ps(kMin), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP[0]);
  for (int i = 1; i < 6; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP[i]));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.f)));
  return _mm512_scalef_ps(p, n);
}
#pragma GCC diagnostic pop
#endif

// g[j] = silu(g[j]) * u[j] = g[j] / (1 + exp(-g[j])) * u[j] in f32 (siluMul and siluMulQuant: one expression,
// so the fused op equals the composed one bit for bit). exp(-g) overflows to inf for g < -88 and the quotient
// is then -0, not NaN. exp is exp_f32 (exp16 with AVX-512, a masked tail included): the same bits on every CPU.
void silu_mul_row(float* g, const float* u, int64_t n);

// exp(x) in f32 (Cephes expf: x = n ln2 + r with ln2 in two parts, |r| <= ln2 / 2, e^r by a degree-7 polynomial,
// then p 2^n; max 1.26 ulp from exp in double over [-104, 89], against glibc expf's 0.5): the softmax of the MLA
// attention and of silu on every path, scalar or vector (exp16), so that their results stay equal bit for bit. Overflow
// gives inf, underflow 0, NaN stays NaN.
inline float exp_f32(float x) {
  using namespace expf_cephes;
  if (x != x) return x;
  x = std::min(kMax, std::max(kMin, x));
  const float n = std::nearbyint(x * kLog2e);
  float r = std::fma(-n, kLn2Hi, x);
  r = std::fma(-n, kLn2Lo, r);
  float p = kP[0];
  for (int i = 1; i < 6; ++i) p = std::fma(p, r, kP[i]);
  p = std::fma(p * r, r, r + 1.f);
  return std::ldexp(p, static_cast<int>(n));
}

// sum_j x[j]^2 with 8 partial sums (RMSNorm).
inline float sum_sq(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[j + l] * x[j + l];
  float s = 0;
  for (; j < n; ++j) s += x[j] * x[j];
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// Element i of an i32 or i64 positions tensor.
inline int64_t position_at(const void* pos, DType dt, int64_t i) {
  return dt == DType::i64 ? static_cast<const int64_t*>(pos)[i] : static_cast<const int32_t*>(pos)[i];
}

// RoPE's cos/sin for one position: of the f32 angle f32(pos) * inv_freq[k], evaluated in double and
// rounded once (model.py builds the angle in f32; this differs from torch's f32 cos/sin by <= 1 ulp).
inline void rope_cos_sin(int64_t pos, const float* inv_freq, int64_t half, float* c, float* s) {
  const float pf = static_cast<float>(pos);
  for (int64_t k = 0; k < half; ++k) {
    const float a = pf * inv_freq[k];
    c[k] = static_cast<float>(std::cos(static_cast<double>(a)));
    s[k] = static_cast<float>(std::sin(static_cast<double>(a)));
  }
}

// Rotates the interleaved pairs (2k, 2k+1) of v in place (model.py apply_rotary_emb).
inline void rope_rotate(float* v, const float* c, const float* s, int64_t half) {
  for (int64_t k = 0; k < half; ++k) {
    const float x0 = v[2 * k], x1 = v[2 * k + 1];
    v[2 * k] = x0 * c[k] - x1 * s[k];
    v[2 * k + 1] = x0 * s[k] + x1 * c[k];
  }
}

}  // namespace dsv3::cpu
