// One decoder layer (DeepSeek-V3 model.py Block): x = x + MLA(attn_norm(x)); x = x + FFN(ffn_norm(x)),
// FFN dense for the first first_k_dense_replace layers, MoE after. Reference: ../shared/research/v3-reference.md §3.
import { isMoeLayer, ModelConfig } from '../config';
import { add } from '../ops/elementwise';
import { rmsNorm } from '../ops/norm';
import { Tensor } from '../tensor';
import { KVCache } from './cache';
import { Act, loadF32 } from './linear';
import { Mla } from './mla';
import { Mlp } from './mlp';
import { Moe, RouteTrace } from './moe';
import { CheckpointLike } from './weights';

export class Block {
  /** cacheLayer: this layer's slot in the KVCache (default `layer`; the MTP layer uses slot 0 of its own cache). */
  constructor(private readonly cfg: ModelConfig, readonly layer: number, readonly attnNorm: Tensor<'f32'>, readonly attn: Mla,
    readonly ffnNorm: Tensor<'f32'>, readonly ffn: Mlp | Moe, readonly cacheLayer = layer) {}

  static async load(cfg: ModelConfig, ckpt: CheckpointLike, layer: number, invFreq: Tensor<'f32'>, act: Act, fp8 = false, cacheLayer = layer): Promise<Block> {
    const p = `model.layers.${layer}.`;
    const attn = await Mla.load(cfg, ckpt, `${p}self_attn.`, invFreq, act, fp8);
    const ffn = isMoeLayer(cfg, layer) ? Moe.load(cfg, ckpt, `${p}mlp.`, act, fp8) : Mlp.load(ckpt, `${p}mlp.`, act, fp8);
    return new Block(cfg, layer, loadF32(ckpt, `${p}input_layernorm.weight`), attn, loadF32(ckpt, `${p}post_attention_layernorm.weight`), ffn, cacheLayer);
  }

  /** x [t, d] -> [t, d] (the residual stream after this layer). */
  async forward(x: Tensor<Act>, positions: Tensor<'i32'>, cache: KVCache, start: number, trace?: RouteTrace[]): Promise<Tensor<Act>> {
    const eps = this.cfg.rmsNormEps;
    const xn = rmsNorm(x, this.attnNorm, { eps });
    const a = this.attn.forward(xn, positions, cache, this.cacheLayer, start);
    xn.dispose();
    const h = add(x, a);
    a.dispose();
    const hn = rmsNorm(h, this.ffnNorm, { eps });
    let y: Tensor<Act>;
    if (this.ffn instanceof Moe) {
      y = await this.ffn.forward(hn, trace, this.layer, h);  // the residual add fused into the combine
    } else {
      const f = this.ffn.forward(hn);
      y = add(h, f);
      f.dispose();
    }
    hn.dispose(); h.dispose();
    return y;
  }

  dispose(): void { this.attnNorm.dispose(); this.attn.dispose(); this.ffnNorm.dispose(); this.ffn.dispose(); }
}
