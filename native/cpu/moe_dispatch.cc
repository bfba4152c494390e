// CPU backend: the MoE dispatch steps around the grouped expert GEMMs (DeepGEMM's contiguous and masked
// layouts; DeepSeek-V3 model.py MoE.forward): a stable counting sort of the (token, choice) slots by
// expert, the row gather, SiLU-and-multiply fused with FP8 act_quant, and the weighted combine.
// Reference for every CUDA kernel in cuda/moe.cu: same order of f32 operations, explicit fma.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/rowops.h"
#include "native/ops.h"

namespace dsv3::cpu {

void moe_permute(const MoePermuteParams& p) {
  const int64_t n = p.t * p.k, e = p.e;
  for (int64_t s = 0; s < n; ++s)
    if (p.indices[s] < 0 || p.indices[s] >= e)
      throw std::out_of_range("moePermute: indices[" + std::to_string(s) + "] = " + std::to_string(p.indices[s]) +
                              " is outside [0, " + std::to_string(e) + ")");
  std::vector<int64_t> count(e, 0), next(e, 0);
  for (int64_t s = 0; s < n; ++s) ++count[p.indices[s]];
  std::fill(p.row_slot, p.row_slot + p.rows, -1);
  const bool masked = p.layout == MoeLayout::masked;
  if (masked) {
    int64_t dropped = 0;
    for (int64_t x = 0; x < e; ++x) {
      p.counts[x] = static_cast<int32_t>(std::min(count[x], p.m_max));
      dropped += std::max<int64_t>(0, count[x] - p.m_max);
    }
    *p.dropped = static_cast<int32_t>(dropped);
  } else {
    int64_t off = 0;
    for (int64_t x = 0; x < e; ++x) {
      p.counts[x] = static_cast<int32_t>(count[x]);
      p.offsets[x] = static_cast<int32_t>(off);
      next[x] = off;
      off += ceil_div(count[x], p.align) * p.align;
    }
    p.offsets[e] = static_cast<int32_t>(off);
  }
  // Slots visited in increasing order: each expert's rows keep slot order (stable, deterministic).
  for (int64_t s = 0; s < n; ++s) {
    const int32_t x = p.indices[s];
    int64_t row;
    if (masked) {
      const int64_t pos = next[x]++;
      row = pos < p.m_max ? x * p.m_max + pos : -1;
    } else {
      row = next[x]++;
    }
    p.slot_row[s] = static_cast<int32_t>(row);
    if (row >= 0) p.row_slot[row] = static_cast<int32_t>(s);
  }
}

void moe_gather(const MoeGatherParams& p) {
  const int64_t bytes = p.row_bytes;
  parallel_for(p.rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(bytes, 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      char* o = static_cast<char*>(p.out) + r * bytes;  // [row_bytes]
      const int32_t s = p.row_slot[r];
      if (s < 0) { std::memset(o, 0, bytes); continue; }
      if (s >= p.t * p.k)
        throw std::out_of_range("moeGather: rowSlot[" + std::to_string(r) + "] = " + std::to_string(s) +
                                " is outside [-1, t * k = " + std::to_string(p.t * p.k) + ")");
      std::memcpy(o, static_cast<const char*>(p.x) + (s / p.k) * bytes, bytes);
    }
  });
}

void silu_mul_quant(const SiluMulQuantParams& p) {
  // h rows rounded to p.dtype in a small buffer, then quantize_fp8 itself: the codes and scales are
  // those of quantizeFp8(siluMul(gate, up)) by construction. Nested parallel_for calls run inline.
  constexpr int64_t kRows = 16;
  const size_t isz = itemsize(p.dtype);
  const int64_t kb = ceil_div(p.n, kQuantBlock);
  parallel_for(ceil_div(p.rows, kRows), 1, [&](int64_t bb, int64_t be) {
    std::vector<float> g(p.n), u(p.n);
    std::vector<char> h(kRows * p.n * isz);
    for (int64_t b = bb; b < be; ++b) {
      const int64_t r0 = b * kRows, m = std::min(kRows, p.rows - r0);
      for (int64_t r = 0; r < m; ++r) {
        const size_t at = static_cast<size_t>((r0 + r) * p.ld) * isz;
        to_f32(static_cast<const char*>(p.gate) + at, p.dtype, g.data(), p.n);
        to_f32(static_cast<const char*>(p.up) + at, p.dtype, u.data(), p.n);
        silu_mul_row(g.data(), u.data(), p.n);  // as silu_mul (activation.cc)
        from_f32(g.data(), h.data() + r * p.n * isz, p.dtype, p.n);
      }
      quantize_fp8(QuantizeFp8Params{h.data(), p.dtype, p.y + r0 * p.n, p.scale + r0 * kb, m, p.n, p.ue8m0});
    }
  });
}

void moe_combine(const MoeCombineParams& p) {
  const int64_t d = p.d, k = p.k;
  parallel_for(p.t, std::max<int64_t>(1, 8192 / std::max<int64_t>(d * k, 1)), [&](int64_t tb, int64_t te) {
    std::vector<float> acc(d), row(d);
    for (int64_t i = tb; i < te; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t j = 0; j < k; ++j) {
        const int32_t r = p.slot_row[i * k + j];
        if (r < 0) continue;
        if (r >= p.rows)
          throw std::out_of_range("moeCombine: slotRow[" + std::to_string(i * k + j) + "] = " + std::to_string(r) +
                                  " is outside [-1, " + std::to_string(p.rows) + ")");
        const float w = p.weights[i * k + j];
        to_f32(static_cast<const char*>(p.y) + r * d * itemsize(p.y_dtype), p.y_dtype, row.data(), d);
        for (int64_t c = 0; c < d; ++c) acc[c] = std::fma(w, row[c], acc[c]);
      }
      if (p.shared) {
        to_f32(static_cast<const char*>(p.shared) + i * d * itemsize(p.shared_dtype), p.shared_dtype, row.data(), d);
        for (int64_t c = 0; c < d; ++c) acc[c] += row[c];
      }
      if (p.residual) {
        to_f32(static_cast<const char*>(p.residual) + i * d * itemsize(p.residual_dtype), p.residual_dtype, row.data(), d);
        for (int64_t c = 0; c < d; ++c) acc[c] = row[c] + acc[c];
      }
      from_f32(acc.data(), static_cast<char*>(p.out) + i * d * itemsize(p.out_dtype), p.out_dtype, d);
    }
  });
}

}  // namespace dsv3::cpu
