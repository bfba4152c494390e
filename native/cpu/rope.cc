// CPU backend: rotary embedding on interleaved pairs, as DeepSeek-V3 model.py apply_rotary_emb:
// (x[2i] + j x[2i+1]) * e^{j pos inv_freq[i]} on the last rope_dim elements of each head vector.
// The angle is the f32 product pos * inv_freq[i], exactly as precompute_freqs_cis builds it
// (torch.outer of f32 tensors); cos and sin of that f32 angle are evaluated in double and rounded
// once to f32, so they differ from torch's f32 cos/sin by at most an ulp.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/rowops.h"
#include "native/ops.h"

namespace dsv3::cpu {

void rope(const RopeParams& p) {
  const int64_t half = p.rope_dim / 2, nope = p.d - p.rope_dim;
  // cos/sin per (token, pair), computed once and shared by the h heads of the token.
  std::vector<float> cosv(static_cast<size_t>(p.t * half)), sinv(static_cast<size_t>(p.t * half));
  parallel_for(p.t, std::max<int64_t>(1, 2048 / std::max<int64_t>(half, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      rope_cos_sin(position_at(p.positions, p.positions_dtype, i), p.inv_freq, half, cosv.data() + i * half, sinv.data() + i * half);
    }
  });
  const int64_t rows = p.t * p.h;
  const size_t xs = itemsize(p.x_dtype), os = itemsize(p.out_dtype);
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.d, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(p.d));
    for (int64_t r = b; r < e; ++r) {
      to_f32(static_cast<const char*>(p.x) + r * p.d * xs, p.x_dtype, row.data(), row.size());
      const float* c = cosv.data() + (r / p.h) * half;
      const float* s = sinv.data() + (r / p.h) * half;
      rope_rotate(row.data() + nope, c, s, half);
      from_f32(row.data(), static_cast<char*>(p.out) + r * p.d * os, p.out_dtype, row.size());
    }
  });
}

}  // namespace dsv3::cpu
