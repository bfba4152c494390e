// The GEMMs' AVX2 + FMA kernel set: a 6 x 16 register tile, 8-wide FP8 / bf16 decode; the portable
// pack_rows does the packing. Compiled for that ISA by function-level target pragmas only, so the
// addon still loads anywhere; native/cpu/gemm.cc calls it only when the CPU has AVX2 and FMA.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "native/cpu/gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace dsv3::cpu::gemm_detail {
namespace {

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace avx2 {
constexpr int MR = 6, NR = 16;  // 12 ymm accumulators + 2 B vectors + a broadcast

inline __m256 e4m3x8(__m128i bytes) {  // same bit recipe as e4m3x16 in gemm_avx512.cc
  const __m256i x = _mm256_cvtepu8_epi32(bytes);
  const __m256i mag = _mm256_and_si256(x, _mm256_set1_epi32(0x7f));
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x80)), 24);
  const __m256 normal = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_slli_epi32(mag, 20), _mm256_set1_epi32(120 << 23)));
  const __m256 sub = _mm256_mul_ps(_mm256_cvtepi32_ps(mag), _mm256_set1_ps(1.f / 512.f));
  __m256 r = _mm256_blendv_ps(normal, sub, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), mag)));
  r = _mm256_blendv_ps(r, _mm256_set1_ps(NAN), _mm256_castsi256_ps(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f))));
  return _mm256_castsi256_ps(_mm256_or_si256(_mm256_castps_si256(r), sign));
}
// 8 elements; a partial tail (left < 8) goes through the scalar codec, zero-filled.
template <DType T>
inline __m256 load8(const char* p, int64_t left) {
  if (left < 8) {
    alignas(32) float t[8] = {};
    for (int64_t l = 0; l < left; ++l) t[l] = load_f32(p, T, static_cast<size_t>(l));
    return _mm256_load_ps(t);
  }
  if constexpr (T == DType::f8_e4m3) return e4m3x8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  else if constexpr (T == DType::bf16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
  else return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
}

template <DType T>
void decode_t(const char* s, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load8<T>(s + i * kSize<T>, 8));
  for (; i < n; ++i) dst[i] = load_f32(s, T, static_cast<size_t>(i));
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

template <int R>
void micro(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first) {
  __m256 c0[R], c1[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) c0[r] = c1[r] = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(B + k * NR), b1 = _mm256_load_ps(B + k * NR + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + k * MR + r);
      c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);
      c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    const __m256 sv = _mm256_set1_ps(s[r]);
    float* c = C + r * ldc;
    if (first) {
      _mm256_storeu_ps(c, _mm256_mul_ps(c0[r], sv));
      _mm256_storeu_ps(c + 8, _mm256_mul_ps(c1[r], sv));
    } else {
      _mm256_storeu_ps(c, _mm256_fmadd_ps(c0[r], sv, _mm256_loadu_ps(c)));
      _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(c1[r], sv, _mm256_loadu_ps(c + 8)));
    }
  }
}

inline float hsum(__m256 v) {
  __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  x = _mm_add_ps(x, _mm_movehl_ps(x, x));
  x = _mm_add_ss(x, _mm_movehdup_ps(x));
  return _mm_cvtss_f32(x);
}

template <int M, DType T>
void skinny_t(const SkinnyArgs& g) {
  constexpr int64_t bsz = kSize<T>;
  for (int64_t j = g.j0; j < g.j1; ++j) {
    const char* brow = g.b + j * g.k * bsz;
    __m256 tot[M];
    for (int i = 0; i < M; ++i) tot[i] = _mm256_setzero_ps();
    for (int64_t c = 0; c < g.k; c += 8) {
      const __m256 bv = load8<T>(brow + c * bsz, g.k - c);
      for (int i = 0; i < M; ++i) tot[i] = _mm256_fmadd_ps(_mm256_loadu_ps(g.a + i * g.lda + c), bv, tot[i]);
    }
    for (int i = 0; i < M; ++i) store_f32(g.out, g.ot, static_cast<size_t>(i * g.ldo + j), hsum(tot[i]));
  }
}
template <int M>
void skinny(const SkinnyArgs& g) {
  switch (g.bt) {
    case DType::f8_e4m3: skinny_t<M, DType::f8_e4m3>(g); break;
    case DType::bf16: skinny_t<M, DType::bf16>(g); break;
    default: skinny_t<M, DType::f32>(g);
  }
}

}  // namespace avx2
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace avx2 {
// Outside the target region: filling the set is baseline code, safe on any CPU (the kernels it points
// to keep their target).
template <size_t... I>
KernelSet make(std::index_sequence<I...>) {
  KernelSet ks;
  ks.mr = MR; ks.nr = NR; ks.decode = decode; ks.pack = &pack_rows<decode>;
  ((ks.micro[I + 1] = &micro<static_cast<int>(I) + 1>), ...);
  ks.skinny_max = 4;
  ks.skinny[1] = &skinny<1>; ks.skinny[2] = &skinny<2>; ks.skinny[3] = &skinny<3>; ks.skinny[4] = &skinny<4>;
  return ks;
}
}  // namespace avx2

}  // namespace

const KernelSet& avx2_kernels() {
  static const KernelSet ks = avx2::make(std::make_index_sequence<avx2::MR>());
  return ks;
}

}  // namespace dsv3::cpu::gemm_detail
#endif  // __x86_64__
