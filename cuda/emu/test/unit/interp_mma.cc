// dsv3-emu interpreter: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (and .f16) fed by ldmatrix
// (.x4 for A, .x2 and .x2.trans for B) from shared memory, random data against a CPU GEMM, several
// tiles per launch; the C/D fragment is written back by the PTX ISA formula (row = lane/4 (+8),
// col = 2*(lane%4) + (i&1)), so a wrong A/B/C table or ldmatrix distribution fails the comparison.
#include <cmath>
#include <random>

#include "test/unit/interp_harness.h"

namespace emu::interp {
void mma_layout(char which, int lane, int i, int* row, int* col);
void mma8_layout(char which, int lane, int i, int* row, int* col);
}

using namespace itest;
using Status = emu::LaunchResult::Status;

// One warp per tile: A 16x16 row-major (bf16/f16), Bt 8x16 (B column-major) and Bk 16x8 (B row-major),
// C 16x8 f32; out1 = A*B + C through ldmatrix.x2, out2 through ldmatrix.x2.trans.
static std::string kernel(const char* ty) {
  return std::string(R"(
.visible .entry mma_)") + ty + R"((.param .u64 pa, .param .u64 pbt, .param .u64 pbk, .param .u64 pc, .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<60>;
  .reg .f32 %f<20>;
  .reg .b64 %rd<20>;
  .shared .align 16 .b8 sa[512];
  .shared .align 16 .b8 sbt[256];
  .shared .align 16 .b8 sbk[256];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pbt];
  ld.param.u64 %rd3, [pbk];
  ld.param.u64 %rd4, [pc];
  ld.param.u64 %rd5, [pout];
  // this tile's inputs: A at 512 bytes per tile, B 256, C 512
  mul.wide.u32 %rd6, %r2, 512;
  add.s64 %rd1, %rd1, %rd6;
  add.s64 %rd4, %rd4, %rd6;
  mul.wide.u32 %rd7, %r2, 256;
  add.s64 %rd2, %rd2, %rd7;
  add.s64 %rd3, %rd3, %rd7;
  mul.wide.u32 %rd8, %r2, 1024;
  add.s64 %rd5, %rd5, %rd8;
  // copy A (32 x 16 bytes) and B (2 x 16 x 16 bytes) into shared memory: 16 bytes per lane
  mul.wide.u32 %rd9, %r1, 16;
  add.s64 %rd10, %rd1, %rd9;
  ld.global.v4.u32 {%r3, %r4, %r5, %r6}, [%rd10];
  mov.u32 %r7, sa;
  shl.b32 %r8, %r1, 4;
  add.s32 %r9, %r7, %r8;
  st.shared.v4.u32 [%r9], {%r3, %r4, %r5, %r6};
  setp.lt.u32 %p1, %r1, 16;
  @!%p1 bra $L_copied;
  add.s64 %rd11, %rd2, %rd9;
  ld.global.v4.u32 {%r3, %r4, %r5, %r6}, [%rd11];
  mov.u32 %r10, sbt;
  add.s32 %r11, %r10, %r8;
  st.shared.v4.u32 [%r11], {%r3, %r4, %r5, %r6};
  add.s64 %rd12, %rd3, %rd9;
  ld.global.v4.u32 {%r3, %r4, %r5, %r6}, [%rd12];
  mov.u32 %r12, sbk;
  add.s32 %r13, %r12, %r8;
  st.shared.v4.u32 [%r13], {%r3, %r4, %r5, %r6};
$L_copied:
  bar.warp.sync -1;
  // A: lane l gives row (l%8) + 8*((l/8)&1), column block (l/16)*8
  and.b32 %r14, %r1, 7;
  shr.u32 %r15, %r1, 3;
  and.b32 %r16, %r15, 1;
  shl.b32 %r17, %r16, 3;
  add.s32 %r18, %r14, %r17;       // row
  shr.u32 %r19, %r1, 4;
  shl.b32 %r20, %r19, 4;          // byte offset of the column block
  shl.b32 %r21, %r18, 5;
  add.s32 %r22, %r21, %r20;
  add.s32 %r23, %r7, %r22;
  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r24, %r25, %r26, %r27}, [%r23];
  // Bt (n-major): lane l (< 16) gives row n = l%8, k block (l/8)*8
  and.b32 %r28, %r15, 1;
  shl.b32 %r29, %r28, 4;
  shl.b32 %r30, %r14, 5;
  add.s32 %r31, %r30, %r29;
  mov.u32 %r10, sbt;
  add.s32 %r32, %r10, %r31;
  ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%r33, %r34}, [%r32];
  // Bk (k-major): lane l (< 16) gives row k = l
  and.b32 %r35, %r1, 15;
  shl.b32 %r36, %r35, 4;
  mov.u32 %r12, sbk;
  add.s32 %r37, %r12, %r36;
  ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%r38, %r39}, [%r37];
  // C fragment from global by the ISA formula
  shr.u32 %r40, %r1, 2;            // groupID
  and.b32 %r41, %r1, 3;            // threadID_in_group
  shl.b32 %r42, %r40, 3;
  shl.b32 %r43, %r41, 1;
  add.s32 %r44, %r42, %r43;        // row g, col 2t: index g*8 + 2t
  mul.wide.u32 %rd13, %r44, 4;
  add.s64 %rd14, %rd4, %rd13;
  ld.global.v2.f32 {%f1, %f2}, [%rd14];
  ld.global.v2.f32 {%f3, %f4}, [%rd14+256];
  mma.sync.aligned.m16n8k16.row.col.f32.)" + ty + "." + ty + R"(.f32 {%f5, %f6, %f7, %f8}, {%r24, %r25, %r26, %r27}, {%r33, %r34}, {%f1, %f2, %f3, %f4};
  mma.sync.aligned.m16n8k16.row.col.f32.)" + ty + "." + ty + R"(.f32 {%f9, %f10, %f11, %f12}, {%r24, %r25, %r26, %r27}, {%r38, %r39}, {%f1, %f2, %f3, %f4};
  add.s64 %rd15, %rd5, %rd13;
  st.global.v2.f32 [%rd15], {%f5, %f6};
  st.global.v2.f32 [%rd15+256], {%f7, %f8};
  st.global.v2.f32 [%rd15+512], {%f9, %f10};
  st.global.v2.f32 [%rd15+768], {%f11, %f12};
  ret;
}
)";
}

static uint16_t to_bf16(float f) {
  uint32_t b = fbits(f);
  return uint16_t((b + 0x7FFF + ((b >> 16) & 1)) >> 16);
}
static float from_bf16(uint16_t h) { return bitsf(uint32_t(h) << 16); }

int main() {
  // the fragment tables against the ISA's formulas, and each (row, col) covered exactly once per fragment
  {
    int cover_a[16][16] = {}, cover_b[16][8] = {}, cover_c[16][8] = {};
    int bad = 0;
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane % 4;
      for (int i = 0; i < 8; ++i) {
        int r, c;
        emu::interp::mma_layout('a', lane, i, &r, &c);
        bad += r != ((i < 2 || (i >= 4 && i < 6)) ? g : g + 8);
        bad += c != (i < 4 ? t * 2 + (i & 1) : t * 2 + (i & 1) + 8);
        ++cover_a[r][c];
      }
      for (int i = 0; i < 4; ++i) {
        int r, c;
        emu::interp::mma_layout('b', lane, i, &r, &c);
        bad += r != (i < 2 ? t * 2 + (i & 1) : t * 2 + (i & 1) + 8) || c != g;
        ++cover_b[r][c];
        emu::interp::mma_layout('c', lane, i, &r, &c);
        bad += r != (i < 2 ? g : g + 8) || c != t * 2 + (i & 1);
        ++cover_c[r][c];
      }
    }
    for (int r = 0; r < 16; ++r)
      for (int c = 0; c < 16; ++c) bad += cover_a[r][c] != 1 || (c < 8 && (cover_b[r][c] != 1 || cover_c[r][c] != 1));
    CHECK_EQ(bad, 0);
  }

  // the 8-bit (m16n8k32) tables: the ISA formulas, each element once
  {
    int cover_a[16][32] = {}, cover_b[32][8] = {};
    int bad = 0;
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane % 4;
      for (int i = 0; i < 16; ++i) {
        int r, c;
        emu::interp::mma8_layout('A', lane, i, &r, &c);
        bad += r != ((i < 4 || (i >= 8 && i < 12)) ? g : g + 8) || c != (i < 8 ? t * 4 + (i & 3) : t * 4 + (i & 3) + 16);
        ++cover_a[r][c];
      }
      for (int i = 0; i < 8; ++i) {
        int r, c;
        emu::interp::mma8_layout('B', lane, i, &r, &c);
        bad += r != (i < 4 ? t * 4 + (i & 3) : t * 4 + (i & 3) + 16) || c != g;
        ++cover_b[r][c];
      }
    }
    for (int r = 0; r < 32; ++r)
      for (int c = 0; c < 32; ++c) bad += (r < 16 && cover_a[r][c] != 1) || (c < 8 && cover_b[r][c] != 1);
    CHECK_EQ(bad, 0);
  }

  for (const char* ty : {"bf16", "f16"}) {
    const bool bf = std::string(ty) == "bf16";
    Harness h(std::string(kHeader) + kernel(ty));
    const int tiles = 6;
    std::mt19937 rng(bf ? 1 : 2);
    std::uniform_real_distribution<float> U(-2, 2);
    std::vector<uint16_t> A(tiles * 256), Bt(tiles * 128), Bk(tiles * 128);
    std::vector<float> Af(tiles * 256), Bf(tiles * 128), C(tiles * 128);
    for (int i = 0; i < tiles * 256; ++i) {
      const float v = U(rng);
      A[i] = bf ? to_bf16(v) : fbits(0) | uint16_t(0);
      if (!bf) {
        _Float16 hv = _Float16(v);
        std::memcpy(&A[i], &hv, 2);
        Af[i] = float(hv);
      } else {
        Af[i] = from_bf16(A[i]);
      }
    }
    for (int tI = 0; tI < tiles; ++tI)
      for (int k = 0; k < 16; ++k)
        for (int n = 0; n < 8; ++n) {
          const float v = U(rng);
          uint16_t hb;
          float fv;
          if (bf) hb = to_bf16(v), fv = from_bf16(hb);
          else {
            _Float16 hv = _Float16(v);
            std::memcpy(&hb, &hv, 2);
            fv = float(hv);
          }
          Bf[tI * 128 + k * 8 + n] = fv;
          Bk[tI * 128 + k * 8 + n] = hb;
          Bt[tI * 128 + n * 16 + k] = hb;
        }
    for (auto& c : C) c = U(rng);
    const uint64_t da = h.upload(A), dbt = h.upload(Bt), dbk = h.upload(Bk), dc = h.upload(C),
                   dout = h.alloc(tiles * 1024);
    auto r = h.run(std::string("mma_") + ty, {tiles, 1, 1}, {32, 1, 1}, {da, dbt, dbk, dc, dout});
    CHECK(r.status == Status::Ok);
    std::fputs(h.all_reports().c_str(), stderr);
    auto out = h.download<float>(dout, tiles * 256);
    int bad = 0;
    double maxerr = 0;
    for (int tI = 0; tI < tiles; ++tI)
      for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 8; ++j) {
          double s = C[tI * 128 + i * 8 + j];
          for (int k = 0; k < 16; ++k) s += double(Af[tI * 256 + i * 16 + k]) * Bf[tI * 128 + k * 8 + j];
          for (int v = 0; v < 2; ++v) {
            const double got = out[tI * 256 + v * 128 + i * 8 + j];
            const double err = std::fabs(got - s);
            maxerr = std::max(maxerr, err);
            bad += err > 1e-5 * (1 + std::fabs(s));
          }
        }
    std::printf("mma %s: %d tiles, max |error| %.3g\n", ty, tiles, maxerr);
    CHECK_EQ(bad, 0);
  }
  return check::finish();
}
