// CUDA elementwise kernels (add, siluMul, cast) mirroring native/cpu/elementwise.cc, activation.cc
// and tensor_ops.cc cast: grid-stride loops, four elements per thread with one 8/16-byte access per
// operand when every pointer is aligned, f32 math, one rounding with the CPU's codecs.
// Bound: memory, (isz_a + isz_b + isz_out) bytes per element; target: HBM copy bandwidth.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/elementwise.gpu.test.ts.
#include <algorithm>

#include "cuda/codec.cuh"
#include "cuda/elementwise.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;

struct AddOp {
  __device__ float operator()(float a, float b) const { return __fadd_rn(a, b); }
};
struct SiluMulOp {  // g / (1 + exp(-g)) * u: exp overflows to inf for g < -88, the quotient is then -0
  __device__ float operator()(float g, float u) const { return __fmul_rn(__fdiv_rn(g, __fadd_rn(1.0f, expf(-g))), u); }
};

template <typename TA, typename TB, typename TO, typename Op>
__global__ void __launch_bounds__(kThreads) binary_kernel(const typename TA::raw* __restrict__ a,
                                                          const typename TB::raw* __restrict__ b,
                                                          typename TO::raw* __restrict__ out, int64_t n, bool vec, Op op) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads * 4;
  for (int64_t i = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) * 4; i < n; i += stride) {
    if (i + 4 <= n) {
      float x[4], y[4];
      load4<TA>(a, i, vec, x);
      load4<TB>(b, i, vec, y);
#pragma unroll
      for (int q = 0; q < 4; ++q) x[q] = op(x[q], y[q]);
      store4<TO>(out, i, vec, x);
    } else {
      for (int64_t j = i; j < n; ++j) TO::store(out, j, op(TA::load(a, j), TB::load(b, j)));
    }
  }
}

unsigned grid_for(int64_t n, const char* what) {
  return grid_1d(std::min<int64_t>(ceil_div(n, int64_t{kThreads} * 4), int64_t{1} << 20), what);
}

template <typename Op>
void launch_binary(const char* what, const void* a, DType ad, const void* b, DType bd, void* out, DType od, int64_t n,
                   cudaStream_t s, Op op) {
  if (n == 0) return;
  const unsigned grid = grid_for(n, what);
  with_float(ad, what, [&](auto ta) {
    with_float(bd, what, [&](auto tb) {
      with_float(od, what, [&](auto to) {
        using TA = decltype(ta); using TB = decltype(tb); using TO = decltype(to);
        const bool vec = aligned_to(a, 4 * sizeof(typename TA::raw)) && aligned_to(b, 4 * sizeof(typename TB::raw)) &&
                         aligned_to(out, 4 * sizeof(typename TO::raw));
        binary_kernel<TA, TB, TO, Op><<<grid, kThreads, 0, s>>>(static_cast<const typename TA::raw*>(a),
                                                                static_cast<const typename TB::raw*>(b),
                                                                static_cast<typename TO::raw*>(out), n, vec, op);
        DSV3_CUDA_CHECK_LAUNCH();
      });
    });
  });
}

__global__ void __launch_bounds__(kThreads) cast_kernel(const void* __restrict__ x, DType xd, void* __restrict__ out,
                                                        DType od, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    if (od == DType::i64 && (xd == DType::i64 || xd == DType::i32))
      static_cast<int64_t*>(out)[i] = xd == DType::i64 ? static_cast<const int64_t*>(x)[i] : static_cast<const int32_t*>(x)[i];
    else if (xd == DType::i64 && od == DType::i32)
      static_cast<int32_t*>(out)[i] = static_cast<int32_t>(static_cast<const int64_t*>(x)[i]);
    else
      store_any(out, od, i, load_any(x, xd, i));
  }
}

}  // namespace

void add(const AddParams& p, void* stream) {
  launch_binary("add", p.a, p.a_dtype, p.b, p.b_dtype, p.out, p.out_dtype, p.n, static_cast<cudaStream_t>(stream), AddOp{});
}

void silu_mul(const SiluMulParams& p, void* stream) {
  launch_binary("siluMul", p.gate, p.gate_dtype, p.up, p.up_dtype, p.out, p.out_dtype, p.t * p.n,
                static_cast<cudaStream_t>(stream), SiluMulOp{});
}

void cast(const CastParams& p, void* stream) {
  if (p.n == 0) return;
  const unsigned grid = grid_1d(std::min<int64_t>(ceil_div(p.n, kThreads), int64_t{1} << 20), "cast");
  cast_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p.x, p.x_dtype, p.out, p.out_dtype, p.n);
  DSV3_CUDA_CHECK_LAUNCH();
}

}  // namespace dsv3::cuda
