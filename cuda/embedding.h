// CUDA launcher of the token embedding lookup (native/cpu/embedding.cc is the reference). Plain C++
// declaration; kernel in cuda/embedding.cu. `stream` is the device's cudaStream_t.
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// out[i] = table[ids[i]] (converted to the output dtype; raw bits copied when the dtypes agree).
// An id outside [0, vocab) cannot throw after an async launch: its output row is filled with NaN
// (the CPU backend rejects such ids instead); nothing outside the table is read.
void embedding(const EmbeddingParams& p, void* stream);
}  // namespace dsv3::cuda
