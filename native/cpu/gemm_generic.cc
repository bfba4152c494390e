// The GEMMs' portable kernel set (any CPU): plain loops the compiler vectorizes for the baseline ISA.
// Also the fallback the dispatcher in native/cpu/gemm.cc uses off x86.
#include <algorithm>
#include <cstring>
#include <utility>

#include "native/cpu/gemm_internal.h"

namespace dsv3::cpu::gemm_detail {
namespace {

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
      for (int i = 0; i < M; ++i) {
        const float* a = g.a + i * g.lda + k0;
        float lane[L] = {};
        for (int c = 0; c < kcr; c += L)
          for (int l = 0; l < L; ++l) lane[l] += a[c + l] * g.buf[c + l];
        float dot = 0.f;
        for (int l = 0; l < L; ++l) dot += lane[l];
        tot[i] += dot;
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

}  // namespace

const KernelSet& generic_kernels() {
  static const KernelSet ks = make(std::make_index_sequence<MR>());
  return ks;
}

}  // namespace dsv3::cpu::gemm_detail
