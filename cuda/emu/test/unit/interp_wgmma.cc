// dsv3-emu interpreter: wgmma forms that the interpreter reaches through the sm90 model (src/sm90/wgmma.h)
// and had no way to execute before: A from registers, MN-major (transposed) B with the 128-byte swizzle,
// f16 accumulators, fp8 A fragments; each run by one warpgroup (4 warps of the interpreter, each issuing
// the instruction for its 32 threads) and checked against a CPU GEMM written here from the ISA's figures
// (fragment tables 9.7.15.5.1.1, canonical layouts 9.7.15.5.1.2), independent of the model's tables. Also
// errors of the models as reports: a descriptor with reserved bits set, mbarrier tx-count overflow and an
// mbarrier overwritten by a plain store, each naming the instruction and its PTX line.
#include <cmath>

#include "src/fp/fp.h"
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;
namespace fp = emu::fp;

namespace {

enum class In { f16, e4m3 };
struct Form {
  const char* name;
  uint32_t n;
  bool f16_acc;
  In in;
  bool trans_b;  // B MN-major (f16 only); else K-major
};

uint32_t kdim(In t) { return t == In::f16 ? 16 : 32; }
uint32_t ebytes(In t) { return t == In::f16 ? 2 : 1; }

// A warpgroup kernel: B's shared-memory image (global, nb bytes) copied to a 1024-aligned shared buffer,
// the A fragment (4 registers per thread) and the accumulators' initial values loaded per thread, then
// fence / mma_async (A from registers, B descriptor = desc_rest + (buffer address >> 4)) / commit / wait,
// and the accumulators stored per thread.
std::string kernel(const Form& f) {
  const uint32_t nd = f.f16_acc ? f.n / 4 : f.n / 2;
  std::string s = ".visible .entry " + std::string(f.name) +
                  "(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pout, .param .u64 pdesc, .param .u32 nb)\n{\n"
                  "  .reg .b32 %r<200>;\n  .reg .b64 %rd<20>;\n  .reg .pred %p<4>;\n"
                  "  .shared .align 1024 .b8 sb[4096];\n"
                  "  ld.param.u64 %rd1, [pa];\n  ld.param.u64 %rd2, [pb];\n  ld.param.u64 %rd3, [pc];\n"
                  "  ld.param.u64 %rd4, [pout];\n  ld.param.u64 %rd5, [pdesc];\n  ld.param.u32 %r4, [nb];\n"
                  "  mov.u32 %r1, %tid.x;\n  mov.u32 %r2, sb;\n  shl.b32 %r3, %r1, 2;\n"
                  "LOOP:\n  setp.ge.u32 %p1, %r3, %r4;\n  @%p1 bra DONE;\n"
                  "  cvt.u64.u32 %rd6, %r3;\n  add.u64 %rd7, %rd2, %rd6;\n  ld.global.u32 %r5, [%rd7];\n"
                  "  add.u32 %r6, %r2, %r3;\n  st.shared.u32 [%r6], %r5;\n  add.u32 %r3, %r3, 512;\n  bra LOOP;\n"
                  "DONE:\n  fence.proxy.async.shared::cta;\n  bar.sync 0;\n"  // generic stores -> wgmma's async-proxy reads
                  "  mul.wide.u32 %rd8, %r1, 16;\n  add.u64 %rd8, %rd1, %rd8;\n"
                  "  ld.global.v4.u32 {%r10, %r11, %r12, %r13}, [%rd8];\n"
                  "  mul.wide.u32 %rd9, %r1, " + std::to_string(4 * nd) + ";\n  add.u64 %rd10, %rd3, %rd9;\n"
                  "  add.u64 %rd11, %rd4, %rd9;\n";
  std::string dv;
  for (uint32_t i = 0; i < nd; ++i) {
    s += "  ld.global.u32 %r" + std::to_string(20 + i) + ", [%rd10+" + std::to_string(4 * i) + "];\n";
    dv += (i ? ", %r" : "%r") + std::to_string(20 + i);
  }
  s += "  cvt.u64.u32 %rd12, %r2;\n  shr.u64 %rd12, %rd12, 4;\n  add.u64 %rd12, %rd5, %rd12;\n"
       "  wgmma.fence.sync.aligned;\n";
  const char* t = f.in == In::f16 ? "f16" : "e4m3";
  s += "  wgmma.mma_async.sync.aligned.m64n" + std::to_string(f.n) + "k" + std::to_string(kdim(f.in)) + "." +
       (f.f16_acc ? "f16" : "f32") + "." + t + "." + t + " {" + dv + "}, {%r10, %r11, %r12, %r13}, %rd12, 1, 1, 1" +
       (f.in == In::f16 ? (f.trans_b ? ", 1" : ", 0") : "") + ";\n";
  s += "  wgmma.commit_group.sync.aligned;\n  wgmma.wait_group.sync.aligned 0;\n";
  for (uint32_t i = 0; i < nd; ++i)
    s += "  st.global.u32 [%rd11+" + std::to_string(4 * i) + "], %r" + std::to_string(20 + i) + ";\n";
  s += "  ret;\n}\n";
  return s;
}

// Values that keep every partial sum exact (the model rounds once; so does the reference): multiples of
// 1/4 in [-2, 2] for f16 / e4m3 inputs, small integers for the initial accumulators.
struct Rng {
  uint64_t s = 0x243F6A8885A308D3ull;
  uint32_t below(uint32_t n) { s = s * 6364136223846793005ull + 1442695040888963407ull; return uint32_t(s >> 33) % n; }
};
uint32_t enc(In t, double v) {
  return t == In::f16 ? fp::f32_to_f16(float(v), fp::Round::rn, false, false) : fp::f32_to_e4m3(float(v), false);
}

// ISA 9.7.15.5.1.1: A fragment of thread t, value i (k16: .f16x2 registers, k32: four e4m3 per register)
void a_rowcol(In in, uint32_t t, uint32_t i, uint32_t* row, uint32_t* col) {
  const uint32_t w = t / 32, l = t % 32;
  if (in == In::f16) {
    *row = 16 * w + l / 4 + 8 * ((i / 2) % 2);
    *col = 2 * (l % 4) + i % 2 + 8 * (i / 4);
  } else {
    *row = 16 * w + l / 4 + 8 * ((i / 4) % 2);
    *col = 4 * (l % 4) + i % 4 + 16 * (i / 8);
  }
}
// D fragment of thread t, value i: rows 16w + l/4 (+8), columns 8*(i/4) + 2*(l%4) + i%2
void d_rowcol(uint32_t t, uint32_t i, uint32_t* row, uint32_t* col) {
  const uint32_t w = t / 32, l = t % 32;
  *row = 16 * w + l / 4 + 8 * ((i / 2) % 2);
  *col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
}

// Runs one form on random inputs and compares with the CPU product D = A * B + C.
void check_form(Harness& h, const Form& f) {
  Rng rng;
  const uint32_t K = kdim(f.in), N = f.n, e = ebytes(f.in), nd = f.f16_acc ? N / 4 : N / 2;
  std::vector<double> A(64 * K), B(size_t(K) * N), C(64 * N);
  for (auto& v : A) v = (double(rng.below(17)) - 8) / 4;
  for (auto& v : B) v = (double(rng.below(17)) - 8) / 4;
  for (auto& v : C) v = double(rng.below(9)) - 4;
  // A fragments: thread-major, 4 registers each
  std::vector<uint32_t> afrag(128 * 4, 0);
  const uint32_t per_reg = 4 / e;
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < 4 * per_reg; ++i) {
      uint32_t r, c;
      a_rowcol(f.in, t, i, &r, &c);
      afrag[t * 4 + i / per_reg] |= enc(f.in, A[r * K + c]) << (8 * e * (i % per_reg));
    }
  // B's shared image. K-major, no swizzle: 8x16-byte core matrices, (n%8)*16 + (n/8)*SBO + (k*e)%16 +
  // (k*e/16)*LBO with LBO = 128, SBO = 128 * (K*e/16). MN-major, 128-byte swizzle (N*e = 128 bytes = one
  // swizzle row per k): (n*e) + (k%8)*128 + (k/8)*SBO with SBO = 1024, then bits [4,7) ^= bits [7,10).
  uint32_t lbo, sbo, swz;
  std::vector<uint8_t> bimg;
  if (f.trans_b) {
    lbo = 0; sbo = 1024; swz = 1;  // descriptor swizzle field: 1 = 128B
    bimg.assign(K / 8 * 1024, 0);
    for (uint32_t k = 0; k < K; ++k)
      for (uint32_t n = 0; n < N; ++n) {
        uint32_t a = n * e + (k % 8) * 128 + (k / 8) * sbo;
        a ^= ((a >> 7) & 7) << 4;
        const uint32_t v = enc(f.in, B[k * N + n]);
        std::memcpy(&bimg[a], &v, e);
      }
  } else {
    lbo = 128; sbo = 128 * (K * e / 16); swz = 0;
    bimg.assign(size_t(N / 8) * sbo, 0);
    for (uint32_t k = 0; k < K; ++k)
      for (uint32_t n = 0; n < N; ++n) {
        const uint32_t a = (n % 8) * 16 + (n / 8) * sbo + (k * e) % 16 + (k * e / 16) * lbo;
        const uint32_t v = enc(f.in, B[k * N + n]);
        std::memcpy(&bimg[a], &v, e);
      }
  }
  const uint64_t desc = (uint64_t(lbo >> 4) << 16) | (uint64_t(sbo >> 4) << 32) | (uint64_t(swz) << 62);
  // initial accumulators per thread
  std::vector<uint32_t> c(128 * nd, 0);
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < N / 2; ++i) {
      uint32_t r, col;
      d_rowcol(t, i, &r, &col);
      if (f.f16_acc) c[t * nd + i / 2] |= uint32_t(fp::f32_to_f16(float(C[r * N + col]), fp::Round::rn, false, false)) << (16 * (i % 2));
      else c[t * nd + i] = fbits(float(C[r * N + col]));
    }
  const uint64_t da = h.upload(afrag), db = h.upload(bimg), dc = h.upload(c), dout = h.alloc(c.size() * 4);
  auto r = h.run(f.name, {1, 1, 1}, {128, 1, 1}, {da, db, dc, dout, desc, uint64_t(bimg.size())});
  CHECK(r.status == Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto o = h.download<uint32_t>(dout, c.size());
  int bad = 0;
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < N / 2; ++i) {
      uint32_t row, col;
      d_rowcol(t, i, &row, &col);
      double want = C[row * N + col];
      for (uint32_t k = 0; k < K; ++k) want += A[row * K + k] * B[k * N + col];
      const double got = f.f16_acc ? fp::f16_to_f32(uint16_t(o[t * nd + i / 2] >> (16 * (i % 2)))) : bitsf(o[t * nd + i]);
      if (got != want && bad++ < 5)
        std::fprintf(stderr, "%s: D[%u][%u] = %g, want %g\n", f.name, row, col, got, want);
    }
  CHECK_EQ(bad, 0);
  std::printf("%s: m64n%uk%u checked against the CPU GEMM\n", f.name, N, K);
}

const char* kErrPtx = R"(
.visible .entry bad_desc(.param .u64 pout)
{
  .reg .b32 %r<40>;
  .reg .b64 %rd<8>;
  .shared .align 1024 .b8 sb[1024];
  mov.u32 %r1, sb;
  cvt.u64.u32 %rd1, %r1;
  shr.u64 %rd1, %rd1, 4;
  or.b64 %rd1, %rd1, 140737488355328;
  mov.b32 %r10, 0;
  mov.b32 %r11, 0;
  mov.b32 %r12, 0;
  mov.b32 %r13, 0;
  wgmma.fence.sync.aligned;
  wgmma.mma_async.sync.aligned.m64n8k16.f32.f16.f16 {%r20, %r21, %r22, %r23}, {%r10, %r11, %r12, %r13}, %rd1, 0, 1, 1, 0;
  wgmma.commit_group.sync.aligned;
  wgmma.wait_group.sync.aligned 0;
  ret;
}
.visible .entry mbar_err(.param .u32 mode)
{
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  .reg .pred %p<2>;
  .shared .align 8 .b64 mb;
  mov.u32 %r1, mb;
  mbarrier.init.shared.b64 [%r1], 1;
  ld.param.u32 %r2, [mode];
  setp.eq.u32 %p1, %r2, 0;
  @%p1 bra OVER;
  mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%r1], 1048575;
  mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%r1], 1;
  ret;
OVER:
  mov.b64 %rd1, 0;
  st.shared.u64 [%r1], %rd1;
  mbarrier.arrive.shared.b64 %rd2, [%r1];
  ret;
}
)";

}  // namespace

int main() {
  const Form forms[] = {
      {"wg_f16_regA_mnB_f32", 64, false, In::f16, true},   // A from registers, B N-major 128B-swizzled, f32 D
      {"wg_f16_regA_mnB_f16", 64, true, In::f16, true},    // the same with f16 accumulators
      {"wg_f16_regA_kB_f16", 24, true, In::f16, false},    // K-major B, f16 accumulators, N = 24
      {"wg_e4m3_regA_kB_f16", 16, true, In::e4m3, false},  // fp8 A fragment from registers, f16 accumulators
      {"wg_e4m3_regA_kB_f32", 32, false, In::e4m3, false},
  };
  std::string ptx = kHeader;
  for (const Form& f : forms) ptx += kernel(f);
  ptx += kErrPtx;
  Harness h(ptx);
  for (int strict = 0; strict < 2; ++strict) {
    h.opt.strict = strict;
    for (const Form& f : forms) check_form(h, f);
  }
  h.opt.strict = false;

  // a descriptor with a reserved bit (47) set: the model refuses it, the interpreter reports it
  auto r = h.run("bad_desc", {1, 1, 1}, {128, 1, 1}, {0});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::InvalidArgument));
  CHECK(h.all_reports().find("reserved bits") != std::string::npos);
  CHECK(h.all_reports().find("PTX line") != std::string::npos);
  // tx-count above 2^20 - 1
  r = h.run("mbar_err", {1, 1, 1}, {1, 1, 1}, {1});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::InvalidArgument));
  CHECK(h.all_reports().find("tx-count above") != std::string::npos);
  // the object overwritten by st.shared before an arrive
  r = h.run("mbar_err", {1, 1, 1}, {1, 1, 1}, {0});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.all_reports().find("overwritten") != std::string::npos);
  std::fputs(h.all_reports().c_str(), stderr);
  return check::finish();
}
