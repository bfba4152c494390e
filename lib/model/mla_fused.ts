// Fused MLA with absorbed weights over the paged latent cache (issue 5; DeepSeek-V3 model.py MLA,
// attn_impl="absorb", v3-reference.md §3): one GEMM x @ [wq_a; wkv_a]^T, the down epilogue (q_norm,
// kv_norm, RoPE of k_pe, cache write), wq_b, the absorbed query (W_UK), paged attention in latent space,
// W_UV per head and wo. Prefill uses the same absorbed path (one code path; see the report / README).
// W_UK [h, nope, r] and W_UV [h, v, r] are slices of wkv_b dequantized once at load to the activation
// dtype (bf16 for a bf16/fp8 model): 2 bytes a weight, exact for e4m3 x scale up to one bf16 rounding,
// and what DeepSeek's model.py and vLLM/SGLang use for these per-head products.
import { ModelConfig } from '../config';
import { mlaAbsorbQ, mlaDownEpilogue, mlaOutput, mlaPagedAttention } from '../ops/mla';
import { Tensor } from '../tensor';
import { Act, Linear } from './linear';
import { Loader } from './loader';
import { MlaStep, PagedLatentCache } from './paged_cache';

export interface MlaFusedWeights {
  /** [wq_a; wkv_a] [q_lora + r + rope, d] (wkv_a alone when q_lora_rank is null). */
  wqkvA: Linear;
  /** q_a_layernorm [q_lora] f32, null without q_lora. */
  qNorm: Tensor<'f32'> | null;
  kvNorm: Tensor<'f32'>;
  /** q_b_proj (or q_proj) [h * (nope + rope), q_lora or d]. */
  wqB: Linear;
  /** W_UK [h, nope, r] and W_UV [h, v, r] from kv_b_proj [h * (nope + v), r]. */
  wUK: Tensor<Act>;
  wUV: Tensor<Act>;
  wo: Linear;
}

export interface MlaForwardOptions {
  /** Layer slot in the cache. */
  layer: number;
  softmaxScale: number;
  /** [rope / 2] f32 YaRN inverse frequencies, on the cache's device. */
  invFreq: Tensor<'f32'>;
  eps: number;
}

/**
 * The attention block for a batch: x [b*sq, d] (attention-normed, sequence-major rows of `step`) ->
 * [b*sq, d]; writes the step's tokens into cache layer `opts.layer` (the step's slots) and attends over
 * each sequence's pages (causal).
 */
export function mlaForward(x: Tensor<Act>, w: MlaFusedWeights, cache: PagedLatentCache, step: MlaStep, opts: MlaForwardOptions): Tensor<Act> {
  const t = x.shape[0], act = x.dtype;
  const h = w.wUK.shape[0], r = w.wUK.shape[2];
  const qkv = w.wqkvA.forward(x);  // [t, q_lora + r + rope]
  const cq = mlaDownEpilogue(qkv, w.qNorm, w.kvNorm, step.positions, opts.invFreq, cache.pages[opts.layer], step.slots,
    { eps: opts.eps, outDtype: act });
  const q = w.wqB.forward(w.qNorm ? cq : x);  // [t, h * (nope + rope)]
  qkv.dispose(); cq.dispose();
  // Views (reshape) share their base's storage and keep it alive: each is disposed with its base, so that the
  // storage goes back to the allocator's cache at once instead of at the next GC (a fresh mapping per layer
  // otherwise: page faults in every prefill).
  const qHeads = q.reshape([t, h, q.shape[1] / h]);
  const { qLatent, qPe } = mlaAbsorbQ(qHeads, w.wUK, step.positions, opts.invFreq);
  q.dispose(); qHeads.dispose();
  const pe = qPe.shape[2];
  const qLatent4 = qLatent.reshape([step.b, step.sq, h, r]), qPe4 = qPe.reshape([step.b, step.sq, h, pe]);
  const o = mlaPagedAttention(qLatent4, qPe4, cache.pages[opts.layer], step.blockTable, step.seqLens, { softmaxScale: opts.softmaxScale });
  qLatent.dispose(); qPe.dispose(); qLatent4.dispose(); qPe4.dispose(); o.lse.dispose();
  const oHeads = o.out.reshape([t, h, r]);
  const oh = mlaOutput<Act>(oHeads, w.wUV, { outDtype: act });  // [t, h * v_head_dim]
  o.out.dispose(); oHeads.dispose();
  const y = w.wo.forward(oh);
  oh.dispose();
  return y;
}

export class MlaFused {
  constructor(private readonly cfg: ModelConfig, readonly w: MlaFusedWeights) {}

  /** The attention weights of prefix e.g. 'model.layers.3.self_attn.', as the load plan made them. */
  static load(cfg: ModelConfig, w: Loader, prefix: string): MlaFused {
    const lora = cfg.qLoraRank !== null;
    return new MlaFused(cfg, {
      wqkvA: w.linear(`${prefix}wqkv_a`),
      qNorm: lora ? w.tensor(`${prefix}q_a_layernorm.weight`) : null,
      kvNorm: w.tensor(`${prefix}kv_a_layernorm.weight`),
      wqB: w.linear(lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`),
      ...w.absorbed(prefix),
      wo: w.linear(`${prefix}o_proj.weight`),
    });
  }

  /** x [b*sq, d] for the step's sequences -> [b*sq, d]; invFreq on the cache's device. */
  forward(x: Tensor<Act>, cache: PagedLatentCache, layer: number, step: MlaStep, invFreq: Tensor<'f32'>): Tensor<Act> {
    return mlaForward(x, this.w, cache, step, { layer, softmaxScale: this.cfg.softmaxScale, invFreq, eps: this.cfg.rmsNormEps });
  }

  dispose(): void {
    const w = this.w;
    w.wqkvA.dispose(); w.qNorm?.dispose(); w.kvNorm.dispose(); w.wqB.dispose(); w.wUK.dispose(); w.wUV.dispose(); w.wo.dispose();
  }
}
