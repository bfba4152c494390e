// dsv3-emu interpreter: integer and bit instructions (PTX ISA 9.0 §9.7.1-9.7.3, 9.7.6-9.7.7) against a
// CPU computation of the ISA's definitions: each case is a PTX snippet computing %r4 from %r1, %r2, %r3
// (random and edge values), run for 256 threads; carry chains (add.cc/addc/sub.cc/subc/mad.cc/madc)
// build 64- and 96-bit arithmetic out of 32-bit parts.
#include <functional>
#include <random>

#include "test/unit/interp_harness.h"

using namespace itest;

struct Case {
  const char* ptx;
  std::function<uint32_t(uint32_t, uint32_t, uint32_t)> cpu;
};

static uint32_t bitrev(uint32_t x) {
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
static uint32_t bfe(uint32_t a, uint32_t b, uint32_t c, bool s) {
  const int pos = b & 0xFF, len = c & 0xFF;
  uint32_t sbit = (s && len > 0) ? (a >> std::min(pos + len - 1, 31)) & 1 : 0;
  uint32_t r = 0;
  for (int i = 0; i < 32; ++i) r |= ((i < len && pos + i <= 31) ? (a >> (pos + i)) & 1 : sbit) << i;
  return r;
}

int main() {
  using i32 = int32_t;
  using u64 = uint64_t;
  std::vector<Case> cases = {
      {"add.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return a + b; }},
      {"sub.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return a - b; }},
      {"add.sat.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) {
         int64_t r = int64_t(i32(a)) + i32(b);
         return uint32_t(i32(r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : r)); }},
      {"mul.lo.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return a * b; }},
      {"mul.hi.u32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return uint32_t((u64(a) * b) >> 32); }},
      {"mul.hi.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return uint32_t(u64(int64_t(i32(a)) * i32(b)) >> 32); }},
      {"mul.wide.s32 %rd20, %r1, %r2; cvt.u32.u64 %r5, %rd20; shr.u64 %rd21, %rd20, 32; cvt.u32.u64 %r6, %rd21; xor.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t) { u64 p = u64(int64_t(i32(a)) * i32(b)); return uint32_t(p) ^ uint32_t(p >> 32); }},
      {"mul.wide.u32 %rd20, %r1, %r2; shr.u64 %rd21, %rd20, 32; cvt.u32.u64 %r4, %rd21;",
       [](uint32_t a, uint32_t b, uint32_t) { return uint32_t((u64(a) * b) >> 32); }},
      {"mad.lo.s32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) { return a * b + c; }},
      {"mad.hi.u32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) { return uint32_t((u64(a) * b) >> 32) + c; }},
      {"div.u32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return b ? a / b : 0xFFFFFFFFu; }},
      {"rem.u32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return b ? a % b : 0xFFFFFFFFu; }},
      {"div.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) {
         return b == 0 ? 0xFFFFFFFFu : i32(b) == -1 ? 0u - a : uint32_t(i32(a) / i32(b)); }},
      {"rem.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) {
         return b == 0 ? 0xFFFFFFFFu : i32(b) == -1 ? 0u : uint32_t(i32(a) % i32(b)); }},
      {"and.b32 %r5, %r2, 63; shl.b32 %r4, %r1, %r5;", [](uint32_t a, uint32_t b, uint32_t) { uint32_t n = b & 63; return n >= 32 ? 0 : a << n; }},
      {"and.b32 %r5, %r2, 63; shr.u32 %r4, %r1, %r5;", [](uint32_t a, uint32_t b, uint32_t) { uint32_t n = b & 63; return n >= 32 ? 0 : a >> n; }},
      {"and.b32 %r5, %r2, 63; shr.s32 %r4, %r1, %r5;", [](uint32_t a, uint32_t b, uint32_t) {
         uint32_t n = b & 63; return uint32_t(n >= 32 ? (i32(a) < 0 ? -1 : 0) : i32(a) >> n); }},
      {"shl.b32 %r4, %r1, 33;", [](uint32_t, uint32_t, uint32_t) { return 0u; }},
      {"bfe.u32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) { return bfe(a, b, c, false); }},
      {"bfe.s32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) { return bfe(a, b, c, true); }},
      {"and.b32 %r5, %r3, 31; and.b32 %r6, %r2, 15; bfi.b32 %r4, %r1, %r2, %r5, %r6;", [](uint32_t a, uint32_t b, uint32_t c) {
         int pos = c & 31, len = b & 15; uint32_t r = b;
         for (int i = 0; i < len && pos + i < 32; ++i) r = (r & ~(1u << (pos + i))) | (((a >> i) & 1) << (pos + i));
         return r; }},
      {"brev.b32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return bitrev(a); }},
      {"clz.b32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return a ? uint32_t(__builtin_clz(a)) : 32u; }},
      {"popc.b32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return uint32_t(__builtin_popcount(a)); }},
      {"bfind.u32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return a ? uint32_t(31 - __builtin_clz(a)) : 0xFFFFFFFFu; }},
      {"bfind.shiftamt.u32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return a ? uint32_t(__builtin_clz(a)) : 0xFFFFFFFFu; }},
      {"bfind.s32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) {
         uint32_t v = i32(a) < 0 ? ~a : a; return v ? uint32_t(31 - __builtin_clz(v)) : 0xFFFFFFFFu; }},
      {"prmt.b32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) {
         u64 bytes = (u64(b) << 32) | a; uint32_t r = 0;
         for (int i = 0; i < 4; ++i) { uint32_t s = (c >> (4 * i)) & 15; uint32_t v = (bytes >> (8 * (s & 7))) & 0xFF;
           if (s & 8) v = (v & 0x80) ? 0xFF : 0; r |= v << (8 * i); }
         return r; }},
      {"prmt.b32.f4e %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) {
         u64 bytes = (u64(b) << 32) | a; uint32_t r = 0; int n = c & 3;
         for (int i = 0; i < 4; ++i) r |= uint32_t((bytes >> (8 * ((n + i) & 7))) & 0xFF) << (8 * i);
         return r; }},
      {"lop3.b32 %r4, %r1, %r2, %r3, 0xE8;", [](uint32_t a, uint32_t b, uint32_t c) { return (a & b) | (a & c) | (b & c); }},
      {"lop3.b32 %r4, %r1, %r2, %r3, 0x96;", [](uint32_t a, uint32_t b, uint32_t c) { return a ^ b ^ c; }},
      {"shf.l.wrap.b32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) {
         uint32_t n = c & 31; return uint32_t((((u64(b) << 32) | a) << n) >> 32); }},
      {"shf.r.clamp.b32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) {
         uint32_t n = std::min(c, 32u); return uint32_t(((u64(b) << 32) | a) >> n); }},
      {"min.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return uint32_t(std::min(i32(a), i32(b))); }},
      {"max.u32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return std::max(a, b); }},
      {"abs.s32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return i32(a) < 0 ? 0u - a : a; }},
      {"neg.s32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return 0u - a; }},
      {"not.b32 %r4, %r1;", [](uint32_t a, uint32_t, uint32_t) { return ~a; }},
      {"and.b32 %r5, %r1, 1; cnot.b32 %r4, %r5;", [](uint32_t a, uint32_t, uint32_t) { return (a & 1) ? 0u : 1u; }},
      {"setp.lt.s32 %p1, %r1, %r2; selp.b32 %r4, %r3, 77, %p1;", [](uint32_t a, uint32_t b, uint32_t c) { return i32(a) < i32(b) ? c : 77u; }},
      {"setp.lo.u32 %p1|%p2, %r1, %r2; selp.b32 %r5, 1, 0, %p1; selp.b32 %r6, 2, 0, %p2; or.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t) { return a < b ? 1u : 2u; }},
      {"setp.ne.s32 %p3, %r3, 0; setp.ge.and.u32 %p1|%p2, %r1, %r2, %p3; selp.b32 %r5, 1, 0, %p1; selp.b32 %r6, 2, 0, %p2; or.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t c) { bool t = a >= b, p = c != 0; return uint32_t((t && p) ? 1 : 0) | uint32_t((!t && p) ? 2 : 0); }},
      {"setp.eq.s32 %p3, %r3, 5; setp.gt.xor.s32 %p1, %r1, %r2, !%p3; selp.b32 %r4, 1, 0, %p1;",
       [](uint32_t a, uint32_t b, uint32_t c) { return uint32_t((i32(a) > i32(b)) != (c != 5)); }},
      {"set.le.u32.s32 %r4, %r1, %r2;", [](uint32_t a, uint32_t b, uint32_t) { return i32(a) <= i32(b) ? 0xFFFFFFFFu : 0u; }},
      {"slct.u32.s32 %r4, %r1, %r2, %r3;", [](uint32_t a, uint32_t b, uint32_t c) { return i32(c) >= 0 ? a : b; }},
      {"cvt.u16.u32 %rs1, %r1; cvt.u32.u16 %r4, %rs1;", [](uint32_t a, uint32_t, uint32_t) { return a & 0xFFFF; }},
      {"cvt.s16.s32 %rs1, %r1; cvt.s32.s16 %r4, %rs1;", [](uint32_t a, uint32_t, uint32_t) { return uint32_t(int32_t(int16_t(a))); }},
      {"cvt.sat.s8.s32 %rs1, %r1; cvt.s32.s8 %r4, %rs1;", [](uint32_t a, uint32_t, uint32_t) {
         i32 v = i32(a); return uint32_t(v < -128 ? -128 : v > 127 ? 127 : v); }},
      {"cvt.sat.u16.s32 %rs1, %r1; cvt.u32.u16 %r4, %rs1;", [](uint32_t a, uint32_t, uint32_t) {
         i32 v = i32(a); return uint32_t(v < 0 ? 0 : v > 65535 ? 65535 : v); }},
      {"cvt.s64.s32 %rd20, %r1; shr.u64 %rd21, %rd20, 32; cvt.u32.u64 %r4, %rd21;",
       [](uint32_t a, uint32_t, uint32_t) { return i32(a) < 0 ? 0xFFFFFFFFu : 0u; }},
      {"mov.b32 {%rs1, %rs2}, %r1; mov.b32 %r4, {%rs2, %rs1};", [](uint32_t a, uint32_t, uint32_t) { return (a >> 16) | (a << 16); }},
      {"mov.b64 %rd20, {%r1, %r2}; shr.u64 %rd21, %rd20, 24; cvt.u32.u64 %r4, %rd21;",
       [](uint32_t a, uint32_t b, uint32_t) { return uint32_t(((u64(b) << 32) | a) >> 24); }},
      {"add.s16 %rs1, 0x7FFF, 1; mul.wide.u16 %r5, %rs1, 3; and.b16 %rs2, %rs1, 0xF0F0; cvt.u32.u16 %r6, %rs2; add.s32 %r4, %r5, %r6;",
       [](uint32_t, uint32_t, uint32_t) { return 0x8000u * 3 + (0x8000u & 0xF0F0u); }},
      // 64-bit add and sub out of 32-bit halves with the carry flag
      {"add.cc.u32 %r5, %r1, %r2; addc.u32 %r6, %r3, %r3; xor.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t c) { u64 x = (u64(c) << 32) | a, y = (u64(c) << 32) | b, s = x + y; return uint32_t(s) ^ uint32_t(s >> 32); }},
      {"sub.cc.u32 %r5, %r1, %r2; subc.u32 %r6, %r3, 7; xor.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t c) { u64 x = (u64(c) << 32) | a, y = (u64(7) << 32) | b, s = x - y; return uint32_t(s) ^ uint32_t(s >> 32); }},
      // 96-bit: (a, b, c) + (b, c, a), top word
      {"add.cc.u32 %r5, %r1, %r2; addc.cc.u32 %r6, %r2, %r3; addc.u32 %r4, %r3, %r1;",
       [](uint32_t a, uint32_t b, uint32_t c) {
         u64 s0 = u64(a) + b; u64 s1 = u64(b) + c + (s0 >> 32); return uint32_t(u64(c) + a + (s1 >> 32)); }},
      // 32x32 -> 64 with mad.lo.cc / madc.hi: lo(a*b)+c, hi(a*b)+carry
      {"mad.lo.cc.u32 %r5, %r1, %r2, %r3; madc.hi.u32 %r6, %r1, %r2, 0; xor.b32 %r4, %r5, %r6;",
       [](uint32_t a, uint32_t b, uint32_t c) { u64 p = u64(a) * b + c; return uint32_t(p) ^ uint32_t(p >> 32); }},
      {"add.cc.u32 %r5, %r1, %r2; madc.lo.cc.u32 %r6, %r1, %r3, %r2; addc.u32 %r7, 0, 0; add.s32 %r4, %r6, %r7;",
       [](uint32_t a, uint32_t b, uint32_t c) {
         uint32_t cf = (u64(a) + b) >> 32; u64 s = u64(a * c) + b + cf; return uint32_t(s) + uint32_t(s >> 32); }},
  };
  std::string ptx = std::string(kHeader) +
                    ".visible .entry ints(.param .u64 pa, .param .u64 pb, .param .u64 pc, .param .u64 pout)\n{\n"
                    ".reg .pred %p<4>;\n.reg .b16 %rs<4>;\n.reg .b32 %r<10>;\n.reg .b64 %rd<24>;\n"
                    "ld.param.u64 %rd1, [pa];\nld.param.u64 %rd2, [pb];\nld.param.u64 %rd3, [pc];\nld.param.u64 %rd4, [pout];\n"
                    "mov.u32 %r9, %tid.x;\nmul.wide.u32 %rd5, %r9, 4;\nadd.s64 %rd1, %rd1, %rd5;\nadd.s64 %rd2, %rd2, %rd5;\n"
                    "add.s64 %rd3, %rd3, %rd5;\nadd.s64 %rd4, %rd4, %rd5;\n"
                    "ld.global.u32 %r1, [%rd1];\nld.global.u32 %r2, [%rd2];\nld.global.u32 %r3, [%rd3];\n";
  const int N = 256;
  for (size_t i = 0; i < cases.size(); ++i)
    ptx += std::string(cases[i].ptx) + "\nst.global.u32 [%rd4+" + std::to_string(i * N * 4) + "], %r4;\n";
  ptx += "ret;\n}\n";
  Harness h(ptx);
  std::mt19937 rng(3);
  const uint32_t edge[] = {0, 1, 2, 0xFFFFFFFFu, 0x80000000u, 0x7FFFFFFFu, 31, 32, 33, 0xFFFF, 0x10000, 7, 5, 64, 0xFFFFFF80u};
  std::vector<uint32_t> a(N), b(N), c(N);
  for (int i = 0; i < N; ++i) {
    a[i] = i < 15 ? edge[i] : rng();
    b[i] = i >= 15 && i < 30 ? edge[i - 15] : (i % 3 == 0 ? rng() % 40 : rng());
    c[i] = i >= 30 && i < 45 ? edge[i - 30] : (i % 4 == 0 ? rng() % 40 : rng());
  }
  const uint64_t da = h.upload(a), db = h.upload(b), dc = h.upload(c), dout = h.alloc(cases.size() * N * 4);
  auto r = h.run("ints", {1, 1, 1}, {N, 1, 1}, {da, db, dc, dout});
  CHECK(r.status == emu::LaunchResult::Status::Ok);
  std::fputs(h.all_reports().c_str(), stderr);
  auto out = h.download<uint32_t>(dout, cases.size() * N);
  for (size_t k = 0; k < cases.size(); ++k) {
    int bad = 0, first = -1;
    for (int i = 0; i < N; ++i)
      if (out[k * N + i] != cases[k].cpu(a[i], b[i], c[i])) {
        if (first < 0) first = i;
        ++bad;
      }
    if (bad)
      std::fprintf(stderr, "case `%s`: %d mismatches, first thread %d (a=%08x b=%08x c=%08x): got %08x want %08x\n",
                   cases[k].ptx, bad, first, a[first], b[first], c[first], out[k * N + first],
                   cases[k].cpu(a[first], b[first], c[first]));
    CHECK_EQ(bad, 0);
  }
  std::printf("%zu integer cases x %d threads\n", cases.size(), N);
  return check::finish();
}
