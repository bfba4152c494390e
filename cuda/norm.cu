// CUDA RMSNorm and softmax over the last dim, mirroring native/cpu/norm.cc (DeepSeek-V3 model.py
// RMSNorm; the fp32 attention softmax): one block per row, strided coalesced loads, f32 math,
// warp-shuffle reductions, one rounding to the output dtype. The row is re-read from L1/L2 for the
// second (and third) pass instead of being held in registers, so any row length works.
// Bound: memory, (isz_x + isz_out) bytes per element (+ the weight, L2-resident); target: HBM copy
// bandwidth for t >= #SMs rows (a single decode row is latency-bound, ~a few us).
// Sums are in a different order than the CPU's 8-lane sums: results agree to f32 rounding, not bits.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/norm.gpu.test.ts.
#include "cuda/codec.cuh"
#include "cuda/norm.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;

template <typename TX, typename TW, typename TO>
__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const typename TX::raw* __restrict__ x,
                                                            const typename TW::raw* __restrict__ w,
                                                            typename TO::raw* __restrict__ out, int64_t d, float eps) {
  __shared__ float smem[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * d;
  float ss = 0.f;
  for (int64_t j = threadIdx.x; j < d; j += kThreads) {
    const float v = TX::load(x, base + j);
    ss = fmaf(v, v, ss);
  }
  ss = block_sum(ss, smem);
  const float r = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, static_cast<float>(d)), eps)));
  for (int64_t j = threadIdx.x; j < d; j += kThreads)
    TO::store(out, base + j, __fmul_rn(TW::load(w, j), __fmul_rn(TX::load(x, base + j), r)));
}

template <typename TX, typename TO>
__global__ void __launch_bounds__(kThreads) softmax_kernel(const typename TX::raw* __restrict__ x,
                                                           typename TO::raw* __restrict__ out, int64_t n) {
  __shared__ float smem[32];
  const int64_t base = static_cast<int64_t>(blockIdx.x) * n;
  // fmaxf skips NaN like the CPU's std::max; a NaN still turns the row NaN through exp and the sum.
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) m = fmaxf(m, TX::load(x, base + j));
  m = block_max(m, smem);
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) s += expf(TX::load(x, base + j) - m);
  s = block_sum(s, smem);
  const float inv = __fdiv_rn(1.0f, s);
  for (int64_t j = threadIdx.x; j < n; j += kThreads)
    TO::store(out, base + j, __fmul_rn(expf(TX::load(x, base + j) - m), inv));
}

}  // namespace

void rms_norm(const RmsNormParams& p, void* stream) {
  if (p.t == 0 || p.d == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = grid_rows(p.t, "rmsNorm");
  with_float(p.x_dtype, "rmsNorm", [&](auto tx) {
    with_float(p.w_dtype, "rmsNorm", [&](auto tw) {
      with_float(p.out_dtype, "rmsNorm", [&](auto to) {
        using TX = decltype(tx); using TW = decltype(tw); using TO = decltype(to);
        rms_norm_kernel<TX, TW, TO><<<grid, kThreads, 0, s>>>(static_cast<const typename TX::raw*>(p.x),
                                                              static_cast<const typename TW::raw*>(p.w),
                                                              static_cast<typename TO::raw*>(p.out), p.d, p.eps);
        DSV3_CUDA_CHECK_LAUNCH();
      });
    });
  });
}

void softmax(const SoftmaxParams& p, void* stream) {
  if (p.t == 0 || p.n == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = grid_rows(p.t, "softmax");
  with_float(p.x_dtype, "softmax", [&](auto tx) {
    with_float(p.out_dtype, "softmax", [&](auto to) {
      using TX = decltype(tx); using TO = decltype(to);
      softmax_kernel<TX, TO><<<grid, kThreads, 0, s>>>(static_cast<const typename TX::raw*>(p.x),
                                                       static_cast<typename TO::raw*>(p.out), p.n);
      DSV3_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace dsv3::cuda
