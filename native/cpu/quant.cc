// CPU backend: FP8 (e4m3fn) block quantization, mirroring DeepSeek-V3 inference/kernel.py:
// act_quant (1x128 groups along the last dim), the checkpoint's 128x128 weight blocks, and
// weight_dequant. f32 math throughout: scale = max(amax, 1e-4) / 448, codes = e4m3(x / scale)
// with a true division, round-to-nearest-even and saturation to +-448.
#include <algorithm>
#include <cstring>
#include <vector>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {

constexpr int64_t B = kQuantBlock;
constexpr float kE4M3Max = 448.0f;
constexpr float kAmaxFloor = 1e-4f;  // kernel.py's clamp: an all-zero group gets scale 1e-4/448, not 0/0

// f32 -> e4m3fn code: the same function as dtype.h's f32_to_e4m3 (checked equal on all 2^32 f32
// inputs when written; the op tests compare every code with the float64 reference), with bit masks
// instead of branches so the loops vectorize (~4x faster; GCC keeps the ternary form as branches).
inline uint32_t mask_if(bool c) { return 0u - static_cast<uint32_t>(c); }
inline uint8_t e4m3_code(float f) {
  const uint32_t u = f32_bits(f), a = u & 0x7fffffffu;
  // normal range (|f| >= 2^-6): round the mantissa to 3 bits (RNE); the carry bumps the exponent
  const uint32_t normal = ((a + 0x7ffffu + ((a >> 20) & 1u)) >> 20) - (120u << 3);
  // subnormal range: adding 2^14 leaves an ulp of 2^-9, so the FPU rounds onto the m * 2^-9 grid
  const uint32_t sub = f32_bits(f32_from_bits(a) + 16384.0f) - 0x46800000u;
  const uint32_t is_sub = mask_if(a < 0x3c800000u);  // below 2^-6
  const uint32_t is_sat = mask_if(a >= 0x43e00000u);  // >= 448, +-inf: saturate
  const uint32_t is_nan = mask_if(a > 0x7f800000u);
  uint32_t code = (sub & is_sub) | (normal & ~is_sub);
  code = (0x7eu & is_sat) | (code & ~is_sat);
  code = (0x7fu & is_nan) | (code & ~is_nan);
  return static_cast<uint8_t>(((u >> 24) & 0x80u) | code);
}

// max |x| over n values via the magnitude bits: for non-negative floats the integer order is the
// numeric order, and a NaN (bits above +inf) wins, so a NaN in a group makes its scale NaN.
inline float amax_of(const float* x, int64_t n) {
  uint32_t m = 0;
  for (int64_t j = 0; j < n; ++j) {
    uint32_t a;
    std::memcpy(&a, x + j, 4);
    a &= 0x7fffffffu;
    m = a > m ? a : m;
  }
  return f32_from_bits(m);
}

// scale = max(amax, 1e-4) / 448; ue8m0 rounds it up to a power of two. kernel.py does the latter
// with exp2(ceil(log2(s))); done exactly on the bits here, so |x / s| <= 448 always holds.
inline float scale_of(float amax, bool ue8m0) {
  const float s = std::max(amax, kAmaxFloor) / kE4M3Max;  // NaN propagates (std::max keeps arg 1)
  if (!ue8m0) return s;
  const uint32_t u = f32_bits(s);
  if ((u & 0x7f800000u) == 0x7f800000u || (u & 0x007fffffu) == 0) return s;  // inf/NaN, or 2^e already
  return f32_from_bits((u & 0x7f800000u) + 0x00800000u);                     // s >= 2.2e-7: normal
}

inline void quantize_run(const float* __restrict x, int64_t n, float s, uint8_t* __restrict y) {
  for (int64_t j = 0; j < n; ++j) y[j] = e4m3_code(x[j] / s);
}

}  // namespace

void quantize_fp8(const QuantizeFp8Params& p) {
  const int64_t g = ceil_div(p.k, B);
  const size_t isz = itemsize(p.x_dtype);
  parallel_for(p.m, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.k, 1)), [&](int64_t rb, int64_t re) {
    float buf[B];
    for (int64_t r = rb; r < re; ++r) {
      const char* xr = static_cast<const char*>(p.x) + r * p.k * isz;
      for (int64_t gi = 0; gi < g; ++gi) {
        const int64_t j0 = gi * B, n = std::min(B, p.k - j0);  // the last group may be partial
        const float* xf;
        if (p.x_dtype == DType::f32) xf = reinterpret_cast<const float*>(xr) + j0;
        else { to_f32(xr + j0 * isz, p.x_dtype, buf, n); xf = buf; }
        const float s = scale_of(amax_of(xf, n), p.ue8m0);
        p.scale[r * g + gi] = s;
        quantize_run(xf, n, s, p.y + r * p.k + j0);
      }
    }
  });
}

void quantize_weight_fp8(const QuantizeWeightFp8Params& p) {
  const int64_t nb = ceil_div(p.n, B), kb = ceil_div(p.k, B);
  const size_t isz = itemsize(p.w_dtype);
  // One task per 128x128 block: widen it to f32 once, take its amax, then encode it.
  parallel_for(nb * kb, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> blk(B * B);
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t bi = b / kb, bj = b % kb;
      const int64_t i0 = bi * B, rows = std::min(B, p.n - i0);
      const int64_t j0 = bj * B, cols = std::min(B, p.k - j0);
      float amax = 0.f;
      for (int64_t i = 0; i < rows; ++i) {
        float* row = blk.data() + i * B;
        to_f32(static_cast<const char*>(p.w) + ((i0 + i) * p.k + j0) * isz, p.w_dtype, row, cols);
        const float a = amax_of(row, cols);
        amax = f32_bits(a) > f32_bits(amax) ? a : amax;
      }
      const float s = scale_of(amax, false);
      p.scale_inv[b] = s;
      for (int64_t i = 0; i < rows; ++i) quantize_run(blk.data() + i * B, cols, s, p.y + (i0 + i) * p.k + j0);
    }
  });
}

void dequantize_weight_fp8(const DequantizeWeightFp8Params& p) {
  const int64_t kb = ceil_div(p.k, B);
  const bool f32_out = p.out_dtype == DType::f32;
  parallel_for(p.n, std::max<int64_t>(1, 16384 / std::max<int64_t>(p.k, 1)), [&](int64_t rb, int64_t re) {
    float buf[B];
    for (int64_t i = rb; i < re; ++i) {
      const uint8_t* w = p.w + i * p.k;
      const float* srow = p.scale_inv + (i / B) * kb;
      for (int64_t bj = 0; bj < kb; ++bj) {
        const int64_t j0 = bj * B, n = std::min(B, p.k - j0);
        const float s = srow[bj];
        float* o = f32_out ? static_cast<float*>(p.out) + i * p.k + j0 : buf;
        for (int64_t j = 0; j < n; ++j) o[j] = kE4M3.v[w[j0 + j]] * s;  // one f32 rounding
        if (!f32_out) from_f32(buf, static_cast<char*>(p.out) + (i * p.k + j0) * itemsize(p.out_dtype), p.out_dtype, n);
      }
    }
  });
}

}  // namespace dsv3::cpu
