// The per-sequence test reference (mlaDecodeAttention, test/reference/mla_sequence.ts; the model runs the
// paged mla_attn.cc): MLA attention over a contiguous latent cache with absorbed weights (DeepSeek-V3 model.py
// attn_impl="absorb"; v3-reference.md §3). score_j = (q_latent . c_kv[j] + q_pe . k_pe[j]) * scale,
// out = sum_j softmax_j(score) c_kv[j], in latent space (W_UV is applied by the caller).
// One work item = one query token and a group of heads; the cache is walked in blocks of rows, each
// widened to f32 once per item and reused by every head of the group, with an online softmax.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/mla_common.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

constexpr int64_t kRows = 64;     // cache rows per block: 64 x 512 f32 = 128 KiB stays in L2
constexpr int64_t kMaxGroup = 8;  // heads sharing one widened block

// Rows [j0, j0 + n) of a [*, d] float-like buffer as f32: in place if f32, else widened into buf.
inline const float* rows_f32(const void* x, DType dt, int64_t j0, int64_t n, int64_t d, float* buf) {
  const char* src = static_cast<const char*>(x) + static_cast<size_t>(j0 * d) * itemsize(dt);
  if (dt == DType::f32) return reinterpret_cast<const float*>(src);
  to_f32(src, dt, buf, static_cast<size_t>(n * d));
  return buf;
}

}  // namespace

void mla_decode_attention(const MlaDecodeAttentionParams& p) {
  const int64_t t = p.t, h = p.h, r = p.r, pd = p.p;
  if (t == 0 || h == 0) return;
  // Heads per item: as many as kMaxGroup allows while still giving every thread about two items.
  int64_t group = std::min(h, kMaxGroup);
  while (group > 1 && t * ceil_div(h, group) < 2 * num_threads()) group = (group + 1) / 2;
  const int64_t n_groups = ceil_div(h, group);

  parallel_for(t * n_groups, 1, [&](int64_t ib, int64_t ie) {
    std::vector<float> q(group * (r + pd)), acc(group * r), sc(group * kRows), kv_buf, pe_buf;
    if (p.kv_dtype != DType::f32) { kv_buf.resize(kRows * r); pe_buf.resize(kRows * pd); }
    float m[kMaxGroup], l[kMaxGroup];
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t i = item / n_groups, h0 = (item % n_groups) * group, g = std::min(group, h - h0);
      const int64_t rows = p.causal ? p.start_pos + i + 1 : p.s;
      float* out = p.out + (i * h + h0) * r;  // [g, r]
      if (rows == 0) { std::fill(out, out + g * r, 0.f); continue; }  // empty cache (non-causal)
      // q: per head [r] latent then [p] rope part, f32
      for (int64_t hh = 0; hh < g; ++hh) {
        const size_t row = static_cast<size_t>(i * h + h0 + hh);
        to_f32(static_cast<const char*>(p.q_latent) + row * r * itemsize(p.q_dtype), p.q_dtype, &q[hh * (r + pd)], r);
        to_f32(static_cast<const char*>(p.q_pe) + row * pd * itemsize(p.q_dtype), p.q_dtype, &q[hh * (r + pd) + r], pd);
        m[hh] = -std::numeric_limits<float>::infinity();
        l[hh] = 0.f;
      }
      std::fill(acc.begin(), acc.begin() + g * r, 0.f);
      for (int64_t j0 = 0; j0 < rows; j0 += kRows) {
        const int64_t n = std::min(kRows, rows - j0);
        const float* kv = rows_f32(p.c_kv, p.kv_dtype, j0, n, r, kv_buf.data());  // [n, r]
        const float* pe = rows_f32(p.k_pe, p.kv_dtype, j0, n, pd, pe_buf.data());  // [n, p]
        for (int64_t hh = 0; hh < g; ++hh)
          mla_attend_block(&q[hh * (r + pd)], kv, r, pe, pd, n, r, pd, p.softmax_scale, &sc[hh * kRows], m[hh], l[hh], &acc[hh * r]);
      }
      for (int64_t hh = 0; hh < g; ++hh) {
        const float inv = 1.f / l[hh];
        for (int64_t c = 0; c < r; ++c) out[hh * r + c] = acc[hh * r + c] * inv;
      }
    }
  });
}

}  // namespace dsv3::cpu
