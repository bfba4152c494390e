// dsv3-emu sm90: wgmma.mma_async model (PTX ISA 9.0, 9.7.15): descriptor decoding, canonical shared-
// memory layouts, register fragments and the product. See wgmma.h for the formulas and their sources.
#include "src/sm90/wgmma.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "src/fp/fp.h"

namespace emu::sm90 {

// ---- descriptor ----
namespace {
constexpr uint64_t kField14 = 0x3FFF;
// Bits the sm_90 format does not define: 15-14, 31-30, 48-46, 61-52.
constexpr uint64_t kReservedMask = (uint64_t{3} << 14) | (uint64_t{3} << 30) | (uint64_t{7} << 46) |
                                   (uint64_t{0x3FF} << 52);
}  // namespace

MatrixDesc decode_desc(uint64_t desc) {
  MatrixDesc d;
  d.start = static_cast<uint32_t>(desc & kField14) << 4;
  d.lbo = static_cast<uint32_t>((desc >> 16) & kField14) << 4;
  d.sbo = static_cast<uint32_t>((desc >> 32) & kField14) << 4;
  d.base_offset = static_cast<uint8_t>((desc >> 49) & 7);
  d.swizzle = static_cast<DescSwizzle>((desc >> 62) & 3);
  d.reserved_bits = desc & kReservedMask;
  return d;
}

uint64_t encode_desc(const MatrixDesc& d) {
  auto enc = [](uint32_t x) { return static_cast<uint64_t>((x & 0x3FFFF) >> 4); };  // the ISA's encode()
  return enc(d.start) | (enc(d.lbo) << 16) | (enc(d.sbo) << 32) | (uint64_t{d.base_offset & 7u} << 49) |
         (static_cast<uint64_t>(d.swizzle) << 62) | (d.reserved_bits & kReservedMask);
}

uint32_t swizzle_bytes(DescSwizzle s) {
  switch (s) {
    case DescSwizzle::b128: return 128;
    case DescSwizzle::b64: return 64;
    case DescSwizzle::b32: return 32;
    case DescSwizzle::none: break;
  }
  return 16;
}

uint32_t swizzle_address(uint32_t addr, DescSwizzle s, uint32_t base_offset) {
  uint32_t bits = 0;  // b of Swizzle<b,4,3>
  switch (s) {
    case DescSwizzle::b128: bits = 3; break;
    case DescSwizzle::b64: bits = 2; break;
    case DescSwizzle::b32: bits = 1; break;
    case DescSwizzle::none: return addr;
  }
  const uint32_t mask = (1u << bits) - 1;
  const uint32_t phase = ((addr >> 7) - base_offset) & mask;
  return addr ^ (phase << 4);
}

uint32_t smem_address(const MatrixDesc& d, Major major, uint32_t mn, uint32_t k, uint32_t e) {
  const uint32_t w = swizzle_bytes(d.swizzle);
  uint32_t off;
  if (major == Major::K) {
    if (d.swizzle == DescSwizzle::none)
      off = (mn % 8) * 16 + (mn / 8) * d.sbo + (k * e) % 16 + (k * e / 16) * d.lbo;
    else
      off = (mn % 8) * w + (mn / 8) * d.sbo + k * e;
  } else {
    if (d.swizzle == DescSwizzle::none)
      off = (mn * e) % 16 + (mn * e / 16) * d.sbo + (k % 8) * 16 + (k / 8) * d.lbo;
    else
      off = (mn * e) % w + (mn * e / w) * d.lbo + (k % 8) * w + (k / 8) * d.sbo;
  }
  return swizzle_address(d.start + off, d.swizzle, d.swizzle == DescSwizzle::none ? 0 : d.base_offset);
}

// ---- shapes and types ----
uint32_t type_bytes(WgType t) {
  switch (t) {
    case WgType::f16:
    case WgType::bf16: return 2;
    case WgType::e4m3:
    case WgType::e5m2: return 1;
    case WgType::f32: return 4;
  }
  return 0;
}

static bool is_fp8(WgType t) { return t == WgType::e4m3 || t == WgType::e5m2; }
static const char* type_name(WgType t) {
  switch (t) {
    case WgType::f16: return "f16";
    case WgType::bf16: return "bf16";
    case WgType::e4m3: return "e4m3";
    case WgType::e5m2: return "e5m2";
    case WgType::f32: return "f32";
  }
  return "?";
}

uint32_t wgmma_k(WgType atype) { return is_fp8(atype) ? 32 : 16; }
uint32_t d_regs_per_thread(const WgmmaOp& op) { return op.dtype == WgType::f16 ? op.n / 4 : op.n / 2; }
uint32_t a_regs_per_thread(const WgmmaOp&) { return 4; }  // 8 x 16-bit or 16 x 8-bit values

std::string validate(const WgmmaOp& op) {
  // 9.7.15.5.2 "wgmma.mma_async" type/shape table (dense): f16 x f16 -> f16|f32, bf16 x bf16 -> f32,
  // {e4m3,e5m2} x {e4m3,e5m2} -> f16|f32; N = 8..256 in steps of 8 for all of them.
  if (op.n < 8 || op.n > 256 || op.n % 8 != 0) return "N=" + std::to_string(op.n) + " is not one of 8, 16, ..., 256";
  const std::string types = std::string(type_name(op.dtype)) + "." + type_name(op.atype) + "." + type_name(op.btype);
  const bool half_in = (op.atype == WgType::f16 && op.btype == WgType::f16);
  const bool bf_in = (op.atype == WgType::bf16 && op.btype == WgType::bf16);
  const bool f8_in = is_fp8(op.atype) && is_fp8(op.btype);
  if (!half_in && !bf_in && !f8_in) return "input types ." + types + " are not a wgmma combination";
  if (op.dtype != WgType::f32 && !(op.dtype == WgType::f16 && (half_in || f8_in)))
    return "accumulator type of ." + types + " must be f32" + (bf_in ? "" : " or f16");
  if (op.scale_a != 1 && op.scale_a != -1) return "imm-scale-a must be 1 or -1";
  if (op.scale_b != 1 && op.scale_b != -1) return "imm-scale-b must be 1 or -1";
  // imm-trans-a/-b exist only for .f16/.bf16 (the fp8 forms take no transpose operands: K-major only).
  if ((op.trans_a || op.trans_b) && f8_in) return "imm-trans-a/b are only valid for .f16/.bf16 inputs";
  if (op.trans_a && op.a_in_regs) return "imm-trans-a has no meaning when A comes from registers";
  MatrixDesc db = decode_desc(op.desc_b);
  if (db.reserved_bits) return "descriptor of B has reserved bits set (not an sm_90 wgmma descriptor?)";
  if (!op.a_in_regs && decode_desc(op.desc_a).reserved_bits)
    return "descriptor of A has reserved bits set (not an sm_90 wgmma descriptor?)";
  return "";
}

// ---- fragments ----
// 9.7.15.5.1.1, figure "WGMMA .m64nNk16 / .m64nNk32 register fragment layout for accumulator matrix D":
// warp w = t/32 owns rows 16w..16w+15; in it, lane l holds rows l/4 and l/4 + 8, columns 2*(l%4) + {0,1}
// of every 8-column block. Values in order: (row l/4: c, c+1), (row l/4+8: c, c+1), next 8-column block.
RowCol d_fragment(uint32_t t, uint32_t i) {
  const uint32_t lane = t % 32;
  return {16 * (t / 32) + lane / 4 + 8 * ((i >> 1) & 1), 8 * (i >> 2) + 2 * (lane % 4) + (i & 1)};
}

// 9.7.15.5.1.1, figures "register fragment layout for matrix A" (m64nNk16: .f16x2 a0..a3; m64nNk32: .b32
// a0..a3 of four 8-bit values):
//   k16: value i (0..7): row 16w + l/4 + 8*((i>>1)&1), col 2*(l%4) + (i&1) + 8*(i>>2)
//   k32: value i (0..15): row 16w + l/4 + 8*((i>>2)&1), col 4*(l%4) + (i&3) + 16*(i>>3)
RowCol a_fragment(uint32_t t, uint32_t i, WgType atype) {
  const uint32_t lane = t % 32, row0 = 16 * (t / 32) + lane / 4;
  if (is_fp8(atype)) return {row0 + 8 * ((i >> 2) & 1), 4 * (lane % 4) + (i & 3) + 16 * (i >> 3)};
  return {row0 + 8 * ((i >> 1) & 1), 2 * (lane % 4) + (i & 1) + 8 * (i >> 2)};
}

// ---- operands ----
// Decoded values of every 8-bit and 16-bit input encoding, built once from src/fp's exact conversions
// (the per-element calls dominated the instruction's time).
namespace {
struct DecodeTables {
  std::vector<float> e4m3, e5m2, f16, bf16;
  DecodeTables() : e4m3(256), e5m2(256), f16(65536), bf16(65536) {
    for (uint32_t v = 0; v < 256; ++v) {
      e4m3[v] = fp::e4m3_to_f32(static_cast<uint8_t>(v));
      e5m2[v] = fp::e5m2_to_f32(static_cast<uint8_t>(v));
    }
    for (uint32_t v = 0; v < 65536; ++v) {
      f16[v] = fp::f16_to_f32(static_cast<uint16_t>(v));
      bf16[v] = fp::bf16_to_f32(static_cast<uint16_t>(v));
    }
  }
};
const DecodeTables& tables() {
  static const DecodeTables t;  // thread-safe lazy initialisation
  return t;
}
}  // namespace

static double decode_elem(WgType t, const uint8_t* p) {
  const DecodeTables& tb = tables();
  switch (t) {
    case WgType::f16: return tb.f16[p[0] | (p[1] << 8)];
    case WgType::bf16: return tb.bf16[p[0] | (p[1] << 8)];
    case WgType::e4m3: return tb.e4m3[p[0]];
    case WgType::e5m2: return tb.e5m2[p[0]];
    case WgType::f32: break;
  }
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

static std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// Reads the rows x K operand (rows = 64 for A, N for B) described by `desc` into out[mn * K + k].
// Every canonical layout keeps 16 contiguous bytes along its major dimension (a core-matrix row, which
// the swizzle moves as a whole), so the operand is read as 16-byte chunks: one SmemView read per chunk.
static WgmmaStatus read_operand(SmemView& smem, uint64_t desc, Major major, WgType t, uint32_t rows, uint32_t K,
                                double scale, double* out, const char* which) {
  const MatrixDesc d = decode_desc(desc);
  const uint32_t e = type_bytes(t), per_chunk = 16 / e;
  uint8_t chunk[16];
  const uint32_t outer = major == Major::K ? rows : K, inner = major == Major::K ? K : rows;
  for (uint32_t o = 0; o < outer; ++o) {
    for (uint32_t c = 0; c < inner; c += per_chunk) {
      const uint32_t mn0 = major == Major::K ? o : c, k0 = major == Major::K ? c : o;
      const uint32_t addr = smem_address(d, major, mn0, k0, e);
      if (!smem.read(addr, chunk, 16))
        return {false, std::string("wgmma: shared-memory read of operand ") + which + " refused at " + hex(addr) +
                           " (16 bytes)"};
      for (uint32_t j = 0; j < per_chunk; ++j) {
        const uint32_t mn = major == Major::K ? mn0 : mn0 + j, k = major == Major::K ? k0 + j : k0;
        out[mn * K + k] = scale * decode_elem(t, chunk + j * e);
      }
    }
  }
  return {};
}

WgmmaStatus load_a(const WgmmaOp& op, SmemView& smem, const uint32_t* a_regs, double* a) {
  const uint32_t K = wgmma_k(op.atype);
  const double scale = op.scale_a;
  if (!op.a_in_regs)
    return read_operand(smem, op.desc_a, op.trans_a ? Major::MN : Major::K, op.atype, 64, K, scale, a, "A");
  const uint32_t e = type_bytes(op.atype), per_reg = 4 / e;
  for (uint32_t t = 0; t < 128; ++t)
    for (uint32_t i = 0; i < 4 * per_reg; ++i) {
      const uint32_t reg = a_regs[t * 4 + i / per_reg];
      uint8_t bytes[4];
      std::memcpy(bytes, &reg, 4);  // little-endian host: the low half / byte is the first value
      const RowCol rc = a_fragment(t, i, op.atype);
      a[rc.row * K + rc.col] = scale * decode_elem(op.atype, bytes + (i % per_reg) * e);
    }
  return {};
}

// B as N x K (element (n, k) at bt[n * K + k]): the layout the product loop wants.
static WgmmaStatus load_b_nk(const WgmmaOp& op, SmemView& smem, double* bt) {
  return read_operand(smem, op.desc_b, op.trans_b ? Major::MN : Major::K, op.btype, op.n, wgmma_k(op.atype),
                      static_cast<double>(op.scale_b), bt, "B");
}

WgmmaStatus load_b(const WgmmaOp& op, SmemView& smem, double* b) {
  const uint32_t K = wgmma_k(op.atype);
  std::vector<double> bt(op.n * K);
  WgmmaStatus s = load_b_nk(op, smem, bt.data());
  if (!s.ok) return s;
  for (uint32_t n = 0; n < op.n; ++n)
    for (uint32_t k = 0; k < K; ++k) b[k * op.n + n] = bt[n * K + k];
  return {};
}

// The sum of `n` terms truncated to `bits` bits below the largest exponent among them (see wgmma.h).
static double truncated_sum(const double* terms, uint32_t n, uint32_t bits) {
  int emax = INT32_MIN;
  for (uint32_t i = 0; i < n; ++i) {
    if (!std::isfinite(terms[i])) {  // NaN / infinity: nothing to align, the IEEE sum decides
      double s = 0;
      for (uint32_t j = 0; j < n; ++j) s += terms[j];
      return s;
    }
    if (terms[i] != 0) emax = std::max(emax, std::ilogb(terms[i]));
  }
  if (emax == INT32_MIN) return 0;
  const double quantum = std::ldexp(1.0, emax - static_cast<int>(bits));
  double s = 0;
  for (uint32_t i = 0; i < n; ++i) s += std::trunc(terms[i] / quantum) * quantum;  // exact: few bits each
  return s;
}

WgmmaStatus wgmma_mma_async(const WgmmaOp& op, SmemView& smem, const uint32_t* a_regs, uint32_t* d,
                            const WgmmaNumerics& numerics) {
  const std::string why = validate(op);
  if (!why.empty()) return {false, "wgmma: " + why};
  const uint32_t K = wgmma_k(op.atype), N = op.n;
  std::vector<double> a(64 * K), bt(N * K);
  WgmmaStatus s = load_a(op, smem, a_regs, a.data());
  if (!s.ok) return s;
  s = load_b_nk(op, smem, bt.data());
  if (!s.ok) return s;

  const uint32_t nregs = d_regs_per_thread(op);
  const bool f16_acc = op.dtype == WgType::f16;
  const bool lossy = numerics.fp8_sum_bits > 0 && is_fp8(op.atype);
  for (uint32_t t = 0; t < 128; ++t) {
    uint32_t* regs = d + t * nregs;
    for (uint32_t i = 0; i < N / 2; ++i) {
      const RowCol rc = d_fragment(t, i);
      double acc = 0;
      if (op.scale_d) {
        if (f16_acc)
          acc = fp::f16_to_f32(static_cast<uint16_t>(regs[i / 2] >> (16 * (i & 1))));
        else
          acc = fp::f32_from_bits(regs[i]);
      }
      const double* arow = &a[rc.row * K];
      const double* bcol = &bt[rc.col * K];
      if (lossy) {
        double terms[33];
        for (uint32_t k = 0; k < K; ++k) terms[k] = arow[k] * bcol[k];
        terms[K] = acc;
        acc = truncated_sum(terms, K + 1, numerics.fp8_sum_bits);
      } else {
        // k order; products exact in float64 (at most 11+11 significant bits)
        double sum = 0;
        for (uint32_t k = 0; k < K; ++k) sum += arow[k] * bcol[k];
        acc = sum + acc;
      }
      if (f16_acc) {
        uint16_t h = fp::f64_to_f16(acc, fp::Round::rn, false);
        if (acc != acc) h = fp::kCanonicalNaN16;
        const uint32_t shift = 16 * (i & 1);
        regs[i / 2] = (regs[i / 2] & ~(0xFFFFu << shift)) | (uint32_t{h} << shift);
      } else {
        const float f = fp::f64_to_f32(acc, fp::Round::rn, false, false);
        regs[i] = acc != acc ? fp::kCanonicalNaN32 : fp::bits_of(f);
      }
    }
  }
  return {};
}

// ---- wgmma-groups ----
WgmmaGroups::Issue WgmmaGroups::issue(uint64_t handle) {
  open_.push_back(handle);
  return fenced_ ? Issue::ok : Issue::missing_fence;
}

void WgmmaGroups::commit() {
  groups_.push_back(std::move(open_));
  open_.clear();
}

std::vector<uint64_t> WgmmaGroups::wait(uint32_t n) {
  std::vector<uint64_t> done;
  while (groups_.size() > n) {
    done.insert(done.end(), groups_.front().begin(), groups_.front().end());
    groups_.pop_front();
  }
  return done;
}

std::vector<uint64_t> WgmmaGroups::in_flight() const {
  std::vector<uint64_t> all;
  for (const auto& g : groups_) all.insert(all.end(), g.begin(), g.end());
  all.insert(all.end(), open_.begin(), open_.end());
  return all;
}

}  // namespace emu::sm90
