// The GEMMs' AVX-512 kernel set (F, BW, VL, DQ, VBMI, plus AVX2 and FMA): a 12 x 32 register tile,
// panels decoded and transposed in registers, FP8 decoded 64 codes at a time by VBMI byte lookups.
// Compiled for that ISA by function-level target pragmas only, so the addon still loads anywhere;
// native/cpu/gemm.cc calls it only when the CPU has every one of those features.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "native/cpu/gemm_internal.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace dsv3::cpu::gemm_detail {
namespace {

// e4m3fn magnitude code (0..127) -> the two bytes of its bf16 encoding (exact: bf16 holds every e4m3
// value, subnormals included; 0x7f -> NaN). Built from the format's definition, no static-order issues.
struct Bf16Lut {
  alignas(64) uint8_t lo[128];
  alignas(64) uint8_t hi[128];
  Bf16Lut() {
    for (int c = 0; c < 128; ++c) {
      const int e = c >> 3, m = c & 7;
      uint32_t b;
      if (c == 0x7f) b = 0x7fc0;
      else if (e == 0) b = f32_bits(std::ldexp(static_cast<float>(m), -9)) >> 16;
      else b = static_cast<uint32_t>(((e + 120) << 7) | (m << 4));
      lo[c] = static_cast<uint8_t>(b & 0xff);
      hi[c] = static_cast<uint8_t>(b >> 8);
    }
  }
};
const Bf16Lut& bf16_lut() { static const Bf16Lut l; return l; }
thread_local Scratch tl_perm;  // skinny_fp8's reordered copy of A

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

// In-register 16x16 transpose: r[i] (row i) becomes column i.
inline void transpose16(__m512 r[16]) {
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

// B row j, K block kb: blk[i] (16 lanes of partial sums) = a[i, block] . b[j, block], decoded in
// registers; tot[i] += blk[i] * scale. The lanes are summed once per output.
template <int M, DType T>
void skinny_t(const SkinnyArgs& g) {
  const int64_t nkb = ceil_div(g.k, kKB);
  constexpr int64_t bsz = kSize<T>;
  for (int64_t j = g.j0; j < g.j1; ++j) {
    const char* brow = g.b + j * g.k * bsz;
    __m512 tot[M];
    for (int i = 0; i < M; ++i) tot[i] = _mm512_setzero_ps();
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kKB, kc = std::min<int64_t>(kKB, g.k - k0);
      __m512 blk[M];
      for (int i = 0; i < M; ++i) blk[i] = _mm512_setzero_ps();
      for (int64_t c = 0; c < kc; c += 16) {
        const __m512 bv = load16<T>(brow + (k0 + c) * bsz, tail_mask(kc - c));
        for (int i = 0; i < M; ++i) blk[i] = _mm512_fmadd_ps(_mm512_loadu_ps(g.a + i * g.lda + k0 + c), bv, blk[i]);
      }
      const float sb = scale_of(g.bs, j / kKB, nkb, kb);
      for (int i = 0; i < M; ++i) tot[i] = _mm512_fmadd_ps(blk[i], _mm512_set1_ps(scale_of(g.as, i, nkb, kb) * sb), tot[i]);
    }
    for (int i = 0; i < M; ++i) store_f32(g.out, g.ot, static_cast<size_t>(i * g.ldo + j), _mm512_reduce_add_ps(tot[i]));
  }
}
// FP8 weights, 64 codes per step through e4m3x64; A is first copied into the decoder's element order
// within each group of 64 (lda is a multiple of 128, the tail of A is zero, masked-off codes are 0).
template <int M>
void skinny_fp8(const SkinnyArgs& g) {
  const int64_t nkb = ceil_div(g.k, kKB), lda = g.lda;
  float* A = tl_perm.get(static_cast<size_t>(M * lda));
  for (int64_t i = 0; i < M; ++i)
    for (int64_t c = 0; c < lda; c += 64)
      for (int q = 0; q < 4; ++q)
        for (int L = 0; L < 4; ++L)
          for (int t = 0; t < 4; ++t) A[i * lda + c + 16 * q + 4 * L + t] = g.a[i * lda + c + 16 * L + 4 * q + t];
  const Lut64 lut = load_lut();
  for (int64_t j = g.j0; j < g.j1; ++j) {
    const uint8_t* brow = reinterpret_cast<const uint8_t*>(g.b) + j * g.k;
    __m512 tot[M];
    for (int i = 0; i < M; ++i) tot[i] = _mm512_setzero_ps();
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kKB, kc = std::min<int64_t>(kKB, g.k - k0);
      constexpr int P = M <= 4 ? 2 : 1;  // partial sums per row: 2 for more ILP while registers allow
      __m512 blk[M][P];
      for (int i = 0; i < M; ++i)
        for (int p = 0; p < P; ++p) blk[i][p] = _mm512_setzero_ps();
      for (int64_t c = 0; c < kc; c += 64) {
        const int64_t left = kc - c;
        const __m512i x = left >= 64 ? _mm512_loadu_si512(brow + k0 + c) : _mm512_maskz_loadu_epi8((__mmask64(1) << left) - 1, brow + k0 + c);
        __m512 f[4];
        e4m3x64(x, lut, f);
        for (int i = 0; i < M; ++i) {
          const float* a = A + i * lda + k0 + c;
          blk[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(a), f[0], blk[i][0]);
          blk[i][P - 1] = _mm512_fmadd_ps(_mm512_loadu_ps(a + 16), f[1], blk[i][P - 1]);
          blk[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + 32), f[2], blk[i][0]);
          blk[i][P - 1] = _mm512_fmadd_ps(_mm512_loadu_ps(a + 48), f[3], blk[i][P - 1]);
        }
      }
      const float sb = scale_of(g.bs, j / kKB, nkb, kb);
      for (int i = 0; i < M; ++i)
        tot[i] = _mm512_fmadd_ps(P == 2 ? _mm512_add_ps(blk[i][0], blk[i][P - 1]) : blk[i][0], _mm512_set1_ps(scale_of(g.as, i, nkb, kb) * sb), tot[i]);
    }
    for (int i = 0; i < M; ++i) store_f32(g.out, g.ot, static_cast<size_t>(i * g.ldo + j), _mm512_reduce_add_ps(tot[i]));
  }
}

template <int M>
void skinny(const SkinnyArgs& g) {
  switch (g.bt) {
    case DType::f8_e4m3: skinny_fp8<M>(g); break;
    case DType::bf16: skinny_t<M, DType::bf16>(g); break;
    default: skinny_t<M, DType::f32>(g);
  }
}

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
