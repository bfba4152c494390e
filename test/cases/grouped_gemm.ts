// Cases of the grouped (MoE expert) GEMMs in DeepGEMM's layouts: groupedGemmContiguous (rows of each
// expert contiguous, `offsets`), groupedGemmMasked ([experts, mMax, k] with `counts`), and the fused
// gate/up GEMM with SiLU-multiply and FP8 re-quantization (groupedGemmSiluMul*). One table for the CPU
// tests (test/ops/grouped_gemm.test.ts, grouped_gemm_silu_mul.test.ts: against per-expert float64
// references) and the CUDA suite (test/gpu/gemm.gpu.test.ts: against the CPU backend). The V3-shape
// benchmark of these GEMMs is the MoE layer's (bench/moe.bench.mjs). Empty experts, one-row experts,
// one expert with every row, counts off the tile sizes, rows of no expert (which must stay NaN).

/** GLU output (e4m3 codes + scales) compared decoded: a different summation order moves a few values
 * across an e4m3 rounding boundary (one code step, 2^-3 relative at most). */
export const TOL_GLU = 2e-2;

// ---- CPU ----
/** Contiguous: rows 0..1 and the last 3 rows of no expert; experts with 0 rows, 1 row (skinny), odd
 * counts and one with 129 rows (packed path). */
export const CONTIGUOUS_CPU = { offsets: [2, 2, 9, 138, 139, 139, 150], rows: 153, n: 200, k: 300 };
/** Contiguous with bf16 / f32 operands (3 experts): one expert with all rows, odd offsets, and 9, 32 and 17 rows (the thin kernels). */
export const CONTIGUOUS_CPU_FLOAT_OFFSETS = [[0, 0, 153, 153], [1, 4, 5, 152], [2, 11, 43, 60]];
/** Masked: empty, full (packed), odd (packed), one row (skinny). */
export const MASKED_CPU = { experts: 4, mMax: 70, n: 130, k: 260, counts: [0, 70, 5, 1] };
/** GLU contiguous: row 0 and the last 2 rows of no expert, empty experts. */
export const GLU_CONTIGUOUS_CPU = { offsets: [1, 1, 8, 137, 140, 140], rows: 142, n: 256, k: 300 };
/** GLU masked (ue8m0 scales). */
export const GLU_MASKED_CPU = { experts: 3, mMax: 9, n: 128, k: 256, counts: [9, 0, 4] };

// ---- CUDA ----
/** Per-expert row counts: empty experts, one row, one expert with most rows, counts off the tile sizes. */
export const COUNTS_GPU = [[0, 1, 37, 0, 130, 3], [200], [0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1], [9, 0, 70]];
/** Contiguous: n = 320 is not a multiple of 128 (each expert quantized on its own, partial last block). */
export const CONTIGUOUS_GPU = { n: 2 * 128 + 64, k: 384 };
/** Masked: mMax = the largest count + 5; n = 256 so that 128-blocks never straddle experts. */
export const MASKED_GPU = { n: 256, k: 512, mMaxPad: 5, expectedM: [0, 8, 64] };
/** GLU, contiguous (a row of no expert at each end) and masked (mMax = the largest count + 3). */
export const GLU_COUNTS_GPU = COUNTS_GPU.filter((c) => c.some((x) => x > 0));
export const GLU_GPU = { n: 256, k: 384, mMaxPad: 3, expectedM: [0, 8] };
/**
 * More tiles than SMs: the wgmma grouped kernels run a persistent grid of at most one CTA per SM (132 on
 * an H200 and on the emulated one) over the tiles of non-empty experts only, each CTA carrying its
 * pipeline's stages and barrier phases from one tile to the next. 64 experts with 0..12 rows each (about
 * a fifth empty), n = 384 (3 weight tiles): about 200 tiles, V3-decode-like routing at a size the
 * emulator runs in a minute.
 */
export const MANY_TILES_GPU = { experts: 64, k: 256, n: 384, emptyShare: 0.2, maxRows: 12, mMax: 13, expectedM: 8 };
/** For compute-sanitizer runs: masked, 2 experts of [4, 128] x [128, 128], counts [3, 0]. */
export const MASKED_GPU_TINY = { experts: 2, mMax: 4, n: 128, k: 128, counts: [3, 0] };
