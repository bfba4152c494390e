// dsv3-emu runtime: cuTensorMapEncodeTiled as the driver API documents it (cuda.h): every argument is
// checked against the stated requirements (CUDA_ERROR_INVALID_VALUE otherwise) and the map is encoded
// in the emulator's layout (tensormap.h), which the interpreter's TMA instructions decode.
#include "src/runtime/tensormap.h"

#include <cuda.h>

#include "src/runtime/state.h"

namespace emu::rt {

CUresult encode_tiled(CUtensorMap* map, CUtensorMapDataType type_arg, cuuint32_t rank, void* address,
                      const cuuint64_t* dims, const cuuint64_t* strides, const cuuint32_t* box,
                      const cuuint32_t* elem_strides, CUtensorMapInterleave interleave_arg,
                      CUtensorMapSwizzle swizzle_arg, CUtensorMapL2promotion l2_arg, CUtensorMapFloatOOBfill oob_arg) {
  using namespace emu::tma;
  const unsigned type = type_arg, interleave = interleave_arg, swizzle = swizzle_arg, l2 = l2_arg, oob = oob_arg;
  if (!map || reinterpret_cast<uintptr_t>(map) % 64) return CUDA_ERROR_INVALID_VALUE;
  if (type > k16U6Align16B) return CUDA_ERROR_INVALID_VALUE;
  if (interleave > kInterleave32B) return CUDA_ERROR_INVALID_VALUE;
  if (swizzle > kSwizzle128BAtom64B) return CUDA_ERROR_INVALID_VALUE;
  if (l2 > kL2_256B) return CUDA_ERROR_INVALID_VALUE;
  if (oob > kOobNanRequestZeroFma) return CUDA_ERROR_INVALID_VALUE;
  const bool packed16 = type == k16U4Align16B || type == k16U6Align16B;
  const bool packed = packed16 || type == k16U4Align8B;
  // Rank 1..5; 3..5 with an interleaved layout.
  if (rank < 1 || rank > 5 || (interleave != kInterleaveNone && rank < 3)) return CUDA_ERROR_INVALID_VALUE;
  if (!dims || !box || !elem_strides || (rank > 1 && !strides)) return CUDA_ERROR_INVALID_VALUE;
  // Global address: 16-byte aligned; 32 with a 32-byte interleave or the 16-byte-aligned packed types.
  const uint64_t addr = reinterpret_cast<uint64_t>(address);
  if (addr % ((interleave == kInterleave32B || packed16) ? 32 : 16)) return CUDA_ERROR_INVALID_VALUE;
  // Dimensions: 1..2^32 elements.
  for (cuuint32_t i = 0; i < rank; ++i)
    if (dims[i] == 0 || dims[i] > (1ull << 32)) return CUDA_ERROR_INVALID_VALUE;
  if (packed16 && dims[0] % 128) return CUDA_ERROR_INVALID_VALUE;
  if (type == k16U4Align8B && dims[0] % 2) return CUDA_ERROR_INVALID_VALUE;
  // Strides of dims 1..rank-1: multiples of 16 (32 with a 32-byte interleave or packed16), below 2^40.
  const uint64_t stride_align = (interleave == kInterleave32B || packed16) ? 32 : 16;
  for (cuuint32_t i = 0; i + 1 < rank; ++i)
    if (strides[i] % stride_align || strides[i] >= (1ull << 40)) return CUDA_ERROR_INVALID_VALUE;
  // Box: 1..256 elements; the inner box a multiple of 16 bytes without interleave; 128 for packed16.
  for (cuuint32_t i = 0; i < rank; ++i)
    if (box[i] == 0 || box[i] > 256) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t inner_bits = uint64_t{box[0]} * element_bits(type);
  if (interleave == kInterleaveNone && inner_bits % (16 * 8)) return CUDA_ERROR_INVALID_VALUE;
  if (packed16 && box[0] != 128) return CUDA_ERROR_INVALID_VALUE;
  // Element strides: 1..8.
  for (cuuint32_t i = 0; i < rank; ++i)
    if (elem_strides[i] == 0 || elem_strides[i] > 8) return CUDA_ERROR_INVALID_VALUE;
  // Swizzle: the inner box fits in the swizzle span (without interleave); 32B interleave needs 32B swizzle.
  if (interleave == kInterleaveNone && swizzle != kSwizzleNone) {
    const uint64_t span = swizzle == kSwizzle32B ? 32 : swizzle == kSwizzle64B ? 64 : 128;
    if (inner_bits > span * 8) return CUDA_ERROR_INVALID_VALUE;
  }
  if (interleave == kInterleave32B && swizzle != kSwizzle32B) return CUDA_ERROR_INVALID_VALUE;
  if (type == k16U6Align16B && interleave != kInterleaveNone) return CUDA_ERROR_INVALID_VALUE;
  if (type == k16U6Align16B && swizzle != kSwizzleNone && swizzle != kSwizzle128B && swizzle != kSwizzle128BAtom32B &&
      swizzle != kSwizzle128BAtom64B)
    return CUDA_ERROR_INVALID_VALUE;
  if (type == k16U4Align16B && swizzle != kSwizzleNone && swizzle != kSwizzle128B && swizzle != kSwizzle128BAtom32B)
    return CUDA_ERROR_INVALID_VALUE;
  // The NaN OOB fill only for floating-point, non-packed types.
  const bool is_float = type == kF16 || type == kF32 || type == kF64 || type == kBF16 || type == kF32Ftz ||
                        type == kTF32 || type == kTF32Ftz;
  if (oob == kOobNanRequestZeroFma && (!is_float || packed)) return CUDA_ERROR_INVALID_VALUE;

  TensorMap m;
  m.data_type = static_cast<uint8_t>(type);
  m.rank = rank;
  m.address = addr;
  for (cuuint32_t i = 0; i < rank; ++i) {
    m.dims[i] = dims[i];
    m.box[i] = box[i];
    m.elem_strides[i] = elem_strides[i];
  }
  for (int i = 0; i < 4; ++i) m.strides[i] = i + 1 < static_cast<int>(rank) ? strides[i] : (i ? m.strides[i - 1] : 0);
  m.interleave = static_cast<uint8_t>(interleave);
  m.swizzle = static_cast<uint8_t>(swizzle);
  m.l2 = static_cast<uint8_t>(l2);
  m.oob = static_cast<uint8_t>(oob);
  encode(m, map);
  return CUDA_SUCCESS;
}

// cuTensorMapReplaceAddress: the same alignment rule as at encoding.
CUresult replace_address(CUtensorMap* map, void* address) {
  using namespace emu::tma;
  TensorMap m;
  if (!map || reinterpret_cast<uintptr_t>(map) % 64 || !decode(map, &m)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t addr = reinterpret_cast<uint64_t>(address);
  const bool packed16 = m.data_type == k16U4Align16B || m.data_type == k16U6Align16B;
  if (addr % ((m.interleave == kInterleave32B || packed16) ? 32 : 16)) return CUDA_ERROR_INVALID_VALUE;
  m.address = addr;
  encode(m, map);
  return CUDA_SUCCESS;
}

}  // namespace emu::rt
