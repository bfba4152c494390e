// dsv3-emu interpreter: memory: atomics on global and shared (add/min/max/inc/dec/and/or/xor/exch/cas,
// u32/s32/u64/f32/f64, red), generic addressing (cvta to/from shared, local, param, global; a generic
// ld/st through each window), vector ld/st, module .global variables with initialisers (incl. a symbol
// address), an inlined .func call with .param passing and a local-memory frame, printf via vprintf.
#include <cmath>
#include <random>

#include "test/unit/interp_harness.h"

using namespace itest;
using Status = emu::LaunchResult::Status;

static const std::string kPtx = std::string(kHeader) + R"(
.global .align 4 .u32 table[4] = {10, 20, 30, 40};
.global .align 8 .u64 table_ptr = generic(table);
.const .align 4 .f32 scale = 0f40000000;
.global .align 1 .b8 fmt[20] = {116, 105, 100, 61, 37, 100, 32, 120, 61, 37, 46, 50, 102, 10, 0};

.func (.param .b32 ret0) addmul(.param .b32 a, .param .b32 b)
{
  .local .align 8 .b8 frame[16];
  .reg .b32 %r<6>;
  .reg .b64 %rd<3>;
  ld.param.b32 %r1, [a];
  ld.param.b32 %r2, [b];
  mov.u64 %rd1, frame;
  st.local.u32 [%rd1], %r1;
  st.local.u32 [%rd1+4], %r2;
  ld.local.v2.u32 {%r3, %r4}, [%rd1];
  mad.lo.s32 %r5, %r3, %r4, %r3;
  st.param.b32 [ret0], %r5;
  ret;
}

.visible .entry atoms(.param .u64 pg, .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<20>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<12>;
  .reg .f64 %fd<3>;
  .shared .align 8 .b8 sh[64];
  ld.param.u64 %rd1, [pg];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, sh;
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_init_done;
  st.shared.u32 [%r2], 0;
  st.shared.u32 [%r2+4], 0;
  st.shared.u32 [%r2+8], 0;
$L_init_done:
  bar.sync 0;
  atom.global.add.u32 %r3, [%rd1], 1;           // ticket
  atom.global.max.s32 %r4, [%rd1+4], %r1;
  sub.s32 %r5, 1000, %r1;
  atom.global.min.u32 %r6, [%rd1+8], %r5;
  atom.global.inc.u32 %r7, [%rd1+12], 9;        // wraps at 10
  atom.global.dec.u32 %r8, [%rd1+16], 6;
  shl.b32 %r9, 1, %r1;
  and.b32 %r9, %r9, 0xFFFF;
  red.global.or.b32 [%rd1+20], %r9;
  red.global.xor.b32 [%rd1+24], %r1;
  cvt.rn.f32.u32 %f1, %r1;
  atom.global.add.f32 %f2, [%rd1+28], %f1;
  cvt.rn.f64.u32 %fd1, %r1;
  atom.global.add.f64 %fd2, [%rd1+32], %fd1;
  cvt.u64.u32 %rd3, %r1;
  atom.global.add.u64 %rd4, [%rd1+40], %rd3;
  atom.global.exch.b32 %r10, [%rd1+48], %r1;
  // cas loop: each thread increments [52] by one with compare-and-swap
$L_cas:
  ld.volatile.global.u32 %r11, [%rd1+52];
  add.s32 %r12, %r11, 1;
  atom.global.cas.b32 %r13, [%rd1+52], %r11, %r12;
  setp.ne.s32 %p1, %r13, %r11;
  @%p1 bra $L_cas;
  atom.shared.add.u32 %r14, [%r2], %r1;
  atom.shared.cas.b32 %r15, [%r2+4], %r1, 1000;  // only thread 0 sees 0 == tid
  red.shared.add.u32 [%r2+8], 2;
  bar.sync 0;
  @!%p1 bra $L_x;
$L_x:
  setp.eq.s32 %p1, %r1, 0;
  @!%p1 bra $L_end;
  ld.shared.v2.u32 {%r16, %r17}, [%r2];
  ld.shared.u32 %r18, [%r2+8];
  st.global.v2.u32 [%rd2], {%r16, %r17};
  st.global.u32 [%rd2+8], %r18;
$L_end:
  ret;
}

.visible .entry generic(.param .u64 pout, .param .u32 k)
{
  .local .align 8 .b8 loc[32];
  .shared .align 8 .b8 sm[256];
  .reg .pred %p<2>;
  .reg .b32 %r<20>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<24>;
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd2, %r1, 32;
  add.s64 %rd3, %rd1, %rd2;
  // shared through a generic pointer
  mov.u64 %rd4, sm;
  cvta.shared.u64 %rd5, %rd4;
  shl.b32 %r2, %r1, 2;
  cvt.u64.u32 %rd6, %r2;
  add.s64 %rd7, %rd5, %rd6;
  add.s32 %r3, %r1, 100;
  st.u32 [%rd7], %r3;
  bar.sync 0;
  cvta.to.shared.u64 %rd8, %rd7;
  ld.shared.u32 %r5, [%rd8];
  // local through a generic pointer
  mov.u64 %rd9, loc;
  cvta.local.u64 %rd10, %rd9;
  add.s32 %r6, %r1, 200;
  st.u32 [%rd10+8], %r6;
  ld.local.u32 %r7, [%rd9+8];
  // param through a generic pointer
  mov.u64 %rd11, k;
  cvta.param.u64 %rd12, %rd11;
  ld.u32 %r8, [%rd12];
  // global variables: generic pointer from an initialiser, .const
  ld.global.u64 %rd13, [table_ptr];
  ld.u32 %r11, [%rd13+8];
  mov.u64 %rd14, table+4;              // a symbol plus an offset
  ld.global.u32 %r12, [%rd14];
  add.s32 %r9, %r11, %r12;             // 30 + 20
  ld.const.f32 %f1, [scale];
  cvt.rn.f32.u32 %f2, %r1;
  mul.f32 %f3, %f1, %f2;
  // inlined call
  {
    .param .b32 param0;
    st.param.b32 [param0], %r1;
    .param .b32 param1;
    st.param.b32 [param1], 3;
    .param .b32 retval0;
    call.uni (retval0), addmul, (param0, param1);
    ld.param.b32 %r10, [retval0];
  }
  st.global.v4.u32 [%rd3], {%r5, %r7, %r8, %r9};
  st.global.f32 [%rd3+16], %f3;
  st.global.u32 [%rd3+20], %r10;
  ret;
}

.extern .func (.param .b32 func_retval0) vprintf(.param .b64 vprintf_param_0, .param .b64 vprintf_param_1);

.visible .entry hello()
{
  .local .align 8 .b8 __local_depot[16];
  .reg .b32 %r<4>;
  .reg .f64 %fd<2>;
  .reg .b64 %rd<8>;
  mov.u64 %rd1, __local_depot;
  cvta.local.u64 %rd2, %rd1;
  mov.u32 %r1, %tid.x;
  cvt.rn.f64.u32 %fd1, %r1;
  st.local.u32 [%rd1], %r1;
  st.local.f64 [%rd1+8], %fd1;
  mov.u64 %rd3, fmt;
  cvta.global.u64 %rd4, %rd3;
  {
    .param .b64 param0;
    st.param.b64 [param0], %rd4;
    .param .b64 param1;
    st.param.b64 [param1], %rd2;
    .param .b32 retval0;
    call.uni (retval0), vprintf, (param0, param1);
    ld.param.b32 %r2, [retval0];
  }
  ret;
}
)";

int main() {
  Harness h(kPtx);
  // ---- atomics: 3 blocks of 96 threads on one global record ----
  std::vector<uint32_t> g(16, 0);
  g[8 / 4] = 0xFFFFFFFFu;  // min starts high
  g[4 / 4] = 0x80000000u;  // max.s32 starts at INT_MIN
  const uint64_t dg = h.upload(g), dout = h.alloc(16);
  auto r = h.run("atoms", {3, 1, 1}, {96, 1, 1}, {dg, dout});
  CHECK(r.status == Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto G = h.download<uint32_t>(dg, 16);
  const int T = 3 * 96;
  CHECK_EQ(G[0], uint32_t(T));
  CHECK_EQ(G[1], 95u);
  CHECK_EQ(G[2], 1000u - 95u);
  CHECK_EQ(G[3], uint32_t(T % 10));  // inc with bound 9: counts 0..9 then wraps
  {
    uint32_t d = 0;
    for (int i = 0; i < T; ++i) d = (d == 0 || d > 6) ? 6 : d - 1;
    CHECK_EQ(G[4], d);
  }
  CHECK_EQ(G[5], 0xFFFFu);
  CHECK_EQ(G[6], 0u);  // each tid 0..95 xor'ed 3 times: x ^ x ^ x over all = xor of 0..95 = 0
  float fs;
  std::memcpy(&fs, &G[7], 4);
  CHECK_EQ(fs, 3.0f * (95 * 96 / 2));
  double ds;
  std::memcpy(&ds, &G[8], 8);
  CHECK_EQ(ds, 3.0 * (95 * 96 / 2));
  CHECK_EQ(uint64_t(G[10]) | (uint64_t(G[11]) << 32), uint64_t(3) * (95 * 96 / 2));
  CHECK(G[12] < 96u);
  CHECK_EQ(G[13], uint32_t(T));
  auto S = h.download<uint32_t>(dout, 3);
  CHECK_EQ(S[0], uint32_t(95 * 96 / 2));
  CHECK_EQ(S[1], 1000u);
  CHECK_EQ(S[2], 2u * 96);

  // ---- generic addressing, local memory, param space, module variables, inlined call ----
  const uint64_t dgen = h.alloc(64 * 32);
  r = h.run("generic", {1, 1, 1}, {64, 1, 1}, {dgen, 4242});
  CHECK(r.status == Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto o = h.download<uint32_t>(dgen, 64 * 8);
  int bad = 0;
  for (uint32_t t = 0; t < 64; ++t) {
    const uint32_t* row = &o[t * 8];
    float f;
    std::memcpy(&f, &row[4], 4);
    bad += row[0] != t + 100;
    bad += row[1] != t + 200;
    bad += row[2] != 4242u;
    bad += row[3] != 50u;
    bad += f != 2.0f * float(t);
    bad += row[5] != t * 3 + t;
  }
  CHECK_EQ(bad, 0);
  uint64_t sz = 0;
  CHECK(h.mod->symbol_address("table", &sz) != 0);
  CHECK_EQ(sz, uint64_t(16));
  CHECK_EQ(h.mod->symbol_address("nothing"), uint64_t(0));

  // ---- cache hints: createpolicy and the .L2::cache_hint forms (a policy operand, ignored) ----
  {
    Harness hh(std::string(kHeader) + R"(
.visible .entry k(.param .u64 p)
{
  .reg .b32 %r<3>;
  .reg .b64 %rd<3>;
  ld.param.u64 %rd1, [p];
  createpolicy.fractional.L2::evict_last.b64 %rd2, 1.0;
  ld.global.L2::cache_hint.u32 %r1, [%rd1], %rd2;
  add.s32 %r2, %r1, 1;
  st.global.L2::cache_hint.u32 [%rd1], %r2, %rd2;
  ret;
}
)");
    const uint64_t d = hh.upload(std::vector<uint32_t>{41});
    auto rr = hh.run("k", {1, 1, 1}, {1, 1, 1}, {d});
    CHECK(rr.status == Status::Ok);
    CHECK_EQ(hh.download<uint32_t>(d, 1)[0], 42u);
  }

  // ---- 32-bit address registers wrap modulo 2^32 (rope.cu after strength reduction: [%r+1024] with
  // %r = 0xFFFFFC00 + x); 64-bit registers (global) keep the full 64-bit sum ----
  {
    Harness hh(std::string(kHeader) + R"(
.visible .entry wrap(.param .u64 p)
{
  .reg .b32 %r<10>;
  .reg .b64 %rd<8>;
  .shared .align 4 .b8 sh[256];
  ld.param.u64 %rd1, [p];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, sh;
  shl.b32 %r3, %r1, 2;
  add.s32 %r3, %r2, %r3;
  add.s32 %r4, %r1, 100;
  add.s32 %r5, %r3, -1024;
  st.shared.u32 [%r5+1024], %r4;
  bar.sync 0;
  xor.b32 %r6, %r1, 1;
  shl.b32 %r6, %r6, 2;
  add.s32 %r6, %r2, %r6;
  add.s32 %r6, %r6, -4096;
  ld.shared.u32 %r7, [%r6+4096];
  cvt.u64.u32 %rd2, %r1;
  shl.b64 %rd2, %rd2, 2;
  add.s64 %rd3, %rd1, %rd2;
  add.s64 %rd4, %rd3, 4294967296;
  st.global.u32 [%rd4+-4294967296], %r7;
  ret;
}
)");
    const uint64_t d = hh.alloc(64 * 4);
    auto rr = hh.run("wrap", {1, 1, 1}, {64, 1, 1}, {d});
    std::fputs(hh.all_reports().c_str(), stderr);
    CHECK(rr.status == Status::Ok);
    const auto got = hh.download<uint32_t>(d, 64);
    int wbad = 0;
    for (uint32_t t = 0; t < 64; ++t) wbad += got[t] != (t ^ 1) + 100;
    CHECK_EQ(wbad, 0);
  }

  // ---- printf ----
  std::fflush(stdout);
  r = h.run("hello", {1, 1, 1}, {2, 1, 1}, {});
  CHECK(r.status == Status::Ok);
  return check::finish();
}
