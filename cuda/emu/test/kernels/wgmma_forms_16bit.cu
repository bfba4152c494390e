// wgmma_forms_16bit.cu: wgmma.mma_async with 16-bit inputs (m64nNk16, .bf16 / .f16, f32 and f16
// accumulators) in every form the test lists: N = 8..256 (all of 8, 16, 24, 32, 64, 128, 256 for bf16), A
// from shared memory and from registers, K-major shared-memory layouts without swizzle and with 32B, 64B
// and 128B swizzle, MN-major ones (imm-trans-a/b = 1) without swizzle (LBO / SBO both ways round) and with
// 32B, 64B and 128B swizzle, A and B of different majorness, four K steps per case, scale-d 0 (accumulators
// NaN before) and 1, imm-scale-a/b = -1; against a CPU GEMM of small integers.
// Layouts and fragments are this program's own reading of the PTX ISA: see wgmma_forms_common.h.
#include "wgmma_forms_common.h"
#include "wgmma_forms_ops.h"  // (named here too: the test runner keys its cache on the files a program includes)

using namespace wf;

int main() {
  Rng g(0xF0E16);
  // bf16 x bf16 -> f32, K-major A and B in shared memory: every N
  run_form<Wg_bf16_bf16_f32_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_bf16_bf16_f32_n16_ss>(g, kmajor_cases(16));
  run_form<Wg_bf16_bf16_f32_n24_ss>(g, kmajor_cases(24));
  run_form<Wg_bf16_bf16_f32_n32_ss>(g, kmajor_cases(32));
  run_form<Wg_bf16_bf16_f32_n64_ss>(g, kmajor_cases(64));
  run_form<Wg_bf16_bf16_f32_n128_ss>(g, kmajor_cases(128));
  run_form<Wg_bf16_bf16_f32_n256_ss>(g, kmajor_cases(256));
  // MN-major (transposed) operands: both, A only, B only
  run_form<Wg_bf16_bf16_f32_n8_ss, 1, 1, 1, 1>(g, mnmajor_cases(8, true, true));
  run_form<Wg_bf16_bf16_f32_n64_ss, 1, 1, 1, 1>(g, mnmajor_cases(64, true, true));
  run_form<Wg_bf16_bf16_f32_n256_ss, 1, 1, 1, 1>(g, mnmajor_cases(256, true, true));
  run_form<Wg_bf16_bf16_f32_n32_ss, 1, 1, 1, 0>(g, mnmajor_cases(32, true, false));
  run_form<Wg_bf16_bf16_f32_n16_ss, 1, 1, 0, 1>(g, mnmajor_cases(16, false, true));
  // imm-scale-a / imm-scale-b = -1
  run_form<Wg_bf16_bf16_f32_n24_ss, -1, 1, 1, 1>(g, mnmajor_cases(24, true, true, 2, 3));
  run_form<Wg_bf16_bf16_f32_n24_ss, 1, -1>(g, kmajor_cases(24, 2, 4));
  // A from registers (B K-major and MN-major)
  run_form<Wg_bf16_bf16_f32_n8_rs>(g, kmajor_cases(8));
  run_form<Wg_bf16_bf16_f32_n64_rs, 1, 1, 0, 1>(g, mnmajor_cases(64, false, true));
  run_form<Wg_bf16_bf16_f32_n256_rs>(g, kmajor_cases(256));
  // f16 x f16 -> f32
  run_form<Wg_f16_f16_f32_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_f16_f16_f32_n256_ss>(g, kmajor_cases(256));
  run_form<Wg_f16_f16_f32_n128_ss, 1, 1, 1, 1>(g, mnmajor_cases(128, true, true, 8, 1));
  run_form<Wg_f16_f16_f32_n8_rs>(g, kmajor_cases(8, 4, 2));
  run_form<Wg_f16_f16_f32_n256_rs, 1, 1, 0, 1>(g, mnmajor_cases(256, false, true, 8, 3));
  // f16 x f16 -> f16
  run_form<Wg_f16_f16_f16_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_f16_f16_f16_n256_ss>(g, kmajor_cases(256));
  run_form<Wg_f16_f16_f16_n64_ss, 1, 1, 1, 1>(g, mnmajor_cases(64, true, true));
  run_form<Wg_f16_f16_f16_n40_ss, -1, -1, 0, 1>(g, mnmajor_cases(40, false, true, 3, 1));
  run_form<Wg_f16_f16_f16_n8_rs>(g, kmajor_cases(8, 4, 3));
  run_form<Wg_f16_f16_f16_n256_rs, -1, 1, 0, 1>(g, mnmajor_cases(256, false, true, 4, 2));
  return finish();
}
