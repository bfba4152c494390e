// CPU backend: FP8 block-scaled GEMM (DeepSeek inference/kernel.py fp8_gemm), plain f32/bf16 GEMM and
// the grouped MoE GEMMs (DeepGEMM's contiguous and masked layouts); all NT: out = a @ b^T.
// The recipe: per 128-wide K block an f32 dot, then acc += dot * (a_scale[i,kb] * b_scale[j/128,kb])
// in f32, one rounding to the output dtype at the end. Goto-style blocking: A and B blocks decoded into
// packed f32 panels per K block, register-blocked micro-kernels per ISA; skinny problems (m <= 8 on
// AVX-512, else 4: the decode steps) stream B rows without packing. ISA choice: native/cpu/gemm_kernel.h.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "native/cpu/gemm_kernel.h"
#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

constexpr int kKB = kQuantBlock;  // K block: the scale granularity and the packing depth
constexpr int kMaxMR = 12;
constexpr int kMaxNR = 32;
constexpr int kMaxSkinny = 8;     // problems with at most KernelSet::skinny_max (<= 8) rows stream B
constexpr int64_t kMaxTile = 384;  // output tile edge (a multiple of every mr and nr)

// One NT GEMM: out[m, n] = a[m, k] @ b[n, k]^T, block-scaled when the scales are given.
struct Prob {
  const void* a; DType at; const float* as;  // a [m, k]; as [m, ceil(k/128)] or null
  const void* b; DType bt; const float* bs;  // b [n, k]; bs [ceil(n/128), ceil(k/128)] or null
  void* out; DType ot;                        // [m, n]
  int64_t m, n, k;
};

// The skinny kernel's view: A rows already decoded to f32, B streamed from its own dtype.
struct SkinnyArgs {
  const float* a; int64_t lda;          // [M, lda] f32, zero from k up to lda (whole K blocks)
  const float* as; int64_t nkb;         // [M, nkb] or null
  const char* b; DType bt; const float* bs;  // b [n, k]; bs [ceil(n/128), nkb] or null
  int64_t j0, j1, k;                    // B rows j0..j1 of this task
  char* out; DType ot; int64_t ldo;     // out element (i, j) at i * ldo + j
  float* buf;                           // kKB floats of scratch, 64-byte aligned
};

using DecodeFn = void (*)(const void* src, DType t, float* dst, int64_t n);
// tile[R, NR] = sum_k A[k, r] B[k, c] over kc (A packed [kc][MR], B packed [kc][NR]);
// then C[r, c] = tile * s[r] (first K block) or C[r, c] += tile * s[r].
using MicroFn = void (*)(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first);
using SkinnyFn = void (*)(const SkinnyArgs&);
// Packs `rows` rows (row stride ld elements) x kc elements of src as a panel dst[k * width + r] in f32;
// rows rows..width are zero. tmp: kMaxNR * kKB floats of scratch.
using PackFn = void (*)(const char* src, DType t, int64_t ld, int rows, int width, int kc, float* tmp, float* dst);

struct KernelSet {
  int mr = 0, nr = 0;  // register tile; nr divides 128 so a B panel never straddles a scale block
  DecodeFn decode = nullptr;
  PackFn pack = nullptr;
  MicroFn micro[kMaxMR + 1] = {};     // by row count 1..mr
  int skinny_max = 0;                  // problems with m <= this use the skinny kernel (no packing)
  SkinnyFn skinny[kMaxSkinny + 1] = {};  // by row count 1..skinny_max
};

// itemsize() as a constant for the dtype-templated kernels (f8_e4m3, bf16, f32).
template <DType T> constexpr int64_t kSize = T == DType::f8_e4m3 ? 1 : T == DType::bf16 ? 2 : 4;

inline float scale_of(const float* s, int64_t row, int64_t nkb, int64_t kb) { return s ? s[row * nkb + kb] : 1.f; }

// Per-thread scratch that only grows (64-byte aligned for the packed panels).
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  float* get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
      cap = p ? n : 0;
      if (!p) throw std::bad_alloc();
    }
    return p;
  }
  ~Scratch() { std::free(p); }
};
thread_local Scratch tl_apack, tl_bpack, tl_acc, tl_rows, tl_perm;

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

// The portable PackFn: decode each row, then transpose element by element.
template <DecodeFn decode>
void pack_rows(const char* src, DType t, int64_t ld, int rows, int width, int kc, float* tmp, float* dst) {
  const int64_t sz = static_cast<int64_t>(itemsize(t));
  for (int r = 0; r < rows; ++r) decode(src + r * ld * sz, t, tmp + r * kKB, kc);
  for (int k = 0; k < kc; ++k) {
    float* d = dst + k * width;
    for (int r = 0; r < rows; ++r) d[r] = tmp[r * kKB + k];
    for (int r = rows; r < width; ++r) d[r] = 0.f;
  }
}

// ------------------------------------------------------------------------------------------------
// Portable kernels (any CPU): plain loops the compiler vectorizes for the baseline ISA.
namespace generic {
// 4-wide vectors of the compiler's baseline ISA (SSE2, NEON; plain scalars elsewhere): a 6 x 8 tile is
// 12 accumulators + 2 B vectors + a broadcast, within 16 registers.
constexpr int MR = 6, NR = 8;
typedef float v4f __attribute__((vector_size(16)));

void decode(const void* src, DType t, float* dst, int64_t n) { to_f32(src, t, dst, static_cast<size_t>(n)); }

template <int R>
void micro(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first) {
  v4f acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = v4f{0, 0, 0, 0};
  for (int k = 0; k < kc; ++k) {
    v4f b0, b1;
    std::memcpy(&b0, B + k * NR, sizeof b0);
    std::memcpy(&b1, B + k * NR + 4, sizeof b1);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const float a = A[k * MR + r];
      acc[r][0] += a * b0;
      acc[r][1] += a * b1;
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* c = C + r * ldc;
    for (int h = 0; h < 2; ++h) {
      v4f v = acc[r][h] * s[r];
      if (!first) { v4f old; std::memcpy(&old, c + 4 * h, sizeof old); v += old; }
      std::memcpy(c + 4 * h, &v, sizeof v);
    }
  }
}

template <int M>
void skinny(const SkinnyArgs& g) {
  constexpr int L = 16;  // independent partial sums, so the dot vectorizes without reassociation
  const int64_t nkb = ceil_div(g.k, kKB);
  const size_t bsz = itemsize(g.bt);
  for (int64_t j = g.j0; j < g.j1; ++j) {
    const char* brow = g.b + j * g.k * bsz;
    float tot[M] = {};
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kKB;
      const int kc = static_cast<int>(std::min<int64_t>(kKB, g.k - k0)), kcr = static_cast<int>(ceil_div(kc, L) * L);
      to_f32(brow + k0 * bsz, g.bt, g.buf, static_cast<size_t>(kc));
      for (int c = kc; c < kcr; ++c) g.buf[c] = 0.f;
      const float sb = scale_of(g.bs, j / kKB, nkb, kb);
      for (int i = 0; i < M; ++i) {
        const float* a = g.a + i * g.lda + k0;
        float lane[L] = {};
        for (int c = 0; c < kcr; c += L)
          for (int l = 0; l < L; ++l) lane[l] += a[c + l] * g.buf[c + l];
        float dot = 0.f;
        for (int l = 0; l < L; ++l) dot += lane[l];
        tot[i] += dot * (scale_of(g.as, i, nkb, kb) * sb);
      }
    }
    for (int i = 0; i < M; ++i) store_f32(g.out, g.ot, static_cast<size_t>(i * g.ldo + j), tot[i]);
  }
}

template <size_t... I>
KernelSet make(std::index_sequence<I...>) {
  KernelSet ks;
  ks.mr = MR; ks.nr = NR; ks.decode = decode; ks.pack = &pack_rows<decode>;
  ((ks.micro[I + 1] = &micro<static_cast<int>(I) + 1>), ...);
  ks.skinny_max = 4;
  ks.skinny[1] = &skinny<1>; ks.skinny[2] = &skinny<2>; ks.skinny[3] = &skinny<3>; ks.skinny[4] = &skinny<4>;
  return ks;
}
const KernelSet kSet = make(std::make_index_sequence<MR>());
}  // namespace generic

// ------------------------------------------------------------------------------------------------
// x86 kernels, compiled for their ISA with function-level target attributes only.
#if defined(__x86_64__)
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
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
namespace avx2 {
constexpr int MR = 6, NR = 16;  // 12 ymm accumulators + 2 B vectors + a broadcast

inline __m256 e4m3x8(__m128i bytes) {  // same bit recipe as avx512::e4m3x16
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
  const int64_t nkb = ceil_div(g.k, kKB);
  constexpr int64_t bsz = kSize<T>;
  for (int64_t j = g.j0; j < g.j1; ++j) {
    const char* brow = g.b + j * g.k * bsz;
    __m256 tot[M];
    for (int i = 0; i < M; ++i) tot[i] = _mm256_setzero_ps();
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * kKB, kc = std::min<int64_t>(kKB, g.k - k0);
      __m256 blk[M];
      for (int i = 0; i < M; ++i) blk[i] = _mm256_setzero_ps();
      for (int64_t c = 0; c < kc; c += 8) {
        const __m256 bv = load8<T>(brow + (k0 + c) * bsz, kc - c);
        for (int i = 0; i < M; ++i) blk[i] = _mm256_fmadd_ps(_mm256_loadu_ps(g.a + i * g.lda + k0 + c), bv, blk[i]);
      }
      const float sb = scale_of(g.bs, j / kKB, nkb, kb);
      for (int i = 0; i < M; ++i) tot[i] = _mm256_fmadd_ps(blk[i], _mm256_set1_ps(scale_of(g.as, i, nkb, kb) * sb), tot[i]);
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
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop
const KernelSet kAvx512Set = avx512::make(std::make_index_sequence<avx512::MR>());
const KernelSet kAvx2Set = avx2::make(std::make_index_sequence<avx2::MR>());
#endif  // __x86_64__

const KernelSet& kernel_set(GemmIsa isa) {
#if defined(__x86_64__)
  if (isa == GemmIsa::avx512) return kAvx512Set;
  if (isa == GemmIsa::avx2) return kAvx2Set;
#endif
  return generic::kSet;
}

// ------------------------------------------------------------------------------------------------
// Driver: tiles of the output, each computed by one thread start to end.

// Output tile rows i0..i1, columns j0..j1 (j0 a multiple of nr): per K block, pack the A and B blocks,
// run the micro-kernels into an f32 accumulator tile, then round the tile into `out` once.
void run_packed(const KernelSet& ks, const Prob& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int MR = ks.mr, NR = ks.nr;
  const int64_t nkb = ceil_div(p.k, kKB), mp = ceil_div(i1 - i0, MR), np = ceil_div(j1 - j0, NR), ldc = np * NR;
  float* Ap = tl_apack.get(static_cast<size_t>(mp * MR * kKB));
  float* Bp = tl_bpack.get(static_cast<size_t>(np * NR * kKB));
  float* C = tl_acc.get(static_cast<size_t>(mp * MR * ldc));
  float* tmp = tl_rows.get(static_cast<size_t>(kMaxNR * kKB));
  const char* a = static_cast<const char*>(p.a);
  const char* b = static_cast<const char*>(p.b);
  const int64_t asz = static_cast<int64_t>(itemsize(p.at)), bsz = static_cast<int64_t>(itemsize(p.bt));
  if (nkb == 0) std::fill(C, C + mp * MR * ldc, 0.f);
  float s[kMaxMR];
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = kb * kKB;
    const int kc = static_cast<int>(std::min<int64_t>(kKB, p.k - k0));
    for (int64_t ip = 0; ip < mp; ++ip) {
      const int64_t r0 = i0 + ip * MR;
      ks.pack(a + (r0 * p.k + k0) * asz, p.at, p.k, static_cast<int>(std::min<int64_t>(MR, i1 - r0)), MR, kc, tmp, Ap + ip * MR * kKB);
    }
    for (int64_t jp = 0; jp < np; ++jp) {
      const int64_t c0 = j0 + jp * NR;
      ks.pack(b + (c0 * p.k + k0) * bsz, p.bt, p.k, static_cast<int>(std::min<int64_t>(NR, j1 - c0)), NR, kc, tmp, Bp + jp * NR * kKB);
    }
    for (int64_t jp = 0; jp < np; ++jp) {
      const float sb = scale_of(p.bs, (j0 + jp * NR) / kKB, nkb, kb);
      for (int64_t ip = 0; ip < mp; ++ip) {
        const int64_t r0 = i0 + ip * MR;
        const int R = static_cast<int>(std::min<int64_t>(MR, i1 - r0));
        for (int r = 0; r < R; ++r) s[r] = scale_of(p.as, r0 + r, nkb, kb) * sb;
        ks.micro[R](Ap + ip * MR * kKB, Bp + jp * NR * kKB, kc, C + ip * MR * ldc + jp * NR, ldc, s, kb == 0);
      }
    }
  }
  char* out = static_cast<char*>(p.out);
  const int64_t osz = static_cast<int64_t>(itemsize(p.ot));
  for (int64_t r = 0; r < i1 - i0; ++r) from_f32(C + r * ldc, out + ((i0 + r) * p.n + j0) * osz, p.ot, static_cast<size_t>(j1 - j0));
}

// B rows j0..j1 against all (<= skinny_max) rows of A.
void run_skinny(const KernelSet& ks, const Prob& p, int64_t j0, int64_t j1) {
  const int64_t nkb = ceil_div(p.k, kKB), lda = nkb * kKB;
  float* A = tl_apack.get(static_cast<size_t>(p.m * lda + kKB));
  const int64_t asz = static_cast<int64_t>(itemsize(p.at));
  for (int64_t i = 0; i < p.m; ++i) {
    ks.decode(static_cast<const char*>(p.a) + i * p.k * asz, p.at, A + i * lda, p.k);
    std::fill(A + i * lda + p.k, A + (i + 1) * lda, 0.f);
  }
  SkinnyArgs g{A, lda, p.as, nkb, static_cast<const char*>(p.b), p.bt, p.bs, j0, j1, p.k,
               static_cast<char*>(p.out), p.ot, p.n, A + p.m * lda};
  ks.skinny[p.m](g);
}

struct Task { size_t prob; int64_t i0, i1, j0, j1; };

void run_problems(const std::vector<Prob>& probs, GemmIsa isa) {
  const KernelSet& ks = kernel_set(isa);
  const int64_t T = num_threads();
  std::vector<Task> tasks;
  for (size_t pi = 0; pi < probs.size(); ++pi) {
    const Prob& p = probs[pi];
    if (p.m <= 0 || p.n <= 0) continue;
    if (p.m <= ks.skinny_max) {  // split N: every thread streams its share of the weights
      const int64_t chunk = std::max<int64_t>(16, ceil_div(p.n, 4 * T));
      for (int64_t j0 = 0; j0 < p.n; j0 += chunk) tasks.push_back({pi, 0, p.m, j0, std::min(p.n, j0 + chunk)});
      continue;
    }
    // Output tiles of <= 384 x 384 (A and B blocks 192 KB each, the f32 accumulator 576 KB: L2-resident),
    // balanced; when there are few tiles, N is split further so every thread gets the same count.
    const int64_t mt = ceil_div(p.m, kMaxTile), mc = ks.mr * ceil_div(ceil_div(p.m, mt), ks.mr);
    int64_t nt = ceil_div(p.n, kMaxTile);
    if (mt * nt < 8 * T)
      while ((mt * nt) % T != 0 && nt * ks.nr < p.n) ++nt;
    const int64_t nc = ks.nr * ceil_div(ceil_div(p.n, nt), ks.nr);
    for (int64_t i0 = 0; i0 < p.m; i0 += mc)
      for (int64_t j0 = 0; j0 < p.n; j0 += nc) tasks.push_back({pi, i0, std::min(p.m, i0 + mc), j0, std::min(p.n, j0 + nc)});
  }
  parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) {
      const Task& tk = tasks[static_cast<size_t>(t)];
      const Prob& p = probs[tk.prob];
      if (p.m <= ks.skinny_max) run_skinny(ks, p, tk.j0, tk.j1);
      else run_packed(ks, p, tk.i0, tk.i1, tk.j0, tk.j1);
    }
  });
}

GemmIsa isa_or_throw() {
  GemmIsa isa;
  std::string err;
  if (!gemm_isa_from_env(&isa, &err)) throw std::invalid_argument(err);
  return isa;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx512: return "avx512";
    case GemmIsa::avx2: return "avx2";
    default: return "generic";
  }
}

GemmIsa gemm_isa_supported() {
#if defined(__x86_64__)
  static const GemmIsa best = [] {
    __builtin_cpu_init();  // libgcc's checks include the OS enabling the AVX / AVX-512 register state
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
      return GemmIsa::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::avx2;
    return GemmIsa::generic;
  }();
  return best;
#else
  return GemmIsa::generic;
#endif
}

bool gemm_isa_parse(const std::string& v, GemmIsa* isa) {
  const GemmIsa best = gemm_isa_supported();
  GemmIsa want;
  if (v.empty()) want = best;
  else if (v == "avx512") want = GemmIsa::avx512;
  else if (v == "avx2") want = GemmIsa::avx2;
  else if (v == "generic") want = GemmIsa::generic;
  else return false;
  *isa = std::min(want, best);
  return true;
}

bool gemm_isa_from_env(GemmIsa* isa, std::string* err) {
  const char* e = std::getenv("DSV3_CPU_ISA");
  const std::string v = e ? e : "";
  if (gemm_isa_parse(v, isa)) return true;
  *err = "DSV3_CPU_ISA must be avx512, avx2 or generic, got '" + v + "'";
  return false;
}

void fp8_gemm(const Fp8GemmParams& p, GemmIsa isa) {
  run_problems({Prob{p.a, DType::f8_e4m3, p.a_scale, p.b, DType::f8_e4m3, p.b_scale, p.out, p.out_dtype, p.m, p.n, p.k}}, isa);
}

void gemm(const GemmParams& p, GemmIsa isa) {
  run_problems({Prob{p.a, p.a_dtype, nullptr, p.b, p.b_dtype, nullptr, p.out, p.out_dtype, p.m, p.n, p.k}}, isa);
}

void grouped_gemm(const GroupedGemmParams& p, GemmIsa isa) {
  const char* op = p.masked ? "groupedGemmMasked" : "groupedGemmContiguous";
  // offsets / counts are device data: check them here, before touching any row.
  if (p.masked) {
    for (int64_t e = 0; e < p.g; ++e)
      if (p.counts[e] < 0 || p.counts[e] > p.m)
        throw std::out_of_range(std::string(op) + ": counts[" + std::to_string(e) + "] = " + std::to_string(p.counts[e]) +
                                " is outside [0, " + std::to_string(p.m) + "] (m_max)");
  } else {
    if (p.offsets[0] < 0 || p.offsets[0] > p.m)
      throw std::out_of_range(std::string(op) + ": offsets[0] = " + std::to_string(p.offsets[0]) + " is outside [0, " +
                              std::to_string(p.m) + "] (rows of a)");
    for (int64_t e = 0; e < p.g; ++e)
      if (p.offsets[e + 1] < p.offsets[e] || p.offsets[e + 1] > p.m)
        throw std::out_of_range(std::string(op) + ": offsets must be non-decreasing within [0, " + std::to_string(p.m) +
                                "] (rows of a), got offsets[" + std::to_string(e) + "] = " + std::to_string(p.offsets[e]) +
                                ", offsets[" + std::to_string(e + 1) + "] = " + std::to_string(p.offsets[e + 1]));
  }
  const int64_t nkb = ceil_div(p.k, kKB), nb = ceil_div(p.n, kKB);
  const int64_t asz = static_cast<int64_t>(itemsize(p.a_dtype)), bsz = static_cast<int64_t>(itemsize(p.b_dtype));
  const int64_t osz = static_cast<int64_t>(itemsize(p.out_dtype));
  std::vector<Prob> probs;
  for (int64_t e = 0; e < p.g; ++e) {
    const int64_t row0 = p.masked ? e * p.m : p.offsets[e];
    const int64_t rows = p.masked ? p.counts[e] : p.offsets[e + 1] - p.offsets[e];
    if (rows == 0) continue;
    probs.push_back(Prob{static_cast<const char*>(p.a) + row0 * p.k * asz, p.a_dtype, p.a_scale ? p.a_scale + row0 * nkb : nullptr,
                         static_cast<const char*>(p.b) + e * p.n * p.k * bsz, p.b_dtype, p.b_scale ? p.b_scale + e * nb * nkb : nullptr,
                         static_cast<char*>(p.out) + row0 * p.n * osz, p.out_dtype, rows, p.n, p.k});
  }
  run_problems(probs, isa);
}

void fp8_gemm(const Fp8GemmParams& p) { fp8_gemm(p, isa_or_throw()); }
void gemm(const GemmParams& p) { gemm(p, isa_or_throw()); }
void grouped_gemm(const GroupedGemmParams& p) { grouped_gemm(p, isa_or_throw()); }

}  // namespace dsv3::cpu
