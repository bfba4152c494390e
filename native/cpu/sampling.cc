// CPU backend: argmax, top-k and sampling over the last dim (the decode loop of DeepSeek-V3
// generate.py, with top-k / top-p filtering as in HF's logits warpers). NaN ranks above every
// number. sample draws one uniform per row from a counter-based generator of (seed, row), so a
// row's token depends only on (seed, row, logits row), never on the thread count.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {
inline uint64_t splitmix64(uint64_t x) {  // as in tensor_ops.cc
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
// The first maximum; the first NaN if there is one.
inline int64_t argmax_row(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (std::isnan(v[j])) return j;
    if (v[j] > v[best]) best = j;
  }
  return best;
}
// Strict order "a ranks before b": NaN first, then larger values; equal values by lower index.
struct Before {
  const float* v;
  bool operator()(int32_t a, int32_t b) const {
    const bool na = std::isnan(v[a]), nb = std::isnan(v[b]);
    if (na || nb) return na && (!nb || a < b);
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  }
};
// Rows of a float-like tensor, widened to f32 one at a time.
struct RowReader {
  const void* x; DType dt; int64_t n;
  std::vector<float> buf;
  const float* operator()(int64_t i) {
    if (dt == DType::f32) return static_cast<const float*>(x) + i * n;
    buf.resize(static_cast<size_t>(n));
    to_f32(static_cast<const char*>(x) + i * n * itemsize(dt), dt, buf.data(), buf.size());
    return buf.data();
  }
};
}  // namespace

void argmax(const ArgmaxParams& p) {
  parallel_for(p.t, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.n, 1)), [&](int64_t b, int64_t e) {
    RowReader rows{p.x, p.x_dtype, p.n, {}};
    for (int64_t i = b; i < e; ++i) {
      const float* v = rows(i);
      const int64_t j = argmax_row(v, p.n);
      p.out[i] = !p.flag_invalid || std::isfinite(v[j]) ? static_cast<int32_t>(j) : std::isnan(v[j]) ? kPickNaN : kPickNoFinite;
    }
  });
}

void topk(const TopkParams& p) {
  parallel_for(p.t, 1, [&](int64_t b, int64_t e) {
    RowReader rows{p.x, p.x_dtype, p.n, {}};
    std::vector<int32_t> idx(static_cast<size_t>(p.n));
    for (int64_t i = b; i < e; ++i) {
      const float* v = rows(i);
      std::iota(idx.begin(), idx.end(), 0);
      if (p.k == p.n) std::sort(idx.begin(), idx.end(), Before{v});
      else std::partial_sort(idx.begin(), idx.begin() + p.k, idx.end(), Before{v});
      for (int64_t j = 0; j < p.k; ++j) {
        p.values[i * p.k + j] = v[idx[j]];
        p.indices[i * p.k + j] = idx[j];
      }
    }
  });
}

// Probabilities in double: p_j = exp((l_j - max) / T). The kept tokens are ranked by logit
// (the same order as by probability; equal logits by lower index): the top_k first, then the
// shortest prefix whose probability, renormalized over the top_k, reaches top_p. The draw walks
// that ranking and picks the first token whose cumulative probability exceeds u * (kept total).
void sample(const SampleParams& p) {
  const uint64_t key = splitmix64(p.seed);
  const double temp = p.temperature;
  parallel_for(p.t, 1, [&](int64_t b, int64_t e) {
    std::vector<int32_t> idx(static_cast<size_t>(p.vocab));
    std::vector<double> prob(static_cast<size_t>(p.vocab));
    for (int64_t r = b; r < e; ++r) {
      const float* l = p.logits + r * p.vocab;
      if (!(temp > 0)) { p.out[r] = static_cast<int32_t>(argmax_row(l, p.vocab)); continue; }
      float m = -INFINITY;
      bool nan = false;
      for (int64_t j = 0; j < p.vocab; ++j) { nan |= std::isnan(l[j]); m = std::max(m, l[j]); }
      if (nan || !std::isfinite(m))
        throw std::domain_error("sample: row " + std::to_string(r) + " of 'logits' " +
                                (nan ? "contains NaN" : "has no finite maximum"));
      for (int64_t j = 0; j < p.vocab; ++j) prob[j] = std::exp((static_cast<double>(l[j]) - m) / temp);
      std::iota(idx.begin(), idx.end(), 0);
      const int64_t k = p.top_k > 0 ? std::min(p.top_k, p.vocab) : p.vocab;
      if (k == p.vocab) std::sort(idx.begin(), idx.end(), Before{l});
      else std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), Before{l});
      double total = 0;
      for (int64_t j = 0; j < k; ++j) total += prob[idx[j]];
      int64_t kept = k;
      if (p.top_p < 1.0f) {
        const double target = static_cast<double>(p.top_p) * total;
        double c = 0;
        for (int64_t j = 0; j < k; ++j) {
          c += prob[idx[j]];
          if (c >= target) { kept = j + 1; break; }
        }
        total = 0;
        for (int64_t j = 0; j < kept; ++j) total += prob[idx[j]];
      }
      const uint64_t bits = splitmix64(key ^ (static_cast<uint64_t>(r) * 0xd1342543de82ef95ull));
      const double u = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
      const double target = u * total;
      // Rounding can leave target at or above the last partial sum: fall back to the last kept
      // token with a non-zero probability (the first one always has probability 1).
      int64_t pick = 0;
      double c = 0;
      for (int64_t j = 0; j < kept; ++j) {
        const double pj = prob[idx[j]];
        if (pj > 0) pick = j;
        c += pj;
        if (c > target) break;
      }
      p.out[r] = idx[pick];
    }
  });
}

}  // namespace dsv3::cpu
