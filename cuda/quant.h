// CUDA launchers of the FP8 quantization ops (DeepSeek kernel.py act_quant). Plain C++ declarations;
// the kernels are in cuda/quant.cu. `stream` is the device's cudaStream_t (cuda_stream in bindings).
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// Same contract and the same bits as cpu::quantize_fp8: scale [m, ceil(k/128)] row-major (the layout
// fp8Gemm's a.scale takes), codes e4m3fn with a true division, RNE, saturation to +-448.
void quantize_fp8(const QuantizeFp8Params& p, void* stream);
}  // namespace dsv3::cuda
