// CUDA launchers of RMSNorm and softmax (native/cpu/norm.cc is the reference). Plain C++ declarations;
// kernels in cuda/norm.cu. `stream` is the device's cudaStream_t (cuda_stream in bindings).
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// out = w * (x * (1 / sqrt(mean(x^2) + eps))) per row, f32 math; every float-like dtype combination.
void rms_norm(const RmsNormParams& p, void* stream);
// Max-subtracted softmax along the last dim, f32 math; NaN and all -inf rows behave as on the CPU.
void softmax(const SoftmaxParams& p, void* stream);
}  // namespace dsv3::cuda
