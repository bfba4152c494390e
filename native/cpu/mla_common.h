// The absorbed-MLA attention step shared by the CPU twins (mla_attention.cc: contiguous latent cache,
// mla_attn.cc: paged cache): one block of keys for one head, online softmax in f32.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "native/cpu/rowops.h"

namespace dsv3::cpu {

// q [r + pd] (q_latent | q_pe); keys j < n: kv + j * kv_stride [r] (c_kv, also the value) and
// pe + j * pe_stride [pd] (k_pe). score_j = (q[:r] . c_kv_j + q[r:] . k_pe_j) * scale; the running max m,
// sum l and numerator acc [r] are updated in place (m = -inf, l = 0, acc = 0 before the first block).
// s: [n] scratch for the scores.
template <int NQ>
inline void mla_attend_tile(const float* const* q, const float* kv, int64_t kv_stride, const float* pe, int64_t pe_stride,
                            int64_t n, int64_t r, int64_t pd, float scale, float* const* s, float* m, float* l, float* const* acc);

inline void mla_attend_block(const float* q, const float* kv, int64_t kv_stride, const float* pe, int64_t pe_stride,
                             int64_t n, int64_t r, int64_t pd, float scale, float* s, float& m, float& l, float* acc) {
  mla_attend_tile<1>(&q, kv, kv_stride, pe, pe_stride, n, r, pd, scale, &s, &m, &l, &acc);
}

// dot(a[qq], b, n) for NQ vectors a[qq] against one b: the same 16 partial sums in the same order as dot(),
// so each result equals dot()'s bit for bit; b is loaded once for all of them.
template <int NQ>
inline void dot_multi(const float* const* a, const float* b, int64_t n, float* out) {
  float acc[NQ][16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int qq = 0; qq < NQ; ++qq)
      for (int k = 0; k < 16; ++k) acc[qq][k] = std::fma(a[qq][i + k], b[i + k], acc[qq][k]);
  for (int qq = 0; qq < NQ; ++qq) {
    float s = 0.f;
    for (int64_t j = i; j < n; ++j) s = std::fma(a[qq][j], b[j], s);
    for (int k = 0; k < 16; ++k) s += acc[qq][k];
    out[qq] = s;
  }
}

// mla_attend_block for NQ queries (heads of one token) over the same n keys, each key row loaded once for
// all of them: per query the same operations in the same order as mla_attend_block, bit for bit.
// q[qq] [r + pd]; s[qq] [n] scratch; m, l [NQ]; acc[qq] [r].
template <int NQ>
inline void mla_attend_tile(const float* const* q, const float* kv, int64_t kv_stride, const float* pe, int64_t pe_stride,
                            int64_t n, int64_t r, int64_t pd, float scale, float* const* s, float* m, float* l, float* const* acc) {
  const float* qpe[NQ];
  float mb[NQ], d1[NQ], d2[NQ], lb[NQ], pj[NQ];
  for (int qq = 0; qq < NQ; ++qq) { qpe[qq] = q[qq] + r; mb[qq] = m[qq]; }
  for (int64_t j = 0; j < n; ++j) {
    dot_multi<NQ>(q, kv + j * kv_stride, r, d1);
    dot_multi<NQ>(qpe, pe + j * pe_stride, pd, d2);
    for (int qq = 0; qq < NQ; ++qq) {
      s[qq][j] = (d1[qq] + d2[qq]) * scale;
      mb[qq] = std::max(mb[qq], s[qq][j]);
    }
  }
  for (int qq = 0; qq < NQ; ++qq) {
    const float alpha = exp_f32(m[qq] - mb[qq]);  // 0 on the first block (m = -inf)
    if (alpha != 1.f) for (int64_t c = 0; c < r; ++c) acc[qq][c] *= alpha;
    lb[qq] = l[qq] * alpha;
  }
  for (int64_t j = 0; j < n; ++j) {
    for (int qq = 0; qq < NQ; ++qq) {
      pj[qq] = exp_f32(s[qq][j] - mb[qq]);
      lb[qq] += pj[qq];
    }
    const float* v = kv + j * kv_stride;
    for (int qq = 0; qq < NQ; ++qq) {
      float* a = acc[qq];
      const float p = pj[qq];
      for (int64_t c = 0; c < r; ++c) a[c] = std::fma(p, v[c], a[c]);
    }
  }
  for (int qq = 0; qq < NQ; ++qq) { m[qq] = mb[qq]; l[qq] = lb[qq]; }
}

// Decode reads the latent cache cold (the weights streamed since evict it): while a page's keys are scored, the
// rows kMlaPrefetchAhead keys ahead are prefetched, past the page's end the next page's first rows, so the loads
// find them in cache (small, context 160: f32 0.18-0.19 -> 0.10 ms a step; context 2048, cold: f32 316 -> 203 us
// per call, bf16 223 -> 137). Prefetches change no value; the scalar reference tile does not prefetch. `head`:
// this page's own first rows too (a sequence's first page: nothing prefetched them).
struct MlaPrefetch {
  const void* next_kv = nullptr;  // the next page's first row (c_kv), null at the last page
  const void* next_pe = nullptr;  // its k_pe
  int64_t next_rows = 0;
  bool head = false;
};
constexpr int64_t kMlaPrefetchAhead = 8;

// Always inlined: GCC 12's mod/ref analysis takes a function that only prefetches for one without effects and
// deletes the calls (-O2 and up), so the prefetch must sit in the kernel's own body.
__attribute__((always_inline)) inline void prefetch_bytes(const void* p, int64_t bytes) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63}; line < end; line += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
}

// Key row j of the page (c_kv and k_pe), or row j - n of the next one, into cache.
template <class TKV>
__attribute__((always_inline)) inline void mla_prefetch_key(const TKV* kv, int64_t kv_stride, const TKV* pe, int64_t pe_stride, int64_t n, int64_t r,
                             int64_t pd, const MlaPrefetch& pf, int64_t j) {
  const TKV* k;
  const TKV* e;
  if (j < n) {
    k = kv + j * kv_stride;
    e = pe + j * pe_stride;
  } else if (pf.next_kv && j - n < pf.next_rows) {
    k = static_cast<const TKV*>(pf.next_kv) + (j - n) * kv_stride;
    e = static_cast<const TKV*>(pf.next_pe) + (j - n) * pe_stride;
  } else {
    return;
  }
  prefetch_bytes(k, r * static_cast<int64_t>(sizeof(TKV)));
  prefetch_bytes(e, pd * static_cast<int64_t>(sizeof(TKV)));
}

#if defined(__x86_64__)
// mla_attend_tile with AVX2 + FMA: bit for bit the same operations in the same order (each dot's 16 partial
// sums are two 8-lane vectors, summed into the score lane by lane in dot()'s order; acc[c] += p_j v_j[c] in
// key order), with the partial sums and 16 columns x NQ heads of acc in registers.
// The key rows may be f32 or bf16 bits (TKV = float or uint16_t: a bf16 cache read in place, widened in
// registers exactly as to_f32 would).
template <int NQ, class TKV>
__attribute__((target("avx2,fma"))) inline void mla_attend_tile_avx2(const float* const* q, const TKV* kv, int64_t kv_stride,
                                                                    const TKV* pe, int64_t pe_stride, int64_t n, int64_t r,
                                                                    int64_t pd, float scale, float* const* s, float* m, float* l,
                                                                    float* const* acc, const MlaPrefetch& pf) {
  const float* qpe[NQ];
  float mb[NQ], d1[NQ][1], d2[NQ][1], lb[NQ];
  for (int qq = 0; qq < NQ; ++qq) { qpe[qq] = q[qq] + r; mb[qq] = m[qq]; }
  if (pf.head) for (int64_t j = 0; j < std::min(n, kMlaPrefetchAhead); ++j) mla_prefetch_key(kv, kv_stride, pe, pe_stride, n, r, pd, pf, j);
  for (int64_t j = 0; j < n; ++j) {
    mla_prefetch_key(kv, kv_stride, pe, pe_stride, n, r, pd, pf, j + kMlaPrefetchAhead);
    const TKV* kj = kv + j * kv_stride;
    const TKV* pj = pe + j * pe_stride;
    dot_tile_avx2<NQ, 1>(q, &kj, r, d1);
    dot_tile_avx2<NQ, 1>(qpe, &pj, pd, d2);
    for (int qq = 0; qq < NQ; ++qq) {
      s[qq][j] = (d1[qq][0] + d2[qq][0]) * scale;
      mb[qq] = std::max(mb[qq], s[qq][j]);
    }
  }
  for (int qq = 0; qq < NQ; ++qq) {
    const float alpha = exp_f32(m[qq] - mb[qq]);
    if (alpha != 1.f) for (int64_t c = 0; c < r; ++c) acc[qq][c] *= alpha;
    lb[qq] = l[qq] * alpha;
  }
  for (int64_t j = 0; j < n; ++j)  // p_j (into s) and l in key order
    for (int qq = 0; qq < NQ; ++qq) {
      s[qq][j] = exp_f32(s[qq][j] - mb[qq]);
      lb[qq] += s[qq][j];
    }
  int64_t c0 = 0;
  for (; c0 + 16 <= r; c0 += 16) {  // 16 columns of every head's acc in registers while the keys stream by
    __m256 a0[NQ], a1[NQ];
    for (int qq = 0; qq < NQ; ++qq) { a0[qq] = _mm256_loadu_ps(acc[qq] + c0); a1[qq] = _mm256_loadu_ps(acc[qq] + c0 + 8); }
    for (int64_t j = 0; j < n; ++j) {
      const TKV* v = kv + j * kv_stride + c0;
      const __m256 v0 = load8_f32(v), v1 = load8_f32(v + 8);
      for (int qq = 0; qq < NQ; ++qq) {
        const __m256 p = _mm256_broadcast_ss(&s[qq][j]);
        a0[qq] = _mm256_fmadd_ps(p, v0, a0[qq]);
        a1[qq] = _mm256_fmadd_ps(p, v1, a1[qq]);
      }
    }
    for (int qq = 0; qq < NQ; ++qq) { _mm256_storeu_ps(acc[qq] + c0, a0[qq]); _mm256_storeu_ps(acc[qq] + c0 + 8, a1[qq]); }
  }
  for (; c0 < r; ++c0)
    for (int64_t j = 0; j < n; ++j)
      for (int qq = 0; qq < NQ; ++qq) acc[qq][c0] = std::fma(s[qq][j], widen_f32(kv[j * kv_stride + c0]), acc[qq][c0]);
  for (int qq = 0; qq < NQ; ++qq) { m[qq] = mb[qq]; l[qq] = lb[qq]; }
}


#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside avx512fintrin.h
// The pieces of mla_attend_tile_avx512 (GCC gives lambdas no target attribute, hence functions).
// Dots of q[qq][off:off+len] with rows[jj][:len] (len a multiple of 16), NQ x 4 <= 16 of them, summed as dot().
template <int NQ, class TKV>
DSV3_TARGET_AVX512 inline __m512 mla_dots_avx512(const float* const* q, int64_t off, const TKV* const* rows, int64_t len) {
  constexpr int NK = 4;
  __m512 a[16];
  for (int i = 0; i < 16; ++i) a[i] = _mm512_setzero_ps();
  for (int64_t i = 0; i < len; i += 16) {
    __m512 kx[NK];
    for (int jj = 0; jj < NK; ++jj) kx[jj] = load16_f32(rows[jj] + i);
    for (int qq = 0; qq < NQ; ++qq) {
      const __m512 qv = _mm512_loadu_ps(q[qq] + off + i);
      for (int jj = 0; jj < NK; ++jj) a[qq * NK + jj] = _mm512_fmadd_ps(qv, kx[jj], a[qq * NK + jj]);
    }
  }
  return lane_sums16(a);  // element qq * 4 + jj
}

// acc[qq][c0 .. c0 + 16 U] += p[qq][j] v_j in key order, with the columns of every head in registers.
template <int NQ, int U, class TKV>
DSV3_TARGET_AVX512 inline void mla_pv_avx512(const TKV* kv, int64_t kv_stride, int64_t n, int64_t c0, float* const* p,
                                             float* const* acc) {
  __m512 o[NQ][U];
  for (int qq = 0; qq < NQ; ++qq)
    for (int u = 0; u < U; ++u) o[qq][u] = _mm512_loadu_ps(acc[qq] + c0 + 16 * u);
  for (int64_t j = 0; j < n; ++j) {
    const TKV* v = kv + j * kv_stride + c0;
    __m512 vx[U];
    for (int u = 0; u < U; ++u) vx[u] = load16_f32(v + 16 * u);
    for (int qq = 0; qq < NQ; ++qq) {
      const __m512 pj = _mm512_set1_ps(p[qq][j]);
      for (int u = 0; u < U; ++u) o[qq][u] = _mm512_fmadd_ps(pj, vx[u], o[qq][u]);
    }
  }
  for (int qq = 0; qq < NQ; ++qq)
    for (int u = 0; u < U; ++u) _mm512_storeu_ps(acc[qq] + c0 + 16 * u, o[qq][u]);
}

// mla_attend_tile with AVX-512, for r and pd multiples of 16: bit for bit the same operations in the same order.
// The scores of NQ heads x 4 keys at a time: each dot's 16 partial sums are one zmm accumulator, and the 16
// accumulators are summed in dot()'s lane order by one transpose (lane_sums16) instead of 16 dependent scalar
// adds per dot; acc[c] += p_j v_j[c] in key order with 64 columns x NQ heads in registers.
// Key rows f32 or bf16 bits (TKV = float or uint16_t), widened in registers exactly as to_f32 would.
template <int NQ, class TKV>
DSV3_TARGET_AVX512 inline void mla_attend_tile_avx512(const float* const* q, const TKV* kv, int64_t kv_stride, const TKV* pe,
                                                      int64_t pe_stride, int64_t n, int64_t r, int64_t pd, float scale,
                                                      float* const* s, float* m, float* l, float* const* acc,
                                                      const MlaPrefetch& pf) {
  constexpr int NK = 4;  // keys per step: NQ x NK <= 16 dots, one lane_sums16
  float mb[NQ], lb[NQ];
  for (int qq = 0; qq < NQ; ++qq) mb[qq] = m[qq];
  alignas(64) float sc[16];
  if (pf.head) for (int64_t j = 0; j < std::min(n, kMlaPrefetchAhead); ++j) mla_prefetch_key(kv, kv_stride, pe, pe_stride, n, r, pd, pf, j);
  for (int64_t j0 = 0; j0 < n; j0 += NK) {
    const int nk = static_cast<int>(std::min<int64_t>(NK, n - j0));
    for (int jj = 0; jj < NK; ++jj) mla_prefetch_key(kv, kv_stride, pe, pe_stride, n, r, pd, pf, j0 + jj + kMlaPrefetchAhead);
    const TKV* kr[NK];
    const TKV* pr[NK];
    for (int jj = 0; jj < NK; ++jj) {  // past the last key: the last key again (its dots are not used)
      const int64_t j = j0 + std::min(jj, nk - 1);
      kr[jj] = kv + j * kv_stride;
      pr[jj] = pe + j * pe_stride;
    }
    const __m512 d1 = mla_dots_avx512<NQ>(q, 0, kr, r);
    const __m512 d2 = mla_dots_avx512<NQ>(q, r, pr, pd);
    _mm512_store_ps(sc, _mm512_mul_ps(_mm512_add_ps(d1, d2), _mm512_set1_ps(scale)));
    for (int qq = 0; qq < NQ; ++qq)
      for (int jj = 0; jj < nk; ++jj) {
        s[qq][j0 + jj] = sc[qq * NK + jj];
        mb[qq] = std::max(mb[qq], s[qq][j0 + jj]);
      }
  }
  for (int qq = 0; qq < NQ; ++qq) {
    const float alpha = exp_f32(m[qq] - mb[qq]);
    if (alpha != 1.f) for (int64_t c = 0; c < r; ++c) acc[qq][c] *= alpha;
    lb[qq] = l[qq] * alpha;
  }
  for (int qq = 0; qq < NQ; ++qq)  // p_j into s, 16 keys at a time (exp16: exp_f32 bit for bit)
    for (int64_t j = 0; j < n; j += 16) {
      const __mmask16 mk = n - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
      _mm512_mask_storeu_ps(s[qq] + j, mk, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, s[qq] + j), _mm512_set1_ps(mb[qq]))));
    }
  for (int64_t j = 0; j < n; ++j)  // l in key order
    for (int qq = 0; qq < NQ; ++qq) lb[qq] += s[qq][j];
  int64_t c0 = 0;
  for (; c0 + 64 <= r; c0 += 64) mla_pv_avx512<NQ, 4>(kv, kv_stride, n, c0, s, acc);
  for (; c0 < r; c0 += 16) mla_pv_avx512<NQ, 1>(kv, kv_stride, n, c0, s, acc);
  for (int qq = 0; qq < NQ; ++qq) { m[qq] = mb[qq]; l[qq] = lb[qq]; }
}
#pragma GCC diagnostic pop
#endif

// One tile of NQ heads: the AVX-512 or AVX2 tile where the CPU has it, else the scalar one (f32 rows only: bf16 rows are
// read in place only on AVX2 machines, see mla_attn.cc).
template <int NQ, class TKV>
inline void mla_attend_tile_dispatch(const float* const* q, const TKV* kv, int64_t kv_stride, const TKV* pe, int64_t pe_stride,
                                     int64_t n, int64_t r, int64_t pd, float scale, float* const* s, float* m, float* l,
                                     float* const* acc, const MlaPrefetch& pf) {
#if defined(__x86_64__)
  if (r % 16 == 0 && pd % 16 == 0 && cpu_has_avx512())
    return mla_attend_tile_avx512<NQ>(q, kv, kv_stride, pe, pe_stride, n, r, pd, scale, s, m, l, acc, pf);
  if (cpu_has_avx2_fma()) return mla_attend_tile_avx2<NQ>(q, kv, kv_stride, pe, pe_stride, n, r, pd, scale, s, m, l, acc, pf);
#endif
  if constexpr (std::is_same_v<TKV, float>) mla_attend_tile<NQ>(q, kv, kv_stride, pe, pe_stride, n, r, pd, scale, s, m, l, acc);
}

// Heads [0, g) of one token over the same n keys, in tiles of up to 4 (q, s, acc: per head, strided); the key
// rows f32, or bf16 bits on AVX2 machines. The first tile prefetches as `pf` says (MlaPrefetch).
template <class TKV>
inline void mla_attend_heads(const float* q, int64_t q_stride, int64_t g, const TKV* kv, int64_t kv_stride, const TKV* pe,
                             int64_t pe_stride, int64_t n, int64_t r, int64_t pd, float scale, float* s, int64_t s_stride,
                             float* m, float* l, float* acc, int64_t acc_stride, const MlaPrefetch& prefetch) {
  for (int64_t h0 = 0; h0 < g; h0 += 4) {
    const MlaPrefetch pf = h0 == 0 ? prefetch : MlaPrefetch{};
    const int nq = static_cast<int>(std::min<int64_t>(4, g - h0));
    const float* qs[4];
    float* ss[4];
    float* as[4];
    for (int k = 0; k < nq; ++k) { qs[k] = q + (h0 + k) * q_stride; ss[k] = s + (h0 + k) * s_stride; as[k] = acc + (h0 + k) * acc_stride; }
    switch (nq) {
      case 1: mla_attend_tile_dispatch<1>(qs, kv, kv_stride, pe, pe_stride, n, r, pd, scale, ss, m + h0, l + h0, as, pf); break;
      case 2: mla_attend_tile_dispatch<2>(qs, kv, kv_stride, pe, pe_stride, n, r, pd, scale, ss, m + h0, l + h0, as, pf); break;
      case 3: mla_attend_tile_dispatch<3>(qs, kv, kv_stride, pe, pe_stride, n, r, pd, scale, ss, m + h0, l + h0, as, pf); break;
      default: mla_attend_tile_dispatch<4>(qs, kv, kv_stride, pe, pe_stride, n, r, pd, scale, ss, m + h0, l + h0, as, pf); break;
    }
  }
}

}  // namespace dsv3::cpu
