// MoE router (DeepSeek-V3 Gate: sigmoid noaux_tc with group limit; V2 softmax greedy / group_limited_greedy).
// CPU: native/cpu/moe_route.cc. Semantics: ../shared/research/v3-reference.md §5, §9.
import { Tensor } from '../tensor';
import { lazyOp, result } from './util';

const nativeMoeRoute = lazyOp('moeRoute');

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
