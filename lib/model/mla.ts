// Multi-head Latent Attention, DeepSeek-V3 model.py MLA with attn_impl="absorb" ('f32' or 'bf16' activations).
// Reference: ../shared/research/v3-reference.md §3 (absorbed path), §4 (RoPE/YaRN).
// q_b_proj's rows are split at load into the nope and rope parts of each head, and kv_b_proj into
// per-head W_UK^T [h, r, nope] and W_UV [h, v, r] (exact copies), so the absorptions
// q_latent[t,h] = q_nope[t,h] @ W_UK[h] and o[t,h] = o_latent[t,h] @ W_UV[h]^T run as one batched
// GEMM over heads (groupedGemmMasked) between [t, h, .] <-> [h, t, .] transposes.
import { ModelConfig } from '../config';
import { groupedGemmMasked } from '../ops/gemm';
import { mlaDecodeAttention } from '../ops/mla';
import { rmsNorm } from '../ops/norm';
import { rope } from '../ops/rope';
import { transpose01 } from '../ops/shape';
import { Tensor } from '../tensor';
import { KVCache } from './cache';
import { Act, Linear, loadAs, loadF32 } from './linear';
import { CheckpointLike } from './weights';

export interface MlaWeights {
  /** q_a_proj [q_lora, d] and q_a_layernorm [q_lora], or null for a plain q_proj (then cq = x). */
  wqA: Linear | null;
  qNorm: Tensor<'f32'> | null;
  /** [h*nope, q_in]: the nope rows of q_b_proj (q_proj), head-major. */
  wqNope: Linear;
  /** [h*rope, q_in]: the rope part of q_b_proj (q_proj). */
  wqPe: Linear;
  /** kv_a_proj_with_mqa split by rows: [r, d] -> c_kv and [rope, d] -> k_pe (views of one tensor). */
  wkvC: Linear;
  wkvPe: Linear;
  kvNorm: Tensor<'f32'>;
  /** W_UK^T [h, r, nope] and W_UV [h, v, r] from kv_b_proj [h*(nope+v), r]. */
  wUkT: Tensor<Act>;
  wUv: Tensor<Act>;
  /** o_proj [d, h*v]. */
  wo: Linear;
}

export class Mla {
  constructor(private readonly cfg: ModelConfig, readonly w: MlaWeights, private readonly invFreq: Tensor<'f32'>) {}

  /** prefix e.g. 'model.layers.3.self_attn.'. */
  static async load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, invFreq: Tensor<'f32'>, act: Act): Promise<Mla> {
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, pe = cfg.qkRopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    const qk = nope + pe;
    const lora = cfg.qLoraRank !== null;
    const wqA = lora ? Linear.load(ckpt, `${prefix}q_a_proj.weight`, act) : null;
    const qNorm = lora ? loadF32(ckpt, `${prefix}q_a_layernorm.weight`) : null;
    // Split on the host from the act-dtype values (exact copies).
    const qT = loadAs(ckpt, lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`, act);
    const qIn = qT.shape[1];
    const wq = await qT.toFloat32Array();  // [H*qk, qIn]
    qT.dispose();
    const wkvbT = loadAs(ckpt, `${prefix}kv_b_proj.weight`, act);
    const wkvb = await wkvbT.toFloat32Array();  // [H*(nope+v), r]
    wkvbT.dispose();

    const qNopeW = new Float32Array(H * nope * qIn), qPe = new Float32Array(H * pe * qIn);
    for (let h = 0; h < H; h++) {
      qNopeW.set(wq.subarray(h * qk * qIn, (h * qk + nope) * qIn), h * nope * qIn);
      qPe.set(wq.subarray((h * qk + nope) * qIn, (h + 1) * qk * qIn), h * pe * qIn);
    }
    const ukT = new Float32Array(H * r * nope), uv = new Float32Array(H * v * r);
    for (let h = 0; h < H; h++) {
      for (let dd = 0; dd < nope; dd++) {
        const row = (h * (nope + v) + dd) * r;
        for (let c = 0; c < r; c++) ukT[(h * r + c) * nope + dd] = wkvb[row + c];
      }
      uv.set(wkvb.subarray((h * (nope + v) + nope) * r, (h + 1) * (nope + v) * r), h * v * r);
    }
    const wkvA = loadAs(ckpt, `${prefix}kv_a_proj_with_mqa.weight`, act);  // [r + pe, d]
    return new Mla(cfg, {
      wqA, qNorm,
      wqNope: new Linear(Tensor.fromFloats(qNopeW, [H * nope, qIn], { dtype: act })),
      wqPe: new Linear(Tensor.fromFloats(qPe, [H * pe, qIn], { dtype: act })),
      wkvC: new Linear(wkvA.view(0, r)),
      wkvPe: new Linear(wkvA.view(r, pe)),
      kvNorm: loadF32(ckpt, `${prefix}kv_a_layernorm.weight`),
      wUkT: Tensor.fromFloats(ukT, [H, r, nope], { dtype: act }),
      wUv: Tensor.fromFloats(uv, [H, v, r], { dtype: act }),
      wo: Linear.load(ckpt, `${prefix}o_proj.weight`, act),
    }, invFreq);
  }

  /**
   * x [t, d] (normed) at positions [t] i32 = start..start+t-1; writes c_kv/k_pe of the t tokens into
   * cache layer `layer` rows [start, start+t) and attends over rows [0, start+t). Returns [t, d].
   */
  forward(x: Tensor<Act>, positions: Tensor<'i32'>, cache: KVCache, layer: number, start: number): Tensor<Act> {
    const { cfg, w } = this;
    const t = x.shape[0], H = cfg.numHeads, r = cfg.kvLoraRank, pe = cfg.qkRopeHeadDim, eps = cfg.rmsNormEps;
    let cq = x;
    if (w.wqA) {
      const a = w.wqA.forward(x);
      cq = rmsNorm(a, w.qNorm!, { eps });
      a.dispose();
    }
    const counts = Tensor.full([H], t, { dtype: 'i32' });
    const qNope = w.wqNope.forward(cq);
    const qNopeH = transpose01(qNope.reshape([t, H, cfg.qkNopeHeadDim]));  // [H, t, nope]
    qNope.dispose();
    const qLatH = groupedGemmMasked<Act, Act>(qNopeH, w.wUkT, counts, { outDtype: x.dtype });  // [H, t, r]
    qNopeH.dispose();
    const qLat = transpose01(qLatH);  // [t, H, r]
    qLatH.dispose();
    const qPeRaw = w.wqPe.forward(cq);
    const qPe = rope(qPeRaw.reshape([t, H, pe]), positions, this.invFreq);
    qPeRaw.dispose();
    if (cq !== x) cq.dispose();

    const ckv = w.wkvC.forward(x);
    const ckvRows = cache.ckv[layer].view(start, t);
    rmsNorm(ckv, w.kvNorm, { eps, out: ckvRows });
    const kpe = w.wkvPe.forward(x);
    const kpeRows = cache.kpe[layer].view(start, t);
    rope(kpe.reshape([t, 1, pe]), positions, this.invFreq, { out: kpeRows.reshape([t, 1, pe]) });
    ckv.dispose(); kpe.dispose();

    const cAll = cache.ckv[layer].view(0, start + t), pAll = cache.kpe[layer].view(0, start + t);
    const oLat = mlaDecodeAttention(qLat, qPe, cAll, pAll, { softmaxScale: cfg.softmaxScale, startPos: start });
    qLat.dispose(); qPe.dispose();
    const oLatH = transpose01(oLat);  // [H, t, r]
    oLat.dispose();
    const oH = groupedGemmMasked<'f32', Act>(oLatH, w.wUv, counts, { outDtype: x.dtype });  // [H, t, v]
    oLatH.dispose(); counts.dispose();
    const o = transpose01(oH);  // [t, H, v]
    oH.dispose();
    const y = w.wo.forward(o.reshape([t, H * cfg.vHeadDim]));
    o.dispose();
    return y;
  }
}
