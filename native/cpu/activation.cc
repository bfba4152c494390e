// CPU backend: the MLP activation silu(gate) * up (DeepSeek-V3 model.py MLP/Expert:
// w2(F.silu(w1(x)) * w3(x))). f32 math in chunks, one rounding to the output dtype.
#include <algorithm>
#include <cmath>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {

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
      // g / (1 + exp(-g)): exp overflows to inf for g < -88 and the quotient is then -0, not NaN.
      for (int64_t j = 0; j < m; ++j) g[j] = g[j] / (1.0f + std::exp(-g[j])) * u[j];
      from_f32(g, static_cast<char*>(p.out) + i * os, p.out_dtype, m);
    }
  });
}

}  // namespace dsv3::cpu
