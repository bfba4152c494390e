// Kernel sandbox: the experts' grouped FP8 GEMM (native/ops.h GroupedGemmParams, DeepGEMM's contiguous
// and masked layouts), each version against the CPU twin native/cpu/gemm.cc.
//   version 0: the reference kernel, cuda/gemm_reference.cu (one thread per output, CUDA cores)
//   version 1: the production kernel, cuda/fp8_gemm.cu (TMA + wgmma, sm_90a)
// Contiguous: rows offsets[e] .. offsets[e+1] use expert e's weights (an empty expert included). Masked:
// expert e owns rows [e * m_max, e * m_max + counts[e]); the rows past its count must keep their NaN
// poison (never written). Run: npm run dev:cuda -- grouped_gemm [-- --help].
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/gemm.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

// rows: per expert (contiguous: segment lengths; masked: counts, with m_max rows per expert).
struct Shape { const char* name; std::vector<int32_t> rows; int64_t m_max, n, k; bool masked; };

void run_case(const Options& o, Report& rep, const Shape& s) {
  const int64_t g = static_cast<int64_t>(s.rows.size()), kb = ceil_div(s.k, kQuantBlock), nb = ceil_div(s.n, kQuantBlock);
  std::vector<int32_t> offsets{0};
  for (int32_t r : s.rows) offsets.push_back(offsets.back() + r);
  const int64_t m = s.masked ? s.m_max : offsets.back(), total = s.masked ? g * s.m_max : m;  // m: the params' m; total: a's rows
  const auto a = random_fp8(total * s.k), b = random_fp8(g * s.n * s.k);
  const auto as = random_floats(total * kb, 0.25f, 2.0f), bs = random_floats(g * nb * kb, 0.25f, 2.0f);
  const DType out_dtype = DType::bf16;

  std::vector<float> want(total * s.n, NAN);  // rows of no group stay NaN on the CPU too
  GroupedGemmParams p{a.data(), DType::f8_e4m3, as.data(), b.data(), DType::f8_e4m3, bs.data(), want.data(), DType::f32,
                      s.masked ? nullptr : offsets.data(), s.masked ? s.rows.data() : nullptr, g, m, s.n, s.k, s.masked};
  cpu::grouped_gemm(p);
  for (auto& x : want) x = bf16_to_f32(f32_to_bf16(x));  // one rounding of the f32 result, as the CPU's bf16 output
  std::vector<bool> valid(total, false);
  for (int64_t e = 0; e < g; ++e)
    for (int32_t i = 0; i < s.rows[e]; ++i) valid[s.masked ? e * s.m_max + i : offsets[e] + i] = true;
  std::vector<float> want_valid;
  for (int64_t i = 0; i < total; ++i)
    if (valid[i]) want_valid.insert(want_valid.end(), want.begin() + i * s.n, want.begin() + (i + 1) * s.n);

  Buf da(a), db(b), das(as), dbs(bs), doff(offsets), dcounts(s.rows), dout(total * s.n * itemsize(out_dtype));
  p.a = da.p; p.a_scale = das.as<float>(); p.b = db.p; p.b_scale = dbs.as<float>(); p.out = dout.p; p.out_dtype = out_dtype;
  p.offsets = s.masked ? nullptr : doff.as<int32_t>();
  p.counts = s.masked ? dcounts.as<int32_t>() : nullptr;
  void* stream = cuda::launch_stream(kDev);
  const int64_t expected_m = s.masked ? 0 : m / std::max<int64_t>(g, 1);
  const struct { int id; const char* name; std::function<void()> launch; } versions[] = {
      {0, "reference", [&] { cuda::grouped_gemm_simple(p, stream); }},
      {1, "wgmma", [&] { cuda::grouped_gemm(p, cuda::GemmKernel::wgmma, expected_m, kDev, stream); }},
  };
  const double used = static_cast<double>(want_valid.size()) / s.n;
  const double flops = 2.0 * used * s.n * s.k;
  const double bytes = used * s.k + double(g) * s.n * s.k + used * s.n * itemsize(out_dtype);
  for (const auto& v : versions) {
    if (!o.runs(v.id)) continue;
    dout.poison(out_dtype);
    v.launch();
    cuda::synchronize(kDev);
    const auto got = dout.floats(out_dtype, total * s.n);
    std::vector<float> got_valid;
    long stray = 0;  // outputs of rows of no group that were written
    for (int64_t i = 0; i < total; ++i) {
      if (valid[i]) got_valid.insert(got_valid.end(), got.begin() + i * s.n, got.begin() + (i + 1) * s.n);
      else for (int64_t j = 0; j < s.n; ++j) stray += !std::isnan(got[i * s.n + j]);
    }
    Verdict verdict = compare(got_valid, want_valid, kTolFp8VsCpu);
    if (stray) {
      std::printf("  %ld outputs of rows that belong to no group were written\n", stray);
      verdict.pass = false;
    }
    const double ms = time_ms(o, v.launch);
    char what[96];
    std::snprintf(what, sizeof what, "%s %s g=%ld n=%ld k=%ld", s.masked ? "masked" : "contiguous", s.name, long(g), long(s.n), long(s.k));
    rep.line((std::to_string(v.id) + " " + v.name).c_str(), what, verdict, kTolFp8VsCpu, ms, flops, kPeakFp8, bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "grouped_gemm: grouped FP8 expert GEMM versions vs the CPU twin",
                            "  0 reference (cuda/gemm_reference.cu)\n  1 wgmma + TMA (cuda/fp8_gemm.cu)\n");
    Report rep;
    rep.emulator = o.emulator;
    std::vector<Shape> shapes;
    if (o.v3) {
      // V3 routed experts (moe_intermediate 2048, hidden 7168): 32 local experts, w13 [4096, 7168] and w2 [7168, 2048].
      std::vector<int32_t> prefill(32), decode(32);
      for (int e = 0; e < 32; ++e) { prefill[e] = 128 * (1 + e % 4); decode[e] = e % 3 == 0 ? 0 : 1 + e % 8; }
      shapes = {{"prefill w13", prefill, 0, 4096, 7168, false}, {"prefill w2", prefill, 0, 7168, 2048, false},
                {"decode w13", decode, 64, 4096, 7168, true},   {"decode w2", decode, 64, 7168, 2048, true}};
    } else {
      shapes = {{"3 experts, one empty", {70, 0, 129}, 0, 256, 384, false}, {"3 experts", {5, 0, 33}, 40, 200, 320, true}};
    }
    for (const Shape& s : shapes) run_case(o, rep, s);
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
