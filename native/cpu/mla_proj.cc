// CPU backend of the fused MLA projections (issue 5), DeepSeek-V3 model.py MLA attn_impl="absorb"
// (v3-reference.md §3-4): the down-projection epilogue (q_norm, kv_norm, RoPE of k_pe, write to the
// paged cache), the absorbed query (q_nope @ W_UK per head, RoPE of q_pe) and the output projection
// (o_latent @ W_UV^T per head). RMSNorm and RoPE use norm.cc's and rope.cc's row primitives
// (native/cpu/rowops.h), so the fused ops equal the composed ones bit for bit.
#include <algorithm>
#include <cmath>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/cpu/rowops.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

// v [n] <- w * (v / sqrt(mean(v^2) + eps)), as rms_norm.
inline void rms_inplace(float* v, const float* w, int64_t n, float eps) {
  const float r = 1.0f / std::sqrt(sum_sq(v, n) / static_cast<float>(n) + eps);
  for (int64_t j = 0; j < n; ++j) v[j] = w[j] * (v[j] * r);
}

}  // namespace

void mla_down_epilogue(const MlaDownEpilogueParams& p) {
  const int64_t width = p.q_lora + p.r + p.p, half = p.p / 2, d = p.r + p.p;
  const size_t xs = itemsize(p.qkv_dtype), cs = itemsize(p.cq_dtype), ks = itemsize(p.kv_dtype);
  parallel_for(p.t, std::max<int64_t>(1, 8192 / std::max<int64_t>(width, 1)), [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(width)), c(half), s(half);
    for (int64_t i = b; i < e; ++i) {
      to_f32(static_cast<const char*>(p.qkv) + i * width * xs, p.qkv_dtype, row.data(), row.size());
      if (p.q_lora > 0) {
        rms_inplace(row.data(), p.q_norm, p.q_lora, p.eps);
        from_f32(row.data(), static_cast<char*>(p.cq) + i * p.q_lora * cs, p.cq_dtype, p.q_lora);
      }
      const int64_t slot = p.slot_mapping[i];
      if (slot < 0 || slot >= p.num_slots) continue;  // padding token (or a slot outside the cache)
      float* kv = row.data() + p.q_lora;  // [r] c_kv then [p] k_pe
      rms_inplace(kv, p.kv_norm, p.r, p.eps);
      rope_cos_sin(position_at(p.positions, p.positions_dtype, i), p.inv_freq, half, c.data(), s.data());
      rope_rotate(kv + p.r, c.data(), s.data(), half);
      from_f32(kv, static_cast<char*>(p.kv_cache) + slot * d * ks, p.kv_dtype, d);
    }
  });
}

// The per-head weights of the absorbed projections are read in place when they are f32, or bf16 for few
// tokens (decode: widening a head's matrix costs more than using it once); else widened to f32 once per
// item. bf16 -> f32 is exact, so every path computes the same products and sums, bit for bit.
namespace {
bool read_in_place(DType w, int64_t rows) { return w == DType::f32 || (w == DType::bf16 && rows <= 2); }
}  // namespace

void mla_absorb_q(const MlaAbsorbQParams& p) {
  const int64_t t = p.t, h = p.h, nope = p.nope, r = p.r, half = p.p / 2, width = nope + p.p;
  if (t == 0 || h == 0) return;
  const size_t qs = itemsize(p.q_dtype), ws = itemsize(p.w_dtype), os = itemsize(p.out_dtype);
  // Items: (head, chunk of tokens); the head's W_UK [nope, r] is read in place or widened once per item.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(t, ceil_div(t * h, 4 * num_threads())));
  const int64_t n_chunks = ceil_div(t, chunk);
  const bool in_place = read_in_place(p.w_dtype, chunk);
  parallel_for(h * n_chunks, 1, [&](int64_t ib, int64_t ie) {
    std::vector<float> w(in_place ? 0 : nope * r), q(width), acc(r), c(half), s(half);
    int64_t widened = -1;
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t hh = item / n_chunks, i0 = (item % n_chunks) * chunk, i1 = std::min(t, i0 + chunk);
      const char* wh = static_cast<const char*>(p.w_uk) + hh * nope * r * ws;
      if (!in_place && widened != hh) {
        to_f32(wh, p.w_dtype, w.data(), w.size());
        widened = hh;
      }
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t row = i * h + hh;
        to_f32(static_cast<const char*>(p.q) + row * width * qs, p.q_dtype, q.data(), q.size());
        std::fill(acc.begin(), acc.end(), 0.f);
        float* ac = acc.data();
        for (int64_t dd = 0; dd < nope; ++dd) {
          const float a = q[dd];
          if (!in_place) {
            const float* wr = &w[dd * r];
            for (int64_t cc = 0; cc < r; ++cc) ac[cc] += a * wr[cc];
          } else if (p.w_dtype == DType::f32) {
            const float* wr = reinterpret_cast<const float*>(wh) + dd * r;
            for (int64_t cc = 0; cc < r; ++cc) ac[cc] += a * wr[cc];
          } else {
            const uint16_t* wr = reinterpret_cast<const uint16_t*>(wh) + dd * r;
            for (int64_t cc = 0; cc < r; ++cc) ac[cc] += a * bf16_to_f32(wr[cc]);
          }
        }
        from_f32(acc.data(), static_cast<char*>(p.q_latent) + row * r * os, p.out_dtype, r);
        rope_cos_sin(position_at(p.positions, p.positions_dtype, i), p.inv_freq, half, c.data(), s.data());
        rope_rotate(q.data() + nope, c.data(), s.data(), half);
        from_f32(q.data() + nope, static_cast<char*>(p.q_pe) + row * p.p * os, p.out_dtype, p.p);
      }
    }
  });
}

void mla_output(const MlaOutputParams& p) {
  const int64_t t = p.t, h = p.h, r = p.r, v = p.v;
  if (t == 0 || h == 0 || v == 0) return;
  const size_t is = itemsize(p.o_dtype), ws = itemsize(p.w_dtype), os = itemsize(p.out_dtype);
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(t, ceil_div(t * h, 4 * num_threads())));
  const int64_t n_chunks = ceil_div(t, chunk);
  const bool in_place = read_in_place(p.w_dtype, chunk);
  parallel_for(h * n_chunks, 1, [&](int64_t ib, int64_t ie) {
    std::vector<float> w(in_place ? 0 : v * r), o(r), y(v);
    int64_t widened = -1;
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t hh = item / n_chunks, i0 = (item % n_chunks) * chunk, i1 = std::min(t, i0 + chunk);
      const char* wh = static_cast<const char*>(p.w_uv) + hh * v * r * ws;
      if (!in_place && widened != hh) {
        to_f32(wh, p.w_dtype, w.data(), w.size());
        widened = hh;
      }
      for (int64_t i = i0; i < i1; ++i) {
        to_f32(static_cast<const char*>(p.o_latent) + (i * h + hh) * r * is, p.o_dtype, o.data(), r);
        for (int64_t dd = 0; dd < v; ++dd) {
          if (!in_place) y[dd] = dot(o.data(), &w[dd * r], r);
          else if (p.w_dtype == DType::f32) y[dd] = dot(o.data(), reinterpret_cast<const float*>(wh) + dd * r, r);
          else y[dd] = dot_bf16(o.data(), reinterpret_cast<const uint16_t*>(wh) + dd * r, r);
        }
        from_f32(y.data(), static_cast<char*>(p.out) + (i * h + hh) * v * os, p.out_dtype, v);
      }
    }
  });
}

}  // namespace dsv3::cpu
