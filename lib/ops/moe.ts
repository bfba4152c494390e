// MoE router (DeepSeek-V3 Gate: sigmoid noaux_tc with group limit; V2 softmax greedy / group_limited_greedy)
// and the dispatch around the grouped expert GEMMs (DeepGEMM's contiguous / masked layouts): moePermute,
// moeGather, siluMulQuant, moeCombine. CPU: native/cpu/moe_route.cc, native/cpu/moe_dispatch.cc;
// CUDA: cuda/moe.cu. Semantics: docs/v3-reference.md §5, §9. A slot is (token i, choice j) = i*k + j.
import { ArgumentError } from '../errors';
import { NativeTensor } from '../native';
import { Tensor } from '../tensor';
import { siluMul } from './activation';
import { Fp8Operand, gemm, groupedGemmContiguous, groupedGemmMasked, groupedGemmSiluMulContiguous, groupedGemmSiluMulMasked } from './gemm';
import { quantizeFp8 } from './quant';
import { lazyOp, needObject, needTensor, OutOptions, result } from './util';

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

// ---------------------------------------------------------------- the whole routed FFN
type Act = 'f32' | 'bf16';
/** Stacked expert weights [E, n, k]: dense f32/bf16, or FP8 {data [E,n,k] e4m3, scale [E, ceil(n/128), ceil(k/128)]}. */
export type ExpertWeight = Tensor<Act> | Fp8Operand;
/** The routed experts of one layer: w1 = gate_proj and w3 = up_proj [E, inter, d], w2 = down_proj [E, d, inter]. */
/**
 * The experts' weights stacked [E, n, k]: w1 (gate), w3 (up), w2 (down); or, FP8 with n % 128 == 0, w13 = [w1; w3]
 * per expert [E, 2n, k] for the fused gate/up GEMM (groupedGemmSiluMul*), with w1 / w3 absent.
 */
export type MoeExpertWeights =
  | { w1: ExpertWeight; w3: ExpertWeight; w2: ExpertWeight; w13?: undefined }
  | { w13: Fp8Operand; w2: ExpertWeight; w1?: undefined; w3?: undefined };

/** Decode-sized batches (t <= this) use the masked layout under layout 'auto': fixed [E, t] slabs, no host-side sizes. */
export const MOE_MASKED_MAX_TOKENS = 16;

export interface MoeForwardOptions extends Omit<MoeRouteOptions, 'out'> {
  /** [t, d] shared-expert output, added unweighted. */
  shared?: Tensor<F>;
  /** [t, d] residual stream, added last. */
  residual?: Tensor<F>;
  /** Grouped layout: 'auto' (default) = masked for t <= MOE_MASKED_MAX_TOKENS, else contiguous. */
  layout?: MoeLayout | 'auto';
  /** Contiguous: pad each expert's segment to a multiple of this (the grouped GEMM's M tile); default 1. */
  align?: number;
  /** Output dtype (default: residual's, else x's). */
  outDtype?: Act;
}
export interface MoeForwardResult {
  /** [t, d] residual + shared + sum_j weights[i,j] * expert_{indices[i,j]}(x[i]). */
  out: Tensor<Act>;
  /** The router's [t, topK] f32 weights and i32 indices. */
  weights: Tensor<'f32'>;
  indices: Tensor<'i32'>;
  /** [E] i32 tokens routed to each expert in this call (the load statistics). */
  counts: Tensor<'i32'>;
}

const isFp8 = (w: ExpertWeight | Tensor): w is Fp8Operand => !(w instanceof Tensor);

/** The experts on grouped rows: x [t, d] (not yet permuted) -> grouped [rows, d] (masked: [E, mMax, d]) = w2(silu(w1 x) * w3 x) per row's expert; FP8 weights quantize x once (act_quant) and h with siluMulQuant. */
export function moeExperts(x: Tensor<Act>, perm: MoePermutation, k: number, w: MoeExpertWeights, outDtype: Act = x?.dtype): Tensor<Act> {
  needTensor('moeExperts', 'x', x);
  needObject('moeExperts', 'perm', perm);
  needTensor('moeExperts', 'perm.counts', perm.counts);
  needObject('moeExperts', 'w', w);
  if (w.w13 === undefined && (w.w1 === undefined || w.w3 === undefined)) throw new ArgumentError('moeExperts: w needs w13, or w1 and w3 (and w2)');
  if (w.w2 === undefined) throw new ArgumentError('moeExperts: w needs w2');
  const masked = perm.offsets === undefined;
  const grouping = masked ? perm.counts : perm.offsets!;
  const experts = (w.w13 ? w.w13.data : isFp8(w.w2) ? w.w2.data : w.w2).shape[0];
  const expectedM = Math.max(1, Math.ceil((x.shape[0] * k) / experts));  // the CUDA tile hint of the masked layout
  const gg = (a: Tensor<Act> | Fp8Operand, b: ExpertWeight): Tensor<Act> => {
    const o = { outDtype, expectedM };
    if (masked) return isFp8(a) ? groupedGemmMasked<Act>(a, b as Fp8Operand, grouping, o) : groupedGemmMasked<Act, Act>(a, b as Tensor<Act>, grouping, o);
    return isFp8(a) ? groupedGemmContiguous<Act>(a, b as Fp8Operand, grouping, o) : groupedGemmContiguous<Act, Act>(a, b as Tensor<Act>, grouping, o);
  };
  const fp8In = w.w13 !== undefined || isFp8(w.w1);
  if (w.w13 === undefined && isFp8(w.w1) !== isFp8(w.w3)) throw new ArgumentError('moeExperts: w1 and w3 must both be FP8 or both dense');
  let xs: Tensor<Act> | Fp8Operand;
  if (fp8In) {
    const q = quantizeFp8(x);  // per token row; the gather copies codes and scales
    xs = moeGather(q, perm.rowSlot, { k });
    q.data.dispose(); q.scale.dispose();
  } else {
    xs = moeGather(x, perm.rowSlot, { k });
  }
  let h: Tensor<Act> | Fp8Operand;
  if (w.w13 !== undefined) {
    // gate and up in one GEMM, silu(gate) * up and the FP8 re-quantization in its epilogue
    const a = xs as Fp8Operand;
    h = masked ? groupedGemmSiluMulMasked(a, w.w13, grouping, { expectedM })
      : groupedGemmSiluMulContiguous(a, w.w13, grouping);
  } else {
    const g = gg(xs, w.w1), u = gg(xs, w.w3);
    h = isFp8(w.w2) ? siluMulQuant(g, u) : siluMul(g, u);
    g.dispose(); u.dispose();
  }
  if (isFp8(xs)) { xs.data.dispose(); xs.scale.dispose(); } else xs.dispose();
  const y = gg(h, w.w2);
  if (isFp8(h)) { h.data.dispose(); h.scale.dispose(); } else h.dispose();
  return y;
}

/** The routed FFN in one call, on x's device: x [t, d], gate [E, d] (router weight) -> router (moeRoute on f32 logits), moePermute, moeExperts, moeCombine (+ shared, + residual). The caller disposes every returned tensor. */
export function moeForward(x: Tensor<Act>, gate: Tensor<Act>, experts: MoeExpertWeights, opts: MoeForwardOptions): MoeForwardResult {
  needTensor('moeForward', 'x', x);
  needTensor('moeForward', 'gate', gate);
  needObject('moeForward', 'experts', experts);
  needObject('moeForward', 'opts', opts);
  const { shared, residual, layout = 'auto', align, outDtype, ...routeOpts } = opts;
  const t = x.shape[0], k = opts.topK, e = gate.shape[0];
  const logits = gemm<Act, 'f32'>(x, gate, { outDtype: 'f32' });
  const route = moeRoute(logits, routeOpts);
  logits.dispose();
  const masked = layout === 'masked' || (layout === 'auto' && t <= MOE_MASKED_MAX_TOKENS);
  const perm = moePermute(route.indices, masked ? { numExperts: e, layout: 'masked' } : { numExperts: e, align });
  const y = moeExperts(x, perm, k, experts);
  const out = moeCombine<Act>(y, perm.slotRow, route.weights, { shared, residual, outDtype: outDtype ?? (residual?.dtype as Act | undefined) ?? x.dtype });
  y.dispose();
  perm.rowSlot.dispose(); perm.slotRow.dispose(); perm.offsets?.dispose(); perm.dropped?.dispose();
  return { out, weights: route.weights, indices: route.indices, counts: perm.counts };
}
