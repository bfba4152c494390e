// dsv3-emu sm90: model of the TMA tiled tensor copies `cp.async.bulk.tensor.{1..5}d.shared::cluster.global
// .tile.mbarrier::complete_tx::bytes` (load) and `cp.async.bulk.tensor.{1..5}d.global.shared::cta.tile
// .bulk_group` (store), PTX ISA 9.0 sections 5.5 "Tensors" (bounding box, traversal stride, out-of-bound
// access, swizzling modes) and 9.7.9.25 "cp.async.bulk.tensor", with the tensor-map fields and rules of
// the CUDA driver's cuTensorMapEncodeTiled. Pure C++: memory is reached through GlobalView / SmemView.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "src/runtime/tensormap.h"
#include "src/sm90/memview.h"

namespace emu::sm90 {

// Enumerations with the values of the driver API (CUtensorMapDataType, CUtensorMapInterleave, ...).
enum class TmaDataType : uint8_t { u8 = 0, u16, u32, s32, u64, s64, f16, f32, f64, bf16, f32_ftz, tf32, tf32_ftz };
enum class TmaInterleave : uint8_t { none = 0, b16, b32 };
// CUtensorMapSwizzle: 0 none, 1 32B, 2 64B, 3 128B (note: not the wgmma descriptor's encoding). The
// 128B_ATOM_* variants (4..6) are sm_100 features and are refused.
enum class TmaSwizzle : uint8_t { none = 0, b32, b64, b128 };
enum class TmaOobFill : uint8_t { zero = 0, nan_request_zero_fma };

// The decoded tensor map (what cuTensorMapEncodeTiled received).
struct TensorMap {
  TmaDataType dtype = TmaDataType::u8;
  uint32_t rank = 1;                   // 1..5
  uint64_t global_address = 0;
  uint64_t global_dim[5] = {};         // elements per dimension, dimension 0 innermost
  uint64_t global_strides[4] = {};     // bytes between consecutive indices of dimension i+1 (the API's array)
  uint32_t box_dim[5] = {};            // traversal box, elements
  uint32_t element_strides[5] = {1, 1, 1, 1, 1};  // traversal stride; [0] is ignored without interleave
  TmaInterleave interleave = TmaInterleave::none;
  TmaSwizzle swizzle = TmaSwizzle::none;
  uint8_t l2_promotion = 0;            // a cache hint: no effect on results
  TmaOobFill oob_fill = TmaOobFill::zero;
};

// From the runtime's decoded CUtensorMap (src/runtime/tensormap.h, what cuTensorMapEncodeTiled stored).
// False (with the reason) for what this model does not cover: the packed sub-byte types (16U4/16U6)
// and the sm_100 swizzle atoms; the result still goes through validate() before any copy.
bool from_runtime(const emu::tma::TensorMap& in, TensorMap* out, std::string* why);
// The 128 bytes of a CUtensorMap (as the program passes them) to a TensorMap: runtime decode + the above.
bool decode_tensor_map(const void* bytes128, TensorMap* out, std::string* why);

uint32_t element_bytes(TmaDataType t);
bool is_float(TmaDataType t);
// The requirements cuTensorMapEncodeTiled states (see its documentation in cuda.h); "" when valid.
std::string validate(const TensorMap& m);

// Number of elements the box has in shared memory along dimension i: box_dim[i], or
// ceil(box_dim[i] / element_strides[i]) when the traversal stride applies (every dimension but 0).
uint32_t box_extent(const TensorMap& m, uint32_t i);
// Bytes of the box in shared memory: what a load writes and completes on the mbarrier (complete_tx),
// out-of-bound elements included (they are written with the fill value).
uint32_t box_bytes(const TensorMap& m);

// The TMA swizzle of a shared-memory byte address (ISA 5.5 "swizzling modes"; CUtensorMapSwizzle "swizzle
// 16B chunks within a 32/64/128B span"): the 16-byte chunk index, address bits [4, 4+b), is XORed with
// address bits [7, 7+b), b = 1/2/3. It is a function of the address, so the pattern repeats every
// 256/512/1024 bytes of shared memory; that is why the destination must be aligned to the repeat.
uint32_t tma_swizzle(uint32_t smem_addr, TmaSwizzle s);
uint32_t swizzle_repeat_bytes(TmaSwizzle s);  // 256/512/1024; 0 for none

// One element of a box: its coordinates in the tensor, its global address (meaningful when in_bounds) and
// its shared-memory address with the swizzle applied. The box is laid out in shared memory densely in
// row-major order (dimension 0 fastest, box_extent elements per dimension), then swizzled. (When the
// inner dimension is narrower than the swizzle span, rows are still packed densely and the address-bit
// swizzle applies as is: our reading; the kernels here always use inner dimension = span.)
struct TmaElement {
  int64_t coord[5];
  bool in_bounds;
  uint64_t global_addr;
  uint32_t smem_addr;
};
// Visits every element of the box whose first corner is `coords` (rank int32 coordinates, dimension 0
// first; they may be negative or past the end: those elements are out of bounds).
void for_each_box_element(const TensorMap& m, const int32_t* coords, uint32_t smem_base,
                          const std::function<void(const TmaElement&)>& fn);

struct TmaStatus {
  bool ok = true;
  std::string message;   // why not ok
  uint32_t bytes = 0;    // load: bytes to complete_tx on the mbarrier; store: bytes written to global
};

// Checks of the instruction's operands against the map (rank of the instruction, shared alignment: the
// ISA requires 128 bytes for tensor copies, and a swizzled box must start on its pattern's repeat so that
// the pattern the program computes matches the one the TMA unit applies).
std::string check_tile_operands(const TensorMap& m, uint32_t instr_rank, uint32_t smem_addr);

// Load: every element of the box is read from global memory, or for out-of-bound elements filled with
// zero (or, with nan_request_zero_fma on a float type, the canonical NaN of the type), and written at
// its swizzled shared-memory address. On success `bytes` = box_bytes(m).
TmaStatus tma_load_tile(const TensorMap& m, uint32_t instr_rank, const int32_t* coords, uint32_t smem_dst,
                        GlobalView& global, SmemView& smem);
// Store: the in-bound elements of the box are read from their swizzled shared-memory addresses and
// written to global memory; out-of-bound elements are not written.
TmaStatus tma_store_tile(const TensorMap& m, uint32_t instr_rank, const int32_t* coords, uint32_t smem_src,
                         SmemView& smem, GlobalView& global);

// ---- non-tensor bulk copies (9.7.9.24 "cp.async.bulk") ----
// cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [dst], [src], size, [mbar] and
// cp.async.bulk.global.shared::cta.bulk_group [dst], [src], size: size a multiple of 16, both addresses
// 16-byte aligned. A load's `bytes` (= size) is what completes on the mbarrier.
TmaStatus bulk_copy_global_to_shared(uint64_t src, uint32_t dst, uint32_t size, GlobalView& global, SmemView& smem);
TmaStatus bulk_copy_shared_to_global(uint32_t src, uint64_t dst, uint32_t size, SmemView& smem, GlobalView& global);

}  // namespace emu::sm90
