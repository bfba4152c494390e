// CUDA launcher of the rotary embedding (native/cpu/rope.cc is the reference). Plain C++ declaration;
// kernel in cuda/rope.cu. `stream` is the device's cudaStream_t (cuda_stream in bindings).
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// Interleaved pairs of the last rope_dim elements rotated by pos * inv_freq[i] (f32 angle, cos/sin in
// double rounded once to f32, as on the CPU); the first d - rope_dim elements copied (converted).
void rope(const RopeParams& p, void* stream);
}  // namespace dsv3::cuda
