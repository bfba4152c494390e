// Cases of rmsNorm and softmax (row-wise over the last dim): the CPU tests (test/ops/rms_norm.test.ts,
// softmax.test.ts, against test/reference/norm.ts) and the CUDA suite (test/gpu/norm.gpu.test.ts,
// against the CPU backend). Odd row lengths, partial vector widths, V3's hidden size (7168) and
// vocabulary (129280). No benchmark: the norms are a few microseconds of a decode step.

/** CPU tests, f32: [tokens, row length]. */
export const NORM_CPU: [number, number][] = [1, 5, 33].flatMap((t) => [1, 7, 128, 300, 1027].map((d): [number, number] => [t, d]));
/** CPU rmsNorm: bf16 in, bf16 and f32 out. */
export const RMS_NORM_CPU_BF16: [number, number][] = [[5, 300], [33, 1027], [1, 7]];
/** CUDA: every input / weight / output dtype over these shapes (a 3-d input too). */
export const NORM_GPU: number[][] = [[1, 1], [1, 7], [7, 129], [3, 300], [2, 7168], [130, 512], [2, 3, 129]];
/** CUDA softmax: also a row as long as V3's vocabulary (the sampler's). */
export const SOFTMAX_GPU: number[][] = [...NORM_GPU, [1, 129280]];
