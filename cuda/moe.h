// CUDA launchers of the MoE router and dispatch (cuda/moe.cu); the CPU twins are native/cpu/moe_route.cc
// and native/cpu/moe_dispatch.cc. Raw device pointers in the params structs of native/ops.h; `stream`
// is a cudaStream_t. All launches are asynchronous. Unverified on a GPU (written without one).
#pragma once
#include <string>

#include "native/ops.h"

namespace dsv3::cuda {

// The kernels' limits: false with the reason in *why when a call is beyond them (the launchers throw then).
bool moe_route_supports(const MoeRouteParams& p, std::string* why);
bool moe_permute_supports(const MoePermuteParams& p, std::string* why);

void moe_route(const MoeRouteParams& p, void* stream);
void moe_permute(const MoePermuteParams& p, void* stream);
void moe_gather(const MoeGatherParams& p, void* stream);
void silu_mul_quant(const SiluMulQuantParams& p, void* stream);
// silu_mul_quant over only the rows that belong to a group of a grouped GEMM's layout: offsets [g + 1]
// (contiguous; counts null) or counts [g] with m_max rows per group (masked; offsets null). Other rows
// are left untouched. The two-step path of cuda::grouped_gemm_silu_mul.
void silu_mul_quant_grouped(const SiluMulQuantParams& p, const int32_t* offsets, const int32_t* counts, int64_t g, int64_t m_max,
                            void* stream);
void moe_combine(const MoeCombineParams& p, void* stream);

}  // namespace dsv3::cuda
