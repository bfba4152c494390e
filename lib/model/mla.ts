// Multi-head Latent Attention, DeepSeek-V3 model.py MLA with attn_impl="absorb", in 'f32' mode.
// Reference: ../shared/research/v3-reference.md §3 (absorbed path), §4 (RoPE/YaRN).
// The per-head absorptions are folded into the weights at load (in float64, rounded once to f32):
//   W_qlat[h*r + c, :] = sum_d W_UK[h][d, c] * W_q[h, nope d, :]   so q_latent = cq @ W_qlat^T  [t, h, r]
//   W_ofold[:, h*r + c] = sum_d W_o[:, h*v + d] * W_UV[h][d, c]    so out = o_latent @ W_ofold^T
// which is q_nope @ W_UK[h] and (o_latent @ W_UV[h]^T) @ W_o^T reassociated: no runtime per-head
// transposes are needed (and the same number of roundings in f32 up to reassociation).
import { ModelConfig } from '../config';
import { mlaDecodeAttention } from '../ops/mla';
import { rmsNorm } from '../ops/norm';
import { rope } from '../ops/rope';
import { Tensor } from '../tensor';
import { KVCache } from './cache';
import { Linear, loadF32 } from './linear';
import { CheckpointLike } from './weights';

export interface MlaWeights {
  /** q_a_proj [q_lora, d] and q_a_layernorm [q_lora], or null for a plain q_proj (then cq = x). */
  wqA: Linear | null;
  qNorm: Tensor<'f32'> | null;
  /** [h*r, q_in]: the absorbed q_nope projection. */
  wqLatent: Linear;
  /** [h*rope, q_in]: the rope part of q_b_proj (q_proj). */
  wqPe: Linear;
  /** kv_a_proj_with_mqa split by rows: [r, d] -> c_kv and [rope, d] -> k_pe (views of one tensor). */
  wkvC: Linear;
  wkvPe: Linear;
  kvNorm: Tensor<'f32'>;
  /** [d, h*r]: o_proj with W_UV folded in. */
  woFold: Linear;
}

export class Mla {
  constructor(private readonly cfg: ModelConfig, readonly w: MlaWeights, private readonly invFreq: Tensor<'f32'>) {}

  /** prefix e.g. 'model.layers.3.self_attn.'. */
  static async load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, invFreq: Tensor<'f32'>): Promise<Mla> {
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, pe = cfg.qkRopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    const qk = nope + pe, d = cfg.hiddenSize;
    const lora = cfg.qLoraRank !== null;
    const wqA = lora ? Linear.load(ckpt, `${prefix}q_a_proj.weight`) : null;
    const qNorm = lora ? loadF32(ckpt, `${prefix}q_a_layernorm.weight`) : null;
    const qT = loadF32(ckpt, lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`);
    const qIn = qT.shape[1];
    const wq = await qT.toFloat32Array();  // [H*qk, qIn]
    qT.dispose();
    const wkvbT = loadF32(ckpt, `${prefix}kv_b_proj.weight`);
    const wkvb = await wkvbT.toFloat32Array();  // [H*(nope+v), r]
    wkvbT.dispose();
    const woT = loadF32(ckpt, `${prefix}o_proj.weight`);
    const wo = await woT.toFloat32Array();  // [d, H*v]
    woT.dispose();

    const qPe = new Float32Array(H * pe * qIn);
    for (let h = 0; h < H; h++) qPe.set(wq.subarray((h * qk + nope) * qIn, (h + 1) * qk * qIn), h * pe * qIn);
    const qLat = new Float32Array(H * r * qIn);
    const acc = new Float64Array(qIn);
    for (let h = 0; h < H; h++) {
      for (let c = 0; c < r; c++) {
        acc.fill(0);
        for (let dd = 0; dd < nope; dd++) {
          const uk = wkvb[(h * (nope + v) + dd) * r + c];
          const row = (h * qk + dd) * qIn;
          for (let j = 0; j < qIn; j++) acc[j] += uk * wq[row + j];
        }
        qLat.set(acc, (h * r + c) * qIn);
      }
    }
    const oFold = new Float32Array(d * H * r);
    const accR = new Float64Array(r);
    for (let i = 0; i < d; i++) {
      for (let h = 0; h < H; h++) {
        accR.fill(0);
        for (let dd = 0; dd < v; dd++) {
          const o = wo[i * H * v + h * v + dd];
          const row = (h * (nope + v) + nope + dd) * r;
          for (let c = 0; c < r; c++) accR[c] += o * wkvb[row + c];
        }
        oFold.set(accR, i * H * r + h * r);
      }
    }
    const wkvA = loadF32(ckpt, `${prefix}kv_a_proj_with_mqa.weight`);  // [r + pe, d]
    return new Mla(cfg, {
      wqA, qNorm,
      wqLatent: new Linear(Tensor.fromArray(qLat, [H * r, qIn])),
      wqPe: new Linear(Tensor.fromArray(qPe, [H * pe, qIn])),
      wkvC: new Linear(wkvA.view(0, r)),
      wkvPe: new Linear(wkvA.view(r, pe)),
      kvNorm: loadF32(ckpt, `${prefix}kv_a_layernorm.weight`),
      woFold: new Linear(Tensor.fromArray(oFold, [d, H * r])),
    }, invFreq);
  }

  /**
   * x [t, d] (normed) at positions [t] i32 = start..start+t-1; writes c_kv/k_pe of the t tokens into
   * cache layer `layer` rows [start, start+t) and attends over rows [0, start+t). Returns [t, d].
   */
  forward(x: Tensor<'f32'>, positions: Tensor<'i32'>, cache: KVCache, layer: number, start: number): Tensor<'f32'> {
    const { cfg, w } = this;
    const t = x.shape[0], H = cfg.numHeads, r = cfg.kvLoraRank, pe = cfg.qkRopeHeadDim, eps = cfg.rmsNormEps;
    let cq = x;
    if (w.wqA) {
      const a = w.wqA.forward(x);
      cq = rmsNorm(a, w.qNorm!, { eps });
      a.dispose();
    }
    const qLat = w.wqLatent.forward(cq).reshape([t, H, r]);
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
    const y = w.woFold.forward(oLat.reshape([t, H * r]));
    oLat.dispose();
    return y;
  }
}
