// The absorbed-MLA attention step shared by the CPU twins (mla_attention.cc: contiguous latent cache,
// mla_paged.cc: paged cache): one block of keys for one head, online softmax in f32.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "native/cpu/rowops.h"

namespace dsv3::cpu {

// q [r + pd] (q_latent | q_pe); keys j < n: kv + j * kv_stride [r] (c_kv, also the value) and
// pe + j * pe_stride [pd] (k_pe). score_j = (q[:r] . c_kv_j + q[r:] . k_pe_j) * scale; the running max m,
// sum l and numerator acc [r] are updated in place (m = -inf, l = 0, acc = 0 before the first block).
// s: [n] scratch for the scores.
inline void mla_attend_block(const float* q, const float* kv, int64_t kv_stride, const float* pe, int64_t pe_stride,
                             int64_t n, int64_t r, int64_t pd, float scale, float* s, float& m, float& l, float* acc) {
  float mb = m;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = (dot(q, kv + j * kv_stride, r) + dot(q + r, pe + j * pe_stride, pd)) * scale;
    mb = std::max(mb, s[j]);
  }
  const float alpha = std::exp(m - mb);  // 0 on the first block (m = -inf)
  if (alpha != 1.f) for (int64_t c = 0; c < r; ++c) acc[c] *= alpha;
  float lb = l * alpha;
  for (int64_t j = 0; j < n; ++j) {
    const float pj = std::exp(s[j] - mb);
    lb += pj;
    const float* v = kv + j * kv_stride;
    for (int64_t c = 0; c < r; ++c) acc[c] += pj * v[c];
  }
  m = mb;
  l = lb;
}

}  // namespace dsv3::cpu
