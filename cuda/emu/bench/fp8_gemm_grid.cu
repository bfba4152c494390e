// dsv3-emu bench: the project's FP8 GEMM (cuda/fp8_gemm.cu, wgmma kernel forced) through its host entry
// points, run under `dsv3-emu --stats`, which prints per kernel the CTAs launched, the CTAs that did work,
// the thread-instructions and the seconds. Two problems:
//   dense M N K               fp8_gemm, f32 out (split-K where the tiles cannot fill the 132 SMs)
//   moe G N K TOKENS TOPK     grouped_gemm, contiguous layout, at decode routing: TOKENS tokens each to
//                             TOPK distinct experts of G (a fixed pseudo-random choice), so most of the G
//                             experts have no rows: what a grid sized for the worst case pays for
// Linked with cuda/runtime.cu and any version of cuda/fp8_gemm.cu (bench/emu.bench.mjs builds the working
// tree's; give it an older copy to compare). Inputs are finite e4m3 codes; the results are not checked here
// (test/gpu/gemm.gpu.test.ts and the mutation tests do that): this program measures.
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/gemm.h"
#include "cuda/moe.h"
#include "cuda/runtime.h"

namespace dsv3::cuda {
// With kernel = wgmma the launchers never take these fallbacks (gemm_reference.cu, moe.cu are not linked).
[[noreturn]] static void fallback(const char* what) {
  std::fprintf(stderr, "fp8_gemm_grid: the launcher took the fallback %s instead of the wgmma kernel\n", what);
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
uint64_t g_state = 20261203;
uint32_t next_u32() { return static_cast<uint32_t>((g_state = g_state * 6364136223846793005ull + 1442695040888963407ull) >> 33); }

void* upload(const void* src, size_t bytes) {
  void* d = cuda::device_alloc(kDev, bytes ? bytes : 1);
  cuda::copy_h2d(kDev, d, src, bytes);
  return d;
}
std::vector<uint8_t> codes(size_t n) {  // finite e4m3 of magnitude < 1 (exponent field <= 6)
  std::vector<uint8_t> v(n);
  for (auto& c : v) c = static_cast<uint8_t>(next_u32() & 0xb7);
  return v;
}
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    if (mode == "dense" && argc == 5) {
      const int64_t m = std::atoll(argv[2]), n = std::atoll(argv[3]), k = std::atoll(argv[4]), kb = (k + 127) / 128;
      const auto a = codes(m * k), b = codes(n * k);
      const std::vector<float> as(m * kb, 1.f), bs(((n + 127) / 128) * kb, 1.f);
      void* out = cuda::device_alloc(kDev, m * n * sizeof(float));
      const Fp8GemmParams p{static_cast<const uint8_t*>(upload(a.data(), a.size())), static_cast<const float*>(upload(as.data(), as.size() * 4)),
                            static_cast<const uint8_t*>(upload(b.data(), b.size())), static_cast<const float*>(upload(bs.data(), bs.size() * 4)),
                            out, DType::f32, m, n, k};
      for (int i = 0; i < 2; ++i) {  // the first call includes the module's load and decode
        const auto t0 = std::chrono::steady_clock::now();
        cuda::fp8_gemm(p, cuda::GemmKernel::wgmma, kDev, cuda::launch_stream(kDev));
        cuda::synchronize(kDev);
        std::printf("fp8_gemm_grid: dense %lldx%lldx%lld call %d: %.3f s wall\n", (long long)m, (long long)n, (long long)k, i,
                    seconds_since(t0));
      }
      return 0;
    }
    if (mode == "moe" && argc == 7) {
      const int64_t g = std::atoll(argv[2]), n = std::atoll(argv[3]), k = std::atoll(argv[4]);
      const int tokens = std::atoi(argv[5]), topk = std::atoi(argv[6]);
      if (topk > g) throw std::runtime_error("topk > experts");
      std::vector<int32_t> counts(g, 0);
      for (int t = 0; t < tokens; ++t) {
        std::set<int64_t> picked;
        while (static_cast<int>(picked.size()) < topk) picked.insert(next_u32() % g);
        for (int64_t e : picked) ++counts[e];
      }
      std::vector<int32_t> offsets{0};
      int experts = 0;
      for (int32_t c : counts) { offsets.push_back(offsets.back() + c); experts += c > 0; }
      const int64_t rows = offsets.back(), kb = (k + 127) / 128;
      const auto a = codes(rows * k), b = codes(g * n * k);
      const std::vector<float> as(rows * kb, 1.f), bs(g * ((n + 127) / 128) * kb, 1.f);
      void* out = cuda::device_alloc(kDev, rows * n * sizeof(float));
      const GroupedGemmParams p{upload(a.data(), a.size()), DType::f8_e4m3, static_cast<const float*>(upload(as.data(), as.size() * 4)),
                                upload(b.data(), b.size()), DType::f8_e4m3, static_cast<const float*>(upload(bs.data(), bs.size() * 4)),
                                out, DType::f32, static_cast<const int32_t*>(upload(offsets.data(), offsets.size() * 4)), nullptr,
                                g, rows, n, k, false};
      const auto t0 = std::chrono::steady_clock::now();
      cuda::grouped_gemm(p, cuda::GemmKernel::wgmma, 0, kDev, cuda::launch_stream(kDev));
      cuda::synchronize(kDev);
      std::printf("fp8_gemm_grid: moe %lld experts (%d with rows), %lld rows, n %lld, k %lld: %.3f s wall\n", (long long)g,
                  experts, (long long)rows, (long long)n, (long long)k, seconds_since(t0));
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fp8_gemm_grid: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: fp8_gemm_grid dense M N K | moe G N K TOKENS TOPK\n");
  return 2;
}
