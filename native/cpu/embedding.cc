// CPU backend: token embedding lookup (DeepSeek-V3 model.py ParallelEmbedding with one shard):
// out[i] = table[ids[i]]. Every id is checked before any row is read, so a bad id never reads
// outside the table; the error surfaces when the caller next reads from the CPU stream.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {

void embedding(const EmbeddingParams& p) {
  auto id_at = [&](int64_t i) -> int64_t {
    return p.ids_dtype == DType::i64 ? static_cast<const int64_t*>(p.ids)[i] : static_cast<const int32_t*>(p.ids)[i];
  };
  for (int64_t i = 0; i < p.t; ++i) {
    const int64_t id = id_at(i);
    if (id < 0 || id >= p.vocab)
      throw std::out_of_range("embedding: id " + std::to_string(id) + " at row " + std::to_string(i) +
                              " is outside [0, " + std::to_string(p.vocab) + ")");
  }
  const size_t ts = itemsize(p.table_dtype), os = itemsize(p.out_dtype);
  parallel_for(p.t, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.d, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> row(p.table_dtype == p.out_dtype ? 0 : static_cast<size_t>(p.d));
    for (int64_t i = b; i < e; ++i) {
      const char* src = static_cast<const char*>(p.table) + id_at(i) * p.d * ts;
      char* dst = static_cast<char*>(p.out) + i * p.d * os;
      if (p.table_dtype == p.out_dtype) {
        std::memcpy(dst, src, static_cast<size_t>(p.d) * ts);
      } else {
        to_f32(src, p.table_dtype, row.data(), row.size());
        from_f32(row.data(), dst, p.out_dtype, row.size());
      }
    }
  });
}

}  // namespace dsv3::cpu
