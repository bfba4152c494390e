// Fused MLA with absorbed weights over the paged latent cache (issue 5; DeepSeek-V3 model.py MLA,
// attn_impl="absorb", v3-reference.md §3): one GEMM x @ [wq_a; wkv_a]^T, the down epilogue (q_norm,
// kv_norm, RoPE of k_pe, cache write), wq_b, the absorbed query (W_UK), paged attention in latent space,
// W_UV per head and wo. Prefill uses the same absorbed path (one code path; see the report / README).
// W_UK [h, nope, r] and W_UV [h, v, r] are slices of wkv_b dequantized once at load to the activation
// dtype (bf16 for a bf16/fp8 model): 2 bytes a weight, exact for e4m3 x scale up to one bf16 rounding,
// and what DeepSeek's model.py and vLLM/SGLang use for these per-head products.
import { ModelConfig } from '../config';
import { UnsupportedError } from '../errors';
import { mlaAbsorbQ, mlaDownEpilogue, mlaOutput, mlaPagedAttention } from '../ops/mla';
import { narrow } from '../ops/shape';
import { Tensor } from '../tensor';
import { Act, Linear, loadAs, loadF32 } from './linear';
import { MlaStep, PagedLatentCache } from './paged_cache';
import { CheckpointLike } from './weights';

type Device = 'cpu' | 'cuda';

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
  /** Attention kernel on CUDA (mlaPagedAttention impl): 0 simple f32 (default), 1 tensor cores (bf16 cache). */
  attnImpl?: number;
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
  const { qLatent, qPe } = mlaAbsorbQ(q.reshape([t, h, q.shape[1] / h]), w.wUK, step.positions, opts.invFreq);
  q.dispose();
  const pe = qPe.shape[2];
  const o = mlaPagedAttention(qLatent.reshape([step.b, step.sq, h, r]), qPe.reshape([step.b, step.sq, h, pe]), cache.pages[opts.layer],
    step.blockTable, step.seqLens, { softmaxScale: opts.softmaxScale, impl: opts.attnImpl });
  qLatent.dispose(); qPe.dispose(); o.lse.dispose();
  const oh = mlaOutput<Act>(o.out.reshape([t, h, r]), w.wUV, { outDtype: act });  // [t, h * v_head_dim]
  o.out.dispose();
  const y = w.wo.forward(oh);
  oh.dispose();
  return y;
}

/** dst [n, k] = [parts[0]; parts[1]; ...] (parts [n_i, k] of dst's dtype and device), copied by narrow over whole rows. */
function joinRows<D extends Tensor['dtype']>(parts: Tensor<D>[]): Tensor<D> {
  const k = parts[0].shape[1];
  const dst = Tensor.empty([parts.reduce((n, p) => n + p.shape[0], 0), k], { dtype: parts[0].dtype, device: parts[0].device }) as Tensor<D>;
  let row = 0;
  for (const p of parts) {
    const rows = dst.view(row, p.shape[0]);
    narrow(p, 0, k, { out: rows });
    rows.dispose();
    row += p.shape[0];
  }
  return dst;
}

/** Concatenated rows [a; b] of two Linears of the same kind on one device (fp8 needs a's rows to fill whole 128-row scale blocks). */
function concatRows(a: Linear, b: Linear, act: Act): Linear {
  if (a.fp8 && b.fp8) {
    if (a.outFeatures % 128 !== 0) throw new UnsupportedError(`mlaFused: fp8 [wq_a; wkv_a] needs q_lora_rank to be a multiple of 128, got ${a.outFeatures}`);
    return new Linear(null, act, { weight: joinRows([a.fp8.weight, b.fp8.weight]), scaleInv: joinRows([a.fp8.scaleInv, b.fp8.scaleInv]) });
  }
  if (!a.weight || !b.weight) throw new UnsupportedError('mlaFused: wq_a and wkv_a must both be fp8 or both dense');
  return new Linear(joinRows([a.weight, b.weight]), act);
}

export class MlaFused {
  constructor(private readonly cfg: ModelConfig, readonly w: MlaFusedWeights) {}

  /**
   * prefix e.g. 'model.layers.3.self_attn.'; act: activation and W_UK/W_UV dtype; fp8: keep fp8-stored
   * projections in fp8 (fp8Gemm); device: where the weights live.
   */
  static load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, act: Act, fp8 = false, device: Device = 'cpu'): MlaFused {
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    const lora = cfg.qLoraRank !== null;
    const wkvA = Linear.load(ckpt, `${prefix}kv_a_proj_with_mqa.weight`, act, fp8, device);
    let wqkvA = wkvA;
    if (lora) {
      const wqA = Linear.load(ckpt, `${prefix}q_a_proj.weight`, act, fp8, device);
      wqkvA = concatRows(wqA, wkvA, act);
      wqA.dispose(); wkvA.dispose();
    }
    // kv_b_proj [H*(nope+v), r], dequantized once, rounded once to act; as [H, (nope+v)*r] each head's row is
    // [W_UK_h (nope x r) | W_UV_h (v x r)], so narrow splits it
    const kvb = loadAs(ckpt, `${prefix}kv_b_proj.weight`, act, device);
    const heads = kvb.reshape([H, (nope + v) * r]);
    const uk = narrow(heads, 0, nope * r), uv = narrow(heads, nope * r, v * r);
    heads.dispose(); kvb.dispose();
    const wUK = uk.reshape([H, nope, r]), wUV = uv.reshape([H, v, r]);
    uk.dispose(); uv.dispose();
    return new MlaFused(cfg, {
      wqkvA,
      qNorm: lora ? loadF32(ckpt, `${prefix}q_a_layernorm.weight`, device) : null,
      kvNorm: loadF32(ckpt, `${prefix}kv_a_layernorm.weight`, device),
      wqB: Linear.load(ckpt, lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`, act, fp8, device),
      wUK, wUV,
      wo: Linear.load(ckpt, `${prefix}o_proj.weight`, act, fp8, device),
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
