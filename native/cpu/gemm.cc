// CPU backend: FP8 block-scaled GEMM (DeepSeek inference/kernel.py fp8_gemm), plain f32/bf16 GEMM and
// the grouped MoE GEMMs (DeepGEMM's contiguous and masked layouts); all NT: out = a @ b^T. This file is
// the driver (problem setup, tiling, the parallel split, the ISA choice of gemm_kernel.h); the kernel
// sets are gemm_generic.cc, gemm_avx2.cc and gemm_avx512.cc, behind gemm_internal.h.
#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "native/cpu/gemm_internal.h"
#include "native/cpu/gemm_kernel.h"
#include "native/cpu/parallel.h"
#include "native/ops.h"

// The recipe: per 128-wide K block an f32 dot, then acc += dot * (a_scale[i,kb] * b_scale[j/128,kb])
// in f32, one rounding to the output dtype at the end (the skinny problems fold the same scale products into
// A instead: run_skinny). Goto-style blocking: A and B blocks decoded into
// packed f32 panels per K block, register-blocked micro-kernels per ISA; skinny problems (m <= 8 on
// AVX-512, else 4: the decode steps) stream B rows without packing; thin problems (9..32 rows, unscaled, A and B
// both f32 or both bf16 on the AVX-512 sets: the prefill's routed experts) broadcast B from its rows against a
// packed A^T (gemm_internal.h ThinArgs).
namespace dsv3::cpu {
namespace {
using namespace gemm_detail;

constexpr int64_t kMaxTile = 384;  // output tile edge (a multiple of every mr and nr)

// One NT GEMM: out[m, n] = a[m, k] @ b[n, k]^T, block-scaled when the scales are given.
struct Prob {
  const void* a; DType at; const float* as;  // a [m, k]; as [m, ceil(k/128)] or null
  const void* b; DType bt; const float* bs;  // b [n, k]; bs [ceil(n/128), ceil(k/128)] or null
  void* out; DType ot;                        // [m, n]
  int64_t m, n, k;
};

thread_local Scratch tl_apack, tl_bpack, tl_acc, tl_rows, tl_skinny_a, tl_skinny_fold, tl_gate_up, tl_thin_a;

const KernelSet& kernel_set(GemmIsa isa) {
#if defined(__x86_64__)
  if (isa >= GemmIsa::avx512) return avx512_kernels();
  if (isa == GemmIsa::avx2) return avx2_kernels();
#endif
  return generic_kernels();
}

// Driver: tiles of the output, each computed by one thread start to end.

// Output tile rows i0..i1, columns j0..j1 (j0 a multiple of nr): the A and B blocks (one K block deep) packed
// into f32 panels, the micro-kernels into an f32 accumulator tile, then the tile rounded into `out` once.
// When the whole of A's packed panels fit in kWholeABytes (few rows: the MoE experts' GEMMs), A is packed once
// for every K block and each B panel is then streamed along all of K (panel-major): every B row is read
// front to back, which the hardware prefetchers follow (K-block-major reads 512 bytes of each of the tile's
// rows in turn: 1.1-1.6x slower at 16-40 rows). Otherwise K-block-major, each A block reused by every panel.
// Both orders add the K blocks into C in the same order, so the result is the same bit for bit.
constexpr int64_t kWholeABytes = int64_t{1} << 20;
void run_packed(const KernelSet& ks, const Prob& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const int MR = ks.mr, NR = ks.nr;
  const int64_t nkb = ceil_div(p.k, kKB), mp = ceil_div(i1 - i0, MR), np = ceil_div(j1 - j0, NR), ldc = np * NR;
  // Panel ip holds rows i0 + row0(ip) .. i0 + row0(ip + 1): the rows split evenly over the mp panels (13 rows as 7 + 6,
  // not 12 + 1: a panel of few rows has too few accumulator chains to keep the FMA units busy). Each output element is
  // the same micro-kernel dot whatever its panel, so the split does not change a bit.
  auto row0 = [&](int64_t ip) { return (i1 - i0) * ip / mp; };
  const bool panel_major = nkb * mp * MR * kKB * static_cast<int64_t>(sizeof(float)) <= kWholeABytes;
  float* Ap = tl_apack.get(static_cast<size_t>((panel_major ? nkb : 1) * mp * MR * kKB));
  float* Bp = tl_bpack.get(static_cast<size_t>((panel_major ? 1 : np) * NR * kKB));
  float* C = tl_acc.get(static_cast<size_t>(mp * MR * ldc));
  float* tmp = tl_rows.get(static_cast<size_t>(kMaxNR * kKB));
  const char* a = static_cast<const char*>(p.a);
  const char* b = static_cast<const char*>(p.b);
  const int64_t asz = static_cast<int64_t>(itemsize(p.at)), bsz = static_cast<int64_t>(itemsize(p.bt));
  if (nkb == 0) std::fill(C, C + mp * MR * ldc, 0.f);
  auto kc_of = [&](int64_t kb) { return static_cast<int>(std::min<int64_t>(kKB, p.k - kb * kKB)); };
  auto pack_a = [&](int64_t kb, float* dst) {  // A block kb: mp panels of up to MR rows
    for (int64_t ip = 0; ip < mp; ++ip) {
      const int64_t r0 = i0 + row0(ip);
      ks.pack(a + (r0 * p.k + kb * kKB) * asz, p.at, p.k, static_cast<int>(row0(ip + 1) - row0(ip)), MR, kc_of(kb), tmp, dst + ip * MR * kKB);
    }
  };
  auto pack_b = [&](int64_t kb, int64_t jp, float* dst) {
    const int64_t c0 = j0 + jp * NR;
    ks.pack(b + (c0 * p.k + kb * kKB) * bsz, p.bt, p.k, static_cast<int>(std::min<int64_t>(NR, j1 - c0)), NR, kc_of(kb), tmp, dst);
  };
  auto micro = [&](int64_t kb, int64_t jp, const float* A, const float* B) {  // C panel jp (+)= A block kb x B panel
    const float sb = scale_of(p.bs, (j0 + jp * NR) / kKB, nkb, kb);
    float s[kMaxMR];
    for (int64_t ip = 0; ip < mp; ++ip) {
      const int64_t r0 = i0 + row0(ip);
      const int R = static_cast<int>(row0(ip + 1) - row0(ip));
      for (int r = 0; r < R; ++r) s[r] = scale_of(p.as, r0 + r, nkb, kb) * sb;
      ks.micro[R](A + ip * MR * kKB, B, kc_of(kb), C + row0(ip) * ldc + jp * NR, ldc, s, kb == 0);
    }
  };
  if (panel_major) {
    for (int64_t kb = 0; kb < nkb; ++kb) pack_a(kb, Ap + kb * mp * MR * kKB);
    for (int64_t jp = 0; jp < np; ++jp)
      for (int64_t kb = 0; kb < nkb; ++kb) {
        pack_b(kb, jp, Bp);
        micro(kb, jp, Ap + kb * mp * MR * kKB, Bp);
      }
  } else {
    for (int64_t kb = 0; kb < nkb; ++kb) {
      pack_a(kb, Ap);
      for (int64_t jp = 0; jp < np; ++jp) pack_b(kb, jp, Bp + jp * NR * kKB);
      for (int64_t jp = 0; jp < np; ++jp) micro(kb, jp, Ap, Bp + jp * NR * kKB);
    }
  }
  char* out = static_cast<char*>(p.out);
  const int64_t osz = static_cast<int64_t>(itemsize(p.ot));
  for (int64_t r = 0; r < i1 - i0; ++r) from_f32(C + r * ldc, out + ((i0 + r) * p.n + j0) * osz, p.ot, static_cast<size_t>(j1 - j0));
}

// The row stride of a skinny problem's decoded A: whole K blocks plus 64 bytes, so that the rows of A (read
// together, a cache line each per step) do not map to one L1 set when K is a multiple of 1024 (a 4 KiB stride;
// f32 256 x 1024, 8 rows, 1 thread: 44.5 -> 42.3 us).
int64_t skinny_lda(int64_t k) { return ceil_div(k, kKB) * kKB + 16; }

// A of a skinny problem decoded to f32 once, before the parallel split, in the kernels' order.
struct SkinnyA { const float* a; int64_t lda; };

// B rows j0..j1 against all (<= skinny_max) rows of A. Block-scaled problems go by 128-row blocks of B, with
// the scales folded into A: A'[i, k] = A[i, k] * (a_scale[i, kb] * b_scale[rb, kb]) (the same scale product
// as the recipe's), so that the kernel streams every B row along all of K with no per-K-block epilogue (that
// epilogue was 7-10% of an FP8 GEMV: 1 thread, 384 x 1024, 25.7 -> 23.8 us; 2048 x 1024, 136 -> 122 us). The sum
// then rounds sum_k (a * s) * b instead of sum_kb s * sum_k a * b: the same terms, a different rounding (within
// the tests' tolerances; every row is still independent of the others, so batch invariance holds).
void run_skinny(const KernelSet& ks, const Prob& p, const SkinnyA& sa, int64_t j0, int64_t j1) {
  float* buf = tl_rows.get(static_cast<size_t>(kKB));
  const int64_t nkb = ceil_div(p.k, kKB);
  SkinnyArgs g{sa.a, sa.lda, static_cast<const char*>(p.b), p.bt, j0, j1, p.k, static_cast<char*>(p.out), p.ot, p.n, buf};
  if (ks.skinny_a) {  // bf16-word A: the kernel applies the block scales (see SkinnyArgs)
    if (p.as && p.bs) { g.as = p.as; g.bs = p.bs; g.nkb = nkb; }
    ks.skinny[p.m](g);
    return;
  }
  if (!p.as && !p.bs) {
    ks.skinny[p.m](g);
    return;
  }
  // Whole K blocks: skinny_prep reorders A within 64 elements, so a partial last block's elements lie anywhere
  // in it (the zeros past k stay zero, unless a scale is inf or NaN, when the recipe's result is not finite either).
  float* folded = tl_skinny_fold.get(static_cast<size_t>(p.m * sa.lda));
  g.a = folded;
  for (int64_t j = j0; j < j1;) {
    const int64_t rb = j / kKB, je = std::min(j1, (rb + 1) * kKB);
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const float s = scale_of(p.as, i, nkb, kb) * scale_of(p.bs, rb, nkb, kb);
        const float* a = sa.a + i * sa.lda + kb * kKB;
        float* f = folded + i * sa.lda + kb * kKB;
        for (int64_t t = 0; t < kKB; ++t) f[t] = a[t] * s;
      }
    g.j0 = j;
    g.j1 = je;
    ks.skinny[p.m](g);
    j = je;
  }
}

// B rows j0..j1 against the m rows of A, whose A^T the driver packed (at): the set's thin kernel into an f32 tile,
// then the tile rounded into `out` row by row.
void run_thin(const KernelSet& ks, const Prob& p, const float* at, int64_t j0, int64_t j1) {
  const int64_t w = j1 - j0;
  float* tile = tl_acc.get(static_cast<size_t>(p.m * w));
  ks.thin(ThinArgs{at, p.m, static_cast<const char*>(p.b), j0, j1, p.k, tile});
  const int64_t osz = static_cast<int64_t>(itemsize(p.ot));
  for (int64_t i = 0; i < p.m; ++i) from_f32(tile + i * w, static_cast<char*>(p.out) + (i * p.n + j0) * osz, p.ot, static_cast<size_t>(w));
}

struct Task { size_t prob; int64_t i0, i1, j0, j1; };

void run_problems(const std::vector<Prob>& probs, GemmIsa isa) {
  // Each problem's kernel set: the ISA's; on AVX512_BF16, problems whose operands bf16 holds exactly (both bf16
  // or both e4m3, the only pairs the ops make) run on vdpbf16ps (gemm_avx512bf16.cc: the same tiles and skinny
  // bound, its own A and panel formats).
  const KernelSet& base = kernel_set(isa);
  const KernelSet* bf16_pairs = nullptr;
#if defined(__x86_64__)
  if (isa == GemmIsa::avx512bf16) bf16_pairs = &avx512bf16_kernels();
#endif
  auto kset = [&](const Prob& p) -> const KernelSet& {
    auto exact = [](DType t) { return t == DType::bf16 || t == DType::f8_e4m3; };
    return bf16_pairs && exact(p.at) && p.at == p.bt ? *bf16_pairs : base;
  };
  // Each problem's path, chosen once: thin (gemm_internal.h ThinArgs: thin_min..thin_max rows, unscaled, A and B of
  // the set's thin dtype), else skinny (up to skinny_max rows), else packed; none when it has no output.
  enum class Path { none, thin, skinny, packed };
  std::vector<Path> path(probs.size());
  for (size_t pi = 0; pi < probs.size(); ++pi) {
    const Prob& p = probs[pi];
    const KernelSet& ks = kset(p);
    const bool thin = ks.thin && p.m >= ks.thin_min && p.m <= ks.thin_max && !p.as && !p.bs && p.at == ks.thin_dtype && p.bt == ks.thin_dtype;
    path[pi] = p.m <= 0 || p.n <= 0 ? Path::none : thin ? Path::thin : p.m <= ks.skinny_max ? Path::skinny : Path::packed;
  }
  const int64_t T = num_threads();
  std::vector<Task> tasks;
  std::vector<SkinnyA> sa(probs.size(), SkinnyA{nullptr, 0});
  int64_t skinny_floats = 0, skinny_bytes = 0;
  for (size_t pi = 0; pi < probs.size(); ++pi)
    if (const Prob& p = probs[pi]; path[pi] == Path::skinny) {
      skinny_floats += p.m * skinny_lda(p.k);
      skinny_bytes += p.n * p.k * static_cast<int64_t>(itemsize(p.bt));
    }
  // Skinny A rows: decoded (and reordered for the kernel) once here, read by every thread; 64-byte
  // aligned (see skinny_lda), so that no vector load of A straddles two cache lines.
  float* apool = skinny_floats ? tl_skinny_a.get(static_cast<size_t>(skinny_floats)) : nullptr;
  if (skinny_floats) {
    float* tmp = tl_rows.get(static_cast<size_t>(kKB));
    int64_t off = 0;
    for (size_t pi = 0; pi < probs.size(); ++pi) {
      if (path[pi] != Path::skinny) continue;
      const Prob& p = probs[pi];
      const KernelSet& ks = kset(p);
      const int64_t cols = ceil_div(p.k, kKB) * kKB, lda = skinny_lda(p.k), asz = static_cast<int64_t>(itemsize(p.at));
      float* A = apool + off;
      for (int64_t i = 0; i < p.m; ++i) {
        const char* src = static_cast<const char*>(p.a) + i * p.k * asz;
        if (ks.skinny_a) {
          ks.skinny_a(src, p.at, p.k, cols, reinterpret_cast<uint16_t*>(A + i * lda));
          continue;
        }
        ks.decode(src, p.at, A + i * lda, p.k);
        std::fill(A + i * lda + p.k, A + i * lda + cols, 0.f);
      }
      if (ks.skinny_prep) ks.skinny_prep(p.bt, A, p.m, cols, lda, tmp);
      sa[pi] = SkinnyA{A, lda};
      off += p.m * lda;
    }
  }
  // Thin A^T panels: packed once per problem, in parallel, before the split (every task of the problem reads them).
  std::vector<float*> thin_at(probs.size(), nullptr);
  {
    std::vector<size_t> ids;
    int64_t floats = 0;
    for (size_t pi = 0; pi < probs.size(); ++pi)
      if (path[pi] == Path::thin) {
        ids.push_back(pi);
        floats += thin_width(probs[pi].m) * ceil_div(probs[pi].k, 16) * 16;
      }
    if (!ids.empty()) {
      float* pool = tl_thin_a.get(static_cast<size_t>(floats));
      for (size_t q = 0, off = 0; q < ids.size(); ++q) {
        const Prob& p = probs[ids[q]];
        thin_at[ids[q]] = pool + off;
        off += static_cast<size_t>(thin_width(p.m) * ceil_div(p.k, 16) * 16);
      }
      parallel_for(static_cast<int64_t>(ids.size()), 1, [&](int64_t b, int64_t e) {
        float* tmp = tl_rows.get(static_cast<size_t>(kMaxNR * kKB));
        for (int64_t q = b; q < e; ++q) {
          const Prob& p = probs[ids[static_cast<size_t>(q)]];
          kset(p).pack(static_cast<const char*>(p.a), p.at, p.k, static_cast<int>(p.m), thin_width(p.m), static_cast<int>(p.k), tmp,
                       thin_at[ids[static_cast<size_t>(q)]]);
        }
      });
    }
  }
  // Skinny chunks: about 1 per thread over all the skinny problems' weights, but none under ~32 KB of weights;
  // multiples of 4 rows (the kernels reduce 4 or 2 rows' sums together). Each chunk's rows are new sequential
  // streams the hardware prefetchers must pick up (two at M = 1: two_streams_half): 4 chunks per thread decoded
  // 5-10% slower than 2 (Zen 4, 2 threads, small bf16 / fp8 / f32; bench/RESULTS.md, 2026-12-04 late), and with
  // two streams per chunk 1 per thread beat 2 (per round: f32 +3%, fp8 +1-2%, bf16 +0-1%; prefill unchanged).
  const int64_t chunk_bytes = std::max<int64_t>(32 << 10, ceil_div(skinny_bytes, T));
  for (size_t pi = 0; pi < probs.size(); ++pi) {
    const Prob& p = probs[pi];
    if (path[pi] == Path::none) continue;
    const KernelSet& ks = kset(p);
    if (path[pi] == Path::thin) {  // split N into blocks of about 256 KB of B (multiples of 8 rows: the thin kernels' block)
      const int64_t pieces = std::max<int64_t>(1, ceil_div(p.n * p.k * static_cast<int64_t>(itemsize(p.bt)), int64_t{256} << 10));
      const int64_t chunk = 8 * ceil_div(ceil_div(p.n, pieces), 8);
      for (int64_t j0 = 0; j0 < p.n; j0 += chunk) tasks.push_back({pi, 0, p.m, j0, std::min(p.n, j0 + chunk)});
      continue;
    }
    if (path[pi] == Path::skinny) {  // split N: every thread streams its share of the weights
      const int64_t row_bytes = std::max<int64_t>(1, p.k * static_cast<int64_t>(itemsize(p.bt)));
      const int64_t pieces = std::max<int64_t>(1, std::min(ceil_div(p.n, 4), ceil_div(p.n * row_bytes, chunk_bytes)));
      const int64_t chunk = 4 * ceil_div(ceil_div(p.n, pieces), 4);
      for (int64_t j0 = 0; j0 < p.n; j0 += chunk) tasks.push_back({pi, 0, p.m, j0, std::min(p.n, j0 + chunk)});
      continue;
    }
    // Output tiles of <= 384 x 384 (A and B blocks 192 KB each, the f32 accumulator 576 KB: L2-resident),
    // balanced; when there are few tiles, N is split further so every thread gets the same count.
    const int64_t mt = ceil_div(p.m, kMaxTile), mc = ks.mr * ceil_div(ceil_div(p.m, mt), ks.mr);
    int64_t nt = ceil_div(p.n, kMaxTile);
    if (mt * nt < 8 * T)
      while ((mt * nt) % T != 0 && nt * ks.nr < p.n) ++nt;
    const int64_t nc = ks.nr * ceil_div(ceil_div(p.n, nt), ks.nr);
    for (int64_t i0 = 0; i0 < p.m; i0 += mc)
      for (int64_t j0 = 0; j0 < p.n; j0 += nc) tasks.push_back({pi, i0, std::min(p.m, i0 + mc), j0, std::min(p.n, j0 + nc)});
  }
  auto run_task = [&](const Task& tk) {
    const Prob& p = probs[tk.prob];
    const KernelSet& ks = kset(p);
    switch (path[tk.prob]) {
      case Path::thin: run_thin(ks, p, thin_at[tk.prob], tk.j0, tk.j1); break;
      case Path::skinny: run_skinny(ks, p, sa[tk.prob], tk.j0, tk.j1); break;
      default: run_packed(ks, p, tk.i0, tk.i1, tk.j0, tk.j1);
    }
  };
  parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int64_t tb, int64_t te) {
    for (int64_t t = tb; t < te; ++t) run_task(tasks[static_cast<size_t>(t)]);
  });
}

GemmIsa isa_or_throw() {
  GemmIsa isa;
  std::string err;
  if (!gemm_isa_from_env(&isa, &err)) throw std::invalid_argument(err);
  return isa;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx512bf16: return "avx512bf16";
    case GemmIsa::avx512: return "avx512";
    case GemmIsa::avx2: return "avx2";
    default: return "generic";
  }
}

GemmIsa gemm_isa_supported() {
#if defined(__x86_64__)
  static const GemmIsa best = [] {
    __builtin_cpu_init();  // libgcc's checks include the OS enabling the AVX / AVX-512 register state
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
      return __builtin_cpu_supports("avx512bf16") ? GemmIsa::avx512bf16 : GemmIsa::avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::avx2;
    return GemmIsa::generic;
  }();
  return best;
#else
  return GemmIsa::generic;
#endif
}

bool gemm_isa_parse(const std::string& v, GemmIsa* isa) {
  const GemmIsa best = gemm_isa_supported();
  GemmIsa want;
  if (v.empty()) want = best;
  else if (v == "avx512bf16") want = GemmIsa::avx512bf16;
  else if (v == "avx512") want = GemmIsa::avx512;
  else if (v == "avx2") want = GemmIsa::avx2;
  else if (v == "generic") want = GemmIsa::generic;
  else return false;
  *isa = std::min(want, best);
  return true;
}

bool gemm_isa_from_env(GemmIsa* isa, std::string* err) {
  const char* e = std::getenv("DSV3_CPU_ISA");
  const std::string v = e ? e : "";
  if (gemm_isa_parse(v, isa)) return true;
  *err = "DSV3_CPU_ISA must be avx512bf16, avx512, avx2 or generic, got '" + v + "'";
  return false;
}

void fp8_gemm(const Fp8GemmParams& p, GemmIsa isa) {
  run_problems({Prob{p.a, DType::f8_e4m3, p.a_scale, p.b, DType::f8_e4m3, p.b_scale, p.out, p.out_dtype, p.m, p.n, p.k}}, isa);
}

void gemm(const GemmParams& p, GemmIsa isa) {
  run_problems({Prob{p.a, p.a_dtype, nullptr, p.b, p.b_dtype, nullptr, p.out, p.out_dtype, p.m, p.n, p.k}}, isa);
}

void grouped_gemm(const GroupedGemmParams& p, GemmIsa isa) {
  const char* op = p.masked ? "groupedGemmMasked" : "groupedGemmContiguous";
  // offsets / counts are device data: check them here, before touching any row.
  if (p.masked) {
    for (int64_t e = 0; e < p.g; ++e)
      if (p.counts[e] < 0 || p.counts[e] > p.m)
        throw std::out_of_range(std::string(op) + ": counts[" + std::to_string(e) + "] = " + std::to_string(p.counts[e]) +
                                " is outside [0, " + std::to_string(p.m) + "] (m_max)");
  } else {
    if (p.offsets[0] < 0 || p.offsets[0] > p.m)
      throw std::out_of_range(std::string(op) + ": offsets[0] = " + std::to_string(p.offsets[0]) + " is outside [0, " +
                              std::to_string(p.m) + "] (rows of a)");
    for (int64_t e = 0; e < p.g; ++e)
      if (p.offsets[e + 1] < p.offsets[e] || p.offsets[e + 1] > p.m)
        throw std::out_of_range(std::string(op) + ": offsets must be non-decreasing within [0, " + std::to_string(p.m) +
                                "] (rows of a), got offsets[" + std::to_string(e) + "] = " + std::to_string(p.offsets[e]) +
                                ", offsets[" + std::to_string(e + 1) + "] = " + std::to_string(p.offsets[e + 1]));
  }
  const int64_t nkb = ceil_div(p.k, kKB), nb = ceil_div(p.n, kKB);
  const int64_t asz = static_cast<int64_t>(itemsize(p.a_dtype)), bsz = static_cast<int64_t>(itemsize(p.b_dtype));
  const int64_t osz = static_cast<int64_t>(itemsize(p.out_dtype));
  std::vector<Prob> probs;
  for (int64_t e = 0; e < p.g; ++e) {
    const int64_t row0 = p.masked ? e * p.m : p.offsets[e];
    const int64_t rows = p.masked ? p.counts[e] : p.offsets[e + 1] - p.offsets[e];
    if (rows == 0) continue;
    probs.push_back(Prob{static_cast<const char*>(p.a) + row0 * p.k * asz, p.a_dtype, p.a_scale ? p.a_scale + row0 * nkb : nullptr,
                         static_cast<const char*>(p.b) + e * p.n * p.k * bsz, p.b_dtype, p.b_scale ? p.b_scale + e * nb * nkb : nullptr,
                         static_cast<char*>(p.out) + row0 * p.n * osz, p.out_dtype, rows, p.n, p.k});
  }
  run_problems(probs, isa);
}

// The composition the CUDA kernel fuses: the grouped GEMM against [w1; w3] into f32 [rows, 2n], then
// silu_mul_quant (moe_dispatch.cc) over each group's rows, with f32 gate and up.
void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams& p, GemmIsa isa) {
  const int64_t rows = p.masked ? p.g * p.m : p.m, n2 = 2 * p.n;
  // Scratch, not zeroed: only the rows of each group's count are written and read (a decode step's masked
  // layout has 32 x 1 rows for 4 in use; a zeroed vector cost 128 KB of memset per layer there, 2 MB in a prefill).
  float* gu = tl_gate_up.get(static_cast<size_t>(rows * n2));
  grouped_gemm(GroupedGemmParams{p.a, DType::f8_e4m3, p.a_scale, p.b, DType::f8_e4m3, p.b_scale, gu, DType::f32,
                                 p.offsets, p.counts, p.g, p.m, n2, p.k, p.masked},
               isa);  // also checks offsets / counts
  const int64_t groups = ceil_div(p.n, kKB);
  for (int64_t e = 0; e < p.g; ++e) {
    const int64_t row0 = p.masked ? e * p.m : p.offsets[e];
    const int64_t cnt = p.masked ? p.counts[e] : p.offsets[e + 1] - p.offsets[e];
    if (cnt == 0) continue;
    const float* g = gu + row0 * n2;
    silu_mul_quant(SiluMulQuantParams{g, g + p.n, DType::f32, n2, p.out + row0 * p.n, p.out_scale + row0 * groups, cnt, p.n, p.ue8m0});
  }
}

void fp8_gemm(const Fp8GemmParams& p) { fp8_gemm(p, isa_or_throw()); }
void gemm(const GemmParams& p) { gemm(p, isa_or_throw()); }
void grouped_gemm(const GroupedGemmParams& p) { grouped_gemm(p, isa_or_throw()); }
void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams& p) { grouped_gemm_silu_mul(p, isa_or_throw()); }

}  // namespace dsv3::cpu
