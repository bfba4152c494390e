// Unit test of the wgmma model (src/sm90/wgmma.h): descriptor decoding (and the descriptor sm90.cuh
// builds), the canonical layouts against an independent evaluation of the ISA's layout table (CuTe
// shape:stride form, swizzle written as a bit-field move), the fragment tables against the ISA figures
// (written as per-register tables), every shape/dtype/swizzle/major/A-source combination against a
// float64 CPU GEMM (exact where inputs make every partial sum exact), errors, and the fp8_gemm.cu path:
// K-major e4m3 tiles loaded by the TMA model with the 128B swizzle, completed on an mbarrier, multiplied
// through smem_desc_k128_sw128-style descriptors stepping K inside the 128-byte row.
#include "src/sm90/wgmma.h"

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "src/fp/fp.h"
#include "src/sm90/mbarrier.h"
#include "src/sm90/tma.h"
#include "test/unit/check.h"
#include "test/unit/sm90_views.h"

using namespace emu::sm90;
using sm90test::Rng;
using sm90test::VecGlobal;
using sm90test::VecSmem;
namespace fp = emu::fp;

// ---------------------------------------------------------------------------------------------------
// The reference layouts: the ISA's canonical layout table (9.7.15.5.1.2, "Shared Memory Matrix Layout";
// the same table CuTe's GMMA layouts transcribe), in units of elements with T = 16 / sizeof(element):
//   K-major  none : ((8,m),(T,2k)) : ((1T,SBO),(1,LBO))
//   K-major  32B  : ((8,m),(T,2k)) : ((2T,SBO),(1,T))
//   K-major  64B  : ((8,m),(T,2k)) : ((4T,SBO),(1,T))
//   K-major  128B : ((8,m),(T,2k)) : ((8T,SBO),(1,T))
//   MN-major none : ((T,1,m),(8,k)) : ((1,T,SBO),(1T,LBO))
//   MN-major 32B  : ((T,2,m),(8,k)) : ((1,T,LBO),(2T,SBO))
//   MN-major 64B  : ((T,4,m),(8,k)) : ((1,T,LBO),(4T,SBO))
//   MN-major 128B : ((T,8,m),(8,k)) : ((1,T,LBO),(8T,SBO))
// evaluated by the generic colexicographic rule (the last mode of each tuple is unbounded), then
// composed with Swizzle<B,4,3> (B = 0/1/2/3 for none/32B/64B/128B) on the byte address.
struct Modes {
  std::vector<uint32_t> shape;   // last entry ignored (unbounded)
  std::vector<uint32_t> stride;  // bytes
};
static uint32_t eval(const Modes& m, uint32_t x) {
  uint32_t off = 0;
  for (size_t i = 0; i < m.shape.size(); ++i) {
    const bool last = i + 1 == m.shape.size();
    const uint32_t c = last ? x : x % m.shape[i];
    off += c * m.stride[i];
    if (!last) x /= m.shape[i];
  }
  return off;
}
static uint32_t swizzle_bits(DescSwizzle s) {
  return s == DescSwizzle::b128 ? 3 : s == DescSwizzle::b64 ? 2 : s == DescSwizzle::b32 ? 1 : 0;
}
static uint32_t ref_swizzle(uint32_t a, uint32_t b) {  // Swizzle<b,4,3>: bits [7,7+b) move onto [4,4+b)
  const uint32_t yyy = ((1u << b) - 1) << 7;
  return a ^ ((a & yyy) >> 3);
}
static uint32_t ref_address(uint32_t start, uint32_t lbo, uint32_t sbo, DescSwizzle s, Major major, uint32_t mn,
                            uint32_t k, uint32_t e) {
  const uint32_t T = 16 / e, b = swizzle_bits(s), r = 1u << b;  // r = 16-byte units per swizzle row
  Modes mnm, km;
  if (major == Major::K) {
    mnm = {{8, 0}, {r * T * e, sbo}};
    km = {{T, 0}, {e, b ? T * e : lbo}};
  } else {
    mnm = {{T, r, 0}, {e, T * e, b ? lbo : sbo}};
    km = {{8, 0}, {r * T * e, b ? sbo : lbo}};
  }
  return ref_swizzle(start + eval(mnm, mn) + eval(km, k), b);
}

// ---------------------------------------------------------------------------------------------------
// Element encodings for the tests.
static uint32_t encode(WgType t, double v) {
  switch (t) {
    case WgType::f16: return fp::f32_to_f16(static_cast<float>(v), fp::Round::rn, false, false);
    case WgType::bf16: return fp::f32_to_bf16(static_cast<float>(v), fp::Round::rn, false, false);
    case WgType::e4m3: return fp::f32_to_e4m3(static_cast<float>(v), false);
    case WgType::e5m2: return fp::f32_to_e5m2(static_cast<float>(v), false);
    case WgType::f32: return fp::bits_of(static_cast<float>(v));
  }
  return 0;
}
static double decode(WgType t, uint32_t bits) {
  switch (t) {
    case WgType::f16: return fp::f16_to_f32(static_cast<uint16_t>(bits));
    case WgType::bf16: return fp::bf16_to_f32(static_cast<uint16_t>(bits));
    case WgType::e4m3: return fp::e4m3_to_f32(static_cast<uint8_t>(bits));
    case WgType::e5m2: return fp::e5m2_to_f32(static_cast<uint8_t>(bits));
    case WgType::f32: return fp::f32_from_bits(bits);
  }
  return 0;
}

// A matrix of encoded values (row-major rows x cols) and their exact decoded values.
struct Mat {
  uint32_t rows, cols;
  WgType t;
  std::vector<uint32_t> bits;
  std::vector<double> val;
  double at(uint32_t r, uint32_t c) const { return val[r * cols + c]; }
};
static Mat random_mat(Rng& rng, WgType t, uint32_t rows, uint32_t cols, bool integers) {
  Mat m{rows, cols, t, std::vector<uint32_t>(rows * cols), std::vector<double>(rows * cols)};
  for (uint32_t i = 0; i < rows * cols; ++i) {
    double v = integers ? static_cast<double>(static_cast<int>(rng.below(9)) - 4)
                        : (static_cast<double>(rng.below(1u << 20)) / (1u << 19) - 1.0) * 3.0;
    m.bits[i] = encode(t, v);
    m.val[i] = decode(t, m.bits[i]);
  }
  return m;
}

// Places `m` (rows = MN, cols = K of the tile) in shared memory by the reference layout. Returns false
// when two elements would share a byte (the test's own parameters would be wrong).
static bool place(VecSmem& smem, const Mat& m, uint32_t start, uint32_t lbo, uint32_t sbo, DescSwizzle s, Major major) {
  const uint32_t e = type_bytes(m.t);
  std::set<uint32_t> used;
  for (uint32_t mn = 0; mn < m.rows; ++mn)
    for (uint32_t k = 0; k < m.cols; ++k) {
      const uint32_t a = ref_address(start, lbo, sbo, s, major, mn, k, e);
      if (a + e > smem.bytes.size() || !used.insert(a).second) return false;
      const uint32_t b = m.bits[mn * m.cols + k];
      std::memcpy(smem.bytes.data() + a, &b, e);
    }
  return true;
}

// Layout parameters for a tile of `rows` MN x `kt` K elements; `variant` picks one of the legal
// arrangements (which of the two directions is packed first, with or without gaps).
struct LayoutParams { uint32_t lbo, sbo, kt; };
static LayoutParams pick_layout(DescSwizzle s, Major major, uint32_t rows, uint32_t K, uint32_t e, int variant, Rng& rng) {
  const uint32_t W = swizzle_bytes(s);
  LayoutParams p{0, 0, K};
  if (major == Major::K) {
    if (s == DescSwizzle::none) {
      const uint32_t kcores = K * e / 16;  // core matrices along K (2)
      if (variant == 0) p = {128, 128 * kcores, K};
      else if (variant == 1) p = {((rows + 7) / 8) * 128, 128, K};
      else p = {128, 128 * kcores + 128, K};  // gaps between 8-row groups
    } else {
      p.kt = W / e;  // the whole swizzle row; the instruction reads one 32-byte K slice of it
      p.sbo = 8 * W * (variant == 2 ? 2 : 1);
      p.lbo = 16 * (1 + rng.below(1000));  // unused for swizzled K-major: any value
    }
  } else {
    const uint32_t kgroups = (K + 7) / 8;
    if (s == DescSwizzle::none) {
      if (variant == 0) p = {((rows * e + 15) / 16) * 128, 128, K};   // mn cores adjacent
      else p = {128, 128 * kgroups, K};                               // k cores adjacent
    } else {
      const uint32_t atoms = (rows * e + W - 1) / W;  // W-byte atoms along MN
      if (variant == 0) p = {8 * W * kgroups, 8 * W, K};            // k groups of an atom adjacent
      else p = {8 * W, 8 * W * atoms, K};                           // atoms adjacent
    }
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------
// Fragment tables of the ISA figures, written per register (9.7.15.5.1.1). g = lane / 4 ("groupID"),
// q = lane % 4 ("threadID_in_group"), w = warp of the warpgroup.
//   D, m64nNk*: values d[4j + v], v = 0..3: (row 16w + g + 8*(v/2), col 8j + 2q + v%2)
//   A, m64nNk16 (.f16x2 a0..a3, half h): a0 (g, 2q+h), a1 (g+8, 2q+h), a2 (g, 2q+8+h), a3 (g+8, 2q+8+h)
//   A, m64nNk32 (.b32 a0..a3, byte y):   a0 (g, 4q+y), a1 (g+8, 4q+y), a2 (g, 4q+16+y), a3 (g+8, 4q+16+y)
static const uint32_t kARowOff[4] = {0, 8, 0, 8};
static const uint32_t kAColOff16[4] = {0, 0, 8, 8};
static const uint32_t kAColOff32[4] = {0, 0, 16, 16};

static void ref_d_pos(uint32_t t, uint32_t idx, uint32_t* row, uint32_t* col) {
  const uint32_t w = t / 32, g = (t % 32) / 4, q = t % 4, j = idx / 4, v = idx % 4;
  *row = 16 * w + g + 8 * (v / 2);
  *col = 8 * j + 2 * q + v % 2;
}

static void test_fragments() {
  // spot values read off the figures
  RowCol r = d_fragment(0, 0);
  CHECK(r.row == 0 && r.col == 0);
  r = d_fragment(0, 3);
  CHECK(r.row == 8 && r.col == 1);
  r = d_fragment(0, 4);
  CHECK(r.row == 0 && r.col == 8);
  r = d_fragment(37, 0);  // warp 1, lane 5: g = 1, q = 1
  CHECK(r.row == 17 && r.col == 2);
  r = d_fragment(127, 127);  // last thread, last value of N = 256
  CHECK(r.row == 63 && r.col == 255);
  r = a_fragment(0, 5, WgType::f16);  // a2 high half
  CHECK(r.row == 0 && r.col == 9);
  r = a_fragment(33, 15, WgType::e4m3);  // warp 1 lane 1: a3 byte 3
  CHECK(r.row == 24 && r.col == 23);
  // every value of the per-register tables, and bijections onto the matrices
  int bad = 0;
  std::vector<int> seen(64 * 256, 0);
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < 128; ++i) {
      uint32_t row, col;
      ref_d_pos(t, i, &row, &col);
      const RowCol x = d_fragment(t, i);
      if (x.row != row || x.col != col) ++bad;
      ++seen[x.row * 256 + x.col];
    }
  for (int s : seen) bad += s != 1;
  std::vector<int> seen16(64 * 16, 0), seen32(64 * 32, 0);
  for (uint32_t t = 0; t < 128; ++t) {
    const uint32_t w = t / 32, g = (t % 32) / 4, q = t % 4;
    for (uint32_t reg = 0; reg < 4; ++reg) {
      for (uint32_t h = 0; h < 2; ++h) {
        const RowCol x = a_fragment(t, reg * 2 + h, WgType::bf16);
        if (x.row != 16 * w + g + kARowOff[reg] || x.col != 2 * q + kAColOff16[reg] + h) ++bad;
        ++seen16[x.row * 16 + x.col];
      }
      for (uint32_t y = 0; y < 4; ++y) {
        const RowCol x = a_fragment(t, reg * 4 + y, WgType::e5m2);
        if (x.row != 16 * w + g + kARowOff[reg] || x.col != 4 * q + kAColOff32[reg] + y) ++bad;
        ++seen32[x.row * 32 + x.col];
      }
    }
  }
  for (int s : seen16) bad += s != 1;
  for (int s : seen32) bad += s != 1;
  CHECK_EQ(bad, 0);
}

static void test_descriptor() {
  // The descriptor cuda/sm90.cuh's smem_desc_k128_sw128 builds for a tile at 0x2400:
  // (addr >> 4) | 1 << 16 | (1024 >> 4) << 32 | 1 << 62.
  const uint64_t desc = (0x2400u >> 4) | (uint64_t{1} << 16) | (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
  MatrixDesc d = decode_desc(desc);
  CHECK_EQ(d.start, 0x2400u);
  CHECK_EQ(d.lbo, 16u);
  CHECK_EQ(d.sbo, 1024u);
  CHECK_EQ(static_cast<int>(d.base_offset), 0);
  CHECK(d.swizzle == DescSwizzle::b128);
  CHECK_EQ(d.reserved_bits, 0u);
  CHECK_EQ(encode_desc(d), desc);
  // each field in its bits
  d = decode_desc((uint64_t{0x3FFF}) | (uint64_t{5} << 49) | (uint64_t{3} << 62));
  CHECK_EQ(d.start, 0x3FFF0u);
  CHECK_EQ(d.lbo, 0u);
  CHECK_EQ(static_cast<int>(d.base_offset), 5);
  CHECK(d.swizzle == DescSwizzle::b32);
  d = decode_desc(uint64_t{0x1234} << 16 | uint64_t{2} << 62);
  CHECK_EQ(d.lbo, 0x12340u);
  CHECK(d.swizzle == DescSwizzle::b64);
  CHECK_EQ(decode_desc(uint64_t{1} << 47).reserved_bits, uint64_t{1} << 47);  // tcgen05's constant bit
  // encode(x) = (x & 0x3FFFF) >> 4: the address wraps at 256 KiB and drops its low 4 bits
  MatrixDesc e;
  e.start = 0x40000 + 0x123F;
  CHECK_EQ(decode_desc(encode_desc(e)).start, 0x1230u);
  // random round trips
  Rng rng(3);
  int bad = 0;
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.next() & ~((uint64_t{3} << 14) | (uint64_t{3} << 30) | (uint64_t{7} << 46) | (uint64_t{0x3FF} << 52));
    if (encode_desc(decode_desc(v)) != v) ++bad;
  }
  CHECK_EQ(bad, 0);
}

// smem_address against the reference table, for every (mn, k) of large tiles and every layout.
static void test_layouts() {
  Rng rng(5);
  int bad = 0, checked = 0;
  for (uint32_t e : {1u, 2u, 4u})
    for (Major major : {Major::K, Major::MN})
      for (DescSwizzle s : {DescSwizzle::none, DescSwizzle::b32, DescSwizzle::b64, DescSwizzle::b128})
        for (int trial = 0; trial < 4; ++trial) {
          MatrixDesc d;
          d.swizzle = s;
          d.start = 1024 * (1 + rng.below(64));
          d.lbo = 16 * rng.below(4096);
          d.sbo = 16 * rng.below(4096);
          const uint32_t kmax = major == Major::K && s != DescSwizzle::none ? swizzle_bytes(s) / e : 32 / e;
          for (uint32_t mn = 0; mn < 256; ++mn)
            for (uint32_t k = 0; k < kmax; ++k, ++checked)
              if (smem_address(d, major, mn, k, e) != ref_address(d.start, d.lbo, d.sbo, s, major, mn, k, e)) ++bad;
        }
  CHECK_EQ(bad, 0);
  // The well-known form of the K-major 128B tile (rows of 128 bytes, 8-row groups 1024 bytes apart):
  // byte j of row r sits at r*128 + (((j/16) ^ (r%8)) * 16) + j%16, for a 1024-aligned tile.
  MatrixDesc t128;
  t128.start = 4096;
  t128.sbo = 1024;
  t128.swizzle = DescSwizzle::b128;
  int bad128 = 0;
  for (uint32_t r = 0; r < 64; ++r)
    for (uint32_t j = 0; j < 128; ++j)
      bad128 += smem_address(t128, Major::K, r, j, 1) != 4096 + r * 128 + (((j / 16) ^ (r % 8)) * 16) + j % 16;
  CHECK_EQ(bad128, 0);
  // The base offset: a pattern starting at a 128-byte row that is not on the repeat boundary, with
  // base offset = (start >> 7) & 7 as the ISA prescribes, reads like the same pattern at a boundary.
  for (DescSwizzle s : {DescSwizzle::b32, DescSwizzle::b64, DescSwizzle::b128}) {
    MatrixDesc a, b;
    a.swizzle = b.swizzle = s;
    a.sbo = b.sbo = 8 * swizzle_bytes(s);
    a.start = 8192;
    b.start = 8192 + 3 * 128;
    b.base_offset = (b.start >> 7) & 7;
    int diff = 0;
    for (uint32_t mn = 0; mn < 64; ++mn)
      for (uint32_t k = 0; k < 16; ++k)
        diff += smem_address(b, Major::K, mn, k, 2) - b.start != smem_address(a, Major::K, mn, k, 2) - a.start;
    CHECK_EQ(diff, 0);
  }
  std::printf("layout addresses checked: %d\n", checked);
}

// ---------------------------------------------------------------------------------------------------
struct Config {
  WgType dtype, atype, btype;
  bool a_regs;
  Major amaj, bmaj;
  DescSwizzle aswz, bswz;
  uint32_t n;
  bool integers;
};

static const char* tname(WgType t) {
  switch (t) {
    case WgType::f16: return "f16";
    case WgType::bf16: return "bf16";
    case WgType::e4m3: return "e4m3";
    case WgType::e5m2: return "e5m2";
    case WgType::f32: return "f32";
  }
  return "?";
}

static int g_gemm_runs = 0, g_gemm_fail = 0;
static double g_max_rel = 0;

// One wgmma (or, for swizzled K-major operands, one per 32-byte K slice of the swizzle row) against
// the float64 GEMM. Returns false on mismatch.
static bool run_config(const Config& c, Rng& rng) {
  const uint32_t K = wgmma_k(c.atype), N = c.n;
  const uint32_t ea = type_bytes(c.atype), eb = type_bytes(c.btype);
  VecSmem smem(192 * 1024, 0xFF);
  const uint32_t abase = 1024 * (1 + rng.below(4)), bbase = 64 * 1024 + 1024 * rng.below(8);
  const int variant_a = static_cast<int>(rng.below(3)), variant_b = static_cast<int>(rng.below(3));
  const LayoutParams pa = pick_layout(c.aswz, c.amaj, 64, K, ea, variant_a % (c.amaj == Major::MN ? 2 : 3), rng);
  const LayoutParams pb = pick_layout(c.bswz, c.bmaj, N, K, eb, variant_b % (c.bmaj == Major::MN ? 2 : 3), rng);
  const Mat A = random_mat(rng, c.atype, 64, c.a_regs ? K : pa.kt, c.integers);
  const Mat B = random_mat(rng, c.btype, N, pb.kt, c.integers);  // B stored as N x K (element (n, k))
  bool ok = c.a_regs || place(smem, A, abase, pa.lbo, pa.sbo, c.aswz, c.amaj);
  ok = ok && place(smem, B, bbase, pb.lbo, pb.sbo, c.bswz, c.bmaj);
  if (!ok) {
    std::fprintf(stderr, "test setup: overlapping layout\n");
    CHECK(ok);
    return false;
  }
  // K slices: swizzled K-major operands are as wide as their swizzle row; step the start by 32 bytes
  const uint32_t slices = std::max(c.a_regs ? 1u : pa.kt / K, pb.kt / K);
  bool all_ok = true;
  std::vector<uint32_t> d(128 * (N / 2)), d0;
  for (uint32_t s = 0; s < slices; ++s) {
    const uint32_t ka = c.a_regs ? 0 : (s % (pa.kt / K)) * K, kb = (s % (pb.kt / K)) * K;
    WgmmaOp op;
    op.n = N;
    op.dtype = c.dtype;
    op.atype = c.atype;
    op.btype = c.btype;
    op.a_in_regs = c.a_regs;
    op.trans_a = c.amaj == Major::MN;
    op.trans_b = c.bmaj == Major::MN;
    op.scale_d = rng.below(2);
    op.scale_a = rng.below(2) ? 1 : -1;
    op.scale_b = rng.below(2) ? 1 : -1;
    MatrixDesc da, db;
    da.start = abase + ka * ea;  // only K-major swizzled operands have more than one slice
    da.lbo = pa.lbo;
    da.sbo = pa.sbo;
    da.swizzle = c.aswz;
    db.start = bbase + kb * eb;
    db.lbo = pb.lbo;
    db.sbo = pb.sbo;
    db.swizzle = c.bswz;
    op.desc_a = encode_desc(da);
    op.desc_b = encode_desc(db);
    // A registers, by the per-register table
    std::vector<uint32_t> aregs(128 * 4, 0);
    if (c.a_regs)
      for (uint32_t t = 0; t < 128; ++t) {
        const uint32_t g = (t % 32) / 4, q = t % 4, row0 = 16 * (t / 32) + g;
        for (uint32_t reg = 0; reg < 4; ++reg) {
          uint32_t v = 0;
          if (ea == 2)
            for (uint32_t h = 0; h < 2; ++h)
              v |= A.bits[(row0 + kARowOff[reg]) * K + 2 * q + kAColOff16[reg] + h] << (16 * h);
          else
            for (uint32_t y = 0; y < 4; ++y)
              v |= A.bits[(row0 + kARowOff[reg]) * K + 4 * q + kAColOff32[reg] + y] << (8 * y);
          aregs[t * 4 + reg] = v;
        }
      }
    // D: random initial values (used when scale_d)
    const bool f16acc = c.dtype == WgType::f16;
    const uint32_t nregs = d_regs_per_thread(op);
    d.assign(128 * nregs, 0);
    std::vector<double> dinit(64 * N);
    for (uint32_t t = 0; t < 128; ++t)
      for (uint32_t i = 0; i < N / 2; ++i) {
        uint32_t row, col;
        ref_d_pos(t, i, &row, &col);
        const double v = c.integers ? static_cast<double>(static_cast<int>(rng.below(201)) - 100)
                                    : (static_cast<double>(rng.below(1u << 16)) / (1u << 15) - 1.0) * 8.0;
        const uint32_t bits = encode(c.dtype, v);
        dinit[row * N + col] = decode(c.dtype, bits);
        if (f16acc) d[t * nregs + i / 2] |= bits << (16 * (i % 2));
        else d[t * nregs + i] = bits;
      }
    const WgmmaStatus st = wgmma_mma_async(op, smem, aregs.data(), d.data());
    if (!st.ok) {
      std::fprintf(stderr, "wgmma failed: %s\n", st.message.c_str());
      all_ok = false;
      break;
    }
    // reference GEMM in float64 over this K slice
    int bad = 0;
    for (uint32_t t = 0; t < 128; ++t)
      for (uint32_t i = 0; i < N / 2; ++i) {
        uint32_t row, col;
        ref_d_pos(t, i, &row, &col);
        double sum = 0, mag = 0;
        for (uint32_t k = 0; k < K; ++k) {
          const double p = (op.scale_a * A.at(row, ka + k)) * (op.scale_b * B.at(col, kb + k));
          sum += p;
          mag += std::fabs(p);
        }
        const double want = sum + (op.scale_d ? dinit[row * N + col] : 0.0);
        mag += op.scale_d ? std::fabs(dinit[row * N + col]) : 0.0;
        const uint32_t bits = f16acc ? (d[t * nregs + i / 2] >> (16 * (i % 2))) & 0xFFFF : d[t * nregs + i];
        const double got = decode(c.dtype, bits);
        if (c.integers) {
          // every partial sum is a small integer: exact in f32, and in f16 below 2048
          if (got != want) ++bad;
        } else {
          const double ulp = f16acc ? std::ldexp(1.0, -10) : std::ldexp(1.0, -23);
          const double err = std::fabs(got - want);
          if (err > ulp * (mag + 1e-30) + (f16acc ? std::ldexp(1.0, -24) : 0.0)) ++bad;
          if (mag > 0) g_max_rel = std::max(g_max_rel, err / mag);
        }
      }
    if (bad) {
      std::fprintf(stderr, "mismatch: %s.%s.%s n=%u a=%s%s b=%s swz a=%d b=%d slice %u int=%d: %d values\n", tname(c.dtype),
                   tname(c.atype), tname(c.btype), N, c.a_regs ? "regs" : "desc", c.amaj == Major::MN ? "(MN)" : "",
                   c.bmaj == Major::MN ? "MN" : "K", static_cast<int>(c.aswz), static_cast<int>(c.bswz), s, c.integers, bad);
      all_ok = false;
    }
  }
  ++g_gemm_runs;
  if (!all_ok) ++g_gemm_fail;
  return all_ok;
}

static void test_gemm_combinations() {
  Rng rng(17);
  struct Types { WgType d, a, b; };
  const Types types[] = {
      {WgType::f32, WgType::e4m3, WgType::e4m3}, {WgType::f32, WgType::f16, WgType::f16},
      {WgType::f32, WgType::bf16, WgType::bf16}, {WgType::f16, WgType::f16, WgType::f16},
      {WgType::f32, WgType::e4m3, WgType::e5m2}, {WgType::f32, WgType::e5m2, WgType::e4m3},
      {WgType::f32, WgType::e5m2, WgType::e5m2}, {WgType::f16, WgType::e4m3, WgType::e4m3},
      {WgType::f16, WgType::e5m2, WgType::e4m3},
  };
  const DescSwizzle swz[4] = {DescSwizzle::none, DescSwizzle::b32, DescSwizzle::b64, DescSwizzle::b128};
  for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ++ti) {
    const Types& ty = types[ti];
    const bool half = type_bytes(ty.a) == 2;
    const bool all_n = ti < 2;  // every N for the two most used combinations, a sample otherwise
    for (uint32_t n = 8; n <= 256; n += 8) {
      if (!all_n && n != 8 && n != 24 && n != 64 && n != 136 && n != 256) continue;
      for (int asrc = 0; asrc < (half ? 3 : 2); ++asrc)  // 0: desc K-major, 1: registers, 2: desc M-major
        for (int bm = 0; bm < (half ? 2 : 1); ++bm)
          for (int si = 0; si < 4; ++si) {
            Config c;
            c.dtype = ty.d;
            c.atype = ty.a;
            c.btype = ty.b;
            c.a_regs = asrc == 1;
            c.amaj = asrc == 2 ? Major::MN : Major::K;
            c.bmaj = bm ? Major::MN : Major::K;
            c.aswz = swz[si];
            c.bswz = rng.below(2) ? swz[si] : swz[rng.below(4)];  // same swizzle as A, or any
            c.n = n;
            c.integers = rng.below(3) == 0;
            run_config(c, rng);
          }
    }
  }
  CHECK_EQ(g_gemm_fail, 0);
  std::printf("wgmma combinations: %d runs, %d failed, max |err|/sum|terms| = %.3g\n", g_gemm_runs, g_gemm_fail, g_max_rel);
}

// ---------------------------------------------------------------------------------------------------
static void test_errors_and_special_values() {
  VecSmem smem(64 * 1024, 0);
  std::vector<uint32_t> d(128 * 128, 0x12345678u);
  WgmmaOp op;
  op.n = 64;
  op.atype = op.btype = WgType::e4m3;
  MatrixDesc da, db;
  da.start = 0;
  da.sbo = 1024;
  da.swizzle = DescSwizzle::b128;
  db = da;
  db.start = 8192;
  op.desc_a = encode_desc(da);
  op.desc_b = encode_desc(db);
  CHECK_EQ(validate(op), std::string());
  auto invalid = [&](auto mutate) {
    WgmmaOp o = op;
    mutate(o);
    return !validate(o).empty() && !wgmma_mma_async(o, smem, nullptr, d.data()).ok;
  };
  CHECK(invalid([](WgmmaOp& o) { o.n = 260; }));
  CHECK(invalid([](WgmmaOp& o) { o.n = 12; }));
  CHECK(invalid([](WgmmaOp& o) { o.n = 0; }));
  CHECK(invalid([](WgmmaOp& o) { o.trans_b = true; }));  // no transpose for fp8
  CHECK(invalid([](WgmmaOp& o) { o.scale_a = 2; }));
  CHECK(invalid([](WgmmaOp& o) { o.atype = WgType::f16; }));  // f16 x e4m3
  CHECK(invalid([](WgmmaOp& o) { o.atype = o.btype = WgType::bf16; o.dtype = WgType::f16; }));
  CHECK(invalid([](WgmmaOp& o) { o.atype = o.btype = WgType::f16; o.a_in_regs = true; o.trans_a = true; }));
  CHECK(invalid([](WgmmaOp& o) { o.dtype = WgType::e4m3; }));
  CHECK(invalid([](WgmmaOp& o) { o.desc_b |= uint64_t{1} << 46; }));  // reserved bits
  CHECK(!invalid([](WgmmaOp& o) { o.desc_a |= uint64_t{1} << 46; o.a_in_regs = true; }));  // desc_a unused
  for (uint32_t x : d) CHECK_EQ(x, 0x12345678u);  // failed instructions leave D alone
  // Operand outside shared memory: refused, D unchanged.
  MatrixDesc far = db;
  far.start = 60 * 1024;
  far.sbo = 4096;  // 64 rows of B at 4 KiB per 8 rows reach past 64 KiB
  WgmmaOp o = op;
  o.desc_b = encode_desc(far);
  const WgmmaStatus st = wgmma_mma_async(o, smem, nullptr, d.data());
  CHECK(!st.ok);
  CHECK(st.message.find("B") != std::string::npos);
  CHECK(smem.refused > 0);
  bool unchanged = true;
  for (uint32_t x : d) unchanged = unchanged && x == 0x12345678u;
  CHECK(unchanged);

  // NaN and infinities: A row 0 = NaN (e4m3 0x7F), A row 1 = 448 with B col 0 = 0 except... use
  // e5m2 inf * 0 = NaN; finite rows unaffected.
  VecSmem s2(64 * 1024, 0);
  WgmmaOp p;
  p.n = 8;
  p.atype = WgType::e5m2;
  p.btype = WgType::e4m3;
  MatrixDesc a2, b2;
  a2.start = 0;
  a2.sbo = 256;
  a2.lbo = 128;
  b2 = a2;
  b2.start = 16384;
  p.desc_a = encode_desc(a2);
  p.desc_b = encode_desc(b2);
  p.scale_d = false;
  // A(0, 0) = +inf (e5m2 0x7C), B(k=0, n=0) = 0, B(0, 1) = 1 (e4m3 0x38)
  s2.bytes[smem_address(a2, Major::K, 0, 0, 1)] = 0x7C;
  s2.bytes[smem_address(b2, Major::K, 1, 0, 1)] = 0x38;
  s2.bytes[smem_address(a2, Major::K, 1, 3, 1)] = 0x3C;  // A(1, 3) = 1 (e5m2)
  s2.bytes[smem_address(b2, Major::K, 2, 3, 1)] = 0x7F;  // B(3, 2) = NaN (e4m3)
  std::vector<uint32_t> d2(128 * 4, 0);
  CHECK(wgmma_mma_async(p, s2, nullptr, d2.data()).ok);
  // thread 0 holds (0,0), (0,1), (8,0), (8,1); thread 4 holds (1,0),(1,1); thread 5 holds (1,2),(1,3)
  CHECK_EQ(d2[0], fp::kCanonicalNaN32);         // inf * 0
  CHECK_EQ(d2[1], fp::bits_of(INFINITY));       // inf * 1
  CHECK_EQ(d2[2], 0u);
  CHECK_EQ(d2[5 * 4 + 0], fp::kCanonicalNaN32);  // 1 * NaN
  CHECK_EQ(d2[5 * 4 + 1], 0u);
  // f16 accumulators: the lower column in the low half; overflow to infinity
  p.dtype = WgType::f16;
  p.atype = p.btype = WgType::e4m3;
  VecSmem s3(64 * 1024, 0);
  for (uint32_t k = 0; k < 32; ++k) {
    s3.bytes[smem_address(a2, Major::K, 0, k, 1)] = 0x7E;   // 448
    s3.bytes[smem_address(b2, Major::K, 1, k, 1)] = 0x7E;   // 448: 32 * 448^2 > 65504
    s3.bytes[smem_address(b2, Major::K, 0, k, 1)] = k == 0 ? 0x38 : 0;  // 1
  }
  std::vector<uint32_t> d3(128 * 2, 0xFFFFFFFFu);
  CHECK(wgmma_mma_async(p, s3, nullptr, d3.data()).ok);
  CHECK_EQ(d3[0] & 0xFFFF, 0x5F00u);  // 448 in f16
  CHECK_EQ(d3[0] >> 16, 0x7C00u);     // +inf
  CHECK_EQ(d3[1], 0u);                // row 8: zeros (scale_d = 0 ignores the old 0xFFFF NaNs)
}

// ---------------------------------------------------------------------------------------------------
// The cuda/fp8_gemm.cu path: A (M x K) and B (N x K) e4m3, K-major in global memory, loaded by TMA
// boxes of 128 bytes x rows with the 128-byte swizzle into 1024-byte aligned tiles, the loads completed
// on an mbarrier with arrive.expect_tx, then 4 wgmma m64nNk32 per 128-byte K block through descriptors
// built like smem_desc_k128_sw128 (start + 32 per step), accumulating into D. K is not a multiple of the
// block, so the last block's right part is out of bounds and zero-filled. Must equal the CPU GEMM.
static uint64_t desc_k128_sw128(uint32_t addr) {  // as in cuda/sm90.cuh
  return ((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
}

static void test_tma_fp8_gemm_path(bool integers) {
  Rng rng(integers ? 23 : 29);
  const uint32_t M = 64, N = 96, K = 328;  // K: two full 128-byte blocks and a partial one
  constexpr uint64_t kA = 0x7f0000200000ull, kB = 0x7f0000400000ull;
  // K-major rows in global memory, padded to a multiple of 16 bytes (the tensor-map stride rule)
  const uint32_t pitch = (K + 15) / 16 * 16;
  VecGlobal pa(kA, M * pitch), pb(kB, N * pitch);
  const Mat A = random_mat(rng, WgType::e4m3, M, K, integers), B = random_mat(rng, WgType::e4m3, N, K, integers);
  for (uint32_t r = 0; r < M; ++r)
    for (uint32_t k = 0; k < K; ++k) pa.bytes[r * pitch + k] = static_cast<uint8_t>(A.bits[r * K + k]);
  for (uint32_t r = 0; r < N; ++r)
    for (uint32_t k = 0; k < K; ++k) pb.bytes[r * pitch + k] = static_cast<uint8_t>(B.bits[r * K + k]);
  auto map_of = [&](uint64_t base, uint32_t rows) {
    TensorMap m;
    m.dtype = TmaDataType::u8;
    m.rank = 2;
    m.global_address = base;
    m.global_dim[0] = K;
    m.global_dim[1] = rows;
    m.global_strides[0] = pitch;
    m.box_dim[0] = 128;
    m.box_dim[1] = rows;
    m.swizzle = TmaSwizzle::b128;
    return m;
  };
  struct Both : GlobalView {
    VecGlobal *a, *b;
    GlobalView& pick(uint64_t x) { return a->in(x, 1) ? static_cast<GlobalView&>(*a) : *b; }
    bool read(uint64_t x, void* d, uint32_t n) override { return pick(x).read(x, d, n); }
    bool write(uint64_t x, const void* s, uint32_t n) override { return pick(x).write(x, s, n); }
  } global;
  global.a = &pa;
  global.b = &pb;
  const TensorMap ma = map_of(kA, M), mb = map_of(kB, N);
  CHECK_EQ(validate(ma), std::string());

  VecSmem smem(64 * 1024, 0xFF);
  MbarrierUnit bars(smem);
  const uint32_t bar = 8, sa = 1024, sb = 1024 + 8192;
  CHECK(bars.init(bar, 1).error == MbarError::none);
  std::vector<uint32_t> d(128 * (N / 2), 0);
  bool ok = true;
  for (uint32_t kb = 0; kb < (K + 127) / 128; ++kb) {
    const uint32_t parity = kb & 1;
    CHECK(bars.arrive_expect_tx(bar, box_bytes(ma) + box_bytes(mb)).error == MbarError::none);
    const int32_t ca[2] = {static_cast<int32_t>(kb * 128), 0};
    const TmaStatus la = tma_load_tile(ma, 2, ca, sa, global, smem);
    CHECK(la.ok);
    CHECK(!bars.test_wait_parity(bar, parity).ready);
    CHECK(!bars.complete_tx(bar, la.bytes).phase_completed);
    const TmaStatus lb = tma_load_tile(mb, 2, ca, sb, global, smem);
    CHECK(lb.ok);
    CHECK(bars.complete_tx(bar, lb.bytes).phase_completed);
    CHECK(bars.test_wait_parity(bar, parity).ready);
    for (uint32_t s = 0; s < 4; ++s) {
      WgmmaOp op;
      op.n = N;
      op.atype = op.btype = WgType::e4m3;
      op.desc_a = desc_k128_sw128(sa + 32 * s);
      op.desc_b = desc_k128_sw128(sb + 32 * s);
      op.scale_d = kb > 0 || s > 0;
      const WgmmaStatus st = wgmma_mma_async(op, smem, nullptr, d.data());
      if (!st.ok) {
        std::fprintf(stderr, "%s\n", st.message.c_str());
        ok = false;
      }
    }
  }
  // compare with the CPU GEMM over the real K
  int bad = 0;
  double max_rel = 0;
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < N / 2; ++i) {
      uint32_t row, col;
      ref_d_pos(t, i, &row, &col);
      double want = 0, mag = 0;
      for (uint32_t k = 0; k < K; ++k) {
        want += A.at(row, k) * B.at(col, k);
        mag += std::fabs(A.at(row, k) * B.at(col, k));
      }
      const double got = fp::f32_from_bits(d[t * (N / 2) + i]);
      if (integers ? got != want : std::fabs(got - want) > 16 * std::ldexp(1.0, -24) * mag) ++bad;
      if (mag > 0) max_rel = std::max(max_rel, std::fabs(got - want) / mag);
    }
  CHECK(ok);
  CHECK_EQ(bad, 0);
  std::printf("TMA(128B) + mbarrier + wgmma e4m3 GEMM %ux%ux%u (%s): %d mismatches, max |err|/sum|terms| = %.3g\n", M, N, K,
              integers ? "exact" : "random", bad, max_rel);
  // The same tile read with the wrong swizzle in the descriptor (64B) must not match: the test can fail.
  if (integers) {
    WgmmaOp op;
    op.n = N;
    op.atype = op.btype = WgType::e4m3;
    MatrixDesc wrong = decode_desc(desc_k128_sw128(sa));
    wrong.swizzle = DescSwizzle::b64;
    op.desc_a = encode_desc(wrong);
    op.desc_b = desc_k128_sw128(sb);
    op.scale_d = false;
    std::vector<uint32_t> d1(128 * (N / 2)), d2(128 * (N / 2));
    CHECK(wgmma_mma_async(op, smem, nullptr, d1.data()).ok);
    op.desc_a = desc_k128_sw128(sa);
    CHECK(wgmma_mma_async(op, smem, nullptr, d2.data()).ok);
    CHECK(d1 != d2);
  }
}

// wgmma-group bookkeeping: fence rule, commit, wait_group N keeps the N most recent groups in flight.
static void test_groups() {
  WgmmaGroups g;
  CHECK(g.issue(1) == WgmmaGroups::Issue::missing_fence);  // no wgmma.fence before the first wgmma
  WgmmaGroups q;
  q.fence();
  CHECK(q.issue(1) == WgmmaGroups::Issue::ok);
  CHECK(q.issue(2) == WgmmaGroups::Issue::ok);  // chained accumulators need no new fence
  q.commit();
  CHECK(q.issue(3) == WgmmaGroups::Issue::ok);
  q.commit();
  q.registers_accessed();
  CHECK(q.issue(4) == WgmmaGroups::Issue::missing_fence);
  q.fence();
  CHECK(q.issue(5) == WgmmaGroups::Issue::ok);
  q.commit();
  CHECK_EQ(q.pending_groups(), 3u);
  CHECK_EQ(q.in_flight().size(), 5u);
  CHECK(q.wait(3).empty());
  const std::vector<uint64_t> w1 = q.wait(1);  // groups {1,2} and {3} complete, {4,5} stays
  CHECK(w1 == std::vector<uint64_t>({1, 2, 3}));
  CHECK(q.in_flight() == std::vector<uint64_t>({4, 5}));
  CHECK(q.issue(6) == WgmmaGroups::Issue::ok);
  CHECK_EQ(q.uncommitted(), 1u);
  CHECK(q.wait(0) == std::vector<uint64_t>({4, 5}));  // the uncommitted 6 is not waited for
  CHECK_EQ(q.uncommitted(), 1u);
  q.commit();
  q.commit();  // an empty group
  CHECK_EQ(q.pending_groups(), 2u);
  CHECK(q.wait(0) == std::vector<uint64_t>({6}));
  CHECK_EQ(q.pending_groups(), 0u);
}

// The optional lossy fp8 accumulation (WgmmaNumerics::fp8_sum_bits): within its bound of the exact sum,
// different from it on random data, equal to it where every term is a multiple of the quantum, and
// without effect on f16 inputs.
static void test_lossy_fp8_sum() {
  Rng rng(31);
  const uint32_t N = 64, K = 32;
  VecSmem smem(64 * 1024, 0);
  MatrixDesc da, db;
  da.start = 0;
  da.sbo = 1024;
  da.swizzle = DescSwizzle::b128;
  db = da;
  db.start = 16384;
  for (int integers = 0; integers < 2; ++integers) {
    const Mat A = random_mat(rng, WgType::e4m3, 64, 128, integers), B = random_mat(rng, WgType::e4m3, N, 128, integers);
    CHECK(place(smem, A, da.start, 16, da.sbo, DescSwizzle::b128, Major::K));
    CHECK(place(smem, B, db.start, 16, db.sbo, DescSwizzle::b128, Major::K));
    WgmmaOp op;
    op.n = N;
    op.atype = op.btype = WgType::e4m3;
    op.desc_a = encode_desc(da);
    op.desc_b = encode_desc(db);
    op.scale_d = true;
    std::vector<uint32_t> d0(128 * N / 2), d1;
    for (auto& x : d0) x = fp::bits_of(static_cast<float>(integers ? 3.0 : 0.37));
    d1 = d0;
    std::vector<uint32_t> dexact = d0;
    CHECK(wgmma_mma_async(op, smem, nullptr, dexact.data()).ok);
    WgmmaNumerics lossy;
    lossy.fp8_sum_bits = 14;
    CHECK(wgmma_mma_async(op, smem, nullptr, d1.data(), lossy).ok);
    int differ = 0, out_of_bound = 0;
    for (uint32_t t = 0; t < 128; ++t)
      for (uint32_t i = 0; i < N / 2; ++i) {
        uint32_t row, col;
        ref_d_pos(t, i, &row, &col);
        double emax = std::fabs(fp::f32_from_bits(d0[t * N / 2 + i]));
        for (uint32_t k = 0; k < K; ++k) emax = std::max(emax, std::fabs(A.at(row, k) * B.at(col, k)));
        const double quantum = emax > 0 ? std::ldexp(1.0, std::ilogb(emax) - 14) : 0;
        const double x = fp::f32_from_bits(dexact[t * N / 2 + i]), y = fp::f32_from_bits(d1[t * N / 2 + i]);
        if (x != y) ++differ;
        if (std::fabs(x - y) > (K + 1) * quantum + std::ldexp(std::fabs(x), -22)) ++out_of_bound;
      }
    CHECK_EQ(out_of_bound, 0);
    if (integers) CHECK_EQ(differ, 0);  // small integers: every term is a multiple of the quantum
    else CHECK(differ > 0);
    if (!integers) std::printf("lossy fp8 sum (14 bits): %d of %u values differ from the exact sum, all within bound\n", differ, 64 * N);
  }
  // f16 inputs: the option does not apply
  WgmmaOp h;
  h.n = 8;
  h.atype = h.btype = WgType::f16;
  MatrixDesc a0;
  a0.start = 0;
  a0.lbo = 128;
  a0.sbo = 256;
  h.desc_a = h.desc_b = encode_desc(a0);
  for (uint32_t i = 0; i < 4096; ++i) smem.bytes[i] = static_cast<uint8_t>(rng.below(64));
  std::vector<uint32_t> e1(128 * 4, 0), e2(128 * 4, 0);
  WgmmaNumerics lossy;
  lossy.fp8_sum_bits = 3;
  CHECK(wgmma_mma_async(h, smem, nullptr, e1.data()).ok);
  CHECK(wgmma_mma_async(h, smem, nullptr, e2.data(), lossy).ok);
  CHECK(e1 == e2);
}

int main() {
  test_groups();
  test_lossy_fp8_sum();
  test_descriptor();
  test_fragments();
  test_layouts();
  test_errors_and_special_values();
  test_tma_fp8_gemm_path(true);
  test_tma_fp8_gemm_path(false);
  test_gemm_combinations();
  return check::finish();
}
