// CPU backend: RMSNorm and softmax over the last dim. Mirrors DeepSeek-V3 model.py RMSNorm
// (y = w * x / sqrt(mean(x^2) + eps)) and the fp32 attention softmax: rows are widened to f32,
// computed in f32, and rounded once to the output dtype.
#include <algorithm>
#include <cmath>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/rowops.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {
// sum_j x[j] with 8 partial sums, as rowops.h's sum_sq (softmax's denominator).
inline float sum(const float* x, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[j + l];
  float s = 0;
  for (; j < n; ++j) s += x[j];
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}
// Rows per parallel chunk: about 16K elements, at least one row.
inline int64_t row_grain(int64_t d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)); }
}  // namespace

void rms_norm(const RmsNormParams& p) {
  std::vector<float> w(static_cast<size_t>(p.d));
  to_f32(p.w, p.w_dtype, w.data(), w.size());
  const size_t xs = itemsize(p.x_dtype), os = itemsize(p.out_dtype);
  parallel_for(p.t, row_grain(p.d), [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(p.d));
    float* v = row.data();
    for (int64_t i = b; i < e; ++i) {
      to_f32(static_cast<const char*>(p.x) + i * p.d * xs, p.x_dtype, v, row.size());
      const float r = 1.0f / std::sqrt(sum_sq(v, p.d) / static_cast<float>(p.d) + p.eps);
      for (int64_t j = 0; j < p.d; ++j) v[j] = w[j] * (v[j] * r);
      from_f32(v, static_cast<char*>(p.out) + i * p.d * os, p.out_dtype, row.size());
    }
  });
}

void softmax(const SoftmaxParams& p) {
  const size_t xs = itemsize(p.x_dtype), os = itemsize(p.out_dtype);
  parallel_for(p.t, row_grain(p.n), [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(p.n));
    float* v = row.data();
    for (int64_t i = b; i < e; ++i) {
      to_f32(static_cast<const char*>(p.x) + i * p.n * xs, p.x_dtype, v, row.size());
      // std::max skips NaN here; a NaN input still turns the whole row NaN through exp and the sum,
      // as in torch. A row of -inf has no maximum to subtract: -inf - -inf gives NaN, as in torch.
      float m = -INFINITY;
      for (int64_t j = 0; j < p.n; ++j) m = std::max(m, v[j]);
      for (int64_t j = 0; j < p.n; ++j) v[j] = std::exp(v[j] - m);
      const float inv = 1.0f / sum(v, p.n);
      for (int64_t j = 0; j < p.n; ++j) v[j] *= inv;
      from_f32(v, static_cast<char*>(p.out) + i * p.n * os, p.out_dtype, row.size());
    }
  });
}

}  // namespace dsv3::cpu
