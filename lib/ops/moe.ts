// MoE router (DeepSeek-V3 Gate: sigmoid noaux_tc with group limit; V2 softmax greedy / group_limited_greedy)
// and the dispatch around the grouped expert GEMMs (DeepGEMM's contiguous / masked layouts): moePermute,
// moeGather, siluMulQuant, moeCombine. CPU: native/cpu/moe_route.cc, native/cpu/moe_dispatch.cc;
// CUDA: cuda/moe.cu. Semantics: ../shared/research/v3-reference.md §5, §9. A slot is (token i, choice j) = i*k + j.
import { NativeTensor } from '../native';
import { Tensor } from '../tensor';
import { Fp8Operand } from './gemm';
import { lazyOp, OutOptions, result } from './util';

const nativeMoeRoute = lazyOp('moeRoute');
const nativeMoePermute = lazyOp('moePermute');
const nativeMoeGather = lazyOp('moeGather');
const nativeSiluMulQuant = lazyOp('siluMulQuant');
const nativeMoeCombine = lazyOp('moeCombine');

export interface MoeRouteOptions {
  /** Experts per token (n_activated_experts / num_experts_per_tok). */
  topK: number;
  /** Gate scoring (default 'sigmoid'). */
  scoring?: 'sigmoid' | 'softmax';
  /** [e] f32 e_score_correction_bias: added to the scores for selection only. */
  bias?: Tensor<'f32'>;
  /** Expert groups (default 1). */
  nGroup?: number;
  /** Groups kept per token (default nGroup). */
  topkGroup?: number;
  /** Renormalise the chosen weights to sum 1 (default: true for sigmoid, false for softmax). */
  normTopkProb?: boolean;
  /** Multiplies the weights (default 1). */
  routedScalingFactor?: number;
  /** Write into these tensors instead of allocating. */
  out?: { weights?: Tensor<'f32'>; indices?: Tensor<'i32'> };
}

export interface MoeRoute {
  /** [t, topK] f32: unbiased score of each chosen expert, normalised and scaled. */
  weights: Tensor<'f32'>;
  /** [t, topK] i32: chosen experts, by descending selection score (ties: lower index first). */
  indices: Tensor<'i32'>;
}

/** Router: logits [t, e] f32 -> { weights [t, topK] f32, indices [t, topK] i32 }. */
export function moeRoute(logits: Tensor<'f32'>, opts: MoeRouteOptions): MoeRoute {
  const r = nativeMoeRoute(logits, opts);
  return { weights: result(r.weights), indices: result(r.indices) };
}

export type MoeLayout = 'contiguous' | 'masked';
export interface MoePermuteOptions {
  /** Routed experts (n_routed_experts); indices must lie in [0, numExperts). */
  numExperts: number;
  /** 'contiguous' (prefill: segments back to back, for groupedGemmContiguous) or 'masked' (decode: [E, mMax] slabs, for groupedGemmMasked); default 'contiguous'. */
  layout?: MoeLayout;
  /** Contiguous: pad each expert's segment to a multiple of this (the grouped GEMM's M tile); default 1. */
  align?: number;
  /** Masked: rows per expert (default t, which never drops: an expert appears at most once per token). */
  mMax?: number;
  out?: { counts?: Tensor<'i32'>; offsets?: Tensor<'i32'>; rowSlot?: Tensor<'i32'>; slotRow?: Tensor<'i32'>; dropped?: Tensor<'i32'> };
}
export interface MoePermutation {
  /** [E] i32 slots per expert (the load statistics; masked: at most mMax). */
  counts: Tensor<'i32'>;
  /** Contiguous: [E+1] i32 segment starts (padded), offsets[E] = rows in use; the groupedGemmContiguous offsets. */
  offsets?: Tensor<'i32'>;
  /** Masked: [1] i32 slots that did not fit in mMax rows (0 with the default mMax); such slots have slotRow -1. */
  dropped?: Tensor<'i32'>;
  /** Contiguous [t*k + min(E, t*k)*(align-1)] or masked [E, mMax] i32: the slot each grouped row holds, -1 for padding. */
  rowSlot: Tensor<'i32'>;
  /** [t, k] i32: the grouped row of each slot (the inverse map, for moeCombine). */
  slotRow: Tensor<'i32'>;
}

/** Sorts the slots of indices [t, k] i32 by expert (stable: slot order within an expert) -> { counts, offsets | dropped, rowSlot, slotRow }. */
export function moePermute(indices: Tensor<'i32'>, opts: MoePermuteOptions): MoePermutation {
  const r = nativeMoePermute(indices, opts) as Record<string, NativeTensor>;
  const i32 = (h: NativeTensor) => result<'i32'>(h);
  const p: MoePermutation = { counts: i32(r.counts), rowSlot: i32(r.rowSlot), slotRow: i32(r.slotRow) };
  if (r.offsets) p.offsets = i32(r.offsets);
  if (r.dropped) p.dropped = i32(r.dropped);
  return p;
}

export interface MoeGatherOptions<D extends DTypeAny = DTypeAny> {
  /** Experts per token (the k of the indices that made rowSlot). */
  k: number;
  out?: Tensor<D>;
}
type DTypeAny = Tensor['dtype'];

/** x [t, d] -> [...rowSlot.shape, d]: grouped row r = x[rowSlot[r] / k], zero where rowSlot is -1. An FP8 operand {data [t,d], scale [t,kb]} gives one with its scales gathered the same way. */
export function moeGather(x: Fp8Operand, rowSlot: Tensor<'i32'>, opts: { k: number; out?: { data?: Tensor<'f8_e4m3'>; scale?: Tensor<'f32'> } }): Fp8Operand;
export function moeGather<D extends DTypeAny>(x: Tensor<D>, rowSlot: Tensor<'i32'>, opts: MoeGatherOptions<D>): Tensor<D>;
export function moeGather(x: Tensor | Fp8Operand, rowSlot: Tensor<'i32'>, opts: { k: number; out?: unknown }): Tensor | Fp8Operand {
  const r = nativeMoeGather(x, rowSlot, opts);
  if (x instanceof Tensor) return result(r as NativeTensor, opts as { out?: Tensor });
  const o = r as { data: NativeTensor; scale: NativeTensor };
  return { data: result<'f8_e4m3'>(o.data), scale: result<'f32'>(o.scale) };
}

type F = 'f32' | 'bf16' | 'f16';
export interface SiluMulQuantOptions {
  /** Round each scale up to a power of two (as quantizeFp8's ue8m0). */
  ue8m0?: boolean;
  out?: { data?: Tensor<'f8_e4m3'>; scale?: Tensor<'f32'> };
}

/** silu(gate) * up -> FP8 in one pass: gateUp [..., 2n] (gate first) or gate, up [..., n] -> { data [..., n] f8_e4m3, scale [..., ceil(n/128)] f32 }, exactly quantizeFp8(siluMul(gate, up)) (h rounded to the input dtype). */
export function siluMulQuant(gateUp: Tensor<F>, opts?: SiluMulQuantOptions): Fp8Operand;
export function siluMulQuant(gate: Tensor<F>, up: Tensor<F>, opts?: SiluMulQuantOptions): Fp8Operand;
export function siluMulQuant(gate: Tensor<F>, b?: Tensor<F> | SiluMulQuantOptions, c?: SiluMulQuantOptions): Fp8Operand {
  const [up, opts] = b instanceof Tensor ? [b, c ?? {}] : [undefined, b ?? {}];
  const r = nativeSiluMulQuant(gate, up, opts) as { data: NativeTensor; scale: NativeTensor };
  return { data: result<'f8_e4m3'>(r.data), scale: result<'f32'>(r.scale) };
}

export interface MoeCombineOptions<O extends F = F> extends OutOptions<O> {
  /** [t, d] shared-expert output, added unweighted. */
  shared?: Tensor<F>;
  /** [t, d] residual stream, added last (the output dtype defaults to its dtype, else y's). */
  residual?: Tensor<F>;
}

/** y [..., d] grouped expert outputs (rows flattened), slotRow [t, k] i32, weights [t, k] f32 -> [t, d] = residual + (sum_j weights[i,j] * y[slotRow[i,j]] + shared): f32, fma in j order, deterministic. */
export function moeCombine<O extends F = F>(y: Tensor<F>, slotRow: Tensor<'i32'>, weights: Tensor<'f32'>, opts: MoeCombineOptions<O> = {}): Tensor<O> {
  return result(nativeMoeCombine(y, slotRow, weights, opts), opts);
}
