// Cases of rope (the rotation of the last `2 * pairs` dims of each head): the CPU test
// (test/ops/rope.test.ts, against test/reference/rope.ts) and the CUDA suite (test/gpu/rope.gpu.test.ts,
// against the CPU backend). No benchmark: rope is fused into the MLA projections in the model.

/** YaRN of the tiny-v3 fixture and of DeepSeek-V3 (rope_dim 64 inside the 192-wide q/k head). */
export const TINY_YARN = { ropeTheta: 10000, ropeDim: 16, factor: 4, originalMaxPositionEmbeddings: 64, betaFast: 32, betaSlow: 1 };
export const V3_YARN = { ropeTheta: 10000, ropeDim: 64, factor: 40, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1 };

/** CPU: [t, h, d, ropeDim, positions dtype]; ropeDim 16 uses TINY_YARN, 64 V3_YARN. */
export const ROPE_CPU: [number, number, number, number, 'i32' | 'i64'][] = [
  [1, 1, 48, 16, 'i32'], [5, 3, 48, 16, 'i64'], [33, 3, 48, 16, 'i32'], [33, 1, 64, 64, 'i64'], [5, 3, 64, 64, 'i32'], [7, 1, 192, 64, 'i64'],
];
/** CPU: bf16 in, bf16 and f32 out ([t, h, d], TINY_YARN). */
export const ROPE_CPU_BF16: [number, number, number] = [9, 3, 48];
/** Against the float64 reference: with DeepSeek's f32 angle (only the f32 rounding of cos/sin and of
 * the products remain), and with exact f64 angles (the f32 angle, up to ulp(300)/2 = 1e-5 rad, costs ~1e-6). */
export const TOL_ROPE_F32_ANGLE = 1e-6;
export const TOL_ROPE_F64_ANGLE = 1e-5;
/** CUDA: [t, h, d, pairs]; 32 pairs use V3's YaRN frequencies, fewer pairs than the head allows plain ones.
 * Positions up to 163840 (V3's context). */
export const ROPE_GPU: [number, number, number, number][] = [[1, 1, 2, 1], [7, 1, 64, 32], [1, 128, 192, 32], [33, 7, 192, 32], [5, 3, 7, 2], [300, 1, 64, 32]];
export const ROPE_GPU_MAX_POSITION = 163840;
