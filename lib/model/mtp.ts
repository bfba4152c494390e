// DeepSeek-V3's multi-token-prediction module (layer num_hidden_layers, num_nextn_predict_layers = 1), as the
// serving engines run it (vLLM deepseek_mtp.py, SGLang deepseek_nextn.py): at position i, from the main model's
// final-normed hidden h_i and the next token t_{i+1}, u = eh_proj([enorm(Emb(t_{i+1})); hnorm(h_i)]) (embedding
// half first), one full decoder layer (MLA with its own latent cache at positions i, MoE), then
// logits = shared_head.head(shared_head.norm(.)) predict t_{i+2}. Reference: ../shared/research/v3-reference.md §2, §7.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { rmsNorm } from '../ops/norm';
import { transpose01 } from '../ops/shape';
import { Tensor } from '../tensor';
import { Block } from './block';
import { KVCache } from './cache';
import { Act, Linear, loadAs, loadF32 } from './linear';
import { CheckpointLike } from './weights';

export class Mtp {
  /**
   * embed [vocab, d] (the main model's, shared: the stored model.layers.L.embed_tokens is a duplicate of it),
   * enorm/hnorm [d], ehProj [d, 2d], block (layer L, cache slot 0), headNorm [d], head [vocab, d].
   */
  constructor(private readonly cfg: ModelConfig, readonly embed: Tensor<Act>, readonly enorm: Tensor<'f32'>, readonly hnorm: Tensor<'f32'>,
    readonly ehProj: Linear, readonly block: Block, readonly headNorm: Tensor<'f32'>, readonly head: Tensor<Act>) {}

  /** Loads model.layers.<num_hidden_layers>.* (the caller checked it with checkMtpInventory); `embed` is the main model's table. */
  static async load(cfg: ModelConfig, ckpt: CheckpointLike, embed: Tensor<Act>, invFreq: Tensor<'f32'>, act: Act, fp8 = false): Promise<Mtp> {
    const L = cfg.numLayers, p = `model.layers.${L}.`;
    const block = await Block.load(cfg, ckpt, L, invFreq, act, fp8, 0);
    // eh_proj is stored bf16 (never quantized), so Linear.load keeps it dense.
    return new Mtp(cfg, embed, loadF32(ckpt, `${p}enorm.weight`), loadF32(ckpt, `${p}hnorm.weight`), Linear.load(ckpt, `${p}eh_proj.weight`, act),
      block, loadF32(ckpt, `${p}shared_head.norm.weight`), loadAs(ckpt, `${p}shared_head.head.weight`, act));
  }

  get activations(): Act { return this.embed.dtype; }

  /** The MTP layer's latent cache (one layer slot); it holds the same positions as the main cache. */
  createCache(maxLen = this.cfg.maxPositionEmbeddings): KVCache { return new KVCache(this.cfg, maxLen, this.activations, 1); }

  /**
   * hidden [t, d] row-major: the main model's final-normed hidden at positions cache.length.., nextIds [t]: the
   * token after each of those positions. Returns logits [t, vocab] (row j predicts the token two after position
   * cache.length + j) and advances the cache by t.
   */
  async forward(hidden: Float32Array, nextIds: number[] | Int32Array, cache: KVCache): Promise<Float32Array> {
    const cfg = this.cfg, d = cfg.hiddenSize, t = nextIds.length, eps = cfg.rmsNormEps;
    if (t < 1) throw new ArgumentError('mtp: nextIds must hold at least one token');
    if (hidden.length !== t * d) throw new ArgumentError(`mtp: hidden must hold ${t} x ${d} values, got ${hidden.length}`);
    for (const id of nextIds) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new ArgumentError(`mtp: token id ${id} is outside [0, ${cfg.vocabSize})`);
    if (cache.dtype !== this.activations || cache.ckv.length !== 1) throw new ArgumentError('mtp: the cache must come from Mtp.createCache');
    const start = cache.length;
    if (start + t > cache.maxLen) throw new ArgumentError(`mtp: ${t} tokens after ${start} exceed the cache size ${cache.maxLen}`);
    const act = this.activations;
    const idT = Tensor.fromArray(Int32Array.from(nextIds));
    const e = embedding(this.embed, idT);  // [t, d]
    idT.dispose();
    const h = Tensor.fromFloats(hidden, [t, d], { dtype: act });  // exact: the hidden was computed in `act`
    // [enorm(e); hnorm(h)] built as [2, t, d] then transposed to [t, 2, d] = [t, 2d] (embedding half first).
    const both = Tensor.zeros([2, t, d], { dtype: act });
    rmsNorm(e, this.enorm, { eps, out: both.view(0, 1).reshape([t, d]) });
    rmsNorm(h, this.hnorm, { eps, out: both.view(1, 1).reshape([t, d]) });
    e.dispose(); h.dispose();
    const cat = transpose01(both);
    both.dispose();
    const u = this.ehProj.forward(cat.reshape([t, 2 * d]));  // [t, d]
    cat.dispose();
    const positions = Tensor.fromArray(Int32Array.from({ length: t }, (_, i) => start + i));
    let y: Tensor<Act>;
    try {
      y = await this.block.forward(u, positions, cache, start);
    } finally {
      positions.dispose(); u.dispose();
    }
    cache.length = start + t;
    const yn = rmsNorm(y, this.headNorm, { eps });
    y.dispose();
    const lt = gemm<Act, 'f32'>(yn, this.head, { outDtype: 'f32' });
    yn.dispose();
    const logits = await lt.toFloat32Array();
    lt.dispose();
    return logits;
  }

  /** Releases the MTP's own weights (the shared embedding stays with the model). */
  dispose(): void {
    this.enorm.dispose(); this.hnorm.dispose(); this.ehProj.dispose(); this.block.dispose(); this.headNorm.dispose(); this.head.dispose();
  }
}
