// CUDA layout copies (transpose01, narrow) mirroring native/cpu/shape_ops.cc: byte-exact copies in the
// widest unit (16, 8, 4, 2 or 1 bytes) that divides every row, offset and pointer, one unit per thread
// in output order (coalesced writes; reads coalesced along each copied row).
// Bound: memory, 2 bytes moved per byte copied; target: HBM copy bandwidth.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/shape_ops.gpu.test.ts.
#include <algorithm>

#include "cuda/codec.cuh"
#include "cuda/shape_ops.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;

// out[j][i][w] = x[i][j][w] in units of U; ru units per (i, j) row.
template <typename U>
__global__ void __launch_bounds__(kThreads) transpose01_kernel(const U* __restrict__ x, U* __restrict__ out,
                                                               int64_t a, int64_t b, int64_t ru) {
  const int64_t total = a * b * ru, stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t u = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; u < total; u += stride) {
    const int64_t w = u % ru, ji = u / ru, i = ji % a, j = ji / a;
    out[u] = x[(i * b + j) * ru + w];
  }
}

// out[r][w] = x[r][s + w] in units of U: nu units per input row, lu per output row, s the offset.
template <typename U>
__global__ void __launch_bounds__(kThreads) narrow_kernel(const U* __restrict__ x, U* __restrict__ out, int64_t rows,
                                                          int64_t nu, int64_t su, int64_t lu) {
  const int64_t total = rows * lu, stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t u = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; u < total; u += stride) {
    const int64_t r = u / lu, w = u - r * lu;
    out[u] = x[r * nu + su + w];
  }
}

// The widest unit dividing every byte count and pointer in `v`.
int unit_bytes(std::initializer_list<uint64_t> v) {
  uint64_t g = 16;
  for (uint64_t x : v) while (x % g) g >>= 1;
  return static_cast<int>(g);
}
unsigned grid_for(int64_t total, const char* what) {
  return grid_1d(std::min<int64_t>(ceil_div(total, kThreads), int64_t{1} << 20), what);
}
template <typename Fn>
void with_unit(int bytes, Fn&& f) {
  switch (bytes) {
    case 16: f(uint4{}); return;
    case 8: f(uint2{}); return;
    case 4: f(uint32_t{}); return;
    case 2: f(uint16_t{}); return;
    default: f(uint8_t{}); return;
  }
}

}  // namespace

void transpose01(const Transpose01Params& p, void* stream) {
  const int64_t row = p.inner * p.elem;
  if (p.a * p.b * row == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const int ub = unit_bytes({static_cast<uint64_t>(row), reinterpret_cast<uintptr_t>(p.x), reinterpret_cast<uintptr_t>(p.out)});
  const int64_t ru = row / ub;
  const unsigned grid = grid_for(p.a * p.b * ru, "transpose01");
  with_unit(ub, [&](auto unit) {
    using U = decltype(unit);
    transpose01_kernel<U><<<grid, kThreads, 0, s>>>(static_cast<const U*>(p.x), static_cast<U*>(p.out), p.a, p.b, ru);
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

void narrow(const NarrowParams& p, void* stream) {
  if (p.rows * p.len * p.elem == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const uint64_t nb = p.n * p.elem, lb = p.len * p.elem, sb = p.start * p.elem;
  const int ub = unit_bytes({nb, lb, sb, reinterpret_cast<uintptr_t>(p.x), reinterpret_cast<uintptr_t>(p.out)});
  const unsigned grid = grid_for(p.rows * static_cast<int64_t>(lb / ub), "narrow");
  with_unit(ub, [&](auto unit) {
    using U = decltype(unit);
    narrow_kernel<U><<<grid, kThreads, 0, s>>>(static_cast<const U*>(p.x), static_cast<U*>(p.out), p.rows,
                                               static_cast<int64_t>(nb / ub), static_cast<int64_t>(sb / ub),
                                               static_cast<int64_t>(lb / ub));
    DSV3_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace dsv3::cuda
