// What the GEMM driver (native/cpu/gemm.cc) and its per-ISA kernel sets (gemm_generic.cc, gemm_avx2.cc,
// gemm_avx512.cc) share: the kernel interfaces and the baseline-ISA helpers they all use. Include it
// before any target pragma, so that its inline functions compile for the baseline ISA in every file
// (the linker keeps one copy of each, which must run on any CPU).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "native/ops.h"

namespace dsv3::cpu::gemm_detail {

inline constexpr int kKB = kQuantBlock;  // K block: the scale granularity and the packing depth
inline constexpr int kMaxMR = 12;
inline constexpr int kMaxNR = 32;
inline constexpr int kMaxSkinny = 8;  // problems with at most KernelSet::skinny_max (<= 8) rows stream B

// The skinny kernel's view: A rows already decoded (to f32, with any block scales folded in by the driver;
// or, for the AVX512_BF16 set, to bf16 words by its skinny_a, with the scales left to the kernel), B streamed
// from its own dtype: out = A @ B^T.
struct SkinnyArgs {
  const float* a; int64_t lda;          // M rows of stride lda floats, zero from k up to whole K blocks
  const char* b; DType bt;              // b [n, k]
  int64_t j0, j1, k;                    // B rows j0..j1 of this task
  char* out; DType ot; int64_t ldo;     // out element (i, j) at i * ldo + j
  float* buf;                           // kKB floats of scratch, 64-byte aligned
  const float* as = nullptr;            // bf16-word A only: a_scale [M, nkb] and b_scale [ceil(n/128), nkb], or null
  const float* bs = nullptr;
  int64_t nkb = 0;
};

// At M = 1 the AVX-512 sets' skinny kernels stream a task's rows [j0, j1) as two sequential runs in lockstep,
// rows j0 + i and j0 + h + i for i < h = two_streams_half(j1 - j0) (even; the 0-3 rows past 2h go one at a time),
// each row's sums in the same order as alone. On a 2-core Zen 4 (small, decode, against one row at a time, medians of
// the per-round ratios): fp8 1.04-1.10, f32 1.035-1.075, bf16 1.01-1.05; four runs: f32 0.91-0.98, bf16 0.93-0.95.
inline int64_t two_streams_half(int64_t rows) { return rows >= 8 ? rows / 4 * 2 : 0; }

// The thin kernels' view (thin_min <= m <= thin_max <= 32 rows, no block scales, A and B of one dtype): A^T packed once
// per problem by the set's pack as a panel of width 16 * ceil(m / 16) (thin_width; lanes past m zero), B rows
// read in place: tile[i, j - j0] = sum_k A[i, k] B[j, k] in f32 for i < m, j0 <= j < j1 (the driver rounds the
// tile into the output).
struct ThinArgs {
  const float* at; int64_t m;           // packed A^T (pack(a, at, k, m, thin_width(m), k)) and A's row count
  const char* b; int64_t j0, j1, k;     // b [n, k]: rows j0..j1 of this task
  float* tile;                          // [m, j1 - j0] f32
};
inline int thin_width(int64_t m) { return m > 16 ? 32 : 16; }

using DecodeFn = void (*)(const void* src, DType t, float* dst, int64_t n);
// tile[R, NR] = sum_k A[k, r] B[k, c] over kc (A packed [kc][MR], B packed [kc][NR]);
// then C[r, c] = tile * s[r] (first K block) or C[r, c] += tile * s[r].
using MicroFn = void (*)(const float* A, const float* B, int kc, float* C, int64_t ldc, const float* s, bool first);
using SkinnyFn = void (*)(const SkinnyArgs&);
using ThinFn = void (*)(const ThinArgs&);
// Reorders decoded A rows (m rows of `cols` f32, cols a multiple of kKB, row stride lda) in place into the order
// the skinny kernel for B dtype bt reads them in. tmp: kKB floats of scratch.
using SkinnyPrepFn = void (*)(DType bt, float* a, int64_t m, int64_t cols, int64_t lda, float* tmp);
// One row of A (k elements of dtype t, B's dtype too) -> `cols` bf16 words in the order the skinny kernel for B
// of dtype t reads them, zero past k (the AVX512_BF16 set, whose skinny kernels take A as bf16 words).
using SkinnyAFn = void (*)(const void* src, DType t, int64_t k, int64_t cols, uint16_t* dst);
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
  SkinnyPrepFn skinny_prep = nullptr;  // null: the skinny kernels read A in its natural order
  SkinnyAFn skinny_a = nullptr;        // set: A goes to the skinny kernels as bf16 words (skinny_prep unused)
  // Unscaled problems with thin_min <= m <= thin_max rows and A and B of dtype thin_dtype use the thin kernel. Both
  // AVX-512 sets start it above skinny_max: from 6 rows it is faster than the skinny kernels (32 experts x 256 x
  // 1024 from DRAM, 2 threads: f32 6 rows 2.2 -> 1.8 ms, 8 rows 2.9 -> 1.9; bf16 8 rows 1.74 -> 1.0), but up to
  // skinny_max a row's result must not depend on its batch (batched decode gives each sequence its bits alone).
  int thin_min = 0, thin_max = 0;
  DType thin_dtype = DType::f32;
  ThinFn thin = nullptr;
};

// The kernel sets, one per file. Each is filled on first use by baseline-ISA code, so that merely
// loading the addon never runs an instruction the CPU may lack.
const KernelSet& generic_kernels();
#if defined(__x86_64__)
const KernelSet& avx2_kernels();
const KernelSet& avx512_kernels();
// The AVX512_BF16 set (gemm_avx512bf16.cc): packed and skinny kernels for bf16 / e4m3 operands only.
const KernelSet& avx512bf16_kernels();
#endif

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
inline const Bf16Lut& bf16_lut() { static const Bf16Lut l; return l; }

// itemsize() as a constant for the dtype-templated kernels (f8_e4m3, bf16, f32).
template <DType T> inline constexpr int64_t kSize = T == DType::f8_e4m3 ? 1 : T == DType::bf16 ? 2 : 4;

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

}  // namespace dsv3::cpu::gemm_detail
