// Kernel sandbox: gemm, the f32 / bf16 GEMM out[m, n] = a[m, k] @ b[n, k]^T on CUDA cores (native/ops.h
// GemmParams; the router, lm_head and bf16 checkpoints), each version against the CPU twin native/cpu/gemm.cc.
//   version 0: the reference kernel, cuda/gemm_reference.cu (one thread per output)
//   version 1: the production kernels, cuda/gemm_f32_bf16.cu (a GEMV for m <= 8, a shared-memory tile above)
// bf16 operands and output (f32 accumulation) and f32 throughout; m on both sides of the GEMV limit, k not
// a multiple of 8 (the GEMV's scalar path). Run: npm run dev:cuda -- gemm [-- --help].
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/gemm.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

struct Shape { const char* name; int64_t m, n, k; };

void run_case(const Options& o, Report& rep, const Shape& s, DType dtype) {
  const auto a32 = random_floats(s.m * s.k, -1, 1), b32 = random_floats(s.n * s.k, -1, 1);
  const auto a16 = to_bf16(a32), b16 = to_bf16(b32);
  const bool bf16 = dtype == DType::bf16;
  const void* a = bf16 ? static_cast<const void*>(a16.data()) : a32.data();
  const void* b = bf16 ? static_cast<const void*>(b16.data()) : b32.data();
  const size_t es = itemsize(dtype);

  const int64_t m_ref = std::min<int64_t>(s.m, 128);  // the CPU twin on the first rows (rows are independent)
  std::vector<float> want(m_ref * s.n);
  cpu::gemm({a, dtype, b, dtype, want.data(), DType::f32, m_ref, s.n, s.k});
  if (bf16)
    for (auto& x : want) x = bf16_to_f32(f32_to_bf16(x));  // the CPU's bf16 output: the f32 result rounded once

  Buf da(s.m * s.k * es), db(s.n * s.k * es), dout(s.m * s.n * es);
  cuda::copy_h2d(kDev, da.p, a, da.bytes);
  cuda::copy_h2d(kDev, db.p, b, db.bytes);
  const GemmParams p{da.p, dtype, db.p, dtype, dout.p, dtype, s.m, s.n, s.k};
  void* stream = cuda::launch_stream(kDev);
  const struct { int id; const char* name; std::function<void()> launch; } versions[] = {
      {0, "reference", [&] { cuda::gemm_simple(p, stream); }},
      {1, "tiled", [&] { cuda::gemm(p, stream); }},
  };
  const double flops = 2.0 * s.m * s.n * s.k, bytes = double(s.m * s.k + s.n * s.k + s.m * s.n) * es;
  for (const auto& v : versions) {
    if (!o.runs(v.id)) continue;
    dout.poison(dtype);
    v.launch();
    cuda::synchronize(kDev);
    const Verdict verdict = compare(dout.floats(dtype, m_ref * s.n), want, tol_gemm_vs_cpu(dtype));
    const double ms = time_ms(o, v.launch);
    char what[96];
    std::snprintf(what, sizeof what, "%s m=%ld n=%ld k=%ld %s", s.name, long(s.m), long(s.n), long(s.k), dtype_name(dtype));
    rep.line((std::to_string(v.id) + " " + v.name).c_str(), what, verdict, tol_gemm_vs_cpu(dtype), ms, flops, kPeakF32, bytes);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "gemm: f32 / bf16 GEMM versions vs the CPU twin",
                            "  0 reference (cuda/gemm_reference.cu)\n  1 GEMV (m <= 8) / tiled (cuda/gemm_f32_bf16.cu)\n");
    Report rep;
    rep.emulator = o.emulator;
    const std::vector<Shape> small = {{"gemv", 3, 130, 264}, {"gemv k%8", 5, 70, 101}, {"tiled", 70, 90, 100}};
    // V3: the router (256 x 7168) and lm_head (129280 x 7168) at decode and prefill sizes.
    const std::vector<Shape> v3 = {{"router decode", 8, 256, 7168}, {"router prefill", 4096, 256, 7168},
                                   {"lm_head decode", 8, 129280, 7168}, {"lm_head prefill", 512, 129280, 7168}};
    for (const Shape& s : o.v3 ? v3 : small) {
      run_case(o, rep, s, DType::bf16);
      run_case(o, rep, s, DType::f32);
    }
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
