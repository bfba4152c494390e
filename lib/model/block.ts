// One decoder layer (DeepSeek-V3 model.py Block): x = x + MLA(attn_norm(x)); x = x + FFN(ffn_norm(x)),
// FFN dense for the first first_k_dense_replace layers, MoE after. Attention is the fused absorbed MLA over
// the paged latent cache (mla_fused.ts), on either device. Reference: docs/v3-reference.md §3.
import { isMoeLayer, ModelConfig } from '../config';
import { add } from '../ops/elementwise';
import { rmsNorm } from '../ops/norm';
import { Tensor } from '../tensor';
import { Act } from './linear';
import type { Loader } from './loader';
import { MlaFused } from './mla_fused';
import { Mlp } from './mlp';
import { Moe } from './moe';
import { MlaStep, PagedLatentCache } from './paged_cache';
import { RoutingSink } from './stats';

export class Block {
  /** cacheLayer: this layer's slot in the paged cache (default `layer`; the MTP layer uses slot 0 of its own cache). invFreq on the weights' device. */
  constructor(private readonly cfg: ModelConfig, readonly layer: number, readonly attnNorm: Tensor<'f32'>, readonly attn: MlaFused,
    readonly ffnNorm: Tensor<'f32'>, readonly ffn: Mlp | Moe, readonly invFreq: Tensor<'f32'>, readonly cacheLayer = layer) {}

  /** Decoder layer `layer` as the load plan made it (the MTP layer: cacheLayer 0 of its own cache). */
  static load(cfg: ModelConfig, w: Loader, layer: number, invFreq: Tensor<'f32'>, cacheLayer = layer): Block {
    const p = `model.layers.${layer}.`;
    const attn = MlaFused.load(cfg, w, `${p}self_attn.`);
    const ffn = isMoeLayer(cfg, layer) ? Moe.load(cfg, w, `${p}mlp.`) : Mlp.load(w, `${p}mlp.`);
    return new Block(cfg, layer, w.tensor(`${p}input_layernorm.weight`), attn, w.tensor(`${p}post_attention_layernorm.weight`), ffn, invFreq, cacheLayer);
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
