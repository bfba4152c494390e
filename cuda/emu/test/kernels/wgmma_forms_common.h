// wgmma_forms_common.h: the harness of wgmma_forms.cu (8-bit inputs) and wgmma_forms_16bit.cu: every
// wgmma.mma_async form they list (wgmma_forms_ops.h, generated) is run on shared-memory operands laid out
// by the host in the canonical layouts of the PTX ISA and checked against a CPU GEMM on small integers
// (exact in any accumulation order).
//
// Written from the PTX ISA (9.7.15.5.1 "Register Fragments and Shared Memory Matrix Layouts", the matrix
// descriptor format, 9.7.15.5.1.2 "Shared Memory Matrix Layout" and its strides) -- not from the
// emulator's source. What is relied on:
//  - descriptor: bits 0-13 start address >> 4, 16-29 leading dimension byte offset (LBO) >> 4, 32-45
//    stride dimension byte offset (SBO) >> 4, 49-51 base offset (0 here: every swizzle atom is aligned to
//    its repeat), 62-63 swizzle mode (0 none, 1 128B, 2 64B, 3 32B).
//  - swizzling is a function of the shared-memory byte address: with a W-byte swizzle (W = 32, 64, 128),
//    address bits 4..4+log2(W/16)-1 (the 16-byte chunk) are XORed with bits 7..7+log2(W/16)-1. The
//    swizzle atom is 8 rows of W bytes (K-major) or 8 K-rows of W bytes of M/N (MN-major).
//  - the start address needs 16-byte alignment only without swizzle (two layouts start at +48 / +80).
//  - K-major, no swizzle: core matrices of 8 rows x 16 bytes (contiguous, rows 16 bytes apart); the two
//    core matrices of one instruction's K (32 bytes) are LBO apart, 8-row groups of M/N are SBO apart.
//  - K-major, W-byte swizzle: rows W bytes apart inside the atom, 8-row groups SBO apart; LBO is not used
//    (assumed 1). An instruction's 32 bytes of K start at the descriptor's start address, which moves by 32
//    bytes per K step inside an atom (the swizzle applies to the resulting address).
//  - MN-major (imm-trans = 1, 16-bit types), no swizzle ("interleave"): core matrices of 8 K-rows x 16
//    bytes of M/N; groups of 8 M/N elements are SBO apart, groups of 8 K are LBO apart.
//  - MN-major, W-byte swizzle: a K-row holds W/2 M/N elements (W bytes), 8 K-rows W bytes apart make the
//    atom; atoms along M/N are LBO apart, groups of 8 K are SBO apart.
//  - the A register fragment (16-bit: four .b32 holding a0..a7; row 16*warp + lane/4 + 8*((i/2)%2), column
//    2*(lane%4) + i%2 + 8*(i/4); 8-bit: four .b32 holding a0..a15; row 16*warp + lane/4 + 8*((i/4)%2),
//    column 4*(lane%4) + i%4 + 16*(i/8)), and the accumulator fragment (d_i: row 16*warp + lane/4 +
//    8*((i/2)%2), column 8*(i/4) + 2*(lane%4) + i%2; an f16 accumulator packs d_2j (low) and d_2j+1 in
//    register j).
#pragma once
#include <algorithm>
#include <type_traits>
#include "common.cuh"
#include "wgmma_forms_ops.h"

namespace wf {
using namespace kt;

enum Ty { E4M3 = 0, E5M2 = 1, BF16 = 2, F16 = 3 };
inline int ty_bytes(int t) { return t >= BF16 ? 2 : 1; }
inline const char* ty_name(int t) { static const char* n[] = {"e4m3", "e5m2", "bf16", "f16"}; return n[t]; }

constexpr int M = 64;
constexpr int KBYTES = 128;   // bytes of K per row of A and B: four K steps of 32 bytes (k32 8-bit, k16 16-bit)
constexpr int KSTEPS = 4;
constexpr int kSmemMax = 200 * 1024;

// ---- element encodings of small integers (exact; anything else is a bug of this program) ----
inline uint32_t enc_int(int v, int ty) {
  if (ty == BF16) return fbits((float)v) >> 16;  // |v| < 256: the low half of the f32 is zero
  int eb = ty == E4M3 ? 4 : 5, mb = ty == E4M3 ? 3 : ty == E5M2 ? 2 : 10, bias = ty == E4M3 ? 7 : 15;
  if (v == 0) return 0;
  uint32_t s = v < 0 ? 1u : 0u;
  int a = v < 0 ? -v : v, e = 0;
  while ((a >> (e + 1)) != 0) ++e;
  int mant = a - (1 << e);
  if (((mant << mb) >> e) << e != (mant << mb)) { std::fprintf(stderr, "not exact: %d in %s\n", v, ty_name(ty)); std::exit(2); }
  return (s << (eb + mb)) | ((uint32_t)(e + bias) << mb) | (uint32_t)((mant << mb) >> e);
}
inline float f16_to_float(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  float v;
  if (e == 31) v = m ? NAN : INFINITY;
  else if (e == 0) v = std::ldexp((float)m, -24);
  else v = std::ldexp((float)(m + 1024), e - 25);
  return s ? -v : v;
}

// ---- shared-memory layouts ----
enum Major { KMAJ = 0, MNMAJ = 1 };
struct Layout {
  int major;   // KMAJ / MNMAJ
  int swz;     // 0 (none), 32, 64, 128: swizzle width in bytes
  int lbo, sbo;  // byte offsets written to the descriptor (see the header comment for their meaning)
  int colstride; // K-major swizzled only: bytes between atom columns along K (this program's choice)
  const char* what;
  int shift = 0;  // bytes before the operand's first element (no swizzle: any multiple of 16)
};
inline int swz_code(int swz) { return swz == 0 ? 0 : swz == 128 ? 1 : swz == 64 ? 2 : 3; }
// The address after swizzling, for an atom-aligned region (base multiple of 1024).
inline int swizzle(int off, int swz) {
  if (swz == 0) return off;
  int mask = swz / 16 - 1;  // 1, 3, 7
  return off ^ (((off >> 7) & mask) << 4);
}
// Byte offset of element (r, k) of an operand with R rows of M/N and K elements of `es` bytes.
inline int elem_off(const Layout& L, int r, int k, int es) {
  if (L.major == KMAJ) {
    int kb = k * es;
    if (L.swz == 0) return L.shift + (r / 8) * L.sbo + (kb / 16) * L.lbo + (r % 8) * 16 + kb % 16;
    return swizzle((kb / L.swz) * L.colstride + (r / 8) * L.sbo + (r % 8) * L.swz + kb % L.swz, L.swz);
  }
  // MN-major (es == 2)
  if (L.swz == 0) return L.shift + (r / 8) * L.sbo + (k / 8) * L.lbo + (k % 8) * 16 + (r % 8) * 2;
  int per_row = L.swz / es;
  return swizzle((r / per_row) * L.lbo + (k / 8) * L.sbo + (k % 8) * L.swz + (r % per_row) * es, L.swz);
}
// Start offset (before swizzling: the descriptor's start address) of K step s.
inline int step_start(const Layout& L, int s, int es) {
  if (L.major == KMAJ) {
    int kb = 32 * s;
    if (L.swz == 0) return L.shift + (kb / 16) * L.lbo;
    return (kb / L.swz) * L.colstride + kb % L.swz;
  }
  int k = s * (32 / es);  // k16: two groups of 8 K
  return L.swz == 0 ? L.shift + (k / 8) * L.lbo : (k / 8) * L.sbo;
}
inline uint64_t make_desc(int start, int lbo, int sbo, int swz) {
  return (uint64_t)((start >> 4) & 0x3FFF) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | ((uint64_t)swz_code(swz) << 62);
}

// K-major layouts for an operand of R rows (variant v), 128 bytes of K.
inline Layout kmajor(int R, int v) {
  int groups = R / 8;
  switch (v % 8) {
    case 0: return {KMAJ, 0, 128, 8 * 128, 0, "K-major none, LBO 128 SBO 1024"};                 // K inner
    case 1: return {KMAJ, 0, groups * 128 + 256, 128, 0, "K-major none, LBO rows*16+256 SBO 128, start +48", 48};  // M/N inner
    case 2: return {KMAJ, 32, 1, 256, groups * 256, "K-major 32B swizzle, SBO 256"};
    case 3: return {KMAJ, 64, 1, 512, groups * 512, "K-major 64B swizzle, SBO 512"};
    case 4: return {KMAJ, 128, 1, 1024, groups * 1024, "K-major 128B swizzle, SBO 1024"};
    case 5: return {KMAJ, 128, 0x2A50, 2048, groups * 2048, "K-major 128B swizzle, SBO 2048 (padded), LBO field junk"};
    // the atoms of one 8-row group along K side by side (colstride one atom), 8-row groups after them
    case 6: return {KMAJ, 32, 1, 4 * 256 + 256, 256, "K-major 32B swizzle, K atoms adjacent, SBO 1280"};
    default: return {KMAJ, 64, 1, 2 * 512, 512, "K-major 64B swizzle, K atoms adjacent, SBO 1024"};
  }
}
// MN-major layouts (16-bit) for an operand of R rows of M/N and 64 K (variant v).
inline Layout mnmajor(int R, int v) {
  auto up = [](int x, int a) { return (x + a - 1) / a * a; };
  switch (v % 8) {
    case 0: return {MNMAJ, 0, (R / 8) * 128, 128, 0, "MN-major none, SBO 128 LBO R*16"};   // M/N groups inner
    case 1: return {MNMAJ, 0, 128, 8 * 128 + 512, 0, "MN-major none, LBO 128 SBO 1536, start +80", 80};   // K groups inner
    case 2: return {MNMAJ, 32, 8 * 256, 256, 0, "MN-major 32B swizzle, SBO 256 LBO 2048"};
    case 3: return {MNMAJ, 64, 512 * 8, 512, 0, "MN-major 64B swizzle, SBO 512 LBO 4096"};
    case 4: return {MNMAJ, 128, 1024 * 8, 1024, 0, "MN-major 128B swizzle, SBO 1024 LBO 8192"};
    case 5: return {MNMAJ, 128, 1024, 1024 * up(R, 64) / 64 + 1024, 0, "MN-major 128B swizzle, LBO 1024 SBO (R/64+1)*1024"};
    // M/N atoms adjacent (LBO one atom), groups of 8 K after them
    case 6: return {MNMAJ, 32, 256, 256 * up(R, 16) / 16, 0, "MN-major 32B swizzle, LBO 256 SBO (R/16)*256"};
    default: return {MNMAJ, 64, 512, 512 * up(R, 32) / 32 + 512, 0, "MN-major 64B swizzle, LBO 512 SBO (R/32+1)*512"};
  }
}
// ---- the kernel: copies the host-built shared-memory image to a 1024-aligned place, fences, runs the four
// K steps (scale-d from the argument on the first, 1 after), writes the raw accumulator registers ----
template <class Acc, int R>
__device__ __forceinline__ void pin(Acc (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) {
    if constexpr (sizeof(Acc) == 4 && std::is_same<Acc, float>::value) asm volatile("" : "+f"(d[i])::"memory");
    else asm volatile("" : "+r"(d[i])::"memory");
  }
}

template <class Op, int SA, int SB, int TA, int TB>
__global__ void __launch_bounds__(128, 1)
k_form(const uint4* __restrict__ img, int img16, const uint64_t* __restrict__ desc, const uint32_t* __restrict__ afrag,
       const typename Op::Acc* __restrict__ C, typename Op::Acc* __restrict__ D, uint32_t scale_d) {
  extern __shared__ __align__(16) uint8_t smem[];
  const int t = threadIdx.x;
  const uint32_t raw = (uint32_t)__cvta_generic_to_shared(smem);
  const uint32_t pad = (1024u - (raw & 1023u)) & 1023u;
  uint4* s = reinterpret_cast<uint4*>(smem + pad);
  for (int i = t; i < img16; i += blockDim.x) s[i] = img[i];
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // generic-proxy stores -> wgmma's reads
  __syncthreads();
  constexpr int R = Op::kRegs;
  typename Op::Acc d[R];
#pragma unroll
  for (int i = 0; i < R; ++i) d[i] = C[t * R + i];
  uint32_t a[KSTEPS][4];
  uint64_t da[KSTEPS], db[KSTEPS];
  const uint64_t base = (raw + pad) >> 4;
#pragma unroll
  for (int k = 0; k < KSTEPS; ++k) {
#pragma unroll
    for (int j = 0; j < 4; ++j) a[k][j] = Op::kRegA ? afrag[(k * 128 + t) * 4 + j] : 0u;
    da[k] = desc[2 * k] + base;
    db[k] = desc[2 * k + 1] + base;
  }
  pin(d);
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
  for (int k = 0; k < KSTEPS; ++k) Op::template mma<SA, SB, TA, TB>(d, da[k], db[k], a[k], k == 0 ? scale_d : 1u);
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
  pin(d);
#pragma unroll
  for (int i = 0; i < R; ++i) D[t * R + i] = d[i];
}

// ---- host side ----
// Lays out the R x K operand `v` (integers, row r = M or N index) with layout L; checks that no two
// elements share a byte (a layout bug of this program).
inline std::vector<uint8_t> build(const Layout& L, int R, int K, int ty, const std::vector<int>& v) {
  int es = ty_bytes(ty);
  int hi = 0;
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < K; ++k) hi = std::max(hi, elem_off(L, r, k, es) + es);
  std::vector<uint8_t> img((size_t)(hi + 1023) / 1024 * 1024, 0xFF);  // unused bytes: NaN in every type
  std::vector<uint8_t> used(img.size(), 0);
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < K; ++k) {
      int o = elem_off(L, r, k, es);
      uint32_t bits = enc_int(v[r * K + k], ty);
      for (int b = 0; b < es; ++b) {
        if (used[o + b]) { std::fprintf(stderr, "layout overlap: %s R=%d\n", L.what, R); std::exit(2); }
        used[o + b] = 1;
        img[o + b] = (uint8_t)(bits >> (8 * b));
      }
    }
  return img;
}

struct Case {
  Layout la, lb;  // la ignored when A is in registers
  int scale_d;
};

template <class Op, int SA = 1, int SB = 1, int TA = 0, int TB = 0>
void run_form(Rng& g, const std::vector<Case>& cases) {
  constexpr int N = Op::kN, R = Op::kRegs;
  const int ta = Op::kAType, tb = Op::kBType, esa = ty_bytes(ta), esb = ty_bytes(tb);
  const int K = KBYTES / esa;
  const bool f16acc = Op::kF16Acc;
  // values: exact products and sums in the accumulator type (f16: every partial sum below 2048)
  const int amp = f16acc ? (esa == 1 ? 2 : 3) : 8;
  const int camp = f16acc ? 300 : 2000;
  CUDA_CHECK(cudaFuncSetAttribute(k_form<Op, SA, SB, TA, TB>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemMax));
  for (const Case& cs : cases) {
    const Layout& la = cs.la;
    const Layout& lb = cs.lb;
    std::vector<int> a(M * K), b(N * K), c(M * N);
    for (auto& x : a) x = (int)g.below(2 * amp + 1) - amp;
    for (auto& x : b) x = (int)g.below(2 * amp + 1) - amp;
    for (auto& x : c) x = (int)g.below(2 * camp + 1) - camp;
    // the image: A (if in shared memory) at 0, B after it
    std::vector<uint8_t> img;
    int boff = 0;
    if (!Op::kRegA) img = build(la, M, K, ta, a);
    boff = (int)img.size();
    std::vector<uint8_t> ib = build(lb, N, K, tb, b);
    img.insert(img.end(), ib.begin(), ib.end());
    if (img.size() + 1024 > (size_t)kSmemMax) { std::fprintf(stderr, "image too large\n"); std::exit(2); }
    std::vector<uint64_t> desc(2 * KSTEPS);
    for (int s = 0; s < KSTEPS; ++s) {
      desc[2 * s] = Op::kRegA ? 0 : make_desc(step_start(la, s, esa), la.lbo, la.sbo, la.swz);
      desc[2 * s + 1] = make_desc(boff + step_start(lb, s, esb), lb.lbo, lb.sbo, lb.swz);
    }
    // A fragments (registers): [step][thread][4]
    std::vector<uint32_t> af(KSTEPS * 128 * 4, 0);
    if (Op::kRegA)
      for (int s = 0; s < KSTEPS; ++s)
        for (int t = 0; t < 128; ++t) {
          int w = t / 32, lane = t % 32, gid = lane / 4, tig = lane % 4;
          for (int j = 0; j < 4; ++j) {
            uint32_t reg = 0;
            if (esa == 2) {
              for (int h = 0; h < 2; ++h) {
                int i = 2 * j + h, row = 16 * w + gid + 8 * ((i / 2) % 2), col = 2 * tig + i % 2 + 8 * (i / 4);
                reg |= enc_int(a[row * K + s * 16 + col], ta) << (16 * h);
              }
            } else {
              for (int h = 0; h < 4; ++h) {
                int i = 4 * j + h, row = 16 * w + gid + 8 * ((i / 4) % 2), col = 4 * tig + i % 4 + 16 * (i / 8);
                reg |= enc_int(a[row * K + s * 32 + col], ta) << (8 * h);
              }
            }
            af[(s * 128 + t) * 4 + j] = reg;
          }
        }
    // accumulator fragment position of element i of thread t
    auto pos = [](int t, int i, int& row, int& col) {
      int w = t / 32, lane = t % 32;
      row = 16 * w + lane / 4 + 8 * ((i / 2) % 2);
      col = 8 * (i / 4) + 2 * (lane % 4) + i % 2;
    };
    const int nel = f16acc ? 2 : 1;  // elements per register
    std::vector<typename Op::Acc> C(128 * R);
    std::vector<int> seen(M * N, 0);
    for (int t = 0; t < 128; ++t)
      for (int j = 0; j < R; ++j) {
        uint32_t reg = 0;
        for (int h = 0; h < nel; ++h) {
          int row, col;
          pos(t, j * nel + h, row, col);
          seen[row * N + col]++;
          int cv = c[row * N + col];
          if (f16acc) reg |= (cs.scale_d ? enc_int(cv, F16) : 0x7E00u) << (16 * h);  // NaN when scale-d = 0
          else reg = cs.scale_d ? fbits((float)cv) : 0x7FFFFFFFu;
        }
        std::memcpy(&C[t * R + j], &reg, 4);
      }
    for (int x : seen)
      if (x != 1) { std::fprintf(stderr, "accumulator fragment is not a bijection\n"); std::exit(2); }

    std::vector<uint4> img16((img.size() + 15) / 16);
    std::memcpy(img16.data(), img.data(), img.size());
    DevBuf<uint4> dimg(img16);
    DevBuf<uint64_t> ddesc(desc);
    DevBuf<uint32_t> daf(af);
    DevBuf<typename Op::Acc> dC(C), dD(128 * R);
    k_form<Op, SA, SB, TA, TB><<<1, 128, (int)img.size() + 1024>>>(dimg, (int)img16.size(), ddesc, daf, dC, dD, (uint32_t)cs.scale_d);
    LAUNCH_CHECK();
    std::vector<typename Op::Acc> Dv = dD.download();

    char nm[400];
    std::snprintf(nm, sizeof nm, "%s, imm-scale-a %d imm-scale-b %d, scale-d %d; A: %s; B: %s", Op::kName, SA, SB, cs.scale_d,
                  Op::kRegA ? "registers" : la.what, lb.what);
    Check ck(nm);
    for (int t = 0; t < 128; ++t)
      for (int j = 0; j < R; ++j) {
        uint32_t reg;
        std::memcpy(&reg, &Dv[t * R + j], 4);
        for (int h = 0; h < nel; ++h) {
          int row, col;
          pos(t, j * nel + h, row, col);
          long sum = 0;
          for (int k = 0; k < K; ++k) sum += (long)a[row * K + k] * b[col * K + k];
          sum *= SA * SB;
          if (cs.scale_d) sum += c[row * N + col];
          float got = f16acc ? f16_to_float((uint16_t)(reg >> (16 * h))) : bitsf(reg);
          if (got == (float)sum) ck.ok();  // +0 and -0 both match an exact 0
          else ck.fail(row * N + col, "D[%d][%d] (thread %d reg %d) got %g (0x%08x) want %ld", row, col, t, j, got, reg, sum);
        }
      }
  }
}

// The standard case lists: every layout variant for A against a rotating one for B, scale-d alternating.
inline std::vector<Case> kmajor_cases(int N, int count = 8, int rot = 1) {
  std::vector<Case> v;
  for (int i = 0; i < count; ++i) v.push_back({kmajor(M, i), kmajor(N, i + rot), i % 2});
  return v;
}
inline std::vector<Case> mnmajor_cases(int N, bool amn, bool bmn, int count = 8, int rot = 2) {
  std::vector<Case> v;
  for (int i = 0; i < count; ++i)
    v.push_back({amn ? mnmajor(M, i) : kmajor(M, i), bmn ? mnmajor(N, i + rot) : kmajor(N, i + rot),
                 (i + 1) % 2});
  return v;
}

}  // namespace wf
