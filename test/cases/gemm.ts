// Cases of the dense GEMMs, out = a @ b^T: gemm (f32 / bf16 operands, f32 accumulation) and fp8Gemm
// (DeepSeek's 128x128 block-scaled e4m3). One table for the CPU tests (test/ops/gemm.test.ts,
// fp8_gemm.test.ts: against test/reference/gemm.ts), the CUDA suite (test/gpu/gemm.gpu.test.ts: against
// the CPU backend) and the benchmarks (bench/gemm.bench.mjs, fp8_gemm.bench.mjs: V3 shapes, each
// checked once before it is timed). Odd sizes and partial 128-blocks in n and k throughout.
import { TOL } from './tolerance';

export interface Mnk { m: number; n: number; k: number; what?: string }
type Dtype = 'f32' | 'bf16';
/** Every (m, n, k) of the three lists. */
export const grid = (ms: number[], ns: number[], ks: number[]): Mnk[] => ms.flatMap((m) => ns.flatMap((n) => ks.map((k) => ({ m, n, k }))));

// ---- tolerances ----
/**
 * The f32 tolerance of a @ b^T ([m, k] x [n, k]) against the float64 reference `want` [m, n]. f32
 * accumulation errs by ~sqrt(k) eps times sum_k |a b| per output, so outputs that cancel (a single dot
 * product of random values can be 1000x smaller than its terms) need a looser relative bound: TOL.f32
 * scaled by how much more the outputs cancel than random data does (||sum|a b| || / ||a b^T||, over sqrt(k)).
 */
export function gemmF32Tol(a: ArrayLike<number>, b: ArrayLike<number>, want: ArrayLike<number>, m: number, n: number, k: number): number {
  let abs2 = 0, ref2 = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let q = 0; q < k; q++) s += Math.abs(a[i * k + q] * b[j * k + q]);
    abs2 += s * s; ref2 += want[i * n + j] ** 2;
  }
  return TOL.f32 * Math.max(1, Math.sqrt(abs2 / ref2) / Math.sqrt(k));
}
/** fp8Gemm with f32 out against the float64 reference of the recipe (inputs are exact e4m3 codes). */
export const TOL_FP8_F32_OUT = TOL.f32;
/** CUDA against the CPU backend on the same FP8 inputs (the bar). */
export const TOL_FP8_VS_CPU = 1e-3;
/** CUDA gemm against the CPU backend: f32 sums in another order, on outputs that may cancel (few
 * outputs for m = 1): 1e-4 with f32 out; one bf16 rounding with bf16 out. */
export const TOL_GEMM_VS_CPU: Record<Dtype, number> = { f32: 1e-4, bf16: TOL.bf16 };

// ---- gemm (f32 / bf16) ----
/** CPU test: every (a, b) dtype pair, f32 and bf16 out, over skinny and packed shapes. */
export const GEMM_CPU = grid([1, 3, 64, 129], [1, 7, 200], [7, 200, 384]);
export const GEMM_DTYPE_PAIRS: [Dtype, Dtype][] = [['f32', 'f32'], ['bf16', 'bf16'], ['f32', 'bf16'], ['bf16', 'f32']];
/** CPU test: out dtype defaults to a's, on a larger packed shape. */
export const GEMM_CPU_PACKED: Mnk = { m: 300, n: 257, k: 520 };
/** CPU test: each instruction-set path (DSV3_CPU_ISA) on skinny and packed shapes, mixed dtypes. */
export const GEMM_ISA: (Mnk & { a: Dtype; b: Dtype })[] = [
  { m: 2, n: 45, k: 300, a: 'bf16', b: 'bf16' }, { m: 4, n: 17, k: 9, a: 'f32', b: 'f32' }, { m: 8, n: 40, k: 200, a: 'f32', b: 'bf16' },
  { m: 40, n: 70, k: 130, a: 'bf16', b: 'f32' }, { m: 77, n: 33, k: 260, a: 'f32', b: 'f32' },
  { m: 30, n: 50, k: 131, a: 'bf16', b: 'bf16' },  // packed bf16 pairs (avx512bf16), an odd K
];
export const CPU_ISAS = ['avx512bf16', 'avx512', 'avx2', 'generic'] as const;
/** CPU test: thin shapes (9 to 32 rows of same-dtype operands: B read in place, A^T packed) with odd n and k, 16
 * and 17 rows (one or two vectors of rows), n under a block of 8 rows, k = 1; and 8 rows (skinny). */
export const GEMM_THIN: Mnk[] = [
  { m: 8, n: 40, k: 200 }, { m: 9, n: 29, k: 7 }, { m: 16, n: 41, k: 257 }, { m: 17, n: 8, k: 300 }, { m: 32, n: 70, k: 129 }, { m: 24, n: 3, k: 1024 }, { m: 13, n: 9, k: 1 },
];
/** CUDA: m <= 8 runs the GEMV (vectorized when k % 8 == 0), above it the tiled kernel. The emulator
 * takes the k = 1024 variant of the 7168 case. */
export const GEMM_GPU = (emu: boolean): Mnk[] => [
  { m: 1, n: 7, k: 129 }, { m: 37, n: 256, k: 300 }, { m: 5, n: 1000, k: 64 }, { m: 8, n: 333, k: emu ? 1024 : 7168 },
  { m: 9, n: 70, k: 256 }, { m: 130, n: 129, k: 72 },
];
/** CUDA: operand dtype and out dtype. */
export const GEMM_GPU_DTYPES: [Dtype, Dtype][] = [['f32', 'f32'], ['bf16', 'bf16'], ['bf16', 'f32']];

// ---- fp8Gemm ----
/** CPU test: skinny and packed m against n in {1,7,128,200,576} x k in {7,128,200,384}. */
export const FP8_GEMM_CPU_M = [1, 3, 64, 129];
export const FP8_GEMM_CPU = (m: number): Mnk[] => grid([m], [1, 7, 128, 200, 576], [7, 128, 200, 384]);
export const FP8_GEMM_CPU_LARGE: Mnk = { m: 256, n: 512, k: 1024 };
/** CPU test: each instruction-set path. */
export const FP8_GEMM_ISA: Mnk[] = [
  { m: 1, n: 200, k: 300 }, { m: 4, n: 7, k: 129 }, { m: 5, n: 129, k: 384 }, { m: 8, n: 130, k: 260 }, { m: 70, n: 300, k: 200 },
  { m: 13, n: 40, k: 263 },  // packed, an odd K (bf16 pairs on avx512bf16)
];
/** CPU test: NaN codes propagate to their row only (skinny and packed). */
export const FP8_GEMM_NAN_ROW: Mnk[] = [{ m: 2, n: 40, k: 150 }, { m: 30, n: 40, k: 150 }];
/**
 * CUDA: decode and prefill-like sizes, V3's N = 576 / 2112, partial K blocks (k % 128 != 0). On the
 * emulator (about 3e8 thread-instructions/s, ~70 per multiply-add in the simple kernel) the same cases
 * at a fraction of the work: decode rows, odd sizes, partial K blocks, V3's N.
 */
export const FP8_GEMM_GPU = (emu: boolean): Mnk[] => (emu
  ? [{ m: 1, n: 576, k: 1024 }, { m: 1, n: 2112, k: 384 }, { m: 7, n: 300, k: 272 }, { m: 64, n: 128, k: 128 }, { m: 33, n: 200, k: 384 },
    { m: 5, n: 300, k: 640 }, { m: 1, n: 7168, k: 256 }]
  : [{ m: 1, n: 576, k: 7168 }, { m: 1, n: 2112, k: 1536 }, { m: 7, n: 300, k: 272 }, { m: 64, n: 128, k: 128 }, { m: 129, n: 1000, k: 1024 },
    { m: 200, n: 2112, k: 512 }, { m: 333, n: 256, k: 4096 }, { m: 1, n: 7168, k: 2048 }]);
/** CUDA: K not a multiple of 16, which only the simple kernel runs (auto must pick it). */
export const FP8_GEMM_GPU_ODD_K: Mnk = { m: 5, n: 130, k: 300 };
/** CUDA: split-K (few rows, long K) must be deterministic. */
export const FP8_GEMM_GPU_SPLIT_K = (emu: boolean): Mnk => ({ m: 3, n: 576, k: emu ? 1024 : 7168 });
/** CUDA, for compute-sanitizer runs: a few seconds of work in total. */
export const FP8_GEMM_GPU_TINY: Mnk[] = [{ m: 1, n: 8, k: 16 }, { m: 3, n: 130, k: 272 }, { m: 9, n: 64, k: 128 }];

// ---- the skinny (decode) GEMV path, m <= 8 ----
/** CPU test: |got - want| <= this times sum_k |a b| per element (f32 accumulation over <= 1000 terms, any order). */
export const TOL_GEMV_ELEMENTWISE = 2e-5;
/** CPU test: [n, k]: K tails inside a step and inside a 128-block, N not a multiple of the row block. Every m = 1..8. */
export const GEMV_CPU: [number, number][] = [[1, 7], [5, 64], [9, 200], [130, 1000], [13, 129], [7, 1]];
export const GEMV_MAX_M = 8;
/** The kernels with a skinny path of their own. */
export const GEMV_ISAS = ['avx512bf16', 'avx512', 'avx2'];
/** CPU test: a row's bits alone and in a batch ([n, k]). */
export const GEMV_BATCH_INVARIANCE: [number, number] = [37, 1000];
/** CPU test: NaN in one weight row (`bad`) reaches only its output column, at these m. */
export const GEMV_NAN_ROW = { n: 11, k: 300, bad: 6, ms: [1, 2, 3, 5, 8] };

// ---- benchmarks: DeepSeek-V3 shapes ----
/** V3's dense projections (N, K) (DeepGEMM's list). */
export const V3_NK: Mnk[] = [
  { m: 0, n: 2112, k: 7168, what: 'fused q_a + kv_a' }, { m: 0, n: 576, k: 7168, what: 'kv_a' }, { m: 0, n: 24576, k: 1536, what: 'q_b' },
  { m: 0, n: 32768, k: 512, what: 'kv_b' }, { m: 0, n: 7168, k: 16384, what: 'o_proj' }, { m: 0, n: 4096, k: 7168, what: 'MoE gate+up' },
  { m: 0, n: 7168, k: 2048, what: 'MoE down' },
];
/** bench/fp8_gemm.bench.mjs: every V3 projection at these token counts (the CPU: M <= 64 only). */
export const FP8_GEMM_BENCH = (gpu: boolean): Mnk[] => V3_NK.flatMap((s) => (gpu ? [1, 64, 128, 4096] : [1, 64]).map((m) => ({ ...s, m })));
/** bench/gemm.bench.mjs (CPU, against numpy): the 2048^3 target on every ISA, then V3 projections at decode-ish M. */
export const GEMM_BENCH: (Mnk & { isas?: string[] })[] = [
  { m: 2048, n: 2048, k: 2048, what: 'target', isas: [...CPU_ISAS] },
  { m: 1, n: 2112, k: 7168, what: 'decode, fused q_a + kv_a' },
  { m: 1, n: 7168, k: 2048, what: 'decode, MoE down' },
  { m: 32, n: 2112, k: 7168, what: 'small batch, fused q_a + kv_a' },
  { m: 128, n: 4096, k: 7168, what: 'prefill chunk, MoE gate+up' },
];
/** bench/gemv.bench.mjs (CPU decode GEMVs, M = 1, 4, 8): the `small` preset's decode weights [n, k] (hidden
 * 1024, q_lora 384, kv_lora 256 + rope 32, 8 heads of 64 + 32, ffn 2048, experts 256) and V3's. */
export const GEMV_BENCH_SMALL: Mnk[] = [
  { m: 0, n: 384, k: 1024, what: 'wq_a' }, { m: 0, n: 288, k: 1024, what: 'wkv_a' }, { m: 0, n: 768, k: 384, what: 'wq_b' },
  { m: 0, n: 1024, k: 256, what: 'wkv_b' }, { m: 0, n: 1024, k: 512, what: 'wo' }, { m: 0, n: 2048, k: 1024, what: 'mlp w1/w3' },
  { m: 0, n: 1024, k: 2048, what: 'mlp w2' }, { m: 0, n: 256, k: 1024, what: 'expert w1/w3' }, { m: 0, n: 1024, k: 256, what: 'expert w2' },
  { m: 0, n: 4096, k: 1024, what: 'lm_head' },
];
export const GEMV_BENCH_V3: Mnk[] = [
  { m: 0, n: 1536, k: 7168, what: 'wq_a' }, { m: 0, n: 576, k: 7168, what: 'wkv_a' }, { m: 0, n: 24576, k: 1536, what: 'wq_b' },
  { m: 0, n: 7168, k: 16384, what: 'wo' }, { m: 0, n: 4096, k: 7168, what: 'shared w1/w3' }, { m: 0, n: 7168, k: 2048, what: 'expert w2' },
  { m: 0, n: 2048, k: 7168, what: 'expert w1/w3' },
];
