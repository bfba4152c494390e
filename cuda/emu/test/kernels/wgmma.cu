// wgmma.cu: warpgroup matrix multiply m64n8k32 e4m3 (PTX ISA 9.0 section 9.7.15 wgmma: matrix descriptor
// with leading/stride byte offsets and no swizzle, K-major core matrices of 8 rows x 16 bytes, the f32
// accumulator fragment, scale-d, imm-scale-a/b, wgmma.fence / commit_group / wait_group) on integer-valued
// data (exact in any accumulation order) against a CPU GEMM; built with KT_WGMMA_BF16 by wgmma_bf16.cu.
#include "common.cuh"

#ifdef KT_WGMMA_BF16
constexpr int kBF = 1;
#else
constexpr int kBF = 0;
#endif

using namespace kt;

constexpr int M = 64, NN = 8, LBO = 128, SBO = 256;  // core matrices: K-neighbours 128 B apart, M/N 256 B

__device__ inline uint64_t desc(const void* p) {
  uint32_t a = (uint32_t)__cvta_generic_to_shared(p);
  return (uint64_t)((a >> 4) & 0x3FFF) | ((uint64_t)((LBO >> 4) & 0x3FFF) << 16) |
         ((uint64_t)((SBO >> 4) & 0x3FFF) << 32);  // base offset 0, swizzle mode 0 (none)
}
// Byte offset of element (row, kbyte) of a K-major operand: row = m or n, kbyte = k * element size.
__host__ __device__ inline int kmajor(int row, int kbyte) {
  return (row / 8) * SBO + (kbyte / 16) * LBO + (row % 8) * 16 + kbyte % 16;
}

// mode 0: D = A*B + C, 1: D = A*B (scale-d = 0), 2: D = A*(-B) + C (imm-scale-b = -1)
// A: M x 32 bytes, B: N x 32 bytes (both K-major, 32 bytes of K), C/D: M x N f32 row-major.
template <bool kBF16>
__global__ void k_wgmma(const uint8_t* A, const uint8_t* B, const float* C, float* D, int mode) {
  __shared__ __align__(128) uint8_t sa[8 * SBO];
  __shared__ __align__(128) uint8_t sb[SBO];
  int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  for (int i = t; i < M * 32; i += blockDim.x) sa[kmajor(i / 32, i % 32)] = A[i];
  for (int i = t; i < NN * 32; i += blockDim.x) sb[kmajor(i / 32, i % 32)] = B[i];
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // generic writes -> async proxy reads
  __syncthreads();
  float d[4];
  for (int i = 0; i < 4; ++i) d[i] = C[(16 * w + gid + 8 * (i / 2)) * NN + 2 * tig + (i & 1)];
  uint64_t da = desc(sa), db = desc(sb);
  uint32_t scale_d = mode != 1;
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#define WG(shape_types, tail)                                                                       \
  asm volatile("{ .reg .pred p; setp.ne.u32 p, %6, 0;\n\t"                                           \
               "wgmma.mma_async.sync.aligned." shape_types " {%0, %1, %2, %3}, %4, %5, p, " tail "; }" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "l"(da), "l"(db), "r"(scale_d) : "memory")
  if (kBF16) {
    if (mode == 2) WG("m64n8k16.f32.bf16.bf16", "1, -1, 0, 0");
    else WG("m64n8k16.f32.bf16.bf16", "1, 1, 0, 0");
  } else {
    if (mode == 2) WG("m64n8k32.f32.e4m3.e4m3", "1, -1");
    else WG("m64n8k32.f32.e4m3.e4m3", "1, 1");
  }
#undef WG
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  for (int i = 0; i < 4; ++i) D[(16 * w + gid + 8 * (i / 2)) * NN + 2 * tig + (i & 1)] = d[i];
}

// ---- 128-byte swizzle, as the project's GEMM uses it: A 64 x 128 and B 16 x 128 e4m3 (K-major, rows of 128
// bytes, 8-row atoms of 1024 bytes, 16-byte chunk c of row r stored at chunk c ^ (r % 8)); four k32 steps
// advance the descriptors' start address by 32 bytes; m64n16k32 (8 accumulators per thread). ----
constexpr int KS = 128, NS = 16;
__host__ __device__ inline int sw128(int row, int kbyte) {
  return (row / 8) * 1024 + (row % 8) * 128 + (((kbyte / 16) ^ (row % 8)) * 16) + kbyte % 16;
}
__device__ inline uint64_t desc_sw128(const void* p, int koff) {
  uint32_t a = (uint32_t)__cvta_generic_to_shared(p) + koff;
  return (uint64_t)((a >> 4) & 0x3FFF) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}
__global__ void k_wgmma_sw128(const uint8_t* A, const uint8_t* B, float* D) {
  __shared__ __align__(1024) uint8_t sa[M * KS];
  __shared__ __align__(1024) uint8_t sb[NS * KS];
  int t = threadIdx.x, w = t / 32, lane = t % 32, gid = lane >> 2, tig = lane & 3;
  for (int i = t; i < M * KS; i += blockDim.x) sa[sw128(i / KS, i % KS)] = A[i];
  for (int i = t; i < NS * KS; i += blockDim.x) sb[sw128(i / KS, i % KS)] = B[i];
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  float d[8];
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  for (int k0 = 0; k0 < KS; k0 += 32) {
    uint64_t da = desc_sw128(sa, k0), db = desc_sw128(sb, k0);
    uint32_t scale_d = k0 != 0;  // the first step ignores the (uninitialised) accumulators
    asm volatile("{ .reg .pred p; setp.ne.u32 p, %10, 0;\n\t"
                 "wgmma.mma_async.sync.aligned.m64n16k32.f32.e4m3.e4m3 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1; }"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
                 : "l"(da), "l"(db), "r"(scale_d) : "memory");
  }
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  for (int i = 0; i < 8; ++i) D[(16 * w + gid + 8 * ((i % 4) / 2)) * NS + (i / 4) * 8 + 2 * tig + (i & 1)] = d[i];
}

static uint8_t e4m3_of_int(int v) {  // |v| <= 15: exact
  if (v == 0) return 0;
  uint8_t s = v < 0 ? 0x80 : 0;
  int a = v < 0 ? -v : v, e = 0;
  while ((a >> (e + 1)) != 0) ++e;
  int mant = ((a << 3) >> e) & 7;  // a = (8 + mant) / 8 * 2^e
  return s | (uint8_t)((e + 7) << 3) | (uint8_t)mant;
}
static uint16_t bf16_of_int(int v) { return (uint16_t)(fbits((float)v) >> 16); }  // small ints: exact

int main() {
  Rng g(0x3C6);
  {
    const int bf = kBF;
    const int K = bf ? 16 : 32;  // elements of K in 32 bytes
    std::vector<int> a(M * K), b(NN * K);
    std::vector<uint8_t> A(M * 32), B(NN * 32);
    for (int i = 0; i < M * K; ++i) a[i] = (int)g.below(17) - 8;
    for (int i = 0; i < NN * K; ++i) b[i] = (int)g.below(17) - 8;
    for (int r = 0; r < M; ++r)
      for (int k = 0; k < K; ++k) {
        if (bf) { uint16_t h = bf16_of_int(a[r * K + k]); A[r * 32 + 2 * k] = (uint8_t)h; A[r * 32 + 2 * k + 1] = (uint8_t)(h >> 8); }
        else A[r * 32 + k] = e4m3_of_int(a[r * K + k]);
      }
    for (int r = 0; r < NN; ++r)
      for (int k = 0; k < K; ++k) {
        if (bf) { uint16_t h = bf16_of_int(b[r * K + k]); B[r * 32 + 2 * k] = (uint8_t)h; B[r * 32 + 2 * k + 1] = (uint8_t)(h >> 8); }
        else B[r * 32 + k] = e4m3_of_int(b[r * K + k]);
      }
    std::vector<float> C(M * NN);
    for (auto& c : C) c = (float)((int)g.below(4001) - 2000);
    DevBuf<uint8_t> dA(A), dB(B);
    DevBuf<float> dC(C);
    const char* modes[] = {"D = A*B + C", "scale-d = 0: D = A*B", "imm-scale-b = -1: D = -(A*B) + C"};
    for (int mode = 0; mode < 3; ++mode) {
      DevBuf<float> dD(M * NN);
      k_wgmma<kBF == 1><<<1, 128>>>(dA, dB, dC, dD, mode);
      LAUNCH_CHECK();
      auto D = dD.download();
      Check ck(std::string(bf ? "wgmma m64n8k16 bf16: " : "wgmma m64n8k32 e4m3: ") + modes[mode]);
      for (int m = 0; m < M; ++m)
        for (int n = 0; n < NN; ++n) {
          long s = 0;
          for (int k = 0; k < K; ++k) s += (long)a[m * K + k] * b[n * K + k];
          if (mode == 2) s = -s;
          float want = (float)(s + (mode == 1 ? 0 : (long)C[m * NN + n]));
          ck.f32(m * NN + n, D[m * NN + n], want);
        }
    }
  }
  if (!kBF) {
    std::vector<int> a(M * KS), b(NS * KS);
    std::vector<uint8_t> A(M * KS), B(NS * KS);
    for (int i = 0; i < M * KS; ++i) { a[i] = (int)g.below(9) - 4; A[i] = e4m3_of_int(a[i]); }
    for (int i = 0; i < NS * KS; ++i) { b[i] = (int)g.below(9) - 4; B[i] = e4m3_of_int(b[i]); }
    DevBuf<uint8_t> dA(A), dB(B);
    DevBuf<float> dD(M * NS);
    k_wgmma_sw128<<<1, 128>>>(dA, dB, dD);
    LAUNCH_CHECK();
    auto D = dD.download();
    Check ck("wgmma m64n16k32 e4m3, 128-byte swizzle, 4 k-steps");
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < NS; ++n) {
        long sum = 0;
        for (int k = 0; k < KS; ++k) sum += (long)a[m * KS + k] * b[n * KS + k];
        ck.f32(m * NS + n, D[m * NS + n], (float)sum);
      }
  }
  return finish();
}
