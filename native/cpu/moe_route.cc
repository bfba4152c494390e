// CPU backend: the MoE router (DeepSeek-V3 inference/model.py Gate; v3-reference.md §5 and §9).
// Per token: scores = sigmoid or softmax of the logits; selection on scores + bias, optionally limited
// to the best groups; weights = the unbiased scores at the chosen experts, renormalised and scaled.
// All math in f32. Ordering is total: higher score first, ties to the lower index, NaN above any number
// (a NaN logit is chosen, so its NaN weight reaches the output instead of being hidden).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

// a (at index ia) ranks before b (at index ib).
inline bool ranks_before(float a, int64_t ia, float b, int64_t ib) {
  const bool na = std::isnan(a), nb = std::isnan(b);
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

}  // namespace

void moe_route(const MoeRouteParams& p) {
  const int64_t e = p.e, k = p.top_k, n_group = p.n_group, gsize = p.e / p.n_group;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  parallel_for(p.t, 8, [&](int64_t tb, int64_t te) {
    std::vector<float> s(e), choice(e), gscore(n_group);
    std::vector<int32_t> order(e), gorder(n_group);
    std::vector<char> keep(n_group);
    for (int64_t ti = tb; ti < te; ++ti) {
      const float* x = p.logits + ti * e;
      // x: [e] gate logits of this token
      if (p.scoring == ScoringFunc::sigmoid) {
        for (int64_t j = 0; j < e; ++j) s[j] = 1.0f / (1.0f + std::exp(-x[j]));
      } else {
        float m = neg_inf, sum = 0.f;
        for (int64_t j = 0; j < e; ++j) m = std::max(m, x[j]);
        for (int64_t j = 0; j < e; ++j) { s[j] = std::exp(x[j] - m); sum += s[j]; }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < e; ++j) s[j] *= inv;
      }
      for (int64_t j = 0; j < e; ++j) choice[j] = p.bias ? s[j] + p.bias[j] : s[j];

      if (n_group > 1) {
        for (int64_t g = 0; g < n_group; ++g) {
          const float* c = choice.data() + g * gsize;
          // noaux_tc (bias present): sum of the two best; group_limited_greedy: the best.
          int64_t b1 = 0;
          for (int64_t j = 1; j < gsize; ++j) if (ranks_before(c[j], j, c[b1], b1)) b1 = j;
          if (p.bias) {
            int64_t b2 = b1 == 0 ? 1 : 0;
            for (int64_t j = 0; j < gsize; ++j) if (j != b1 && ranks_before(c[j], j, c[b2], b2)) b2 = j;
            gscore[g] = c[b1] + c[b2];
          } else {
            gscore[g] = c[b1];
          }
        }
        std::iota(gorder.begin(), gorder.end(), 0);
        std::partial_sort(gorder.begin(), gorder.begin() + p.topk_group, gorder.end(),
                          [&](int32_t a, int32_t b) { return ranks_before(gscore[a], a, gscore[b], b); });
        std::fill(keep.begin(), keep.end(), 0);
        for (int64_t g = 0; g < p.topk_group; ++g) keep[gorder[g]] = 1;
        for (int64_t j = 0; j < e; ++j) if (!keep[j / gsize]) choice[j] = neg_inf;
      }

      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int32_t a, int32_t b) { return ranks_before(choice[a], a, choice[b], b); });
      float* w = p.weights + ti * k;        // [top_k]
      int32_t* idx = p.indices + ti * k;    // [top_k]
      float sum = 0.f;
      for (int64_t j = 0; j < k; ++j) { idx[j] = order[j]; w[j] = s[order[j]]; sum += w[j]; }
      if (p.norm_topk_prob) for (int64_t j = 0; j < k; ++j) w[j] /= sum;  // no epsilon, as DS
      for (int64_t j = 0; j < k; ++j) w[j] *= p.routed_scaling_factor;
    }
  });
}

}  // namespace dsv3::cpu
