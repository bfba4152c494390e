// One decoder layer (DeepSeek-V3 model.py Block): x = x + MLA(attn_norm(x)); x = x + FFN(ffn_norm(x)),
// FFN dense for the first first_k_dense_replace layers, MoE after. Attention is the fused absorbed MLA over
// the paged latent cache (mla_fused.ts), on either device. Reference: docs/v3-reference.md §3.
import { isMoeLayer, ModelConfig } from '../config';
import { add } from '../ops/elementwise';
import { rmsNorm } from '../ops/norm';
import { Device, Tensor } from '../tensor';
import { MoeExpertWeights } from '../ops/moe';
import { Experts } from './experts';
import { Act, loadF32 } from './linear';
import { MlaFused } from './mla_fused';
import { Mlp } from './mlp';
import { Moe } from './moe';
import { MlaStep, PagedLatentCache } from './paged_cache';
import { RoutingSink } from './stats';
import { CheckpointLike } from './weights';

/** t on `device` (t itself when it is there; else a copy, and t is released). */
function moved<T extends Tensor>(t: T, device: Device): T {
  if (t.device === device) return t;
  const m = t.to(device) as T;
  t.dispose();
  return m;
}

/**
 * A MoE layer loaded on the CPU (Moe.load / Experts.load stack the experts on the host) and moved to `device`:
 * the host copy of one layer is the staging buffer, released as soon as it is uploaded.
 */
function moeTo(cfg: ModelConfig, m: Moe, device: Device): Moe {
  if (device === 'cpu') return m;
  // Every stacked operand of the experts, whatever the layout (w1/w3/w2, or w13/w2 for the fused gate/up GEMM).
  const w: Record<string, Tensor | { data: Tensor<'f8_e4m3'>; scale: Tensor<'f32'> } | undefined> = { ...m.experts.weights };
  for (const [k, v] of Object.entries(w)) {
    if (v !== undefined) w[k] = v instanceof Tensor ? moved(v, device) : { data: moved(v.data, device), scale: moved(v.scale, device) };
  }
  m.loadSink.dispose();
  return new Moe(cfg, moved(m.gate, device), m.bias ? moved(m.bias, device) : null,
    new Experts(w as unknown as MoeExpertWeights, m.experts.act), m.shared ? m.shared.to(device) : null);
}

export class Block {
  /** cacheLayer: this layer's slot in the paged cache (default `layer`; the MTP layer uses slot 0 of its own cache). invFreq on the weights' device. */
  constructor(private readonly cfg: ModelConfig, readonly layer: number, readonly attnNorm: Tensor<'f32'>, readonly attn: MlaFused,
    readonly ffnNorm: Tensor<'f32'>, readonly ffn: Mlp | Moe, readonly invFreq: Tensor<'f32'>, readonly cacheLayer = layer) {}

  static load(cfg: ModelConfig, ckpt: CheckpointLike, layer: number, invFreq: Tensor<'f32'>, act: Act, fp8 = false, cacheLayer = layer,
    device: Device = 'cpu'): Block {
    const p = `model.layers.${layer}.`;
    const attn = MlaFused.load(cfg, ckpt, `${p}self_attn.`, act, fp8, device);
    const ffn = isMoeLayer(cfg, layer) ? moeTo(cfg, Moe.load(cfg, ckpt, `${p}mlp.`, act, fp8), device) : Mlp.load(ckpt, `${p}mlp.`, act, fp8, device);
    return new Block(cfg, layer, loadF32(ckpt, `${p}input_layernorm.weight`, device), attn, loadF32(ckpt, `${p}post_attention_layernorm.weight`, device),
      ffn, invFreq, cacheLayer);
  }

  /**
   * x [b*sq, d] (rows sequence-major, as `step`) -> [b*sq, d], the residual stream after this layer; writes the step's
   * tokens into slot cacheLayer of `cache`. Only queues work: everything stays on x's device (a MoE layer records
   * into `sink`).
   */
  forward(x: Tensor<Act>, cache: PagedLatentCache, step: MlaStep, sink?: RoutingSink): Tensor<Act> {
    const eps = this.cfg.rmsNormEps;
    const xn = rmsNorm(x, this.attnNorm, { eps });
    const a = this.attn.forward(xn, cache, this.cacheLayer, step, this.invFreq);
    xn.dispose();
    const h = add(x, a);
    a.dispose();
    const hn = rmsNorm(h, this.ffnNorm, { eps });
    let y: Tensor<Act>;
    if (this.ffn instanceof Moe) {
      y = this.ffn.forward(hn, h, sink, this.layer);  // the residual add fused into the combine
    } else {
      const f = this.ffn.forward(hn);
      y = add(h, f);
      f.dispose();
    }
    hn.dispose(); h.dispose();
    return y;
  }

  /** Releases the weights (the shared invFreq stays with the model). */
  dispose(): void { this.attnNorm.dispose(); this.attn.dispose(); this.ffnNorm.dispose(); this.ffn.dispose(); }
}
