// Kernel sandbox: the experts' gate/up GEMM with SiLU-multiply and FP8 re-quantization (native/ops.h
// GroupedGemmSiluMulParams: out = quantize_fp8(silu(a @ w1^T) * (a @ w3^T)), b = [w1; w3] per expert),
// each version against the CPU twin native/cpu/gemm.cc, compared decoded (code * scale).
//   version 0: two steps, the reference grouped GEMM into f32 [rows, 2n] (cuda/gemm_reference.cu), then
//              silu_mul_quant_grouped (cuda/moe.cu): the path of devices without wgmma
//   version 1: fused, one TMA + wgmma kernel with the SiLU-multiply and quantization in its epilogue
//              (cuda/fp8_gemm.cu, n % 128 == 0)
// Contiguous (with a row of no expert at each end) and masked layouts; rows of no expert must keep their
// NaN poison. Run: npm run dev:cuda -- grouped_gemm_silu_mul [-- --help].
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/gemm.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

// A different summation order moves a few values across an e4m3 rounding boundary (test/cases/grouped_gemm.ts TOL_GLU).
constexpr double kTolGlu = 2e-2;

struct Shape { const char* name; std::vector<int32_t> rows; int64_t m_max, n, k; bool masked; };

std::vector<float> decode(const std::vector<uint8_t>& codes, const std::vector<float>& scale, int64_t n) {
  std::vector<float> out(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) out[i] = e4m3_to_f32(codes[i]) * scale[i / n * (n / kQuantBlock) + i % n / kQuantBlock];
  return out;
}

void run_case(const Options& o, Report& rep, const Shape& s) {
  const int64_t g = static_cast<int64_t>(s.rows.size()), kb = ceil_div(s.k, kQuantBlock), groups = s.n / kQuantBlock;
  std::vector<int32_t> offsets{1};  // contiguous: row 0 and the last row belong to no expert
  for (int32_t r : s.rows) offsets.push_back(offsets.back() + r);
  const int64_t total = s.masked ? g * s.m_max : offsets.back() + 1, m = s.masked ? s.m_max : total;
  const auto a = random_fp8(total * s.k), b = random_fp8(g * 2 * s.n * s.k);
  const auto as = random_floats(total * kb, 0.25f, 2.0f), bs = random_floats(g * 2 * groups * kb, 0.25f, 2.0f);

  std::vector<uint8_t> want_codes(total * s.n, 0x7f);  // e4m3 NaN where no expert writes
  std::vector<float> want_scale(total * groups, NAN);
  GroupedGemmSiluMulParams p{a.data(), as.data(), b.data(), bs.data(), want_codes.data(), want_scale.data(),
                             s.masked ? nullptr : offsets.data(), s.masked ? s.rows.data() : nullptr, g, m, s.n, s.k, s.masked, false};
  cpu::grouped_gemm_silu_mul(p);
  std::vector<bool> valid(total, false);
  for (int64_t e = 0; e < g; ++e)
    for (int32_t i = 0; i < s.rows[e]; ++i) valid[s.masked ? e * s.m_max + i : offsets[e] + i] = true;
  const auto want_all = decode(want_codes, want_scale, s.n);
  std::vector<float> want;
  for (int64_t i = 0; i < total; ++i)
    if (valid[i]) want.insert(want.end(), want_all.begin() + i * s.n, want_all.begin() + (i + 1) * s.n);

  Buf da(a), db(b), das(as), dbs(bs), doff(offsets), dcounts(s.rows), dcodes(total * s.n), dscale(total * groups * 4);
  p.a = da.as<uint8_t>(); p.a_scale = das.as<float>(); p.b = db.as<uint8_t>(); p.b_scale = dbs.as<float>();
  p.out = dcodes.as<uint8_t>(); p.out_scale = dscale.as<float>();
  p.offsets = s.masked ? nullptr : doff.as<int32_t>();
  p.counts = s.masked ? dcounts.as<int32_t>() : nullptr;
  void* stream = cuda::launch_stream(kDev);
  const struct { int id; const char* name; cuda::GemmKernel kernel; } versions[] = {
      {0, "two-step", cuda::GemmKernel::simple}, {1, "fused", cuda::GemmKernel::wgmma}};
  const double used = static_cast<double>(want.size()) / s.n;
  const double flops = 2.0 * used * 2 * s.n * s.k, bytes = used * s.k + double(g) * 2 * s.n * s.k + used * s.n;
  for (const auto& v : versions) {
    if (!o.runs(v.id)) continue;
    auto launch = [&] { cuda::grouped_gemm_silu_mul(p, v.kernel, 0, kDev, stream); };
    cuda::fill(kDev, dcodes.p, 0x7f, 1, total * s.n);
    dscale.poison(DType::f32);
    launch();
    cuda::synchronize(kDev);
    std::vector<uint8_t> codes(total * s.n);
    cuda::copy_d2h(kDev, codes.data(), dcodes.p, codes.size());
    const auto got_all = decode(codes, dscale.floats(DType::f32, total * groups), s.n);
    std::vector<float> got;
    long stray = 0;  // outputs of rows of no expert that were written
    for (int64_t i = 0; i < total; ++i) {
      if (valid[i]) got.insert(got.end(), got_all.begin() + i * s.n, got_all.begin() + (i + 1) * s.n);
      else for (int64_t j = 0; j < s.n; ++j) stray += codes[i * s.n + j] != 0x7f;
    }
    Verdict verdict = compare(got, want, kTolGlu);
    if (stray) {
      std::printf("  %ld outputs of rows that belong to no expert were written\n", stray);
      verdict.pass = false;
    }
    const double ms = time_ms(o, launch);
    char what[96];
    std::snprintf(what, sizeof what, "%s %s g=%ld n=%ld k=%ld", s.masked ? "masked" : "contiguous", s.name, long(g), long(s.n), long(s.k));
    rep.line((std::to_string(v.id) + " " + v.name).c_str(), what, verdict, kTolGlu, ms, flops, kPeakFp8, bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "grouped_gemm_silu_mul: fused expert gate/up GEMM versions vs the CPU twin",
                            "  0 two steps: reference grouped GEMM + silu_mul_quant_grouped\n  1 fused TMA + wgmma (cuda/fp8_gemm.cu)\n");
    Report rep;
    rep.emulator = o.emulator;
    std::vector<Shape> shapes;
    if (o.v3) {
      // V3 routed experts: w13 [2 x 2048, 7168] per expert, 32 local experts.
      std::vector<int32_t> prefill(32), decode(32);
      for (int e = 0; e < 32; ++e) { prefill[e] = 128 * (1 + e % 4); decode[e] = e % 3 == 0 ? 0 : 1 + e % 8; }
      shapes = {{"prefill", prefill, 0, 2048, 7168, false}, {"decode", decode, 64, 2048, 7168, true}};
    } else {
      shapes = {{"3 experts, one empty", {40, 0, 65}, 0, 256, 384, false}, {"3 experts", {5, 0, 33}, 40, 256, 320, true}};
    }
    for (const Shape& s : shapes) run_case(o, rep, s);
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
