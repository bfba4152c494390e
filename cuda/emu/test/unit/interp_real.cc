// dsv3-emu interpreter: real kernels of the project, from the PTX nvcc wrote for cuda/*.cu ($EMU_PTX_DIR,
// see test/gen-ptx.sh): the reference GEMM (cuda/gemm_reference.cu, f32 x f32 -> f32 and bf16 x bf16 ->
// bf16, dense) against the same fmaf sequence on the CPU, bit for bit; prints the interpreter's speed on
// it. Without EMU_PTX_DIR it checks nothing and says so.
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "test/unit/interp_harness.h"

using namespace itest;

static uint16_t bf16_rn(float f) {
  uint32_t b = fbits(f);
  return uint16_t((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}
static float bf(uint16_t h) { return bitsf(uint32_t(h) << 16); }

struct SimpleProblem {  // cuda/gemm_reference.cu
  uint64_t a, a_scale, b, b_scale, out, offsets, counts;
  int64_t rows, n, k, g, m_max;
  int32_t mode, pad;
};

int main() {
  const char* dir = std::getenv("EMU_PTX_DIR");
  if (!dir) {
    std::printf("EMU_PTX_DIR not set: skipped\n");
    return check::finish();
  }
  std::ifstream f(std::string(dir) + "/gemm_reference.ptx");
  std::stringstream ss;
  ss << f.rdbuf();
  CHECK(!ss.str().empty());
  Harness h(ss.str());
  // The kernel lives in an anonymous namespace, whose mangled name carries the file name and a hash:
  // found by the tail of its name instead.
  auto find = [&](const std::string& tail) {
    for (auto& k : h.mod->kernel_names())
      if (k.size() >= tail.size() && k.compare(k.size() - tail.size(), tail.size(), tail) == 0) return k;
    return std::string();
  };
  const int M = 37, N = 70, K = 300;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> U(-1, 1);
  for (int variant = 0; variant < 2; ++variant) {
    const bool b16 = variant == 1;
    const std::string name = find(std::string("18gemm_simple_kernel") +
                                  (b16 ? "I13__nv_bfloat16S3_S3_Lb0EEEvNS1_13SimpleProblemE" : "IfffLb0EEEvNS1_13SimpleProblemE"));
    CHECK(!name.empty());
    const emu::KernelInfo* ki = h.mod->kernel(name);
    CHECK(ki != nullptr);
    if (!ki) continue;
    CHECK_EQ(ki->param_bytes, uint32_t(sizeof(SimpleProblem)));
    std::vector<float> A(M * K), B(N * K);
    for (auto& x : A) x = b16 ? bf(bf16_rn(U(rng))) : U(rng);
    for (auto& x : B) x = b16 ? bf(bf16_rn(U(rng))) : U(rng);
    uint64_t da, db;
    if (b16) {
      std::vector<uint16_t> a16(A.size()), b16v(B.size());
      for (size_t i = 0; i < A.size(); ++i) a16[i] = bf16_rn(A[i]);
      for (size_t i = 0; i < B.size(); ++i) b16v[i] = bf16_rn(B[i]);
      da = h.upload(a16);
      db = h.upload(b16v);
    } else {
      da = h.upload(A);
      db = h.upload(B);
    }
    const uint64_t dout = h.alloc(size_t(M) * N * (b16 ? 2 : 4));
    SimpleProblem p{da, 0, db, 0, dout, 0, 0, M, N, K, 1, M, 0, 0};
    std::vector<uint8_t> buf(sizeof p);
    std::memcpy(buf.data(), &p, sizeof p);
    h.opt.strict = true;  // no uninitialised reads (and a strict run gives the same result)
    auto rs = h.run_raw(name, {(N + 31) / 32, (M + 7) / 8, 1}, {32, 8, 1}, buf);
    CHECK(rs.status == emu::LaunchResult::Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    h.opt.strict = false;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = h.run_raw(name, {(N + 31) / 32, (M + 7) / 8, 1}, {32, 8, 1}, buf);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.status == emu::LaunchResult::Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    int bad = 0;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float acc = 0;
        for (int k = 0; k < K; ++k) acc = std::fma(A[i * K + k], B[j * K + k], acc);
        uint32_t want, got;
        if (b16) {
          want = bf16_rn(acc);
          got = h.download<uint16_t>(dout + (size_t(i) * N + j) * 2, 1)[0];
        } else {
          want = fbits(acc);
          got = h.download<uint32_t>(dout + (size_t(i) * N + j) * 4, 1)[0];
        }
        bad += want != got;
      }
    CHECK_EQ(bad, 0);
    std::printf("gemm_simple %s %dx%dx%d: %llu thread-instructions in %.3f s: %.1f M/s\n", b16 ? "bf16" : "f32", M, N, K,
                (unsigned long long)r.thread_instructions, s, r.thread_instructions / s / 1e6);
  }
  // cuda/rope.cu, f32 -> f32 (when rope.ptx is there): with h * units >= 768 nvcc's strength reduction
  // addresses the cos/sin table as `ld.shared.f32 [%r86+1024]` with %r86 = 0xFFFFFC00 + x, which names
  // shared address x only if the 32-bit register + offset wraps modulo 2^32. Against the same explicitly
  // rounded products on the CPU (cos/sin of the f32 angle in double, rounded to f32).
  {
    std::ifstream rf(std::string(dir) + "/rope.ptx");
    std::stringstream rs;
    rs << rf.rdbuf();
    if (rs.str().empty()) {
      std::printf("rope.ptx not in EMU_PTX_DIR: rope skipped\n");
    } else {
      Harness hr(rs.str());
      std::string kname;
      for (const std::string& n : hr.mod->kernel_names())
        if (n.find("rope_kernelINS0_3F32ES3_EE") != std::string::npos) kname = n;
      CHECK(!kname.empty());
      const int64_t T = 3, H = 8, D = 192, half = 32, nope = D - 2 * half;
      std::vector<float> x(T * H * D), inv(half);
      std::vector<int32_t> pos = {0, 7, 4095};
      for (auto& v : x) v = U(rng);
      for (int64_t i = 0; i < half; ++i) inv[i] = float(std::pow(10000.0, -2.0 * double(i) / double(2 * half)));
      const uint64_t dx = hr.upload(x), dp = hr.upload(pos), di = hr.upload(inv), dout = hr.alloc(x.size() * 4);
      auto rr = hr.run(kname, {uint32_t(T), 1, 1}, {256, 1, 1}, {dx, dp, 0, di, dout, uint64_t(H), uint64_t(D), uint64_t(half)},
                       uint32_t(2 * half * 4));
      std::fputs(hr.all_reports().c_str(), stderr);
      CHECK(rr.status == emu::LaunchResult::Status::Ok);
      CHECK(hr.reports.empty());
      const auto o = hr.download<float>(dout, x.size());
      int bad = 0;
      for (int64_t t = 0; t < T; ++t)
        for (int64_t hh = 0; hh < H; ++hh) {
          const int64_t row = (t * H + hh) * D;
          for (int64_t w = 0; w < nope; ++w) bad += o[row + w] != x[row + w];
          for (int64_t k = 0; k < half; ++k) {
            const double a = double(float(pos[t]) * inv[k]);
            const float c = float(std::cos(a)), sn = float(std::sin(a));
            const int64_t j = row + nope + 2 * k;
            const float x0 = x[j], x1 = x[j + 1];
            const float p0 = x0 * c, p1 = x1 * sn, p2 = x0 * sn, p3 = x1 * c;
            const float w0 = p0 - p1, w1 = p2 + p3;
            bad += std::fabs(o[j] - w0) > 1e-6f * (1 + std::fabs(w0));
            bad += std::fabs(o[j + 1] - w1) > 1e-6f * (1 + std::fabs(w1));
          }
        }
      CHECK_EQ(bad, 0);
    }
  }
  return check::finish();
}
