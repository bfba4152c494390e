// Cases of the elementwise ops: add, siluMul (silu(gate) * up) and cast. One table for the CPU tests
// (test/ops/add.test.ts, silu_mul.test.ts: against test/reference/elementwise.ts / activation.ts) and
// the CUDA suite (test/gpu/elementwise.gpu.test.ts: against the CPU backend; add and cast bytes equal,
// siluMul by tolerance as expf may differ by an ulp). Odd sizes around the vector widths, V3's hidden size.
// No benchmark: these are memory-bound one-liners inside the layer benchmarks.

/** CPU add, f32: element counts. */
export const ADD_CPU = [1, 7, 2049, 70001];
/** CPU siluMul, f32: [tokens, n]. */
export const SILU_MUL_CPU: [number, number][] = [1, 5, 33].flatMap((t) => [1, 7, 128, 300, 1027].map((n): [number, number] => [t, n]));
/** CPU siluMul, large-magnitude gates: relative error bound of each element (f32 math, expf within an ulp). */
export const TOL_SILU_ELEMENT = 1e-6;
/** CUDA add / siluMul / cast: element counts (a vector tail in each, V3's hidden size, a large odd count). */
export const ELEMENTWISE_GPU = [1, 7, 129, 300, 7168, 100003];
/** CUDA add on views 6 / 4 bytes off alignment (the vectorized kernels' scalar path). */
export const MISALIGNED_GPU = [5, 130, 7169];
