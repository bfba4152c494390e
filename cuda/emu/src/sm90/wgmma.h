// dsv3-emu sm90: model of `wgmma.mma_async.sync.aligned` (PTX ISA 9.0, section 9.7.15 "Asynchronous
// Warpgroup Level Matrix Multiply-Accumulate"): the shared-memory matrix descriptor (9.7.15.5.1.2.2), the
// canonical K-major / MN-major layouts with their swizzles (9.7.15.5.1.2 and its "Strides" part), the
// register fragments of D and of A (the m64nNk16 / m64nNk32 figures of 9.7.15.5.1.1) and the product.
// Pure C++: shared memory is reached through SmemView only.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "src/sm90/memview.h"

namespace emu::sm90 {

// ---- matrix descriptor (9.7.15.5.1.2.2 "Matrix Descriptor Format") ----
// bits 13-0: encode(start address), 29-16: encode(leading dimension byte offset), 45-32: encode(stride
// dimension byte offset), 51-49: matrix base offset, 63-62: swizzle mode; encode(x) = (x & 0x3FFFF) >> 4.
enum class DescSwizzle : uint8_t { none = 0, b128 = 1, b64 = 2, b32 = 3 };  // the sm_90 2-bit encoding

struct MatrixDesc {
  uint32_t start = 0;        // byte address in the shared window (a multiple of 16)
  uint32_t lbo = 0;          // leading dimension byte offset (a multiple of 16)
  uint32_t sbo = 0;          // stride dimension byte offset (a multiple of 16)
  uint8_t base_offset = 0;   // 3 bits
  DescSwizzle swizzle = DescSwizzle::none;
  uint64_t reserved_bits = 0;  // bits of the 64 that the format leaves unused, as given (0 expected)
};
MatrixDesc decode_desc(uint64_t desc);
uint64_t encode_desc(const MatrixDesc& d);  // the inverse (for tests and tools); fields are truncated to the format

// Width in bytes of one swizzle row (the "swizzle-byte-size"): 128 / 64 / 32, and 16 for no swizzle (the
// core matrix row); the pattern repeats every 8 such rows: 1024 / 512 / 256 bytes (table of 9.7.15.5.1.2.2).
uint32_t swizzle_bytes(DescSwizzle s);

enum class Major : uint8_t { K, MN };  // imm-trans = 0 -> K-major, 1 -> M/N-major (9.7.15.5.1.2)

// The swizzle the hardware applies to a shared-memory byte address: the 16-byte chunk index (address
// bits [4, 4+b)) is XORed with bits [7, 7+b) of the address, b = 3 / 2 / 1 for 128B / 64B / 32B (CuTe's
// Swizzle<b,4,3>). The row phase is taken relative to the pattern start: when the descriptor carries a
// base offset (the pattern starts at a 128-byte row that is not at the repeat boundary, base offset =
// (pattern start >> 7) & 7), that offset is subtracted from bits [7,10) first. That reading of the base
// offset is ours (the ISA only gives its formula); programs that keep patterns aligned use 0.
uint32_t swizzle_address(uint32_t addr, DescSwizzle s, uint32_t base_offset);

// Byte address in shared memory of element (mn, k) of an operand described by `d` (mn = the row of A or
// the column n of B, k = the reduction index), per the canonical layouts of 9.7.15.5.1.2, written here
// in bytes with e = elem_bytes, W = swizzle_bytes(d.swizzle):
//   K-major,  no swizzle: (mn%8)*16 + (mn/8)*SBO + (k*e)%16 + (k*e/16)*LBO      (8x16-byte core matrices)
//   K-major,  swizzled:   (mn%8)*W  + (mn/8)*SBO + k*e            (k*e < W: one instruction's K is 32 B)
//   MN-major, no swizzle: (mn*e)%16 + (mn*e/16)*SBO + (k%8)*16 + (k/8)*LBO
//   MN-major, swizzled:   (mn*e)%W  + (mn*e/W)*LBO  + (k%8)*W  + (k/8)*SBO
// then swizzle_address(start + offset). (LBO is unused for swizzled K-major layouts, as the ISA says.)
uint32_t smem_address(const MatrixDesc& d, Major major, uint32_t mn, uint32_t k, uint32_t elem_bytes);

// ---- the instruction ----
enum class WgType : uint8_t { f16, bf16, e4m3, e5m2, f32 };
uint32_t type_bytes(WgType t);  // 2, 2, 1, 1, 4

struct WgmmaOp {
  uint32_t n = 8;                 // m64nNkK: N in 8..256, step 8
  WgType dtype = WgType::f32;     // accumulator type: f32, or f16 (f16 / e4m3 / e5m2 inputs only)
  WgType atype = WgType::f16;     // f16, bf16, e4m3, e5m2 (fp8 inputs may mix e4m3 and e5m2)
  WgType btype = WgType::f16;
  bool a_in_regs = false;         // A from registers (fragment a_fragment) instead of desc_a
  uint64_t desc_a = 0, desc_b = 0;
  bool scale_d = true;            // false: D = A*B; true: D = A*B + D
  int scale_a = 1, scale_b = 1;   // imm-scale-a / imm-scale-b: 1 or -1 (negates the operand)
  bool trans_a = false;           // imm-trans-a: A is M-major (descriptor A, f16/bf16 only)
  bool trans_b = false;           // imm-trans-b: B is N-major (f16/bf16 only)
};

uint32_t wgmma_k(WgType atype);                  // 16 for f16/bf16, 32 for e4m3/e5m2
uint32_t d_regs_per_thread(const WgmmaOp& op);   // N/2 (f32) or N/4 (f16: two values per .f16x2 register)
uint32_t a_regs_per_thread(const WgmmaOp& op);   // 4 (A from registers)
std::string validate(const WgmmaOp& op);         // "" when the ISA allows the combination, else why not

// ---- register fragments (9.7.15.5.1.1 "Register Fragments", figures for m64nNk16 / m64nNk32) ----
struct RowCol { uint32_t row, col; };
// D (64 x N): thread t of the warpgroup (0..127) holds N/2 values; value i sits in f32 register i, or in
// half (i & 1) of .f16x2 register i/2 for f16 accumulators.
RowCol d_fragment(uint32_t thread, uint32_t i);
// A (64 x K) from registers: 8 f16/bf16 values (.f16x2 register i/2, half i&1) or 16 fp8 values (.b32
// register i/4, byte i&3) per thread.
RowCol a_fragment(uint32_t thread, uint32_t i, WgType atype);

// ---- execution ----
struct WgmmaStatus {
  bool ok = true;
  std::string message;  // why not ok: invalid combination, or the shared address that SmemView refused
};

// The operands as the instruction sees them, in row-major float64 (exact for every input type):
// A is 64 x K (with imm-scale-a applied), B is K x N (with imm-scale-b applied), K = wgmma_k(atype).
// a_regs: [128][4] registers of A (thread-major) when op.a_in_regs, else unused.
WgmmaStatus load_a(const WgmmaOp& op, SmemView& smem, const uint32_t* a_regs, double* a /*64*K*/);
WgmmaStatus load_b(const WgmmaOp& op, SmemView& smem, double* b /*K*N*/);

// The whole instruction: reads A and B, and updates d, [128][d_regs_per_thread] 32-bit registers
// (thread-major; f32 bits, or two f16 per register with the lower column in the low half).
// Accumulation (the ISA leaves order and intermediate precision open): each product is exact in float64,
// the K products are summed in float64 in k order, the old D is added (scale_d), and that sum is rounded
// once, to nearest even, to the D type (no flush of subnormals); NaN results are the canonical NaN. Why:
// it is the most accurate reading, deterministic, and independent of any guess about the hardware's
// adder tree; results differ from the GPU only in low bits. This is at least as accurate as
// the hardware (which keeps fewer bits for fp8), so tests compare with a tolerance, or exactly when
// every partial sum is exact. On error d is left unchanged.
//
// Optional, off by default: fp8_sum_bits = b > 0 models the reduced accumulation precision publicly
// reported for Hopper's fp8 wgmma (DeepSeek-V3 technical report, 3.3.2: "limited to retaining around 14
// bits"), for fp8 inputs only: the instruction's terms (the K products and the incoming D) are aligned to
// the largest exponent among them and each is truncated toward zero to b bits below it before the
// (then exact) sum. It is a model of a reported behaviour, not the hardware's documented algorithm:
// use it to check that a kernel's error budget survives a lossy accumulator, not to predict bits.
struct WgmmaNumerics {
  uint32_t fp8_sum_bits = 0;  // 0: exact float64 sum, rounded once
};
WgmmaStatus wgmma_mma_async(const WgmmaOp& op, SmemView& smem, const uint32_t* a_regs, uint32_t* d,
                            const WgmmaNumerics& numerics = {});

// ---- asynchrony: wgmma.fence / commit_group / wait_group (9.7.15.6, 9.7.15.7) ----
// The bookkeeping of one warpgroup's wgmma-groups, with the interpreter's own handles for the issued
// instructions. Hostile by design: an issued wgmma.mma_async does nothing until a wait_group forces
// it (the latest moment the ISA allows), so a program that reads the accumulators early, or changes
// the shared-memory operands before waiting, sees the consequences (the interpreter also reports
// accesses to registers of in-flight instructions, using in_flight()).
class WgmmaGroups {
 public:
  enum class Issue : uint8_t { ok, missing_fence };
  // wgmma.fence.sync.aligned
  void fence() { fenced_ = true; }
  // The warpgroup accessed registers (accumulators or A fragment) that a later wgmma.mma_async uses:
  // the ISA requires a wgmma.fence between that access and the wgmma (consecutive wgmmas chaining the
  // same accumulators need none, so issue() itself does not clear the fence).
  void registers_accessed() { fenced_ = false; }
  // wgmma.mma_async: missing_fence when no wgmma.fence came before it since the last register access
  // (or ever). The instruction is recorded either way.
  Issue issue(uint64_t handle);
  // wgmma.commit_group: the uncommitted instructions become one group (an empty group if none).
  void commit();
  // wgmma.wait_group n: the handles that must complete now, oldest first (every instruction of the
  // groups beyond the n most recent ones). Uncommitted instructions are not waited for.
  std::vector<uint64_t> wait(uint32_t n);
  // Issued and not yet completed (committed or not), oldest first: for register-hazard checks.
  std::vector<uint64_t> in_flight() const;
  // Instructions never committed: a report at the end of the warpgroup (they may never complete).
  size_t uncommitted() const { return open_.size(); }
  size_t pending_groups() const { return groups_.size(); }

 private:
  bool fenced_ = false;
  std::vector<uint64_t> open_;
  std::deque<std::vector<uint64_t>> groups_;
};

}  // namespace emu::sm90
