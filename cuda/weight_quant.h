// CUDA launchers of the 128x128 block FP8 weight quantization and dequantization (native/cpu/quant.cc
// quantize_weight_fp8 / dequantize_weight_fp8 are the references). Plain C++ declarations; kernels in
// cuda/weight_quant.cu. `stream` is the device's cudaStream_t.
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// Codes and scale_inv equal to the CPU's bit for bit: scale = max(amax, 1e-4) / 448 per 128x128 block
// (a NaN in the block gives a NaN scale and NaN codes), codes = e4m3(w / scale), RNE, saturating.
void quantize_weight_fp8(const QuantizeWeightFp8Params& p, void* stream);
// out = e4m3(w) * scale_inv[i/128, j/128], one f32 rounding, then the CPU's bf16 rounding:
// bit-exact except NaN payloads (the GPU's f32 multiply returns the canonical NaN).
void dequantize_weight_fp8(const DequantizeWeightFp8Params& p, void* stream);
}  // namespace dsv3::cuda
