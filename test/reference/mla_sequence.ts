// TEST REFERENCE, not part of the package: the per-sequence MLA path the model used before the paged one
// (DeepSeek-V3 model.py MLA with attn_impl="absorb" over a contiguous latent cache, one sequence at a
// time), kept to cross-check the fused paged path (test/model/mla_fused.test.ts, test/ops/mla_paged.test.ts).
// mlaDecodeAttention is its native CPU kernel (native/cpu/mla_attention.cc, no CUDA kernel), checked against
// the float64 reference test/reference/mla.ts by test/ops/mla_decode_attention.test.ts.
// Mla: q = q_b_proj(...) [t, h, nope+rope] is split with narrow; kv_b_proj is split at load into per-head
// W_UK^T [h, r, nope] and W_UV [h, v, r] (exact copies, always dense as in model.py), so the absorptions
// q_latent[t,h] = q_nope[t,h] @ W_UK[h] and o[t,h] = o_latent[t,h] @ W_UV[h]^T run as one batched
// GEMM over heads (groupedGemmMasked) between [t, h, .] <-> [h, t, .] transposes.
// KVCache: per layer c_kv [maxLen, kv_lora_rank] = kv_norm(c_kv) and k_pe [maxLen, qk_rope_head_dim] =
// rope(k_pe) in the activation dtype, plus the number of tokens written so far (docs/v3-reference.md §3, §8).
import { ModelConfig } from '../../lib/config';
import { ArgumentError } from '../../lib/errors';
import { groupedGemmMasked } from '../../lib/ops/gemm';
import { rmsNorm } from '../../lib/ops/norm';
import { rope } from '../../lib/ops/rope';
import { narrow, transpose01 } from '../../lib/ops/shape';
import { lazyOp, result } from '../../lib/ops/util';
import { Tensor } from '../../lib/tensor';
import { Act, Linear, loadAs, loadF32 } from '../../lib/model/linear';
import { CheckpointLike } from '../../lib/model/weights';

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

export class KVCache {
  readonly ckv: Tensor<Act>[] = [];
  readonly kpe: Tensor<Act>[] = [];
  /** Tokens held (the start position of the next forward). */
  length = 0;
  /** layers: the number of layer slots (default num_hidden_layers; the MTP module's cache has 1). */
  constructor(cfg: ModelConfig, readonly maxLen: number, readonly dtype: Act = 'f32', layers = cfg.numLayers) {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new ArgumentError(`createCache: maxLen must be a positive integer, got ${maxLen}`);
    for (let l = 0; l < layers; l++) {
      this.ckv.push(Tensor.zeros([maxLen, cfg.kvLoraRank], { dtype }));
      this.kpe.push(Tensor.zeros([maxLen, cfg.qkRopeHeadDim], { dtype }));
    }
  }
  /** Forgets the tokens (the memory is kept). */
  reset(): void { this.length = 0; }
  /** Drops the last n tokens (speculative rollback): their rows are simply overwritten by the next forward. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new ArgumentError(`KVCache.truncate: n must be an integer in [0, ${this.length}], got ${n}`);
    this.length -= n;
  }
  dispose(): void { for (const t of [...this.ckv, ...this.kpe]) t.dispose(); }
}

export interface MlaWeights {
  /** q_a_proj [q_lora, d] and q_a_layernorm [q_lora], or null for a plain q_proj (then cq = x). */
  wqA: Linear | null;
  qNorm: Tensor<'f32'> | null;
  /** q_b_proj (q_proj) [h*(nope+rope), q_in]. */
  wqB: Linear;
  /** kv_a_proj_with_mqa [r + rope, d]: c_kv then k_pe. */
  wkvA: Linear;
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
  static async load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, invFreq: Tensor<'f32'>, act: Act, fp8 = false): Promise<Mla> {
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    const lora = cfg.qLoraRank !== null;
    const wqA = lora ? Linear.load(ckpt, `${prefix}q_a_proj.weight`, act, fp8) : null;
    const qNorm = lora ? loadF32(ckpt, `${prefix}q_a_layernorm.weight`) : null;
    const wkvbT = loadAs(ckpt, `${prefix}kv_b_proj.weight`, act);
    const wkvb = await wkvbT.toFloat32Array();  // [H*(nope+v), r]
    wkvbT.dispose();

    const ukT = new Float32Array(H * r * nope), uv = new Float32Array(H * v * r);
    for (let h = 0; h < H; h++) {
      for (let dd = 0; dd < nope; dd++) {
        const row = (h * (nope + v) + dd) * r;
        for (let c = 0; c < r; c++) ukT[(h * r + c) * nope + dd] = wkvb[row + c];
      }
      uv.set(wkvb.subarray((h * (nope + v) + nope) * r, (h + 1) * (nope + v) * r), h * v * r);
    }
    return new Mla(cfg, {
      wqA, qNorm,
      wqB: Linear.load(ckpt, lora ? `${prefix}q_b_proj.weight` : `${prefix}q_proj.weight`, act, fp8),
      wkvA: Linear.load(ckpt, `${prefix}kv_a_proj_with_mqa.weight`, act, fp8),
      kvNorm: loadF32(ckpt, `${prefix}kv_a_layernorm.weight`),
      wUkT: Tensor.fromFloats(ukT, [H, r, nope], { dtype: act }),
      wUv: Tensor.fromFloats(uv, [H, v, r], { dtype: act }),
      wo: Linear.load(ckpt, `${prefix}o_proj.weight`, act, fp8),
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
    const nope = cfg.qkNopeHeadDim;
    const q = w.wqB.forward(cq).reshape([t, H, nope + pe]);
    if (cq !== x) cq.dispose();
    const qNope = narrow(q, 0, nope);  // [t, H, nope]
    const qPeRaw = narrow(q, nope, pe);  // [t, H, pe]
    q.dispose();
    const qNopeH = transpose01(qNope);  // [H, t, nope]
    qNope.dispose();
    const qLatH = groupedGemmMasked<Act, Act>(qNopeH, w.wUkT, counts, { outDtype: x.dtype });  // [H, t, r]
    qNopeH.dispose();
    const qLat = transpose01(qLatH);  // [t, H, r]
    qLatH.dispose();
    const qPe = rope(qPeRaw, positions, this.invFreq);
    qPeRaw.dispose();

    const kv = w.wkvA.forward(x);  // [t, r + pe]
    const ckv = narrow(kv, 0, r), kpe = narrow(kv, r, pe);
    kv.dispose();
    const ckvRows = cache.ckv[layer].view(start, t);
    rmsNorm(ckv, w.kvNorm, { eps, out: ckvRows });
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

  /** Releases the weights (the shared invFreq stays with the model). */
  dispose(): void {
    const w = this.w;
    w.wqA?.dispose(); w.qNorm?.dispose(); w.wqB.dispose(); w.wkvA.dispose(); w.kvNorm.dispose();
    w.wUkT.dispose(); w.wUv.dispose(); w.wo.dispose();
  }
}
