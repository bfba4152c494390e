// MLA attention over the latent cache with absorbed weights (DeepSeek-V3 model.py attn_impl="absorb").
// CPU: native/cpu/mla_attention.cc. Semantics: ../shared/research/v3-reference.md §3.
import { Tensor } from '../tensor';
import { lazyOp, result } from './util';

const nativeMla = lazyOp('mlaDecodeAttention');

type F = 'f32' | 'bf16' | 'f16';

export interface MlaDecodeAttentionOptions {
  /** Multiplies q.k: qk_head_dim^-0.5 * mscale^2 (0.1352337789 for V3). */
  softmaxScale: number;
  /** Position of the first query token; query i attends to cache rows [0, startPos + i] (default s - t). */
  startPos?: number;
  /** false: every query attends to all s cache rows (default true). */
  causal?: boolean;
  /** Write into this [t, h, r] f32 tensor instead of allocating. */
  out?: Tensor<'f32'>;
}

/** qLatent [t,h,r], qPe [t,h,p], cKv [s,r], kPe [s,p] -> out [t,h,r] f32 = sum_j softmax_j((qLatent.cKv_j + qPe.kPe_j) * scale) cKv_j. */
export function mlaDecodeAttention<Q extends F, K extends F>(
  qLatent: Tensor<Q>, qPe: Tensor<Q>, cKv: Tensor<K>, kPe: Tensor<K>, opts: MlaDecodeAttentionOptions,
): Tensor<'f32'> {
  return result(nativeMla(qLatent, qPe, cKv, kPe, opts), opts);
}
