// CUDA rotary embedding on interleaved pairs (DeepSeek-V3 model.py apply_rotary_emb), mirroring
// native/cpu/rope.cc: one block per token; its rope_dim/2 cos/sin values are computed once into
// shared memory (angle = f32 pos * inv_freq[i], cos/sin in double, rounded to f32) and shared by the
// token's h heads. The rotation is cuda/rope.cuh's (shared with the fused MLA kernels): products and
// sums explicitly rounded (no FMA contraction); the CPU build may contract them, so results agree to f32
// rounding, not always bit for bit.
// Bound: memory, (isz_x + isz_out) bytes per element of [t, h, d]; target: HBM copy bandwidth.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/rope.gpu.test.ts.
#include "cuda/codec.cuh"
#include "cuda/rope.h"
#include "cuda/rope.cuh"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;

template <typename TX, typename TO>
__global__ void __launch_bounds__(kThreads) rope_kernel(const typename TX::raw* __restrict__ x, const void* positions,
                                                        bool pos_i64, const float* __restrict__ inv_freq,
                                                        typename TO::raw* __restrict__ out, int64_t h, int64_t d,
                                                        int64_t half) {
  extern __shared__ float cs[];  // [2 * half]: cos then sin
  const int64_t tok = blockIdx.x;
  const int64_t pos = pos_i64 ? static_cast<const int64_t*>(positions)[tok] : static_cast<const int32_t*>(positions)[tok];
  for (int64_t k = threadIdx.x; k < half; k += kThreads) {
    const float2 c = rope_cos_sin(pos, inv_freq[k]);
    cs[k] = c.x;
    cs[half + k] = c.y;
  }
  __syncthreads();
  // Units of a head: nope copies, then half pairs; consecutive threads take consecutive units.
  const int64_t nope = d - 2 * half, units = nope + half, base = tok * h * d;
  for (int64_t u = threadIdx.x; u < h * units; u += kThreads) {
    const int64_t head = u / units, w = u - head * units, row = base + head * d;
    if (w < nope) {
      TO::store(out, row + w, TX::load(x, row + w));
    } else {
      const int64_t k = w - nope, j = row + nope + 2 * k;
      const float2 y = rope_rotate(TX::load(x, j), TX::load(x, j + 1), make_float2(cs[k], cs[half + k]));
      TO::store(out, j, y.x);
      TO::store(out, j + 1, y.y);
    }
  }
}

}  // namespace

void rope(const RopeParams& p, void* stream) {
  if (p.t == 0 || p.h == 0 || p.d == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t half = p.rope_dim / 2;
  const size_t smem = static_cast<size_t>(2 * half) * sizeof(float);
  if (smem > 48 * 1024) throw CudaError("rope: rope_dim too large for the shared cos/sin table");
  const unsigned grid = grid_rows(p.t, "rope");
  const bool i64 = p.positions_dtype == DType::i64;
  with_float(p.x_dtype, "rope", [&](auto tx) {
    with_float(p.out_dtype, "rope", [&](auto to) {
      using TX = decltype(tx); using TO = decltype(to);
      rope_kernel<TX, TO><<<grid, kThreads, smem, s>>>(static_cast<const typename TX::raw*>(p.x), p.positions, i64,
                                                       p.inv_freq, static_cast<typename TO::raw*>(p.out), p.h, p.d, half);
      DSV3_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace dsv3::cuda
