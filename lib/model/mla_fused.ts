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

/** Concatenated rows [a; b] of two Linears of the same kind (fp8 needs a's rows to fill whole 128-row scale blocks). */
async function concatRows(a: Linear, b: Linear, act: Act): Promise<Linear> {
  if (a.fp8 && b.fp8) {
    const n1 = a.outFeatures;
    if (n1 % 128 !== 0) throw new UnsupportedError(`mlaFused: fp8 [wq_a; wkv_a] needs q_lora_rank to be a multiple of 128, got ${n1}`);
    const k = a.inFeatures, n = n1 + b.outFeatures;
    const codes = new Uint8Array(n * k);
    codes.set(await a.fp8.weight.bytes(), 0);
    codes.set(await b.fp8.weight.bytes(), n1 * k);
    const sa = await a.fp8.scaleInv.toFloat32Array(), sb = await b.fp8.scaleInv.toFloat32Array();
    const scales = new Float32Array(sa.length + sb.length);
    scales.set(sa); scales.set(sb, sa.length);
    const kb = a.fp8.scaleInv.shape[1];
    return new Linear(null, act, {
      weight: Tensor.fromArray(codes, [n, k], { dtype: 'f8_e4m3' }),
      scaleInv: Tensor.fromArray(scales, [scales.length / kb, kb]),
    });
  }
  if (!a.weight || !b.weight) throw new UnsupportedError('mlaFused: wq_a and wkv_a must both be fp8 or both dense');
  const va = await a.weight.toFloat32Array(), vb = await b.weight.toFloat32Array();
  const all = new Float32Array(va.length + vb.length);
  all.set(va); all.set(vb, va.length);
  return new Linear(Tensor.fromFloats(all, [a.outFeatures + b.outFeatures, a.inFeatures], { dtype: act }), act);
}

function tensorTo<D extends Act | 'f32'>(t: Tensor<D>, device: Device): Tensor<D> {
  if (device === 'cpu') return t;
  const m = t.to(device);
  t.dispose();
  return m;
}

export class MlaFused {
  constructor(private readonly cfg: ModelConfig, readonly w: MlaFusedWeights) {}

  /**
   * prefix e.g. 'model.layers.3.self_attn.'; act: activation and W_UK/W_UV dtype; fp8: keep fp8-stored
   * projections in fp8 (fp8Gemm); device: where the weights live.
   */
  static async load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, act: Act, fp8 = false, device: Device = 'cpu'): Promise<MlaFused> {
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    const lora = cfg.qLoraRank !== null;
    const wkvA = Linear.load(ckpt, `${prefix}kv_a_proj_with_mqa.weight`, act, fp8);
    let wqkvA = wkvA;
    if (lora) {
      const wqA = Linear.load(ckpt, `${prefix}q_a_proj.weight`, act, fp8);
      wqkvA = await concatRows(wqA, wkvA, act);
      wqA.dispose(); wkvA.dispose();
    }
    const kvb = loadAs(ckpt, `${prefix}kv_b_proj.weight`, act);  // [H*(nope+v), r]: dequantized once, rounded once to act
    const all = await kvb.toFloat32Array();
    kvb.dispose();
    const uk = new Float32Array(H * nope * r), uv = new Float32Array(H * v * r);
    for (let h = 0; h < H; h++) {
      const base = h * (nope + v) * r;
      uk.set(all.subarray(base, base + nope * r), h * nope * r);
      uv.set(all.subarray(base + nope * r, base + (nope + v) * r), h * v * r);
    }
    return new MlaFused(cfg, {
      wqkvA: wqkvA.to(device),
      qNorm: lora ? loadF32(ckpt, `${prefix}q_a_layernorm.weight`, device) : null,
      kvNorm: loadF32(ckpt, `${prefix}kv_a_layernorm.weight`, device),
      wqB: Linear.load(ckpt, lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`, act, fp8, device),
      wUK: tensorTo(Tensor.fromFloats(uk, [H, nope, r], { dtype: act }), device),
      wUV: tensorTo(Tensor.fromFloats(uv, [H, v, r], { dtype: act }), device),
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
