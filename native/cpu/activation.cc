// CPU backend: the MLP activation silu(gate) * up (DeepSeek-V3 model.py MLP/Expert:
// w2(F.silu(w1(x)) * w3(x))). f32 math in chunks, one rounding to the output dtype.
#include <algorithm>
#include <cmath>

#include "native/cpu/parallel.h"
#include "native/cpu/rowops.h"
#include "native/ops.h"

namespace dsv3::cpu {

#if defined(__x86_64__)
namespace {
DSV3_TARGET_AVX512 void silu_mul_row_avx512(float* g, const float* u, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.f);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, g + j);
    const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    _mm512_mask_storeu_ps(g + j, m, _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + j)));
  }
}
}  // namespace
#endif

void silu_mul_row(float* g, const float* u, int64_t n) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) { silu_mul_row_avx512(g, u, n); return; }
#endif
  for (int64_t j = 0; j < n; ++j) g[j] = g[j] / (1.0f + exp_f32(-g[j])) * u[j];
}

void silu_mul(const SiluMulParams& p) {
  constexpr int64_t kChunk = 2048;
  const int64_t n = p.t * p.n;
  const size_t gs = itemsize(p.gate_dtype), us = itemsize(p.up_dtype), os = itemsize(p.out_dtype);
  parallel_for(ceil_div(n, kChunk), 8, [&](int64_t cb, int64_t ce) {
    float g[kChunk], u[kChunk];
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t i = c * kChunk, m = std::min(kChunk, n - i);
      to_f32(static_cast<const char*>(p.gate) + i * gs, p.gate_dtype, g, m);
      to_f32(static_cast<const char*>(p.up) + i * us, p.up_dtype, u, m);
      silu_mul_row(g, u, m);
      from_f32(g, static_cast<char*>(p.out) + i * os, p.out_dtype, m);
    }
  });
}

}  // namespace dsv3::cpu
