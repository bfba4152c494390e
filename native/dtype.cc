// Codec tables and bulk conversions for native/dtype.h.
#include "native/dtype.h"

namespace dsv3 {
const E4M3Table kE4M3;

void to_f32(const void* src, DType t, float* dst, size_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, n * 4); return;
    case DType::bf16: { auto s = static_cast<const uint16_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]); return; }
    case DType::f8_e4m3: { auto s = static_cast<const uint8_t*>(src); for (size_t i = 0; i < n; ++i) dst[i] = kE4M3.v[s[i]]; return; }
    default: for (size_t i = 0; i < n; ++i) dst[i] = load_f32(src, t, i);
  }
}
void from_f32(const float* src, void* dst, DType t, size_t n) {
  switch (t) {
    case DType::f32: std::memcpy(dst, src, n * 4); return;
    case DType::bf16: { auto d = static_cast<uint16_t*>(dst); for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]); return; }
    default: for (size_t i = 0; i < n; ++i) store_f32(dst, t, i, src[i]);
  }
}
}  // namespace dsv3
