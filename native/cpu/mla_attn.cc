// CPU backend: MLA decode attention over the paged latent cache (FlashMLA's layout: pages of 64 token rows
// of c_kv | k_pe, a block table per sequence), absorbed weights as DeepSeek-V3 model.py attn_impl="absorb"
// (v3-reference.md §3). The reference for cuda/mla_attn.cu. Math as native/cpu/mla_attention.cc: one work item
// = one (sequence, head group, block of query tokens); each page is widened to f32 once per item (an f32 cache,
// or with AVX2 a bf16 one, is read in place) and shared by its tokens and heads (key rows loaded once for up to
// 4 heads: mla_attend_heads), online softmax in f32 over the keys in order. A query's result does not depend on
// its item or its neighbours, bit for bit.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/mla_common.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

constexpr int64_t kMaxGroup = 8;    // heads sharing one widened page
constexpr int64_t kMaxTokens = 16;  // query tokens sharing one widened page

}  // namespace

void mla_paged_attention(const MlaPagedAttentionParams& p) {
  const int64_t sq = p.s_q, h = p.h, r = p.r, pd = p.p, d = r + p.p;
  if (p.b == 0 || sq == 0 || h == 0) return;
  // Items: (sequence, head group, block of query tokens); each page is widened once per item (read in place
  // when the cache is f32). Heads are split only until every thread has an item (a decode step: the heads of
  // an item share each key row, so fewer, larger groups read the cache fewer times); tokens for a prefill.
  int64_t group = std::min(h, kMaxGroup);
  while (group > 1 && p.b * sq * ceil_div(h, group) < num_threads()) group = (group + 1) / 2;
  const int64_t n_groups = ceil_div(h, group);
  const int64_t tblock = std::max<int64_t>(1, std::min<int64_t>(kMaxTokens, sq / std::max<int64_t>(1, ceil_div(4 * num_threads(), p.b * n_groups))));
  const int64_t n_tblocks = ceil_div(sq, tblock);
  const size_t kv_item = itemsize(p.kv_dtype), q_item = itemsize(p.q_dtype);
  const float ninf = -std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
#if defined(__x86_64__)
  const bool avx2 = cpu_has_avx2_fma();
#else
  const bool avx2 = false;
#endif

  parallel_for(p.b * n_groups * n_tblocks, 1, [&](int64_t ib, int64_t ie) {
    // per (token of the block, head of the group): q [d], acc [r], scores [page], m, l
    const int64_t qn = tblock * group;
    std::vector<float> q(qn * d), acc(qn * r), sc(qn * kMlaPageSize), m(qn), l(qn), page;  // page: only when widened
    std::vector<int64_t> keys(tblock);
    auto widened = [&] {  // the buffer a page is widened into, sized on first use (in-place reads need none)
      if (page.empty()) page.resize(static_cast<size_t>(kMlaPageSize * d));
      return page.data();
    };
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t bi = item / (n_groups * n_tblocks), gi = (item / n_tblocks) % n_groups, tb = item % n_tblocks;
      const int64_t h0 = gi * group, g = std::min(group, h - h0);
      const int64_t i0 = tb * tblock, nt = std::min(tblock, sq - i0);
      const int64_t len = p.seq_lens[bi];
      int64_t max_keys = 0;
      for (int64_t it = 0; it < nt; ++it) {
        const int64_t i = i0 + it;
        keys[it] = std::max<int64_t>(0, std::min(len, p.causal ? len - sq + i + 1 : len));
        const int64_t qrow0 = (bi * sq + i) * h + h0;  // row of [b * s_q * h] query vectors
        for (int64_t hh = 0; hh < g; ++hh) {
          float* qv = &q[(it * group + hh) * d];
          to_f32(static_cast<const char*>(p.q_latent) + (qrow0 + hh) * r * q_item, p.q_dtype, qv, r);
          to_f32(static_cast<const char*>(p.q_pe) + (qrow0 + hh) * pd * q_item, p.q_dtype, qv + r, pd);
          m[it * group + hh] = ninf;
          l[it * group + hh] = 0.f;
        }
        std::fill(&acc[it * group * r], &acc[it * group * r] + g * r, 0.f);
        // keys past the block table's row: NaN, never another row's pages
        if (keys[it] <= p.max_pages * kMlaPageSize) max_keys = std::max(max_keys, keys[it]);
      }
      for (int64_t j0 = 0; j0 < max_keys; j0 += kMlaPageSize) {
        const int64_t n = std::min(kMlaPageSize, max_keys - j0);
        const int64_t pg = p.block_table[bi * p.max_pages + j0 / kMlaPageSize];
        const float* rows = nullptr;  // the page's n rows as f32: the cache itself when it is f32
        const uint16_t* rows_bf16 = nullptr;  // or its bf16 rows, read in place by the AVX2 tiles
        if (pg < 0 || pg >= p.num_pages) {  // a bad block table gives NaN, not a stray read
          rows = widened();
          std::fill(page.begin(), page.begin() + n * d, nan);
        } else if (p.kv_dtype == DType::f32) {
          rows = static_cast<const float*>(p.kv_cache) + pg * kMlaPageSize * d;
        } else if (p.kv_dtype == DType::bf16 && avx2) {
          rows_bf16 = static_cast<const uint16_t*>(p.kv_cache) + pg * kMlaPageSize * d;
        } else {
          rows = widened();
          to_f32(static_cast<const char*>(p.kv_cache) + pg * kMlaPageSize * d * kv_item, p.kv_dtype, page.data(),
                 static_cast<size_t>(n * d));
        }
        // The cache rows read in place are prefetched ahead, into the next page (MlaPrefetch), by the first of the
        // item's tokens that reads the page (the others find them in cache).
        MlaPrefetch pf;
        if (rows_bf16 || (p.kv_dtype == DType::f32 && pg >= 0 && pg < p.num_pages)) {
          pf.head = j0 == 0;
          const int64_t pn = j0 + kMlaPageSize < max_keys ? p.block_table[bi * p.max_pages + j0 / kMlaPageSize + 1] : -1;
          if (pn >= 0 && pn < p.num_pages) {
            const char* next = static_cast<const char*>(p.kv_cache) + pn * kMlaPageSize * d * kv_item;
            pf.next_kv = next;
            pf.next_pe = next + r * kv_item;
            pf.next_rows = std::min(kMlaPageSize, max_keys - j0 - kMlaPageSize);
          }
        }
        for (int64_t it = 0; it < nt; ++it) {  // page rows are c_kv | k_pe, d = r + pd wide
          if (keys[it] > p.max_pages * kMlaPageSize || keys[it] <= j0) continue;
          const int64_t ni = std::min(kMlaPageSize, keys[it] - j0), base = it * group;
          if (rows_bf16) {
            mla_attend_heads(&q[base * d], d, g, rows_bf16, d, rows_bf16 + r, d, ni, r, pd, p.softmax_scale,
                             &sc[base * kMlaPageSize], kMlaPageSize, &m[base], &l[base], &acc[base * r], r, pf);
            pf = MlaPrefetch{};
            continue;
          }
          mla_attend_heads(&q[base * d], d, g, rows, d, rows + r, d, ni, r, pd, p.softmax_scale,
                           &sc[base * kMlaPageSize], kMlaPageSize, &m[base], &l[base], &acc[base * r], r, pf);
          pf = MlaPrefetch{};
        }
      }
      for (int64_t it = 0; it < nt; ++it) {
        const int64_t i = i0 + it, qrow0 = (bi * sq + i) * h + h0;
        float* out = p.out + qrow0 * r;  // [g, r]
        const bool overflow = keys[it] > p.max_pages * kMlaPageSize;
        for (int64_t hh = 0; hh < g; ++hh) {
          const int64_t k = it * group + hh;
          const float inv = keys[it] > 0 ? 1.f / l[k] : 0.f;
          for (int64_t c = 0; c < r; ++c) out[hh * r + c] = overflow ? nan : keys[it] > 0 ? acc[k * r + c] * inv : 0.f;
          p.lse[((bi * h) + h0 + hh) * sq + i] = overflow ? nan : keys[it] > 0 ? m[k] + std::log(l[k]) : ninf;
        }
      }
    }
  });
}

}  // namespace dsv3::cpu
