// dsv3-emu interpreter: the project's Hopper FP8 GEMM (cuda/fp8_gemm.cu, fp8_gemm_wgmma_kernel<8, false>,
// dense, f32 out) from $EMU_PTX_DIR: a producer warp streams 128-byte-swizzled TMA boxes through a
// 12-stage mbarrier pipeline, two consumer warpgroups run wgmma m64n8k32 e4m3 on them and apply the
// 128-block scales. Checked against a CPU computation of the same recipe (tolerance: the f32 rounding of
// the partial sums); ragged m, n and k exercise the TMA out-of-bound fill. Skipped without EMU_PTX_DIR.
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "src/runtime/tensormap.h"
#include "test/unit/interp_harness.h"

using namespace itest;

struct Problem {  // cuda/fp8_gemm.cu
  int32_t mode, m, n, k, kb, nb, g, token_tiles, weight_tiles, splits;
  uint64_t a_scale, b_scale, offsets, counts, out;
  int32_t out_f32, pad0;
  uint64_t out_scale;
  int32_t ue8m0, pad1;
  uint64_t partial, tickets;
};

static float e4m3(uint8_t v) {
  const int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
  float x = e == 0 ? std::ldexp(float(m), -9) : std::ldexp(1.0f + m / 8.0f, e - 7);
  return s ? -x : x;
}

int main() {
  const char* dir = std::getenv("EMU_PTX_DIR");
  if (!dir) {
    std::printf("EMU_PTX_DIR not set: skipped\n");
    return check::finish();
  }
  std::ifstream f(std::string(dir) + "/fp8_gemm.ptx");
  std::stringstream ss;
  ss << f.rdbuf();
  Harness h(ss.str());
  std::string name;
  for (auto& k : h.mod->kernel_names())
    if (k.find("fp8_gemm_wgmma_kernelILi8ELb0EE") != std::string::npos) name = k;
  CHECK(!name.empty());
  const emu::KernelInfo* ki = h.mod->kernel(name);
  if (!ki) return check::finish();
  CHECK_EQ(ki->params.size(), size_t(3));

  const int M = 20, N = 200, K = 384, BT = 8, kb = (K + 127) / 128, nb = (N + 127) / 128;
  std::mt19937 rng(21);
  auto code = [&] {
    uint8_t c;
    do c = uint8_t(rng()); while ((c & 0x7F) == 0x7F || ((c >> 3) & 15) > 9);  // finite, moderate magnitudes
    return c;
  };
  std::vector<uint8_t> A(size_t(M) * K), B(size_t(N) * K);
  for (auto& x : A) x = code();
  for (auto& x : B) x = code();
  std::vector<float> sa(size_t(M) * kb), sb(size_t(nb) * kb);
  std::uniform_real_distribution<float> U(0.25f, 2.0f);
  for (auto& x : sa) x = U(rng);
  for (auto& x : sb) x = U(rng);
  const uint64_t dA = h.upload(A), dB = h.upload(B), dsa = h.upload(sa), dsb = h.upload(sb);
  const uint64_t dout = h.alloc(size_t(M) * N * 4);

  auto map = [&](uint64_t base, int rows, int box_rows) {
    emu::tma::TensorMap t;
    t.data_type = emu::tma::kU8;
    t.rank = 2;
    t.address = base;
    t.dims[0] = K;
    t.dims[1] = uint64_t(rows);
    t.strides[0] = K;
    t.box[0] = 128;
    t.box[1] = uint32_t(box_rows);
    t.swizzle = emu::tma::kSwizzle128B;
    t.l2 = emu::tma::kL2_256B;
    std::vector<uint8_t> b(128);
    emu::tma::encode(t, b.data());
    return b;
  };
  Problem p{};
  p.mode = 0;
  p.m = M;
  p.n = N;
  p.k = K;
  p.kb = kb;
  p.nb = nb;
  p.g = 1;
  p.token_tiles = (M + BT - 1) / BT;
  p.weight_tiles = nb;
  p.splits = 1;
  p.a_scale = dsa;
  p.b_scale = dsb;
  p.out = dout;
  p.out_f32 = 1;
  std::vector<uint8_t> buf(ki->param_bytes, 0);
  const auto ma = map(dA, M, BT), mb = map(dB, N, 128);
  std::memcpy(buf.data() + ki->params[0].offset, ma.data(), 128);
  std::memcpy(buf.data() + ki->params[1].offset, mb.data(), 128);
  std::memcpy(buf.data() + ki->params[2].offset, &p, std::min<size_t>(sizeof p, ki->params[2].size));
  h.max_dyn_smem = 232448;
  const uint32_t smem = 1024 + 12 * (128 * 128 + BT * 128) + 4 * BT * 4 + 2 * 12 * 8;
  for (int sched = 0; sched < 3; ++sched) {
    h.opt.random_schedule = sched == 1;
    h.opt.strict = sched == 2;  // strict: no uninitialised register or shared read in this kernel either
    std::vector<float> poison(size_t(M) * N, -12345.0f);
    std::memcpy(h.mem.host_of(dout), poison.data(), poison.size() * 4);
    auto r = h.run_raw(name, {uint32_t(p.token_tiles * p.weight_tiles), 1, 1}, {288, 1, 1}, buf, smem);
    CHECK(r.status == emu::LaunchResult::Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto out = h.download<float>(dout, size_t(M) * N);
    int bad = 0;
    double maxrel = 0;
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        double acc = 0, mag = 0;
        for (int b = 0; b < kb; ++b) {
          double part = 0, pm = 0;
          for (int k = b * 128; k < std::min(K, (b + 1) * 128); ++k) {
            const double x = double(e4m3(A[size_t(i) * K + k])) * e4m3(B[size_t(j) * K + k]);
            part += x;
            pm += std::fabs(x);
          }
          const double s = double(sa[size_t(i) * kb + b]) * sb[size_t(j / 128) * kb + b];
          acc += part * s;
          mag += pm * s;
        }
        const double got = out[size_t(i) * N + j], err = std::fabs(got - acc);
        maxrel = std::max(maxrel, err / (mag + 1e-30));
        if (err > 1e-5 * mag + 1e-30) {
          if (bad < 5) std::fprintf(stderr, "out[%d][%d] = %.9g, want %.9g\n", i, j, got, acc);
          ++bad;
        }
      }
    std::printf("fp8_gemm_wgmma_kernel<8> %dx%dx%d (%s schedule): %llu thread-instructions, %.2f s, max error %.2g of the magnitude\n",
                M, N, K, sched == 1 ? "random" : sched == 2 ? "strict" : "round-robin", (unsigned long long)r.thread_instructions, r.seconds, maxrel);
    CHECK_EQ(bad, 0);
  }
  return check::finish();
}
