// CUDA launchers of the layout ops transpose01 and narrow (native/cpu/shape_ops.cc is the reference).
// Plain C++ declarations; kernels in cuda/shape_ops.cu. `stream` is the device's cudaStream_t.
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// out [b, a, inner] = x [a, b, inner] with the first two dims swapped; raw bytes, any dtype.
void transpose01(const Transpose01Params& p, void* stream);
// out [rows, len] = x [rows, n][:, start:start+len]; raw bytes, any dtype.
void narrow(const NarrowParams& p, void* stream);
}  // namespace dsv3::cuda
