// CUDA launchers of the elementwise ops: add, siluMul and cast (native/cpu/elementwise.cc,
// activation.cc, tensor_ops.cc are the references). Plain C++ declarations; kernels in
// cuda/elementwise.cu. `stream` is the device's cudaStream_t (cuda_stream in bindings).
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// a + b in f32, one rounding to the output dtype: bit-identical to the CPU.
void add(const AddParams& p, void* stream);
// silu(gate) * up = gate / (1 + exp(-gate)) * up in f32 (expf may differ from glibc's by an ulp).
void silu_mul(const SiluMulParams& p, void* stream);
// Any dtype to any dtype through f32 as on the CPU (i32/i64 to i64 and i64 to i32 directly); float to
// integer truncates; out-of-range values and NaN saturate here (undefined on the CPU).
void cast(const CastParams& p, void* stream);
}  // namespace dsv3::cuda
