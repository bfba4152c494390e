// CUDA embedding lookup (DeepSeek-V3 model.py ParallelEmbedding, one shard), mirroring
// native/cpu/embedding.cc: one block per token copies its table row, raw bits when table and output
// dtypes agree (the CPU memcpy), else through f32 with the CPU's codecs. Bad ids give a NaN row.
// Bound: memory, d * (isz_table + isz_out) bytes per token; target: HBM copy bandwidth.
// Unverified on a GPU until a GPU-drawn issue runs test/gpu/embedding.gpu.test.ts.
#include <type_traits>

#include "cuda/codec.cuh"
#include "cuda/embedding.h"

namespace dsv3::cuda {
namespace {

constexpr int kThreads = 256;

template <typename TT, typename TO>
__global__ void __launch_bounds__(kThreads) embedding_kernel(const typename TT::raw* __restrict__ table,
                                                             const void* ids, bool ids_i64,
                                                             typename TO::raw* __restrict__ out, int64_t vocab, int64_t d) {
  const int64_t i = blockIdx.x;
  const int64_t id = ids_i64 ? static_cast<const int64_t*>(ids)[i] : static_cast<const int32_t*>(ids)[i];
  typename TO::raw* dst = out + i * d;
  if (id < 0 || id >= vocab) {
    for (int64_t j = threadIdx.x; j < d; j += kThreads) TO::store(dst, j, __uint_as_float(0x7fc00000u));
    return;
  }
  const typename TT::raw* src = table + id * d;
  for (int64_t j = threadIdx.x; j < d; j += kThreads) {
    if constexpr (std::is_same_v<TT, TO>) dst[j] = src[j];
    else TO::store(dst, j, TT::load(src, j));
  }
}

}  // namespace

void embedding(const EmbeddingParams& p, void* stream) {
  if (p.t == 0 || p.d == 0) return;
  auto s = static_cast<cudaStream_t>(stream);
  const unsigned grid = grid_rows(p.t, "embedding");
  const bool i64 = p.ids_dtype == DType::i64;
  with_float(p.table_dtype, "embedding", [&](auto tt) {
    with_float(p.out_dtype, "embedding", [&](auto to) {
      using TT = decltype(tt); using TO = decltype(to);
      embedding_kernel<TT, TO><<<grid, kThreads, 0, s>>>(static_cast<const typename TT::raw*>(p.table), p.ids, i64,
                                                         static_cast<typename TO::raw*>(p.out), p.vocab, p.d);
      DSV3_CUDA_CHECK_LAUNCH();
    });
  });
}

}  // namespace dsv3::cuda
