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
// item. Tokens go in blocks of kTok that share each weight load (register tiles). bf16 -> f32 is exact and
// every token's products and sums (explicit fma) are the same in the same order on every path, so the result of a token
// does not depend on the path, the block or the other tokens (bit for bit).
namespace {
constexpr int64_t kTok = 4, kCols = 32;
bool read_in_place(DType w, int64_t rows) { return w == DType::f32 || (w == DType::bf16 && rows <= 2); }

// acc[ii][0..r) = sum_dd q[ii][dd] * w[dd, 0..r) for NB tokens; w [nope, r] row-major; q rows `width` apart.
template <int NB, class W>
void absorb_tile(const float* q, int64_t width, const W* w, int64_t nope, int64_t r, float* acc) {
  int64_t c0 = 0;
  for (; c0 + kCols <= r; c0 += kCols) {  // NB x kCols accumulators stay in registers
    float t[NB][kCols] = {};
    for (int64_t dd = 0; dd < nope; ++dd) {
      const W* wr = w + dd * r + c0;
      for (int ii = 0; ii < NB; ++ii) {
        const float a = q[ii * width + dd];
        for (int cc = 0; cc < kCols; ++cc) t[ii][cc] = std::fma(a, widen_f32(wr[cc]), t[ii][cc]);
      }
    }
    for (int ii = 0; ii < NB; ++ii) std::copy(t[ii], t[ii] + kCols, acc + ii * r + c0);
  }
  for (int ii = 0; ii < NB; ++ii) {  // the last r % kCols columns
    float* a = acc + ii * r;
    std::fill(a + c0, a + r, 0.f);
    for (int64_t dd = 0; dd < nope; ++dd)
      for (int64_t cc = c0; cc < r; ++cc) a[cc] = std::fma(q[ii * width + dd], widen_f32(w[dd * r + cc]), a[cc]);
  }
}
#if defined(__x86_64__)
// absorb_tile with AVX2 + FMA (f32 or bf16 weights, widened in registers): NB tokens x 16 or 32 columns of accumulators in registers, the
// same fma per element in the same order (dd ascending), so the result equals absorb_tile's bit for bit.
template <int NB, class W>
__attribute__((target("avx2,fma"))) void absorb_tile_avx2(const float* q, int64_t width, const W* w, int64_t nope,
                                                         int64_t r, float* acc) {
  constexpr int NV = NB <= 2 ? 4 : 2, NC = 8 * NV;  // NB x NC accumulators: 8 ymm or 6 (enough chains for the latency)
  int64_t c0 = 0;
  for (; c0 + NC <= r; c0 += NC) {
    __m256 t[NB][NV];
    for (int ii = 0; ii < NB; ++ii)
      for (int v = 0; v < NV; ++v) t[ii][v] = _mm256_setzero_ps();
    for (int64_t dd = 0; dd < nope; ++dd) {
      __m256 wv[NV];
      for (int v = 0; v < NV; ++v) wv[v] = load8_f32(w + dd * r + c0 + 8 * v);
      for (int ii = 0; ii < NB; ++ii) {
        const __m256 a = _mm256_broadcast_ss(q + ii * width + dd);
        for (int v = 0; v < NV; ++v) t[ii][v] = _mm256_fmadd_ps(a, wv[v], t[ii][v]);
      }
    }
    for (int ii = 0; ii < NB; ++ii)
      for (int v = 0; v < NV; ++v) _mm256_storeu_ps(acc + ii * r + c0 + 8 * v, t[ii][v]);
  }
  for (int ii = 0; ii < NB; ++ii) {  // the last r % NC columns
    float* a = acc + ii * r;
    std::fill(a + c0, a + r, 0.f);
    for (int64_t dd = 0; dd < nope; ++dd)
      for (int64_t cc = c0; cc < r; ++cc) a[cc] = std::fma(q[ii * width + dd], widen_f32(w[dd * r + cc]), a[cc]);
  }
}
#endif

#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
// absorb_tile with AVX-512: NB tokens x U x 16 columns of accumulators in registers, the same fma per element in
// the same order (dd ascending), bit for bit absorb_tile.
template <int NB, int U, class W>
DSV3_TARGET_AVX512 void absorb_cols_avx512(const float* q, int64_t width, const W* w, int64_t nope, int64_t r, int64_t c0,
                                           float* acc) {
  __m512 t[NB][U];
  for (int ii = 0; ii < NB; ++ii)
    for (int u = 0; u < U; ++u) t[ii][u] = _mm512_setzero_ps();
  for (int64_t dd = 0; dd < nope; ++dd) {
    __m512 wv[U];
    for (int u = 0; u < U; ++u) wv[u] = load16_f32(w + dd * r + c0 + 16 * u);
    for (int ii = 0; ii < NB; ++ii) {
      const __m512 a = _mm512_set1_ps(q[ii * width + dd]);
      for (int u = 0; u < U; ++u) t[ii][u] = _mm512_fmadd_ps(a, wv[u], t[ii][u]);
    }
  }
  for (int ii = 0; ii < NB; ++ii)
    for (int u = 0; u < U; ++u) _mm512_storeu_ps(acc + ii * r + c0 + 16 * u, t[ii][u]);
}
// One token (a decode step) takes 256 columns at a time: a row of W_UK (r = 256) is then read in one pass, and the
// head's rows one sequential stream instead of four strided passes (decode, 200 layers' W_UK from DRAM: 20-22 ->
// 11.5-14.5 us per call); more tokens keep 64 columns, which reuse each loaded row segment NB times.
template <int NB, class W>
void absorb_tile_avx512(const float* q, int64_t width, const W* w, int64_t nope, int64_t r, float* acc) {
  constexpr int U = NB == 1 ? 16 : 4;
  int64_t c0 = 0;
  for (; c0 + 16 * U <= r; c0 += 16 * U) absorb_cols_avx512<NB, U>(q, width, w, nope, r, c0, acc);
  for (; c0 + 64 <= r; c0 += 64) absorb_cols_avx512<NB, 4>(q, width, w, nope, r, c0, acc);
  for (; c0 + 16 <= r; c0 += 16) absorb_cols_avx512<NB, 1>(q, width, w, nope, r, c0, acc);
  for (int ii = 0; ii < NB; ++ii) {  // the last r % 16 columns
    float* a = acc + ii * r;
    std::fill(a + c0, a + r, 0.f);
    for (int64_t dd = 0; dd < nope; ++dd)
      for (int64_t cc = c0; cc < r; ++cc) a[cc] = std::fma(q[ii * width + dd], widen_f32(w[dd * r + cc]), a[cc]);
  }
}
#pragma GCC diagnostic pop
#endif

template <class W>
void absorb_block(const float* q, int64_t width, int64_t nb, const W* w, int64_t nope, int64_t r, float* acc) {
#if defined(__x86_64__)
  if (cpu_has_avx512()) {
    switch (nb) {
      case 1: absorb_tile_avx512<1>(q, width, w, nope, r, acc); break;
      case 2: absorb_tile_avx512<2>(q, width, w, nope, r, acc); break;
      case 3: absorb_tile_avx512<3>(q, width, w, nope, r, acc); break;
      default: absorb_tile_avx512<4>(q, width, w, nope, r, acc); break;
    }
    return;
  }
  if (cpu_has_avx2_fma()) {
    switch (nb) {
      case 1: absorb_tile_avx2<1>(q, width, w, nope, r, acc); break;
      case 2: absorb_tile_avx2<2>(q, width, w, nope, r, acc); break;
      case 3: absorb_tile_avx2<3>(q, width, w, nope, r, acc); break;
      default: absorb_tile_avx2<4>(q, width, w, nope, r, acc); break;
    }
    return;
  }
#endif
  switch (nb) {
    case 1: absorb_tile<1>(q, width, w, nope, r, acc); break;
    case 2: absorb_tile<2>(q, width, w, nope, r, acc); break;
    case 3: absorb_tile<3>(q, width, w, nope, r, acc); break;
    default: absorb_tile<4>(q, width, w, nope, r, acc); break;
  }
}

// y[ii][dd] = dot(o[ii], w[dd, :]) for NB tokens, with dot()'s 16 partial sums in its order.
template <int NB, class W>
void output_tile(const float* o, const W* w, int64_t v, int64_t r, float* y) {
  for (int64_t dd = 0; dd < v; ++dd) {
    const W* wr = w + dd * r;
    float acc[NB][16] = {};
    int64_t i = 0;
    for (; i + 16 <= r; i += 16)
      for (int ii = 0; ii < NB; ++ii)
        for (int k = 0; k < 16; ++k) acc[ii][k] = std::fma(o[ii * r + i + k], widen_f32(wr[i + k]), acc[ii][k]);
    for (int ii = 0; ii < NB; ++ii) {
      float s = 0.f;
      for (int64_t j = i; j < r; ++j) s = std::fma(o[ii * r + j], widen_f32(wr[j]), s);
      for (int k = 0; k < 16; ++k) s += acc[ii][k];
      y[ii * v + dd] = s;
    }
  }
}
#if defined(__x86_64__)
// output_tile with AVX2 + FMA (f32 or bf16 weights, widened in registers): rows of W_UV in groups of ND against the NB tokens
// (dot_tile_avx2: the same sums as dot(), bit for bit).
template <int NB, class W>
void output_tile_avx2(const float* o, const W* w, int64_t v, int64_t r, float* y) {
  constexpr int ND = NB <= 2 ? 4 : 2;
  const float* a[NB];
  for (int ii = 0; ii < NB; ++ii) a[ii] = o + ii * r;
  int64_t dd = 0;
  for (; dd + ND <= v; dd += ND) {
    const W* b[ND];
    for (int k = 0; k < ND; ++k) b[k] = w + (dd + k) * r;
    float out[NB][ND];
    dot_tile_avx2<NB, ND>(a, b, r, out);
    for (int ii = 0; ii < NB; ++ii)
      for (int k = 0; k < ND; ++k) y[ii * v + dd + k] = out[ii][k];
  }
  for (; dd < v; ++dd) {
    const W* b = w + dd * r;
    float out[NB][1];
    dot_tile_avx2<NB, 1>(a, &b, r, out);
    for (int ii = 0; ii < NB; ++ii) y[ii * v + dd] = out[ii][0];
  }
}
#endif

#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
// output_tile with AVX-512, for r a multiple of 16: NB tokens x 16 / NB rows of W_UV = up to 16 dots, each dot's
// 16 partial sums one zmm, summed in dot()'s lane order by lane_sums16 (bit for bit dot()).
template <int NB, class W>
DSV3_TARGET_AVX512 void output_tile_avx512(const float* o, const W* w, int64_t v, int64_t r, float* y) {
  constexpr int ND = 16 / NB;
  alignas(64) float out[16];
  for (int64_t dd = 0; dd < v; dd += ND) {
    const int nd = static_cast<int>(std::min<int64_t>(ND, v - dd));
    const W* b[ND];
    for (int k = 0; k < ND; ++k) b[k] = w + (dd + std::min(k, nd - 1)) * r;  // past v: the last row again (unused)
    __m512 a[16];
    for (int i = 0; i < 16; ++i) a[i] = _mm512_setzero_ps();
    if constexpr (NB == 1) {  // a decode step: the 16 rows (contiguous) read front to back, one sequential stream
      for (int k = 0; k < ND; ++k)  // (200 layers' W_UV from DRAM: 21-25 -> 12.5-12.7 us per call)
        for (int64_t i = 0; i < r; i += 16) a[k] = _mm512_fmadd_ps(_mm512_loadu_ps(o + i), load16_f32(b[k] + i), a[k]);
    } else {  // more tokens: the rows side by side, each loaded vector used for every token
      for (int64_t i = 0; i < r; i += 16) {
        __m512 wv[ND];
        for (int k = 0; k < ND; ++k) wv[k] = load16_f32(b[k] + i);
        for (int ii = 0; ii < NB; ++ii) {
          const __m512 ov = _mm512_loadu_ps(o + ii * r + i);
          for (int k = 0; k < ND; ++k) a[ii * ND + k] = _mm512_fmadd_ps(ov, wv[k], a[ii * ND + k]);
        }
      }
    }
    _mm512_store_ps(out, lane_sums16(a));
    for (int ii = 0; ii < NB; ++ii)
      for (int k = 0; k < nd; ++k) y[ii * v + dd + k] = out[ii * ND + k];
  }
}
#pragma GCC diagnostic pop
#endif

template <class W>
void output_block(const float* o, int64_t nb, const W* w, int64_t v, int64_t r, float* y) {
#if defined(__x86_64__)
  if (r % 16 == 0 && cpu_has_avx512()) {
    switch (nb) {
      case 1: output_tile_avx512<1>(o, w, v, r, y); break;
      case 2: output_tile_avx512<2>(o, w, v, r, y); break;
      case 3: output_tile_avx512<3>(o, w, v, r, y); break;
      default: output_tile_avx512<4>(o, w, v, r, y); break;
    }
    return;
  }
  if (cpu_has_avx2_fma()) {
    switch (nb) {
      case 1: output_tile_avx2<1>(o, w, v, r, y); break;
      case 2: output_tile_avx2<2>(o, w, v, r, y); break;
      case 3: output_tile_avx2<3>(o, w, v, r, y); break;
      default: output_tile_avx2<4>(o, w, v, r, y); break;
    }
    return;
  }
#endif
  switch (nb) {
    case 1: output_tile<1>(o, w, v, r, y); break;
    case 2: output_tile<2>(o, w, v, r, y); break;
    case 3: output_tile<3>(o, w, v, r, y); break;
    default: output_tile<4>(o, w, v, r, y); break;
  }
}
}  // namespace

void mla_absorb_q(const MlaAbsorbQParams& p) {
  const int64_t t = p.t, h = p.h, nope = p.nope, r = p.r, half = p.p / 2, width = nope + p.p;
  if (t == 0 || h == 0) return;
  const size_t qs = itemsize(p.q_dtype), ws = itemsize(p.w_dtype), os = itemsize(p.out_dtype);
  // Items: (head, chunk of tokens); the head's W_UK [nope, r] is read in place or widened once per item.
  const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(t, ceil_div(t * h, 4 * num_threads())));
  const int64_t n_chunks = ceil_div(t, chunk);
  const bool in_place = read_in_place(p.w_dtype, chunk);
  // cos/sin per (token, pair), computed once and shared by the h heads of the token (as rope.cc): per head, the
  // sincos calls took 40% of a 128-token prefill's absorbed query.
  std::vector<float> cosv(static_cast<size_t>(t * half)), sinv(static_cast<size_t>(t * half));
  parallel_for(t, std::max<int64_t>(1, 2048 / std::max<int64_t>(half, 1)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      rope_cos_sin(position_at(p.positions, p.positions_dtype, i), p.inv_freq, half, cosv.data() + i * half, sinv.data() + i * half);
  });
  parallel_for(h * n_chunks, 1, [&](int64_t ib, int64_t ie) {
    std::vector<float> w(in_place ? 0 : nope * r), q(kTok * width), acc(kTok * r);
    int64_t widened = -1;
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t hh = item / n_chunks, i0 = (item % n_chunks) * chunk, i1 = std::min(t, i0 + chunk);
      const char* wh = static_cast<const char*>(p.w_uk) + hh * nope * r * ws;
      if (!in_place && widened != hh) {
        to_f32(wh, p.w_dtype, w.data(), w.size());
        widened = hh;
      }
      for (int64_t ib0 = i0; ib0 < i1; ib0 += kTok) {
        const int64_t nb = std::min(kTok, i1 - ib0);
        for (int64_t ii = 0; ii < nb; ++ii)
          to_f32(static_cast<const char*>(p.q) + ((ib0 + ii) * h + hh) * width * qs, p.q_dtype, &q[ii * width], width);
        if (!in_place) absorb_block(q.data(), width, nb, w.data(), nope, r, acc.data());
        else if (p.w_dtype == DType::f32) absorb_block(q.data(), width, nb, reinterpret_cast<const float*>(wh), nope, r, acc.data());
        else absorb_block(q.data(), width, nb, reinterpret_cast<const uint16_t*>(wh), nope, r, acc.data());
        for (int64_t ii = 0; ii < nb; ++ii) {
          const int64_t i = ib0 + ii, row = i * h + hh;
          from_f32(&acc[ii * r], static_cast<char*>(p.q_latent) + row * r * os, p.out_dtype, r);
          float* qpe = &q[ii * width + nope];
          rope_rotate(qpe, cosv.data() + i * half, sinv.data() + i * half, half);
          from_f32(qpe, static_cast<char*>(p.q_pe) + row * p.p * os, p.out_dtype, p.p);
        }
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
    std::vector<float> w(in_place ? 0 : v * r), o(kTok * r), y(kTok * v);
    int64_t widened = -1;
    for (int64_t item = ib; item < ie; ++item) {
      const int64_t hh = item / n_chunks, i0 = (item % n_chunks) * chunk, i1 = std::min(t, i0 + chunk);
      const char* wh = static_cast<const char*>(p.w_uv) + hh * v * r * ws;
      if (!in_place && widened != hh) {
        to_f32(wh, p.w_dtype, w.data(), w.size());
        widened = hh;
      }
      for (int64_t ib0 = i0; ib0 < i1; ib0 += kTok) {
        const int64_t nb = std::min(kTok, i1 - ib0);
        for (int64_t ii = 0; ii < nb; ++ii)
          to_f32(static_cast<const char*>(p.o_latent) + ((ib0 + ii) * h + hh) * r * is, p.o_dtype, &o[ii * r], r);
        if (!in_place) output_block(o.data(), nb, w.data(), v, r, y.data());
        else if (p.w_dtype == DType::f32) output_block(o.data(), nb, reinterpret_cast<const float*>(wh), v, r, y.data());
        else output_block(o.data(), nb, reinterpret_cast<const uint16_t*>(wh), v, r, y.data());
        for (int64_t ii = 0; ii < nb; ++ii)
          from_f32(&y[ii * v], static_cast<char*>(p.out) + ((ib0 + ii) * h + hh) * v * os, p.out_dtype, v);
      }
    }
  });
}

}  // namespace dsv3::cpu
