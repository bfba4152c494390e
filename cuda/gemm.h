// CUDA launchers of the GEMM ops (fp8Gemm, gemm, groupedGemmContiguous / Masked). Plain C++
// declarations; kernels in cuda/fp8_gemm.cu (FP8, sm_90a), cuda/gemm_f32_bf16.cu (f32 / bf16) and
// cuda/gemm_reference.cu (the reference and fallback kernels, every architecture).
// Which path runs where:
//   FP8, device sm_90 and a build with sm_90a, K % 16 == 0, 16-byte aligned operands -> the TMA + wgmma
//     kernel (cuda/fp8_gemm.cu), with split-K for small-M shapes that would leave SMs idle;
//   otherwise, or with kernel = simple -> the CUDA-core reference kernel (cuda/gemm_reference.cu): one thread
//     per output, the same per-128 promotion, obviously correct and slow. It is also what the GPU tests
//     compare the wgmma kernel against, besides the CPU backend.
//   f32 / bf16 operands -> cuda/gemm_f32_bf16.cu: a GEMV for m <= 8, a shared-memory tiled kernel above
//     (CUDA cores, for the router and lm_head; no tensor cores yet); kernel = simple -> gemm_reference.cu.
//   grouped f32 / bf16 operands -> the reference kernel (cuda/gemm_reference.cu).
#pragma once
#include <string>

#include "native/ops.h"

namespace dsv3::cuda {

enum class GemmKernel : int { automatic = 0, simple = 1, wgmma = 2 };

// Whether the wgmma kernel can run an FP8 problem with these operands on `device`; if not, `why` says why.
bool wgmma_usable(int device, const void* a, const void* b, int64_t k, std::string* why);

void fp8_gemm(const Fp8GemmParams& p, GemmKernel kernel, int device, void* stream);
void gemm(const GemmParams& p, void* stream);         // cuda/gemm_f32_bf16.cu
void gemm_simple(const GemmParams& p, void* stream);  // the one-thread-per-output reference (cuda/gemm_reference.cu)
// FP8 or plain grouped GEMM. expected_m: rows per group the caller expects (a tile-size hint for the
// masked layout, whose counts live on the device; 0 = m).
void grouped_gemm(const GroupedGemmParams& p, GemmKernel kernel, int64_t expected_m, int device, void* stream);

// The grouped gate/up GEMM of the experts with the SiLU-multiply and FP8 re-quantization fused:
// out = quantize_fp8(silu(a @ w1^T) * (a @ w3^T)) per group, b = [w1; w3] per group. On sm_90a with
// n % 128 == 0, one wgmma kernel (each CTA holds 128 gate and the matching 128 up rows, so the 1x128
// output groups are complete in its epilogue); otherwise the grouped GEMM into f32 and a second kernel.
void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams& p, GemmKernel kernel, int64_t expected_m, int device, void* stream);

// The reference ('simple') kernels of cuda/gemm_reference.cu, also the fallback of the launchers above.
void fp8_gemm_simple(const Fp8GemmParams& p, void* stream);
void grouped_gemm_simple(const GroupedGemmParams& p, void* stream);

// Benchmark ceiling: `ctas` CTAs of two warpgroups each issue `iters` wgmma m64n128k32 e4m3 on shared
// memory (no global traffic). FLOPs = ctas * iters * 2 warpgroups * 4 * 2*64*128*32. sm_90a only.
void fp8_mma_peak(int device, int ctas, int iters, void* stream);

}  // namespace dsv3::cuda
