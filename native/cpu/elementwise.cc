// CPU backend: elementwise ops. Float inputs are widened to f32 in row chunks, computed, and
// rounded once to the output dtype.
#include <algorithm>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {

void add(const AddParams& p) {
  constexpr int64_t kChunk = 2048;
  parallel_for(ceil_div(p.n, kChunk), 8, [&](int64_t cb, int64_t ce) {
    float x[kChunk], y[kChunk];
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t i = c * kChunk, n = std::min(kChunk, p.n - i);
      to_f32(static_cast<const char*>(p.a) + i * itemsize(p.a_dtype), p.a_dtype, x, n);
      to_f32(static_cast<const char*>(p.b) + i * itemsize(p.b_dtype), p.b_dtype, y, n);
      for (int64_t j = 0; j < n; ++j) x[j] += y[j];
      from_f32(x, static_cast<char*>(p.out) + i * itemsize(p.out_dtype), p.out_dtype, n);
    }
  });
}

}  // namespace dsv3::cpu
