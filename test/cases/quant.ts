// Cases of the FP8 quantizers: quantizeFp8 (DeepSeek's act_quant, 1x128 groups, optionally ue8m0 scales)
// and quantizeWeightFp8 / dequantizeWeightFp8 (128x128 blocks, the checkpoint's weight_scale_inv). One
// table for the CPU tests (test/ops/quantize_fp8.test.ts, weight_fp8.test.ts: codes and scales exactly
// the float64 reference's) and the CUDA suites (test/gpu/quant.gpu.test.ts, weight_quant.gpu.test.ts:
// bit for bit the CPU backend's). Odd sizes and partial groups / blocks; V3's rows (576, 1536, 7168).
// No benchmark of its own: activation quantization is timed inside the MoE and MLA benchmarks.

/** An e4m3 round trip (one rounding of 3 mantissa bits, 2^-4 relative at most) stays within this. */
export const TOL_FP8_ROUND_TRIP = 0.04;

// ---- quantizeFp8 ----
/** CPU: [m, k], f32 and bf16 inputs. */
export const ACT_QUANT_CPU: [number, number][] = [1, 3, 17].flatMap((m) => [128, 256, 300, 7, 1000].map((k): [number, number] => [m, k]));
/** CPU: ue8m0 (power-of-two) scales. */
export const ACT_QUANT_UE8M0_CPU: [number, number][] = [[3, 300], [17, 1000], [1, 7]];
/** CPU: a 3-d f16 input (leading dims flattened). */
export const ACT_QUANT_3D_CPU = [2, 3, 300];
/** CUDA: every input dtype, plain and ue8m0 scales. */
export const ACT_QUANT_GPU: [number, number][] = [[1, 1], [1, 128], [3, 129], [7, 300], [33, 7168], [130, 1536], [5, 576]];
/** CUDA: NaN (both signs, payloads) and +-inf in some groups. */
export const ACT_QUANT_SPECIALS_GPU: [number, number][] = [[5, 300], [3, 128], [2, 7]];

// ---- quantizeWeightFp8 / dequantizeWeightFp8 ----
/** CPU: every [n, k] of these sizes (whole, partial and sub-block). */
export const WEIGHT_QUANT_CPU: [number, number][] = [128, 129, 300, 64].flatMap((n) => [128, 129, 300, 64].map((k): [number, number] => [n, k]));
/** CUDA: every input dtype, f32 and bf16 dequantized outputs. */
export const WEIGHT_QUANT_GPU: [number, number][] = [[1, 1], [7, 129], [129, 300], [300, 129], [256, 7168], [130, 1]];
/** CUDA: one NaN in a block. */
export const WEIGHT_QUANT_NAN_BLOCK_GPU: [number, number] = [130, 260];
/** CUDA: NaN and +-inf in some blocks. */
export const WEIGHT_QUANT_SPECIALS_GPU: [number, number] = [200, 300];
