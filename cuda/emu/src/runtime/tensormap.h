// dsv3-emu: the emulator's encoding of a 128-byte CUtensorMap (opaque on a real GPU). The runtime's
// cuTensorMapEncodeTiled (tensormap.cc) validates its arguments and encodes them here; the interpreter's
// TMA instructions (cp.async.bulk.tensor, prefetch.tensor) decode them. Header-only and free of the CUDA
// headers, so the interpreter can include it; the enum values are the driver API's (cuda.h).
//
// Layout (little endian, 128 bytes, the rest zero):
//   +0   u32 magic 0x50414D54 ("TMAP")      +4  u16 version (1)     +6  u8 data type   +7  u8 rank (1..5)
//   +8   u64 global address
//   +16  u64 global dims[5]      (elements; dims beyond the rank are 1)
//   +56  u64 global strides[4]   (bytes, of dims 1..4; beyond the rank the previous stride)
//   +88  u16 box dims[5]         (elements, 1..256)
//   +98  u8  element strides[5]  (1..8)
//   +103 u8  interleave  +104 u8 swizzle  +105 u8 L2 promotion  +106 u8 OOB fill  +107 u8 kind (0 = tiled)
//   +108 u32 checksum: FNV-1a of bytes 0..107, so that a map the program corrupted is recognised
#pragma once
#include <cstdint>
#include <cstring>

namespace emu::tma {

enum DataType : uint8_t {
  kU8 = 0, kU16, kU32, kI32, kU64, kI64, kF16, kF32, kF64, kBF16, kF32Ftz, kTF32, kTF32Ftz,
  k16U4Align8B, k16U4Align16B, k16U6Align16B,
};
enum Interleave : uint8_t { kInterleaveNone = 0, kInterleave16B, kInterleave32B };
enum Swizzle : uint8_t {
  kSwizzleNone = 0, kSwizzle32B, kSwizzle64B, kSwizzle128B, kSwizzle128BAtom32B, kSwizzle128BAtom32BFlip8B,
  kSwizzle128BAtom64B,
};
enum L2Promotion : uint8_t { kL2None = 0, kL2_64B, kL2_128B, kL2_256B };
enum OobFill : uint8_t { kOobZero = 0, kOobNanRequestZeroFma };

constexpr uint32_t kMagic = 0x50414D54u;
constexpr uint16_t kVersion = 1;

struct TensorMap {
  uint8_t data_type = kU8;
  uint32_t rank = 1;
  uint64_t address = 0;
  uint64_t dims[5] = {1, 1, 1, 1, 1};
  uint64_t strides[4] = {0, 0, 0, 0};  // bytes between consecutive indices of dims 1..4
  uint32_t box[5] = {1, 1, 1, 1, 1};
  uint32_t elem_strides[5] = {1, 1, 1, 1, 1};
  uint8_t interleave = kInterleaveNone, swizzle = kSwizzleNone, l2 = kL2None, oob = kOobZero;
};

// Bits one element occupies in global memory (the packed types: 16 values in 8 or 16 bytes).
inline uint32_t element_bits(uint8_t t) {
  switch (t) {
    case kU8: return 8;
    case kU16: case kF16: case kBF16: return 16;
    case kU32: case kI32: case kF32: case kF32Ftz: case kTF32: case kTF32Ftz: return 32;
    case kU64: case kI64: case kF64: return 64;
    case k16U4Align8B: return 4;
    case k16U4Align16B: case k16U6Align16B: return 8;
    default: return 0;
  }
}

inline uint32_t checksum(const uint8_t* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  return h;
}

inline void encode(const TensorMap& m, void* out128) {
  uint8_t b[128] = {};
  auto put = [&](size_t off, const void* v, size_t n) { std::memcpy(b + off, v, n); };
  put(0, &kMagic, 4);
  put(4, &kVersion, 2);
  b[6] = m.data_type;
  b[7] = static_cast<uint8_t>(m.rank);
  put(8, &m.address, 8);
  for (int i = 0; i < 5; ++i) put(16 + 8 * i, &m.dims[i], 8);
  for (int i = 0; i < 4; ++i) put(56 + 8 * i, &m.strides[i], 8);
  for (int i = 0; i < 5; ++i) {
    const uint16_t box = static_cast<uint16_t>(m.box[i]);
    put(88 + 2 * i, &box, 2);
    b[98 + i] = static_cast<uint8_t>(m.elem_strides[i]);
  }
  b[103] = m.interleave;
  b[104] = m.swizzle;
  b[105] = m.l2;
  b[106] = m.oob;
  b[107] = 0;  // tiled
  const uint32_t sum = checksum(b, 108);
  put(108, &sum, 4);
  std::memcpy(out128, b, 128);
}

// False when the 128 bytes are not a map made by encode() (wrong magic, version or checksum).
inline bool decode(const void* in128, TensorMap* m) {
  uint8_t b[128];
  std::memcpy(b, in128, 128);
  uint32_t magic, sum;
  uint16_t version;
  std::memcpy(&magic, b, 4);
  std::memcpy(&version, b + 4, 2);
  std::memcpy(&sum, b + 108, 4);
  if (magic != kMagic || version != kVersion || sum != checksum(b, 108)) return false;
  m->data_type = b[6];
  m->rank = b[7];
  std::memcpy(&m->address, b + 8, 8);
  for (int i = 0; i < 5; ++i) std::memcpy(&m->dims[i], b + 16 + 8 * i, 8);
  for (int i = 0; i < 4; ++i) std::memcpy(&m->strides[i], b + 56 + 8 * i, 8);
  for (int i = 0; i < 5; ++i) {
    uint16_t box;
    std::memcpy(&box, b + 88 + 2 * i, 2);
    m->box[i] = box;
    m->elem_strides[i] = b[98 + i];
  }
  m->interleave = b[103];
  m->swizzle = b[104];
  m->l2 = b[105];
  m->oob = b[106];
  return b[107] == 0 && m->rank >= 1 && m->rank <= 5;
}

}  // namespace emu::tma
