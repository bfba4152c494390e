// Kernel sandbox: fp8Gemm, DeepSeek's block-scaled FP8 GEMM out[m, n] = a[m, k] @ b[n, k]^T
// (native/ops.h Fp8GemmParams), each version against the CPU twin native/cpu/gemm.cc.
//   version 0: the reference kernel, cuda/gemm_reference.cu (one thread per output, CUDA cores)
//   version 1: the production kernel, cuda/fp8_gemm.cu (TMA + wgmma, sm_90a; split-K for small m)
// Small shapes (the emulator's default) have partial 128-blocks in m, n and k and a split-K case; the
// DeepSeek-V3 shapes (a GPU's default) are the attention and dense-FFN projections at prefill and decode
// sizes, checked against the CPU on their first 128 rows. Run: npm run dev:cuda -- fp8_gemm [-- --help].
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/gemm.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

struct Shape { const char* name; int64_t m, n, k; };

void run_case(const Options& o, Report& rep, const Shape& s, DType out_dtype) {
  const int64_t kb = ceil_div(s.k, kQuantBlock), nb = ceil_div(s.n, kQuantBlock);
  const auto a = random_fp8(s.m * s.k), b = random_fp8(s.n * s.k);
  const auto as = random_floats(s.m * kb, 0.25f, 2.0f), bs = random_floats(nb * kb, 0.25f, 2.0f);
  Buf da(a), db(b), das(as), dbs(bs), dout(s.m * s.n * itemsize(out_dtype));

  // The CPU twin on the first m_ref rows (rows are independent).
  const int64_t m_ref = std::min<int64_t>(s.m, 128);
  std::vector<float> want(m_ref * s.n);
  cpu::fp8_gemm({a.data(), as.data(), b.data(), bs.data(), want.data(), DType::f32, m_ref, s.n, s.k});
  if (out_dtype == DType::bf16)
    for (auto& x : want) x = bf16_to_f32(f32_to_bf16(x));  // the CPU's bf16 output is the f32 result rounded once

  const Fp8GemmParams p{da.as<uint8_t>(), das.as<float>(), db.as<uint8_t>(), dbs.as<float>(), dout.p, out_dtype, s.m, s.n, s.k};
  void* stream = cuda::launch_stream(kDev);
  const struct { int id; const char* name; std::function<void()> launch; } versions[] = {
      {0, "reference", [&] { cuda::fp8_gemm_simple(p, stream); }},
      {1, "wgmma", [&] { cuda::fp8_gemm(p, cuda::GemmKernel::wgmma, kDev, stream); }},
  };
  const double flops = 2.0 * s.m * s.n * s.k;
  const double bytes = double(s.m) * s.k + double(s.n) * s.k + double(s.m) * s.n * itemsize(out_dtype);
  for (const auto& v : versions) {
    if (!o.runs(v.id)) continue;
    dout.poison(out_dtype);
    v.launch();
    cuda::synchronize(kDev);
    const Verdict verdict = compare(dout.floats(out_dtype, m_ref * s.n), want, kTolFp8VsCpu);
    const double ms = time_ms(o, v.launch);
    char what[96];
    std::snprintf(what, sizeof what, "%s m=%ld n=%ld k=%ld -> %s", s.name, long(s.m), long(s.n), long(s.k), dtype_name(out_dtype));
    rep.line((std::to_string(v.id) + " " + v.name).c_str(), what, verdict, kTolFp8VsCpu, ms, flops, kPeakFp8, bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "fp8_gemm: block-scaled FP8 GEMM versions vs the CPU twin",
                            "  0 reference (cuda/gemm_reference.cu)\n  1 wgmma + TMA (cuda/fp8_gemm.cu)\n");
    Report rep;
    rep.emulator = o.emulator;
    const std::vector<Shape> small = {{"partial blocks", 130, 200, 320}, {"decode split-K", 4, 256, 1024}};
    // V3: [wq_a; wkv_a] (2112 x 7168), wq_b (24576 x 1536), wo (7168 x 16384), dense FFN w13 (36864 x 7168) and w2 (7168 x 18432).
    const std::vector<Shape> v3 = {{"wq_a|wkv_a prefill", 4096, 2112, 7168}, {"wq_b prefill", 4096, 24576, 1536},
                                   {"wo prefill", 4096, 7168, 16384},       {"ffn w13 prefill", 4096, 36864, 7168},
                                   {"ffn w2 prefill", 4096, 7168, 18432},   {"wq_a|wkv_a decode", 64, 2112, 7168},
                                   {"wo decode", 64, 7168, 16384},          {"ffn w2 decode", 64, 7168, 18432}};
    for (const Shape& s : o.v3 ? v3 : small) run_case(o, rep, s, DType::bf16);
    run_case(o, rep, o.v3 ? v3[0] : small[0], DType::f32);
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
