// The packed (prefill-sized) GEMM micro-kernels on AVX512_BF16 (vdpbf16ps: 32 multiply-adds per
// instruction, twice an f32 FMA's), for the problems whose operands bf16 holds exactly: bf16 and FP8
// e4m3 (every e4m3 value, subnormals included, is a bf16). Panels hold bf16 pairs (elements k and k + 1 of
// a row in one 32-bit word) instead of f32; the driver, tiles, K blocks and scale epilogue are the f32
// set's (gemm.cc run_packed), so only the packing and the inner product change. Each product of two bf16 is
// exact in f32 and the sums are f32 as before; the instruction treats bf16 subnormal inputs (|x| < 2^-126)
// as zero and flushes subnormal sums, so results differ from the f32 kernels by rounding only (within the
// GEMM tests' tolerances). Skinny problems (decode) keep the AVX-512 set's streaming kernels, which are
// bound by memory there. Compiled for its ISA by target pragmas; gemm.cc calls it only when the CPU has
// AVX512_BF16 besides the AVX-512 set's features.
#include <algorithm>
#include <cstring>
#include <utility>

#include "native/cpu/gemm_internal.h"
#include "native/cpu/rowops.h"  // transpose16

#if defined(__x86_64__)
#include <immintrin.h>

namespace dsv3::cpu::gemm_detail {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,avx512bf16,avx2,fma")
#endif
namespace avx512bf16 {
constexpr int MR = 12, NR = 32;  // as the AVX-512 set: 24 zmm accumulators, 2 B vectors, broadcasts

inline __mmask32 mask32(int64_t left) { return left >= 32 ? ~__mmask32(0) : static_cast<__mmask32>((1u << left) - 1); }

// 64 e4m3fn codes -> 64 bf16 in element order, as v[0] (codes 0..31) and v[1] (32..63): two 128-entry
// byte lookups give each bf16's low and high byte (vpermi2b ignores the index's sign bit; the sign is
// or-ed into the high byte), interleaved into words per 128-bit lane, then put back in order across lanes.
inline void e4m3x64_bf16(__m512i x, const Bf16Lut& l, __m512i v[2]) {
  const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(l.lo), x, _mm512_load_si512(l.lo + 64));
  const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(_mm512_load_si512(l.hi), x, _mm512_load_si512(l.hi + 64)), x,
                                               _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);
  const __m512i w0 = _mm512_unpacklo_epi8(lo, hi);  // lane L: codes 16 L + 0..7
  const __m512i w1 = _mm512_unpackhi_epi8(lo, hi);  // lane L: codes 16 L + 8..15
  v[0] = _mm512_permutex2var_epi64(w0, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), w1);
  v[1] = _mm512_permutex2var_epi64(w0, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), w1);
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

}  // namespace avx512bf16
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#pragma GCC diagnostic pop

namespace avx512bf16 {
// Outside the target region: baseline code, safe on any CPU. Only the packed path: no decode, no skinny kernels.
template <size_t... I>
KernelSet make(std::index_sequence<I...>) {
  KernelSet ks;
  ks.mr = MR; ks.nr = NR; ks.pack = &pack;
  ((ks.micro[I + 1] = &micro<static_cast<int>(I) + 1>), ...);
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
