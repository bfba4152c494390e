// dsv3-emu interpreter: negative tests, one per report kind: out of bounds (global one past the end,
// shared, generic to nowhere, write to .const), misaligned, shared race, barrier divergence (threads
// exited before a barrier), deadlock (named barriers that never fill), a collective naming exited lanes,
// strict-mode uninitialised register and shared reads, trap, an unsupported instruction reached; and the
// decode errors (malformed operands, undeclared register, recursion). Each checks the kind, the launch
// status and the report's text (kernel, PTX line, thread, block, address description).
#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;
using Kind = emu::Report::Kind;

static const std::string kPtx = std::string(kHeader) + R"(
.const .align 4 .u32 ro[4];
.visible .entry _Z7oob_gldPKfPfi(.param .u64 pin, .param .u64 pout, .param .u32 n)
{
  .reg .b32 %r<4>;
  .reg .f32 %f<2>;
  .reg .b64 %rd<6>;
  .loc 1 10 0
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %tid.x;
  add.s32 %r3, %r2, %r1;          // reads in[tid + n]: thread 0 with n = len reads one past the end
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd4, %rd1, %rd3;
  .loc 1 12 0
  ld.global.f32 %f1, [%rd4];
  st.global.f32 [%rd2], %f1;
  ret;
}
.visible .entry oob_shared(.param .u32 k)
{
  .reg .b32 %r<4>;
  .shared .align 4 .b8 s[128];
  ld.param.u32 %r1, [k];
  mov.u32 %r2, s;
  add.s32 %r3, %r2, %r1;
  st.shared.u32 [%r3], 7;
  ret;
}
.visible .entry misaligned(.param .u64 p)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [p];
  add.s64 %rd2, %rd1, 2;
  ld.global.u32 %r1, [%rd2];
  ret;
}
.visible .entry nowhere(.param .u64 p)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [p];
  ld.u32 %r1, [%rd1];
  ret;
}
.visible .entry write_const()
{
  .reg .b64 %rd<3>;
  mov.u64 %rd1, ro;
  st.global.u32 [%rd1], 1;
  ret;
}
.visible .entry race(.param .u64 p)
{
  .reg .pred %p<2>;
  .reg .b32 %r<6>;
  .reg .b64 %rd<3>;
  .shared .align 4 .b8 s[64];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, s;
  setp.eq.s32 %p1, %r1, 0;
  @%p1 st.shared.u32 [%r2], 5;
  setp.eq.s32 %p1, %r1, 40;
  @%p1 ld.shared.u32 %r3, [%r2];
  ld.param.u64 %rd1, [p];
  @%p1 st.global.u32 [%rd1], %r3;
  ret;
}
.visible .entry exited_bar()
{
  .reg .pred %p<2>;
  .reg .b32 %r<2>;
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 32;
  @%p1 bra $L_out;
  bar.sync 0;
$L_out:
  ret;
}
.visible .entry deadlock()
{
  .reg .pred %p<2>;
  .reg .b32 %r<2>;
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 32;
  @%p1 bra $L_w1;
  bar.sync 1, 64;
  bra.uni $L_end;
$L_w1:
  bar.sync 2, 64;
$L_end:
  ret;
}
.visible .entry shfl_exited()
{
  .reg .pred %p<2>;
  .reg .b32 %r<4>;
  mov.u32 %r1, %tid.x;
  setp.ge.u32 %p1, %r1, 16;
  @%p1 bra $L_x;
  shfl.sync.bfly.b32 %r2|%p1, %r1, 1, 31, -1;
$L_x:
  ret;
}
.visible .entry uninit_reg(.param .u64 p)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<2>;
  ld.param.u64 %rd1, [p];
  mov.u32 %r1, 3;
  add.s32 %r3, %r1, %r2;
  st.global.u32 [%rd1], %r3;
  ret;
}
.visible .entry uninit_shared(.param .u64 p)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<2>;
  .shared .align 4 .b8 s[64];
  ld.param.u64 %rd1, [p];
  mov.u32 %r1, s;
  st.shared.u32 [%r1], 1;
  ld.shared.u32 %r2, [%r1+4];
  st.global.u32 [%rd1], %r2;
  ret;
}
.visible .entry traps()
{
  trap;
  ret;
}
.visible .entry unsupported(.param .u32 k)
{
  .reg .pred %p<2>;
  .reg .b32 %r<2>;
  ld.param.u32 %r1, [k];
  setp.eq.s32 %p1, %r1, 0;
  @%p1 bra $L_skip;
  mul24.hi.u32 %r1, %r1, %r1;
  setmaxnreg.inc.sync.aligned.u32 240;  // (any instruction the emulator does not implement)
$L_skip:
  ret;
}
)";

static bool contains(const std::string& s, const std::string& what) {
  if (s.find(what) != std::string::npos) return true;
  std::fprintf(stderr, "report lacks \"%s\":\n%s", what.c_str(), s.c_str());
  return false;
}

int main() {
  std::string ptx = kPtx;
  ptx.insert(ptx.find(".const"), ".file 1 \"cuda/oob.cu\"\n");
  Harness h(ptx);
  const uint64_t in = h.alloc(16 * 4), out = h.alloc(64);

  // one past the end of a 16-float allocation
  auto r = h.run("_Z7oob_gldPKfPfi", {1, 1, 1}, {32, 1, 1}, {in, out, 16});
  CHECK(r.status == Status::IllegalAddress);
  CHECK(h.reported(Kind::OutOfBounds));
  CHECK(r.reports >= 1);
  if (!h.reports.empty()) {
    const std::string& t = h.reports[0].text;
    CHECK(contains(t, "========= Invalid __global__ read of size 4 bytes"));
    CHECK(contains(t, "at oob_gld(float const*, float*, int) (PTX line"));
    CHECK(contains(t, "cuda/oob.cu:12"));
    CHECK(contains(t, "by thread (0,0,0) in block (0,0,0)"));
    CHECK(contains(t, "0 bytes after the end of allocation"));
  }
  // in bounds: no report
  r = h.run("_Z7oob_gldPKfPfi", {1, 1, 1}, {16, 1, 1}, {in, out, 0});
  CHECK(r.status == Status::Ok);
  CHECK(h.reports.empty());

  r = h.run("oob_shared", {2, 1, 1}, {1, 1, 1}, {128});
  CHECK(r.status == Status::IllegalAddress);
  CHECK(h.reported(Kind::OutOfBounds));
  if (!h.reports.empty()) CHECK(contains(h.reports[0].text, "Invalid __shared__ write of size 4 bytes"));
  r = h.run("oob_shared", {1, 1, 1}, {1, 1, 1}, {124});
  CHECK(r.status == Status::Ok);

  r = h.run("misaligned", {1, 1, 1}, {1, 1, 1}, {in});
  CHECK(r.status == Status::MisalignedAddress);
  CHECK(h.reported(Kind::Misaligned));

  r = h.run("nowhere", {1, 1, 1}, {1, 1, 1}, {0x1000});
  CHECK(r.status == Status::IllegalAddress);
  if (!h.reports.empty()) CHECK(contains(h.reports[0].text, "no state space"));
  r = h.run("nowhere", {1, 1, 1}, {1, 1, 1}, {0});  // null
  CHECK(r.status == Status::IllegalAddress);

  r = h.run("write_const", {1, 1, 1}, {1, 1, 1}, {});
  CHECK(r.status == Status::IllegalAddress);
  if (!h.reports.empty()) CHECK(contains(h.reports[0].text, "read-only"));

  // a race between warp 0's store and warp 1's load: reported, the launch completes, then fails
  r = h.run("race", {1, 1, 1}, {64, 1, 1}, {out});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Race));
  CHECK_EQ(r.ctas, 1u);
  h.opt.racecheck = false;
  r = h.run("race", {1, 1, 1}, {64, 1, 1}, {out});
  CHECK(r.status == Status::Ok);
  h.opt.racecheck = true;

  r = h.run("exited_bar", {1, 1, 1}, {64, 1, 1}, {});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::BarrierDivergence));
  r = h.run("exited_bar", {1, 1, 1}, {32, 1, 1}, {});
  CHECK(r.status == Status::Ok);

  r = h.run("deadlock", {1, 1, 1}, {64, 1, 1}, {});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Deadlock));
  if (!h.reports.empty()) {
    CHECK(contains(h.reports[0].text, "warp 0, all 32 lanes: waits at barrier 1"));
    CHECK(contains(h.reports[0].text, "warp 1, all 32 lanes: waits at barrier 2"));
  }

  r = h.run("shfl_exited", {1, 1, 1}, {32, 1, 1}, {});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::InvalidArgument));

  // strict mode only
  r = h.run("uninit_reg", {1, 1, 1}, {32, 1, 1}, {out});
  CHECK(r.status == Status::Ok);
  CHECK(h.reports.empty());
  h.opt.strict = true;
  r = h.run("uninit_reg", {1, 1, 1}, {32, 1, 1}, {out});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Uninitialized));
  r = h.run("uninit_shared", {1, 1, 1}, {1, 1, 1}, {out});
  CHECK(r.status == Status::LaunchFailure);
  CHECK(h.reported(Kind::Uninitialized));
  r = h.run("_Z7oob_gldPKfPfi", {1, 1, 1}, {16, 1, 1}, {in, out, 0});  // clean code stays clean
  CHECK(r.status == Status::Ok);
  h.opt.strict = false;

  r = h.run("traps", {1, 1, 1}, {1, 1, 1}, {});
  CHECK(r.status == Status::Trap);
  CHECK(h.reported(Kind::Trap));

  // an unsupported instruction fails only when reached
  r = h.run("unsupported", {1, 1, 1}, {32, 1, 1}, {0});
  CHECK(r.status == Status::Ok);
  r = h.run("unsupported", {1, 1, 1}, {32, 1, 1}, {1});
  CHECK(r.status == Status::IllegalInstruction);
  CHECK(h.reported(Kind::Unsupported));
  if (!h.reports.empty()) CHECK(contains(h.reports[0].text, "setmaxnreg.inc.sync.aligned.u32"));

  // max_reports: every CTA reports (nothing fatal), only 3 delivered, all counted
  h.opt.max_reports = 3;
  r = h.run("exited_bar", {1, 1, 1}, {64, 1, 1}, {});
  CHECK(r.reports >= 1);
  h.opt.max_reports = 100;

  // decode errors
  auto decode_fails = [](const std::string& body, const char* what) {
    try {
      emu::GlobalMemory mem(1 << 20);
      emu::Module::load(emu::ptx::parse(std::string(kHeader) + body, "bad.ptx"), mem);
    } catch (const emu::ptx::ParseError& e) {  // the parser checks declarations itself
      if (std::string(e.what()).find(what) != std::string::npos) return true;
      std::fprintf(stderr, "parse error without \"%s\": %s\n", what, e.what());
      return false;
    } catch (const emu::DecodeError& e) {
      if (std::string(e.what()).find(what) != std::string::npos) return true;
      std::fprintf(stderr, "decode error without \"%s\": %s\n", what, e.what());
      return false;
    }
    return false;
  };
  CHECK(decode_fails(".visible .entry k() { .reg .b32 %r<3>; add.s32 %r1, %r2; ret; }", "expected 3 operands"));
  CHECK(decode_fails(".visible .entry k() { .reg .b32 %r<3>; add.s32 %r1, %r2, %r9; ret; }", "undeclared register %r9"));
  CHECK(decode_fails(".visible .entry k() { bra $L_nowhere; ret; }", "unknown label"));
  CHECK(decode_fails(".func f() { call.uni f, (); ret; }\n.visible .entry k() { call.uni f, (); ret; }", "recursive"));
  return check::finish();
}
