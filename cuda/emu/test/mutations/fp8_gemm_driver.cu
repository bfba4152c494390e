// dsv3-emu mutation tests: the driver. Linked with cuda/fp8_gemm.cu (or a copy of it with one planted bug,
// see mutations.mjs) and cuda/runtime.cu, it calls the real host entry points of cuda/gemm.h with the wgmma
// kernel forced (dsv3::cuda::fp8_gemm, grouped_gemm, grouped_gemm_silu_mul) on random FP8 inputs with odd
// sizes, outputs poisoned with NaN first, and compares every output with a CPU reference of DeepSeek's
// recipe: out[i,j] = sum over 128-wide K blocks kb of (sum_k a[i,k] b[j,k]) * a_scale[i,kb] * b_scale[j/128,kb].
// Exit 0 when every case matches, 1 on a mismatch or a CUDA error (an emulator report makes the launch fail).
//
// Cases (each chosen so that a planted bug in the pipeline shows): the mbarrier ring must wrap (more K blocks
// than stages) in the grouped cases, partial 128-blocks in m, n and k everywhere, split-K for the small-M
// dense case (run twice: the split tickets must be ready again), a grouped contiguous layout with an empty
// group, the fused gate/up GLU variant.
#include <cuda_runtime.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "cuda/gemm.h"
#include "cuda/moe.h"
#include "cuda/runtime.h"
#include "native/storage.h"

namespace dsv3::cuda {
// The fallbacks fp8_gemm.cu may call: with kernel = wgmma they must never run here, so they are not linked
// (gemm_reference.cu, moe.cu) and fail loudly instead.
[[noreturn]] static void fallback(const char* what) {
  std::fprintf(stderr, "fp8_gemm_driver: the launcher took the fallback %s instead of the wgmma kernel\n", what);
  std::exit(3);
}
void fp8_gemm_simple(const Fp8GemmParams&, void*) { fallback("fp8_gemm_simple"); }
void grouped_gemm_simple(const GroupedGemmParams&, void*) { fallback("grouped_gemm_simple"); }
void silu_mul_quant_grouped(const SiluMulQuantParams&, const int32_t*, const int32_t*, int64_t, int64_t, void*) {
  fallback("silu_mul_quant_grouped");
}
}  // namespace dsv3::cuda

namespace {

using namespace dsv3;
constexpr int kDev = 0;
constexpr double kRelTol = 1e-3;
std::string g_case = "setup";  // the case running, for the message of a CUDA error

float e4m3_value(uint8_t c) {
  const int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
  float x;
  if (e == 15 && m == 7) x = NAN;
  else if (e == 0) x = std::ldexp(static_cast<float>(m), -9);
  else x = std::ldexp(1.0f + m / 8.0f, e - 7);
  return s ? -x : x;
}
float bf16_value(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::mt19937_64 rng(20260);
// e4m3 codes of magnitude 2^-4 .. 2^4 (exponent field 3..11), either sign: no NaN, no saturation.
std::vector<uint8_t> random_fp8(size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& c : v) {
    const uint64_t r = rng();
    c = static_cast<uint8_t>(((r & 1) << 7) | ((3 + (r >> 1) % 9) << 3) | ((r >> 8) & 7));
  }
  return v;
}
std::vector<float> random_scales(size_t n) {
  std::uniform_real_distribution<float> d(0.25f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) : p(cuda::device_alloc(kDev, bytes ? bytes : 1)) {}
  ~Dev() {
    try { cuda::device_free(kDev, p); } catch (...) {}  // after a device fault every call fails: already reported
  }
  template <typename T> T* as() const { return static_cast<T*>(p); }
};
template <typename T>
Dev upload(const std::vector<T>& v) {
  Dev d(v.size() * sizeof(T));
  cuda::copy_h2d(kDev, d.p, v.data(), v.size() * sizeof(T));
  return d;
}
template <typename T>
std::vector<T> download(const Dev& d, size_t n) {
  std::vector<T> v(n);
  cuda::copy_d2h(kDev, v.data(), d.p, n * sizeof(T));
  return v;
}

// Reference of one output: value and the same sum over |terms| (the scale of its rounding error).
struct Ref { double v, abs; };
Ref dot_ref(const std::vector<uint8_t>& a, const std::vector<float>& as, size_t ra, const std::vector<uint8_t>& b,
            const std::vector<float>& bs, size_t rb, size_t bs_row, int64_t k) {
  const int64_t kb = (k + 127) / 128;
  Ref r{0, 0};
  for (int64_t q = 0; q < kb; ++q) {
    double s = 0, sa = 0;
    for (int64_t i = q * 128; i < std::min<int64_t>(k, (q + 1) * 128); ++i) {
      const double x = static_cast<double>(e4m3_value(a[ra * k + i])) * e4m3_value(b[rb * k + i]);
      s += x;
      sa += std::fabs(x);
    }
    const double sc = static_cast<double>(as[ra * kb + q]) * bs[bs_row * kb + q];
    r.v += s * sc;
    r.abs += sa * std::fabs(sc);
  }
  return r;
}

struct Check {
  std::string name;
  long bad = 0, total = 0;
  double worst = 0;
  void value(long i, long j, double got, double want, double tol) {
    ++total;
    const double err = std::fabs(got - want);
    const bool ok = std::isfinite(got) && err <= tol;  // NaN never passes
    if (std::isfinite(got) && tol > 0) worst = std::max(worst, err / tol);
    if (!ok) {
      if (bad < 5) std::printf("  %s: [%ld, %ld] got %.9g, want %.9g (tolerance %.3g)\n", name.c_str(), i, j, got, want, tol);
      ++bad;
    }
  }
  bool report() const {
    if (bad) std::printf("MISMATCH %s: %ld of %ld outputs wrong\n", name.c_str(), bad, total);
    else std::printf("ok %s: %ld outputs (worst error %.2g of the tolerance)\n", name.c_str(), total, worst);
    return bad == 0;
  }
};

// Dense out[m, n] = a[m, k] b[n, k]^T through dsv3::cuda::fp8_gemm, out in f32 or bf16, `runs` times.
bool dense_case(const char* name, int64_t m, int64_t n, int64_t k, DType out_dtype, int runs) {
  g_case = name;
  const int64_t kb = (k + 127) / 128, nb = (n + 127) / 128;
  const auto a = random_fp8(m * k), b = random_fp8(n * k);
  const auto as = random_scales(m * kb), bs = random_scales(nb * kb);
  Dev da = upload(a), db = upload(b), das = upload(as), dbs = upload(bs);
  const size_t esize = out_dtype == DType::f32 ? 4 : 2;
  Dev dout(m * n * esize);
  bool ok = true;
  for (int run = 0; run < runs; ++run) {
    cuda::fill(kDev, dout.p, esize == 4 ? 0x7fc00000u : 0x7fc0u, esize, m * n);  // NaN
    Fp8GemmParams p{da.as<uint8_t>(), das.as<float>(), db.as<uint8_t>(), dbs.as<float>(), dout.p, out_dtype, m, n, k};
    cuda::fp8_gemm(p, cuda::GemmKernel::wgmma, kDev, cuda::launch_stream(kDev));
    cuda::synchronize(kDev);
    Check c{std::string(name) + (runs > 1 ? " run " + std::to_string(run + 1) : "")};
    if (esize == 4) {
      const auto out = download<float>(dout, m * n);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const Ref r = dot_ref(a, as, i, b, bs, j, j / 128, k);
          c.value(i, j, out[i * n + j], r.v, kRelTol * r.abs + 1e-30);
        }
    } else {
      const auto out = download<uint16_t>(dout, m * n);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          const Ref r = dot_ref(a, as, i, b, bs, j, j / 128, k);
          c.value(i, j, bf16_value(out[i * n + j]), r.v, kRelTol * r.abs + std::ldexp(std::fabs(r.v), -8) + 1e-30);
        }
    }
    ok = c.report() && ok;
  }
  return ok;
}

// Grouped contiguous: rows offsets[e] .. offsets[e+1] of a use group e's b [n, k]; f32 out [m, n].
bool grouped_case(const char* name, const std::vector<int32_t>& offsets, int64_t n, int64_t k) {
  g_case = name;
  const int64_t g = static_cast<int64_t>(offsets.size()) - 1, m = offsets.back();
  const int64_t kb = (k + 127) / 128, nb = (n + 127) / 128;
  const auto a = random_fp8(m * k), b = random_fp8(g * n * k);
  const auto as = random_scales(m * kb), bs = random_scales(g * nb * kb);
  Dev da = upload(a), db = upload(b), das = upload(as), dbs = upload(bs), doff = upload(offsets);
  Dev dout(m * n * 4);
  cuda::fill(kDev, dout.p, 0x7fc00000u, 4, m * n);
  GroupedGemmParams p{da.p, DType::f8_e4m3, das.as<float>(), db.p, DType::f8_e4m3, dbs.as<float>(), dout.p, DType::f32,
                      doff.as<int32_t>(), nullptr, g, m, n, k, false};
  cuda::grouped_gemm(p, cuda::GemmKernel::wgmma, 0, kDev, cuda::launch_stream(kDev));
  cuda::synchronize(kDev);
  const auto out = download<float>(dout, m * n);
  Check c{name};
  for (int64_t e = 0; e < g; ++e)
    for (int64_t i = offsets[e]; i < offsets[e + 1]; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const Ref r = dot_ref(a, as, i, b, bs, e * n + j, e * nb + j / 128, k);
        c.value(i, j, out[i * n + j], r.v, kRelTol * r.abs + 1e-30);
      }
  return c.report();
}

// Grouped masked: group e owns rows [e * m_max, e * m_max + counts[e]) of a and out [g, m_max, n]; the rows
// past its count must keep their poison (never written).
bool masked_case(const char* name, const std::vector<int32_t>& counts, int64_t m_max, int64_t n, int64_t k) {
  g_case = name;
  const int64_t g = static_cast<int64_t>(counts.size()), rows = g * m_max;
  const int64_t kb = (k + 127) / 128, nb = (n + 127) / 128;
  const auto a = random_fp8(rows * k), b = random_fp8(g * n * k);
  const auto as = random_scales(rows * kb), bs = random_scales(g * nb * kb);
  Dev da = upload(a), db = upload(b), das = upload(as), dbs = upload(bs), dcounts = upload(counts);
  Dev dout(rows * n * 4);
  cuda::fill(kDev, dout.p, 0x7fc00000u, 4, rows * n);
  GroupedGemmParams p{da.p, DType::f8_e4m3, das.as<float>(), db.p, DType::f8_e4m3, dbs.as<float>(), dout.p, DType::f32,
                      nullptr, dcounts.as<int32_t>(), g, m_max, n, k, true};
  cuda::grouped_gemm(p, cuda::GemmKernel::wgmma, 0, kDev, cuda::launch_stream(kDev));
  cuda::synchronize(kDev);
  const auto out = download<uint32_t>(dout, rows * n);
  Check c{name};
  long stray = 0;
  for (int64_t e = 0; e < g; ++e)
    for (int64_t r = 0; r < m_max; ++r)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t i = e * m_max + r;
        if (r >= counts[e]) {
          if (out[i * n + j] != 0x7fc00000u && stray++ < 5) std::printf("  %s: [%ld, %ld] past the group's count was written\n", name, long(i), long(j));
          continue;
        }
        float got;
        std::memcpy(&got, &out[i * n + j], 4);
        const Ref ref = dot_ref(a, as, i, b, bs, e * n + j, e * nb + j / 128, k);
        c.value(i, j, got, ref.v, kRelTol * ref.abs + 1e-30);
      }
  if (stray) std::printf("MISMATCH %s: %ld outputs past the groups' counts were written\n", name, stray);
  return c.report() && stray == 0;
}

// The fused gate/up: out = quantize_fp8(silu(a @ w1^T) * (a @ w3^T)) per group, b = [w1; w3] per group
// ([g, 2n, k]); codes [m, n] and scales [m, n/128] (max(amax, 1e-4) / 448 per 1x128 group).
bool glu_case(const char* name, const std::vector<int32_t>& offsets, int64_t n, int64_t k) {
  g_case = name;
  const int64_t g = static_cast<int64_t>(offsets.size()) - 1, m = offsets.back();
  const int64_t kb = (k + 127) / 128, nb2 = 2 * n / 128, groups = n / 128;
  const auto a = random_fp8(m * k), b = random_fp8(g * 2 * n * k);
  const auto as = random_scales(m * kb), bs = random_scales(g * nb2 * kb);
  Dev da = upload(a), db = upload(b), das = upload(as), dbs = upload(bs), doff = upload(offsets);
  Dev dout(m * n), dscale(m * groups * 4);
  cuda::fill(kDev, dout.p, 0x7f, 1, m * n);  // e4m3 NaN
  cuda::fill(kDev, dscale.p, 0x7fc00000u, 4, m * groups);
  GroupedGemmSiluMulParams p{da.as<uint8_t>(), das.as<float>(), db.as<uint8_t>(), dbs.as<float>(), dout.as<uint8_t>(),
                             dscale.as<float>(), doff.as<int32_t>(), nullptr, g, m, n, k, false, false};
  cuda::grouped_gemm_silu_mul(p, cuda::GemmKernel::wgmma, 0, kDev, cuda::launch_stream(kDev));
  cuda::synchronize(kDev);
  const auto out = download<uint8_t>(dout, m * n);
  const auto scale = download<float>(dscale, m * groups);
  Check cs{std::string(name) + " scales"}, cv{std::string(name) + " values"};
  for (int64_t e = 0; e < g; ++e)
    for (int64_t i = offsets[e]; i < offsets[e + 1]; ++i)
      for (int64_t q = 0; q < groups; ++q) {
        std::vector<double> h(128), tol_h(128);
        double amax = 0, amax_tol = 0;
        for (int64_t jj = 0; jj < 128; ++jj) {
          const int64_t j = q * 128 + jj, rg = e * 2 * n + j, ru = rg + n;
          const Ref gr = dot_ref(a, as, i, b, bs, rg, e * nb2 + j / 128, k);
          const Ref ur = dot_ref(a, as, i, b, bs, ru, e * nb2 + (n + j) / 128, k);
          const double sig = 1 / (1 + std::exp(-gr.v)), silu = gr.v * sig;
          h[jj] = silu * ur.v;
          // |d h| <= |silu'(g)| |u| |dg| + |silu(g)| |du|, |silu'| < 1.1, |dg| <= 1e-3 gr.abs, |du| <= 1e-3 ur.abs
          tol_h[jj] = kRelTol * (1.1 * gr.abs * std::fabs(ur.v) + std::fabs(silu) * ur.abs);
          if (std::fabs(h[jj]) > amax) { amax = std::fabs(h[jj]); amax_tol = tol_h[jj]; }
        }
        const double want_scale = std::max(amax, 1e-4) / 448;
        const double got_scale = scale[i * groups + q];
        cs.value(i, q, got_scale, want_scale, kRelTol * want_scale + amax_tol / 448);
        for (int64_t jj = 0; jj < 128; ++jj) {
          // One e4m3 rounding of h / scale: half a step (2^-4 relative, 2^-9 absolute in the subnormals).
          const double got = e4m3_value(out[i * n + q * 128 + jj]) * got_scale;
          cv.value(i, q * 128 + jj, got, h[jj], std::fabs(h[jj]) / 16 + got_scale / 512 + 1.07 * tol_h[jj] + 1e-30);
        }
      }
  const bool ok1 = cs.report();
  return cv.report() && ok1;
}

}  // namespace

int main() {
  bool ok = true;
  try {
    std::string why;
    // Alignment and k only: the first probe asks the launcher whether the wgmma kernel can run at all.
    Dev probe(256);
    if (!cuda::wgmma_usable(kDev, probe.p, probe.p, 128, &why)) {
      std::printf("FAILED: the wgmma kernel is not usable: %s\n", why.c_str());
      return 1;
    }
    // M = 5 -> 8-token tiles (12 stages); 2 weight tiles on 132 SMs -> split-K (9 K blocks in 4 splits).
    ok = dense_case("dense split-K m=5 n=200 k=1040 f32", 5, 200, 1040, DType::f32, 2) && ok;
    // M = 70 -> 128-token tiles; 3 K blocks -> no split; bf16 out; partial blocks in m, n, k.
    ok = dense_case("dense m=70 n=130 k=272 bf16", 70, 130, 272, DType::bf16, 1) && ok;
    // 3 groups (one empty), 200 rows -> 128-token tiles (6 stages), 9 K blocks: the ring wraps.
    ok = grouped_case("grouped contiguous g=3 m=200 n=144 k=1040 f32", {0, 70, 70, 200}, 144, 1040) && ok;
    // Masked: 2 groups of up to 24 rows (32-token tiles), 17 and 5 valid; 4 K blocks.
    ok = masked_case("grouped masked g=2 m_max=24 n=136 k=400 f32", {17, 5}, 24, 136, 400) && ok;
    // Fused gate/up: 64-token tiles (5 stages), 7 K blocks: the ring wraps.
    ok = glu_case("grouped GLU g=2 m=90 n=128 k=784", {0, 40, 90}, 128, 784) && ok;
  } catch (const std::exception& e) {
    std::printf("FAILED: %s: %s\n", g_case.c_str(), e.what());
    return 1;
  }
  std::printf(ok ? "fp8_gemm_driver: all cases match\n" : "fp8_gemm_driver: MISMATCH\n");
  return ok ? 0 : 1;
}
