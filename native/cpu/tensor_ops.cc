// CPU backend: dtype casts and seeded random fills (counter-based: element i depends only on
// (seed, i), so results do not depend on the thread count).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {
namespace {
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
// Uniform in (0, 1): 24 random bits, offset by half a step so 0 never appears.
inline double uniform01(uint64_t bits) { return (static_cast<double>(bits >> 40) + 0.5) / 16777216.0; }
}  // namespace

void cast(const CastParams& p) {
  parallel_for(p.n, 1 << 16, [&](int64_t b, int64_t e) {
    float buf[1024];
    for (int64_t i = b; i < e; i += 1024) {
      const int64_t n = std::min<int64_t>(1024, e - i);
      if (p.x_dtype == DType::i64 && p.out_dtype == DType::i64) {
        std::memcpy(static_cast<int64_t*>(p.out) + i, static_cast<const int64_t*>(p.x) + i, n * 8);
        continue;
      }
      if (p.x_dtype == DType::i32 && p.out_dtype == DType::i64) {
        for (int64_t j = 0; j < n; ++j) static_cast<int64_t*>(p.out)[i + j] = static_cast<const int32_t*>(p.x)[i + j];
        continue;
      }
      if (p.x_dtype == DType::i64 && p.out_dtype == DType::i32) {
        for (int64_t j = 0; j < n; ++j) static_cast<int32_t*>(p.out)[i + j] = static_cast<int32_t>(static_cast<const int64_t*>(p.x)[i + j]);
        continue;
      }
      to_f32(static_cast<const char*>(p.x) + i * itemsize(p.x_dtype), p.x_dtype, buf, n);
      from_f32(buf, static_cast<char*>(p.out) + i * itemsize(p.out_dtype), p.out_dtype, n);
    }
  });
}

void random(const RandomParams& p) {
  const uint64_t key = splitmix64(p.seed);
  parallel_for(p.n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const uint64_t r = splitmix64(key ^ (static_cast<uint64_t>(i) * 0xd1342543de82ef95ull));
      double v;
      if (p.normal) {  // Box-Muller from two independent 32-bit halves
        const double u1 = (static_cast<double>(r >> 32) + 0.5) / 4294967296.0;
        const double u2 = (static_cast<double>(r & 0xffffffffu) + 0.5) / 4294967296.0;
        v = p.a + p.b * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
      } else {
        v = p.a + (p.b - p.a) * uniform01(r);
      }
      store_f32(p.out, p.out_dtype, static_cast<size_t>(i), static_cast<float>(v));
    }
  });
}

}  // namespace dsv3::cpu
