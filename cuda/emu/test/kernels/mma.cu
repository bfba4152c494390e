// mma.cu: warp-level matrix multiply (PTX ISA 9.0 sections 9.7.14.5.8 mma.sync.m16n8k16 with .bf16 and
// .f16 inputs and .f32 accumulators, m16n8k32 e4m3 / s8, fragment layouts of 9.7.14.5.x, 9.7.14.5.15 ldmatrix
// .m8n8.x1/.x2/.x4 with and without .trans): fragments loaded by the ISA's layout formulas and checked
// exactly on integer-valued data, within an accumulation bound on random data, a ldmatrix register dump,
// and a 64x64x64 GEMM (ldmatrix + mma) against a CPU GEMM.
#include "common.cuh"

using namespace kt;

// host bf16 / f16 (round to nearest even) and back
static uint16_t to_bf16(float f) {
  uint32_t b = fbits(f);
  return (uint16_t)((b + 0x7FFFu + ((b >> 16) & 1)) >> 16);
}
static float from_bf16(uint16_t h) { return bitsf((uint32_t)h << 16); }
static float from_f16(uint16_t h) {
  uint32_t s = (h >> 15) & 1, e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0 ? std::ldexp((float)m, -24) : std::ldexp((float)(m | 1024), (int)e - 25);
  return s ? -v : v;
}
static uint16_t to_f16(float f) {  // finite, in range, round to nearest even
  uint16_t s = std::signbit(f) ? 0x8000 : 0;
  float a = std::fabs(f);
  if (a == 0) return s;
  int e;
  std::frexp(a, &e);
  int q = (e - 1 < -14 ? -14 : e - 1) - 10;
  float r = std::nearbyint(std::ldexp(a, -q));
  float v = std::ldexp(r, q);
  std::frexp(v, &e);
  if (e - 1 < -14) return s | (uint16_t)std::ldexp(v, 24);
  return s | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)(std::ldexp(v, -(e - 1 - 10)) - 1024);
}

// ---- 1. one m16n8k16 tile per warp; fragments gathered by the ISA formulas ----
// A: 16x16 row-major, B: 16x8 (K x N, row-major here), C, D: 16x8 f32. kF16 selects the input type.
template <bool kF16>
__global__ void k_tile(const uint16_t* A, const uint16_t* B, const float* C, float* D) {
  int w = threadIdx.x / 32, lane = threadIdx.x % 32, gid = lane >> 2, tig = lane & 3;
  const uint16_t* a = A + w * 256;
  const uint16_t* b = B + w * 128;
  const float* c = C + w * 128;
  float* d = D + w * 128;
  uint32_t ar[4], br[2];
  for (int r = 0; r < 4; ++r) {
    int row = gid + ((r & 1) ? 8 : 0), col = tig * 2 + ((r & 2) ? 8 : 0);
    ar[r] = a[row * 16 + col] | ((uint32_t)a[row * 16 + col + 1] << 16);
  }
  for (int r = 0; r < 2; ++r) {
    int k = tig * 2 + r * 8;
    br[r] = b[k * 8 + gid] | ((uint32_t)b[(k + 1) * 8 + gid] << 16);
  }
  float cr[4], dr[4];
  for (int r = 0; r < 4; ++r) cr[r] = c[(gid + (r >= 2 ? 8 : 0)) * 8 + tig * 2 + (r & 1)];
  if (kF16)
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=f"(dr[0]), "=f"(dr[1]), "=f"(dr[2]), "=f"(dr[3])
                 : "r"(ar[0]), "r"(ar[1]), "r"(ar[2]), "r"(ar[3]), "r"(br[0]), "r"(br[1]),
                   "f"(cr[0]), "f"(cr[1]), "f"(cr[2]), "f"(cr[3]));
  else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=f"(dr[0]), "=f"(dr[1]), "=f"(dr[2]), "=f"(dr[3])
                 : "r"(ar[0]), "r"(ar[1]), "r"(ar[2]), "r"(ar[3]), "r"(br[0]), "r"(br[1]),
                   "f"(cr[0]), "f"(cr[1]), "f"(cr[2]), "f"(cr[3]));
  for (int r = 0; r < 4; ++r) d[(gid + (r >= 2 ? 8 : 0)) * 8 + tig * 2 + (r & 1)] = dr[r];
}

// ---- 2. ldmatrix register dump: 4 matrices of 8x8 b16 in shared memory with a padded row stride ----
constexpr int kStride = 24;  // halves per row (48 bytes: rows stay 16-byte aligned)
// out[(variant * 32 + lane) * 4 + r]; variants: x1, x2, x4, x1.trans, x2.trans, x4.trans
__global__ void k_ldm(const uint16_t* M, uint32_t* out) {
  __shared__ __align__(16) uint16_t sm[32 * kStride];
  int lane = threadIdx.x;
  for (int i = lane; i < 32 * kStride; i += 32) sm[i] = M[i];
  __syncwarp();
  // lane l gives row l % 8 of matrix l / 8, rows visited in a permuted order: (l * 3) % 8
  int mat = lane / 8, row = (lane * 3) % 8;
  uint32_t addr = (uint32_t)__cvta_generic_to_shared(&sm[(mat * 8 + row) * kStride]);
  uint32_t r0, r1, r2, r3;
  uint32_t* o = out + lane * 4;
#define ST(v, a, b, c, d) o[(v) * 128 + 0] = a; o[(v) * 128 + 1] = b; o[(v) * 128 + 2] = c; o[(v) * 128 + 3] = d;
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r0) : "r"(addr));
  ST(0, r0, 0u, 0u, 0u)
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];" : "=r"(r0), "=r"(r1) : "r"(addr));
  ST(1, r0, r1, 0u, 0u)
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
  ST(2, r0, r1, r2, r3)
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(r0) : "r"(addr));
  ST(3, r0, 0u, 0u, 0u)
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];" : "=r"(r0), "=r"(r1) : "r"(addr));
  ST(4, r0, r1, 0u, 0u)
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];" : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(addr));
  ST(5, r0, r1, r2, r3)
#undef ST
}

// ---- 3. GEMM 64x64x64 (bf16 in, f32 out): 4 warps, each a 16x64 strip; A row-major [M][K], B row-major
//      [K][N]; A fragments by ldmatrix.x4, B fragments by ldmatrix.x2.trans ----
constexpr int GM = 64, GN = 64, GK = 64, kPad = 8;
__global__ void k_gemm(const uint16_t* A, const uint16_t* B, float* D) {
  __shared__ __align__(16) uint16_t sa[GM * (GK + kPad)];
  __shared__ __align__(16) uint16_t sb[GK * (GN + kPad)];
  int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  for (int i = t; i < GM * GK; i += blockDim.x) sa[(i / GK) * (GK + kPad) + i % GK] = A[i];
  for (int i = t; i < GK * GN; i += blockDim.x) sb[(i / GN) * (GN + kPad) + i % GN] = B[i];
  __syncthreads();
  float acc[8][4];
  for (int n = 0; n < 8; ++n) for (int r = 0; r < 4; ++r) acc[n][r] = 0.0f;
  for (int k0 = 0; k0 < GK; k0 += 16) {
    uint32_t a[4];
    int arow = w * 16 + (lane % 8) + 8 * ((lane / 8) % 2), acol = k0 + 8 * (lane / 16);
    uint32_t aaddr = (uint32_t)__cvta_generic_to_shared(&sa[arow * (GK + kPad) + acol]);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3]) : "r"(aaddr));
    for (int n = 0; n < 8; ++n) {
      uint32_t b[2];
      int brow = k0 + (lane % 16);  // lanes 0-7: k 0-7, lanes 8-15: k 8-15 (lanes 16-31 ignored by .x2)
      uint32_t baddr = (uint32_t)__cvta_generic_to_shared(&sb[brow * (GN + kPad) + n * 8]);
      asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];" : "=r"(b[0]), "=r"(b[1]) : "r"(baddr));
      asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                   : "+f"(acc[n][0]), "+f"(acc[n][1]), "+f"(acc[n][2]), "+f"(acc[n][3])
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
  }
  for (int n = 0; n < 8; ++n)
    for (int r = 0; r < 4; ++r) D[(w * 16 + gid + (r >= 2 ? 8 : 0)) * GN + n * 8 + tig * 2 + (r & 1)] = acc[n][r];
}

// ---- 4. m16n8k32 with 8-bit inputs (launched last): e4m3 -> f32 and s8 -> s32. A: 16x32, B: 32x8 ----
// A fragment: reg r holds 4 consecutive k of row gid (+8 if r odd), k = tig*4 + (r >= 2 ? 16 : 0);
// B fragment: reg r holds k = tig*4 + r*16 .. +3 of column gid.
template <bool kInt>
__global__ void k_mma8(const uint8_t* A, const uint8_t* B, const uint32_t* C, uint32_t* D) {
  int lane = threadIdx.x, gid = lane >> 2, tig = lane & 3;
  uint32_t ar[4], br[2], cr[4], dr[4];
  for (int r = 0; r < 4; ++r) {
    int row = gid + ((r & 1) ? 8 : 0), col = tig * 4 + ((r & 2) ? 16 : 0);
    ar[r] = A[row * 32 + col] | (uint32_t)A[row * 32 + col + 1] << 8 | (uint32_t)A[row * 32 + col + 2] << 16 |
            (uint32_t)A[row * 32 + col + 3] << 24;
  }
  for (int r = 0; r < 2; ++r) {
    int k = tig * 4 + r * 16;
    br[r] = B[k * 8 + gid] | (uint32_t)B[(k + 1) * 8 + gid] << 8 | (uint32_t)B[(k + 2) * 8 + gid] << 16 |
            (uint32_t)B[(k + 3) * 8 + gid] << 24;
  }
  for (int r = 0; r < 4; ++r) cr[r] = C[(gid + (r >= 2 ? 8 : 0)) * 8 + tig * 2 + (r & 1)];
  if (kInt)
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=r"(dr[0]), "=r"(dr[1]), "=r"(dr[2]), "=r"(dr[3])
                 : "r"(ar[0]), "r"(ar[1]), "r"(ar[2]), "r"(ar[3]), "r"(br[0]), "r"(br[1]),
                   "r"(cr[0]), "r"(cr[1]), "r"(cr[2]), "r"(cr[3]));
  else
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};"
                 : "=r"(dr[0]), "=r"(dr[1]), "=r"(dr[2]), "=r"(dr[3])
                 : "r"(ar[0]), "r"(ar[1]), "r"(ar[2]), "r"(ar[3]), "r"(br[0]), "r"(br[1]),
                   "r"(cr[0]), "r"(cr[1]), "r"(cr[2]), "r"(cr[3]));
  for (int r = 0; r < 4; ++r) D[(gid + (r >= 2 ? 8 : 0)) * 8 + tig * 2 + (r & 1)] = dr[r];
}

static uint8_t e4m3_of_int(int v) {  // |v| <= 15: exact
  if (v == 0) return 0;
  uint8_t s = v < 0 ? 0x80 : 0;
  int a = v < 0 ? -v : v, e = 0;
  while ((a >> (e + 1)) != 0) ++e;
  return s | (uint8_t)((e + 7) << 3) | (uint8_t)(((a << 3) >> e) & 7);
}

int main() {
  Rng g(0x3A3A);
  const int W = 4;  // warps in the tile test: 2 integer-valued, 2 random
  for (int f16 = 0; f16 < 2; ++f16) {
    std::vector<uint16_t> A(W * 256), B(W * 128);
    std::vector<float> Af(W * 256), Bf(W * 128), C(W * 128);
    for (int w = 0; w < W; ++w) {
      bool exact = w < 2;
      for (int i = 0; i < 256; ++i) {
        float v = exact ? (float)((int)g.below(17) - 8) : (float)g.uniform(-2, 2);
        A[w * 256 + i] = f16 ? to_f16(v) : to_bf16(v);
        Af[w * 256 + i] = f16 ? from_f16(A[w * 256 + i]) : from_bf16(A[w * 256 + i]);
      }
      for (int i = 0; i < 128; ++i) {
        float v = exact ? (float)((int)g.below(17) - 8) : (float)g.uniform(-2, 2);
        B[w * 128 + i] = f16 ? to_f16(v) : to_bf16(v);
        Bf[w * 128 + i] = f16 ? from_f16(B[w * 128 + i]) : from_bf16(B[w * 128 + i]);
        C[w * 128 + i] = exact ? (float)((int)g.below(2001) - 1000) : (float)g.uniform(-4, 4);
      }
    }
    DevBuf<uint16_t> dA(A), dB(B);
    DevBuf<float> dC(C), dD(W * 128);
    if (f16) k_tile<true><<<1, W * 32>>>(dA, dB, dC, dD);
    else k_tile<false><<<1, W * 32>>>(dA, dB, dC, dD);
    LAUNCH_CHECK();
    auto D = dD.download();
    const char* ty = f16 ? "f16" : "bf16";
    Check ce(std::string("mma.m16n8k16 ") + ty + " integer-valued (exact)");
    Check cr(std::string("mma.m16n8k16 ") + ty + " random (accumulation bound)");
    for (int w = 0; w < W; ++w)
      for (int m = 0; m < 16; ++m)
        for (int n = 0; n < 8; ++n) {
          double s = C[w * 128 + m * 8 + n], mag = std::fabs(s);
          for (int k = 0; k < 16; ++k) {
            double p = (double)Af[w * 256 + m * 16 + k] * Bf[w * 128 + k * 8 + n];
            s += p;
            mag += std::fabs(p);
          }
          float got = D[w * 128 + m * 8 + n];
          int idx = w * 128 + m * 8 + n;
          if (w < 2) ce.f32(idx, got, (float)s);
          else cr.near(idx, got, s, mag * 0x1p-20 + 1e-30);
        }
  }
  // ldmatrix dump
  {
    std::vector<uint16_t> M(32 * kStride);
    for (auto& v : M) v = (uint16_t)g.u32();
    DevBuf<uint16_t> dM(M);
    DevBuf<uint32_t> out(6 * 128);
    k_ldm<<<1, 32>>>(dM, out);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* names[] = {"ldmatrix.x1", "ldmatrix.x2", "ldmatrix.x4", "ldmatrix.x1.trans", "ldmatrix.x2.trans",
                           "ldmatrix.x4.trans"};
    // Row i of matrix q is the row that lane q * 8 + i addressed: memory row q * 8 + (3 * i) % 8.
    auto elem = [&](int q, int i, int j) -> uint32_t { return M[(q * 8 + (3 * i) % 8) * kStride + j]; };
    for (int v = 0; v < 6; ++v) {
      Check ck(names[v]);
      int nm = v % 3 == 0 ? 1 : v % 3 == 1 ? 2 : 4;
      bool trans = v >= 3;
      for (int l = 0; l < 32; ++l)
        for (int r = 0; r < 4; ++r) {
          uint32_t want = 0;
          if (r < nm) {
            int i = l / 4, j = 2 * (l % 4);  // lane l holds row i, columns j, j + 1 (of the transpose with .trans)
            if (!trans) want = elem(r, i, j) | (elem(r, i, j + 1) << 16);
            else want = elem(r, j, i) | (elem(r, j + 1, i) << 16);
          }
          ck.u32(l * 4 + r, o[v * 128 + l * 4 + r], want);
        }
    }
  }
  // GEMM
  {
    std::vector<uint16_t> A(GM * GK), B(GK * GN);
    std::vector<float> Af(GM * GK), Bf(GK * GN);
    for (int i = 0; i < GM * GK; ++i) { A[i] = to_bf16((float)g.uniform(-1, 1)); Af[i] = from_bf16(A[i]); }
    for (int i = 0; i < GK * GN; ++i) { B[i] = to_bf16((float)g.uniform(-1, 1)); Bf[i] = from_bf16(B[i]); }
    DevBuf<uint16_t> dA(A), dB(B);
    DevBuf<float> dD(GM * GN);
    k_gemm<<<1, 128>>>(dA, dB, dD);
    LAUNCH_CHECK();
    auto D = dD.download();
    Check ck("64x64x64 bf16 GEMM with ldmatrix.x4 / ldmatrix.x2.trans / mma");
    for (int m = 0; m < GM; ++m)
      for (int n = 0; n < GN; ++n) {
        double s = 0, mag = 0;
        for (int k = 0; k < GK; ++k) { double p = (double)Af[m * GK + k] * Bf[k * GN + n]; s += p; mag += std::fabs(p); }
        ck.near(m * GN + n, D[m * GN + n], s, mag * 0x1p-19 + 1e-30);
      }
  }
  // 8-bit inputs, last
  for (int integer = 1; integer >= 0; --integer) {  // s8 first
    std::vector<int> a(16 * 32), b(32 * 8);
    std::vector<uint8_t> A(16 * 32), B(32 * 8);
    std::vector<uint32_t> C(16 * 8);
    for (int i = 0; i < 16 * 32; ++i) {
      a[i] = integer ? (int)g.below(256) - 128 : (int)g.below(31) - 15;
      A[i] = integer ? (uint8_t)a[i] : e4m3_of_int(a[i]);
    }
    for (int i = 0; i < 32 * 8; ++i) {
      b[i] = integer ? (int)g.below(256) - 128 : (int)g.below(31) - 15;
      B[i] = integer ? (uint8_t)b[i] : e4m3_of_int(b[i]);
    }
    for (auto& c : C) c = integer ? g.u32() >> 2 : fbits((float)((int)g.below(2001) - 1000));
    DevBuf<uint8_t> dA(A), dB(B);
    DevBuf<uint32_t> dC(C), dD(16 * 8);
    if (integer) k_mma8<true><<<1, 32>>>(dA, dB, dC, dD);
    else k_mma8<false><<<1, 32>>>(dA, dB, dC, dD);
    LAUNCH_CHECK();
    auto D = dD.download();
    Check ck(integer ? "mma.m16n8k32 s8 -> s32" : "mma.m16n8k32 e4m3 -> f32 (integer-valued, exact)");
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        int64_t sum = 0;
        for (int k = 0; k < 32; ++k) sum += (int64_t)a[m * 32 + k] * b[k * 8 + n];
        uint32_t want = integer ? (uint32_t)(C[m * 8 + n] + (uint32_t)sum) : fbits(bitsf(C[m * 8 + n]) + (float)sum);
        ck.u32(m * 8 + n, D[m * 8 + n], want);
      }
  }
  return finish();
}
