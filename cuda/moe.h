// CUDA launchers of the MoE router and dispatch (cuda/moe.cu); the CPU twins are native/cpu/moe_route.cc
// and native/cpu/moe_dispatch.cc. Raw device pointers in the params structs of native/ops.h; `stream`
// is a cudaStream_t. All launches are asynchronous. Unverified on a GPU (written without one).
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {

void moe_route(const MoeRouteParams& p, void* stream);
void moe_permute(const MoePermuteParams& p, void* stream);
void moe_gather(const MoeGatherParams& p, void* stream);
void silu_mul_quant(const SiluMulQuantParams& p, void* stream);
void moe_combine(const MoeCombineParams& p, void* stream);

}  // namespace dsv3::cuda
