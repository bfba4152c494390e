// wgmma_forms.cu: wgmma.mma_async with 8-bit inputs (m64nNk32, .e4m3 / .e5m2, f32 and f16 accumulators) in
// every form the test lists: N = 8..256 (all of 8, 16, 24, 32, 64, 128, 256 for e4m3), A from shared memory
// and from registers, the K-major shared-memory layouts without swizzle (LBO / SBO both ways round, one
// starting 48 bytes into the region) and with 32B, 64B and 128B swizzle (atoms along K apart or adjacent;
// one with a padded SBO and a junk LBO field, which K-major swizzled layouts do not use), four K steps per
// case (descriptor start moving inside and across swizzle atoms), scale-d 0 (accumulators NaN before) and
// 1, imm-scale-a/b = -1; against a CPU GEMM of small integers (exact in any accumulation order).
// Layouts and fragments are this program's own reading of the PTX ISA: see wgmma_forms_common.h.
#include "wgmma_forms_common.h"
#include "wgmma_forms_ops.h"  // (named here too: the test runner keys its cache on the files a program includes)

using namespace wf;

int main() {
  Rng g(0xF0E8);
  // e4m3 x e4m3 -> f32, A and B in shared memory: every N, six layout pairs each
  run_form<Wg_e4m3_e4m3_f32_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_e4m3_e4m3_f32_n16_ss>(g, kmajor_cases(16));
  run_form<Wg_e4m3_e4m3_f32_n24_ss>(g, kmajor_cases(24));
  run_form<Wg_e4m3_e4m3_f32_n32_ss>(g, kmajor_cases(32));
  run_form<Wg_e4m3_e4m3_f32_n64_ss>(g, kmajor_cases(64));
  run_form<Wg_e4m3_e4m3_f32_n128_ss>(g, kmajor_cases(128));
  run_form<Wg_e4m3_e4m3_f32_n256_ss>(g, kmajor_cases(256));
  // imm-scale-a / imm-scale-b = -1
  run_form<Wg_e4m3_e4m3_f32_n24_ss, -1, 1>(g, kmajor_cases(24, 2, 3));
  run_form<Wg_e4m3_e4m3_f32_n24_ss, -1, -1>(g, kmajor_cases(24, 2, 4));
  // A from registers
  run_form<Wg_e4m3_e4m3_f32_n8_rs>(g, kmajor_cases(8));
  run_form<Wg_e4m3_e4m3_f32_n64_rs>(g, kmajor_cases(64, 3, 2));
  run_form<Wg_e4m3_e4m3_f32_n64_rs, 1, -1>(g, kmajor_cases(64, 2, 4));
  run_form<Wg_e4m3_e4m3_f32_n256_rs>(g, kmajor_cases(256));
  // e5m2
  run_form<Wg_e5m2_e5m2_f32_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_e5m2_e5m2_f32_n48_ss>(g, kmajor_cases(48, 3, 5));
  run_form<Wg_e5m2_e5m2_f32_n256_ss>(g, kmajor_cases(256));
  run_form<Wg_e5m2_e5m2_f32_n8_rs>(g, kmajor_cases(8, 4, 3));
  run_form<Wg_e5m2_e5m2_f32_n256_rs>(g, kmajor_cases(256, 4, 1));
  // mixed input types
  run_form<Wg_e4m3_e5m2_f32_n16_ss>(g, kmajor_cases(16, 4, 2));
  run_form<Wg_e5m2_e4m3_f32_n32_rs>(g, kmajor_cases(32, 4, 3));
  // f16 accumulators
  run_form<Wg_e4m3_e4m3_f16_n8_ss>(g, kmajor_cases(8));
  run_form<Wg_e4m3_e4m3_f16_n256_ss>(g, kmajor_cases(256, 4, 2));
  run_form<Wg_e5m2_e5m2_f16_n64_ss>(g, kmajor_cases(64, 4, 1));
  run_form<Wg_e4m3_e4m3_f16_n128_rs>(g, kmajor_cases(128, 4, 5));
  return finish();
}
