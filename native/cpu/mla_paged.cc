// CPU backend: MLA decode attention over the paged latent cache (FlashMLA's layout: pages of 64 token rows
// of c_kv | k_pe, a block table per sequence), absorbed weights as DeepSeek-V3 model.py attn_impl="absorb"
// (v3-reference.md §3). The reference for cuda/mla.cu. Math as native/cpu/mla_attention.cc: one work item
// = one (sequence, query token, head group); each page is widened to f32 once per item and shared by the
// heads of the group, online softmax in f32 over the keys in order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/mla_common.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

constexpr int64_t kMaxGroup = 8;  // heads sharing one widened page

}  // namespace

void mla_paged_attention(const MlaPagedAttentionParams& p) {
  const int64_t sq = p.s_q, h = p.h, r = p.r, pd = p.p, d = r + p.p;
  if (p.b == 0 || sq == 0 || h == 0) return;
  int64_t group = std::min(h, kMaxGroup);
  while (group > 1 && p.b * sq * ceil_div(h, group) < 2 * num_threads()) group = (group + 1) / 2;
  const int64_t n_groups = ceil_div(h, group);
  const size_t kv_item = itemsize(p.kv_dtype), q_item = itemsize(p.q_dtype);
  const float ninf = -std::numeric_limits<float>::infinity();

  parallel_for(p.b * sq * n_groups, 1, [&](int64_t ib, int64_t ie) {
    std::vector<float> q(group * d), acc(group * r), sc(group * kMlaPageSize), page(kMlaPageSize * d);
    float m[kMaxGroup], l[kMaxGroup];
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t bi = item / (sq * n_groups), i = (item / n_groups) % sq;
      const int64_t h0 = (item % n_groups) * group, g = std::min(group, h - h0);
      const int64_t len = p.seq_lens[bi];
      const int64_t keys = std::max<int64_t>(0, std::min(len, p.causal ? len - sq + i + 1 : len));
      const int64_t qrow0 = (bi * sq + i) * h + h0;  // row of [b * s_q * h] query vectors
      float* out = p.out + qrow0 * r;                // [g, r]
      if (keys > p.max_pages * kMlaPageSize) {  // keys past the block table's row: NaN, never another row's pages
        std::fill(out, out + g * r, std::numeric_limits<float>::quiet_NaN());
        for (int64_t hh = 0; hh < g; ++hh) p.lse[((bi * h) + h0 + hh) * sq + i] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      for (int64_t hh = 0; hh < g; ++hh) {
        to_f32(static_cast<const char*>(p.q_latent) + (qrow0 + hh) * r * q_item, p.q_dtype, &q[hh * d], r);
        to_f32(static_cast<const char*>(p.q_pe) + (qrow0 + hh) * pd * q_item, p.q_dtype, &q[hh * d + r], pd);
        m[hh] = ninf;
        l[hh] = 0.f;
      }
      std::fill(acc.begin(), acc.begin() + g * r, 0.f);
      for (int64_t j0 = 0; j0 < keys; j0 += kMlaPageSize) {
        const int64_t n = std::min(kMlaPageSize, keys - j0);
        const int64_t pg = p.block_table[bi * p.max_pages + j0 / kMlaPageSize];
        if (pg < 0 || pg >= p.num_pages) {  // a bad block table gives NaN, not a stray read
          std::fill(page.begin(), page.begin() + n * d, std::numeric_limits<float>::quiet_NaN());
        } else {
          to_f32(static_cast<const char*>(p.kv_cache) + pg * kMlaPageSize * d * kv_item, p.kv_dtype, page.data(),
                 static_cast<size_t>(n * d));
        }
        for (int64_t hh = 0; hh < g; ++hh)  // page rows are c_kv | k_pe, d = r + pd wide
          mla_attend_block(&q[hh * d], page.data(), d, page.data() + r, d, n, r, pd, p.softmax_scale, &sc[hh * kMlaPageSize],
                           m[hh], l[hh], &acc[hh * r]);
      }
      for (int64_t hh = 0; hh < g; ++hh) {
        const float inv = keys > 0 ? 1.f / l[hh] : 0.f;
        for (int64_t c = 0; c < r; ++c) out[hh * r + c] = keys > 0 ? acc[hh * r + c] * inv : 0.f;
        p.lse[((bi * h) + h0 + hh) * sq + i] = keys > 0 ? m[hh] + std::log(l[hh]) : ninf;
      }
    }
  });
}

}  // namespace dsv3::cpu
