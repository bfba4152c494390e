// Cases of the routed MoE ops: moeRoute (DeepSeek-V3's Gate), moePermute / moeGather / siluMulQuant /
// moeCombine (the dispatch around the grouped GEMMs, test/cases/grouped_gemm.ts) and moeForward (the
// whole routed layer). One table for the CPU tests (test/ops/moe_route.test.ts, moe_dispatch.test.ts:
// against the float64 / integer references), the CUDA suite (test/gpu/moe.gpu.test.ts: against the CPU
// backend) and the benchmark (bench/moe.bench.mjs: V3 dims on CUDA, reduced dims on the CPU).
import type { MoeRouteOptions } from '../../lib/ops/moe';

type Float = 'f32' | 'bf16' | 'f16';
export interface RouteCase { name: string; t: number; e: number; bias?: boolean; std?: number; opts: Omit<MoeRouteOptions, 'bias' | 'out'> }
export interface PermCase { t: number; k: number; e: number; pool?: number; align?: number; layout?: 'contiguous' | 'masked'; mMax?: number }
export interface CombineCase { t: number; k: number; e: number; d: number; dtype: Float; shared?: boolean; residual?: boolean; masked?: boolean }

// ---- tolerances ----
/** CPU router: rows whose choice is within this of a tie (reference margin) are not compared (counted, ~0). */
export const NEAR_TIE = 1e-6;
/** CUDA router weights against the CPU's. */
export const TOL_ROUTE_WEIGHTS_VS_CPU = 1e-6;
/** CUDA siluMulQuant: glibc's expf misrounds ~0.1% of inputs by one ulp where the GPU's double exp does not. */
export const TOL_SILU_MUL_QUANT_VS_CPU = { codes: 1e-3, scales: 1e-6 };
/** CPU siluMulQuant scales against the float64 reference's (f32 silu * up, then amax / 448). */
export const TOL_SILU_MUL_QUANT_SCALES = 1e-6;
/** siluMulQuant: h within this (relative) of a rounding midpoint of its dtype may round either way (f32 silu
 * against float64 differs by ~1e-7); a group's scale may then be the nudged reference's (counted, logged). */
export const NEAR_MIDPOINT = 1e-6;
/** siluMulQuant dequantized, and FP8 experts against dense ones: FP8 error (one e4m3 rounding, 2^-4, with margin). */
export const TOL_FP8_VS_DENSE = 0.05;
/** CUDA moeForward with FP8 experts: routing exact, output to bf16 tolerance (expert GEMMs sum in another order). */
export const TOL_FORWARD_VS_CPU = { out: 2e-2, weights: 1e-5 };

// ---- moeRoute ----
const V3_ROUTE = { topK: 8, nGroup: 8, topkGroup: 4, routedScalingFactor: 2.5 };
export const ROUTE_CPU: RouteCase[] = [
  { name: 'V3 (e=256, 8 groups keep 4, top-8, scale 2.5, bias)', t: 300, e: 256, bias: true, opts: V3_ROUTE },
  { name: 'tiny fixture (e=16, 4 groups keep 2, top-4, scale 2.5, bias)', t: 129, e: 16, bias: true,
    opts: { topK: 4, nGroup: 4, topkGroup: 2, routedScalingFactor: 2.5 } },
  { name: 'sigmoid, groups without bias (group max)', t: 77, e: 64, opts: { topK: 6, nGroup: 8, topkGroup: 3, routedScalingFactor: 1.5 } },
  { name: 'V2 softmax group_limited_greedy (e=160, 8 groups keep 3, top-6, scale 16)', t: 50, e: 160,
    opts: { topK: 6, scoring: 'softmax', nGroup: 8, topkGroup: 3, routedScalingFactor: 16 } },
  { name: 'V2-Lite softmax greedy (e=64, top-6, no norm, scale 1)', t: 200, e: 64, opts: { topK: 6, scoring: 'softmax' } },
  { name: 'softmax, normalised', t: 33, e: 64, opts: { topK: 6, scoring: 'softmax', normTopkProb: true, routedScalingFactor: 2 } },
  { name: 'Moonlight (e=64, 1 group, top-6, bias, scale 2.446)', t: 65, e: 64, bias: true, opts: { topK: 6, routedScalingFactor: 2.446 } },
  { name: 'k = 1', t: 31, e: 16, opts: { topK: 1 } },
  { name: 'k = e', t: 17, e: 16, bias: true, opts: { topK: 16, routedScalingFactor: 3 } },
  { name: 'k = every expert of the kept groups', t: 9, e: 12, bias: true, opts: { topK: 6, nGroup: 4, topkGroup: 2 } },
  { name: 'sigmoid without norm', t: 11, e: 32, opts: { topK: 5, normTopkProb: false, routedScalingFactor: 2 } },
];
export const ROUTE_GPU: RouteCase[] = [
  { name: 'V3 e=256 groups 8/4 top-8', t: 300, e: 256, bias: true, opts: V3_ROUTE },
  { name: 'V3 decode, t=1', t: 1, e: 256, bias: true, opts: V3_ROUTE },
  { name: 'group max without bias', t: 77, e: 64, opts: { topK: 6, nGroup: 8, topkGroup: 3, routedScalingFactor: 1.5 } },
  { name: 'V2 softmax groups', t: 50, e: 160, opts: { topK: 6, scoring: 'softmax', nGroup: 8, topkGroup: 3, routedScalingFactor: 16 } },
  { name: 'softmax greedy', t: 129, e: 64, opts: { topK: 6, scoring: 'softmax' } },
  { name: 'k = 1', t: 31, e: 16, opts: { topK: 1 } },
  { name: 'k = e = 256', t: 5, e: 256, bias: true, opts: { topK: 256 } },
  { name: 't = 0', t: 0, e: 64, bias: true, opts: { topK: 4 } },
];

// ---- moePermute ----
export const PERMUTE_CPU: PermCase[] = [
  { t: 1, k: 8, e: 256 },
  { t: 7, k: 2, e: 16 },
  { t: 129, k: 8, e: 256, align: 128 },
  { t: 300, k: 6, e: 64, align: 4 },
  { t: 33, k: 4, e: 64, pool: 5 },         // most experts get nothing
  { t: 50, k: 1, e: 16, pool: 1 },         // one expert gets every token
  { t: 9, k: 16, e: 16, align: 3 },        // k = e
  { t: 0, k: 8, e: 32, align: 8 },
  { t: 1, k: 8, e: 256, layout: 'masked' },
  { t: 37, k: 6, e: 64, layout: 'masked' },
  { t: 0, k: 4, e: 8, layout: 'masked' },
  { t: 40, k: 4, e: 16, pool: 6, layout: 'masked', mMax: 9 },  // drops slots
];
export const PERMUTE_GPU: PermCase[] = [
  { t: 1, k: 8, e: 256, align: 1 },
  { t: 4096, k: 8, e: 256, align: 128 },      // many chunks, tile padding
  { t: 1000, k: 2, e: 256, pool: 3, align: 64 },  // most experts empty
  { t: 700, k: 1, e: 16, pool: 1, align: 128 },   // one expert gets every token, count not a multiple of the tile
  { t: 9, k: 16, e: 16, align: 1 },           // k = e
  { t: 0, k: 8, e: 256, align: 128 },
  { t: 1, k: 8, e: 256, layout: 'masked' },
  { t: 333, k: 6, e: 64, layout: 'masked' },
  { t: 300, k: 4, e: 16, pool: 6, layout: 'masked', mMax: 50 },  // drops
  { t: 0, k: 8, e: 256, layout: 'masked' },
];

// ---- moeGather: [dtype, d] ----
export const GATHER_CPU: [Float, number][] = [['f32', 7], ['bf16', 300], ['f32', 1]];
export const GATHER_GPU: [Float, number][] = [['bf16', 7168], ['f32', 7], ['bf16', 7], ['f16', 300]];

// ---- siluMulQuant: [dtype, rows, n] ----
export const SILU_MUL_QUANT_CPU: [Float, number, number][] = [['f32', 5, 128], ['bf16', 17, 300], ['f16', 3, 7], ['bf16', 2, 2048], ['f32', 0, 256]];
/** [dtype, rows, n, ue8m0] */
export const SILU_MUL_QUANT_GPU: [Float, number, number, boolean][] = [['bf16', 37, 2048, false], ['f32', 5, 300, false], ['f16', 3, 7, true], ['bf16', 0, 256, false]];
/** With NaN and +-inf in gate and up: [dtype, n]. */
export const SILU_MUL_QUANT_SPECIALS_GPU: [Float, number][] = [['f32', 300], ['bf16', 300], ['f16', 130]];

// ---- moeCombine ----
export const COMBINE_CPU: CombineCase[] = [
  { t: 1, k: 8, e: 256, d: 64, dtype: 'bf16', shared: true, residual: true },
  { t: 129, k: 6, e: 64, d: 130, dtype: 'f32', shared: true, residual: false },
  { t: 17, k: 1, e: 4, d: 7, dtype: 'f32', shared: false, residual: true },
  { t: 5, k: 16, e: 16, d: 33, dtype: 'bf16', shared: false, residual: false },
  { t: 0, k: 4, e: 8, d: 16, dtype: 'f32', shared: true, residual: true },
];
/** Contiguous with align 128 pads up to 256 x 128 rows: on the emulator d = 256 instead of V3's 7168 there. */
export const COMBINE_GPU = (emu: boolean): CombineCase[] => [
  { t: 1, k: 8, e: 256, d: 7168, dtype: 'bf16', masked: true },
  { t: 129, k: 8, e: 256, d: emu ? 256 : 7168, dtype: 'bf16', masked: false },
  { t: 17, k: 1, e: 4, d: 7, dtype: 'f32', masked: false },
  { t: 5, k: 16, e: 16, d: 33, dtype: 'f16', masked: true },
  { t: 0, k: 8, e: 16, d: 64, dtype: 'bf16', masked: false },
];

// ---- moeForward ----
/** CPU: dense f32 experts against the float64 MoE, then FP8 experts against the dense result. */
export const FORWARD_CPU = { d: 128, e: 16, n: 256, k: 4, runs: [[1, 'auto'], [5, 'masked'], [40, 'contiguous'], [40, 'auto']] as [number, 'auto' | 'masked' | 'contiguous'][] };
/** CUDA, FP8 experts (V3-like groups 8/4). On the emulator the contiguous case takes 40 tokens (300 x 8
 * expert GEMMs on the simple kernel would take minutes). */
export const FORWARD_GPU = (emu: boolean) => ({ d: 512, e: 64, n: 256, k: 8,
  runs: [[1, 'auto'], [7, 'masked'], [emu ? 40 : 300, 'contiguous']] as [number, 'auto' | 'masked' | 'contiguous'][] });

// ---- bench/moe.bench.mjs ----
/** V3's routed layer (7168 -> 2048 per expert, 256 experts, top 8, groups 8/4) on CUDA; on the CPU the same
 * routing at reduced dims (V3's 11 GB of FP8 experts and ~1 TFLOP per 4096 tokens do not fit a CPU run). */
export const MOE_BENCH = {
  v3: { d: 7168, inter: 2048, e: 256, k: 8, nGroup: 8, topkGroup: 4, tokens: [1, 16, 128, 1024, 4096] },
  cpu: { d: 1024, inter: 256, e: 256, k: 8, nGroup: 8, topkGroup: 4, tokens: [1, 16, 128, 1024, 4096] },
};
