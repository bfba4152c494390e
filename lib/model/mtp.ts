// DeepSeek-V3's multi-token-prediction module (layer num_hidden_layers, num_nextn_predict_layers = 1), as the
// serving engines run it (vLLM deepseek_mtp.py, SGLang deepseek_nextn.py): at position i, from the main model's
// final-normed hidden h_i and the next token t_{i+1}, u = eh_proj([enorm(Emb(t_{i+1})); hnorm(h_i)]) (embedding
// half first), one full decoder layer (MLA with its own latent cache at positions i, MoE), then
// logits = shared_head.head(shared_head.norm(.)) predict t_{i+2}. Reference: docs/v3-reference.md §2, §7.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { rmsNorm } from '../ops/norm';
import { argmax } from '../ops/sampling';
import { checkPicks } from './picks';
import { transpose01 } from '../ops/shape';
import { Device, Tensor } from '../tensor';
import { Block } from './block';
import { Act, Linear } from './linear';
import type { Loader } from './loader';
import { defaultCacheLength, SequenceCache } from './paged_cache';
import { ExpertLoadStats, stepSink } from './stats';

export class Mtp {
  /**
   * embed [vocab, d] (the main model's, shared: the stored model.layers.L.embed_tokens is a duplicate of it),
   * enorm/hnorm [d], ehProj [d, 2d], block (layer L, cache slot 0), headNorm [d], head [vocab, d]; `stats`: the main
   * model's expert load, which counts this layer too.
   */
  constructor(private readonly cfg: ModelConfig, readonly embed: Tensor<Act>, readonly enorm: Tensor<'f32'>, readonly hnorm: Tensor<'f32'>,
    readonly ehProj: Linear, readonly block: Block, readonly headNorm: Tensor<'f32'>, readonly head: Tensor<Act>, private readonly stats: ExpertLoadStats) {}

  /** Loads model.layers.<num_hidden_layers>.* as the load plan made it (planned with mtp: true); `embed` is the main model's table, `stats` its expert load. */
  static load(cfg: ModelConfig, w: Loader, embed: Tensor<Act>, invFreq: Tensor<'f32'>, stats: ExpertLoadStats): Mtp {
    const L = cfg.numLayers, p = `model.layers.${L}.`;
    const block = Block.load(cfg, w, L, invFreq, 0);
    return new Mtp(cfg, embed, w.tensor(`${p}enorm.weight`), w.tensor(`${p}hnorm.weight`), w.linear(`${p}eh_proj.weight`), block,
      w.tensor(`${p}shared_head.norm.weight`), w.tensor(`${p}shared_head.head.weight`), stats);
  }

  get activations(): Act { return this.embed.dtype; }
  get device(): Device { return this.embed.device; }

  /** The MTP layer's latent cache (one layer slot, paged); it holds the same positions as the main cache (default length: defaultCacheLength). */
  createCache(maxLen = defaultCacheLength(this.cfg)): SequenceCache { return SequenceCache.create(this.cfg, maxLen, this.activations, this.device, 1); }

  /**
   * hidden [t, d]: the main model's final-normed hidden at positions cache.length.. (row-major numbers, or a tensor
   * of the activation dtype on the model's device: ForwardOptions normed: 'tensor'), nextIds [t]: the token after
   * each of those positions. Returns logits [t, vocab] (row j predicts the token two after position cache.length + j)
   * and advances the cache by t.
   */
  async forward(hidden: Float32Array | Tensor<Act>, nextIds: number[] | Int32Array, cache: SequenceCache): Promise<Float32Array> {
    const lt = await this.logitsOf(hidden, nextIds, cache, false);
    try { return await lt.toFloat32Array(); } finally { lt.dispose(); }
  }

  /** As forward, but returns only the argmax of the last row (the greedy draft), picked on the device. */
  async draft(hidden: Float32Array | Tensor<Act>, nextIds: number[] | Int32Array, cache: SequenceCache): Promise<number> {
    const lt = await this.logitsOf(hidden, nextIds, cache, true);
    const a = argmax(lt, { flagInvalid: true });
    lt.dispose();
    try {
      const id = (await a.toArray())[0];
      checkPicks([id], 'mtp draft');
      return id;
    } finally { a.dispose(); }
  }

  /** f32 logits on the device: every row, or only the last one. */
  private async logitsOf(hidden: Float32Array | Tensor<Act>, nextIds: number[] | Int32Array, cache: SequenceCache, lastOnly: boolean): Promise<Tensor<'f32'>> {
    const cfg = this.cfg, d = cfg.hiddenSize, t = nextIds.length, eps = cfg.rmsNormEps;
    if (t < 1) throw new ArgumentError('mtp: nextIds must hold at least one token');
    const hLen = hidden instanceof Tensor ? hidden.numel : hidden.length;
    if (hLen !== t * d) throw new ArgumentError(`mtp: hidden must hold ${t} x ${d} values, got ${hLen}`);
    for (const id of nextIds) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new ArgumentError(`mtp: token id ${id} is outside [0, ${cfg.vocabSize})`);
    if (!(cache instanceof SequenceCache) || cache.dtype !== this.activations || cache.layers !== 1 || cache.device !== this.device) {
      throw new ArgumentError('mtp: the cache must come from Mtp.createCache');
    }
    if (hidden instanceof Tensor && (hidden.dtype !== this.activations || hidden.device !== this.device)) {
      throw new ArgumentError(`mtp: hidden must be ${this.activations} on ${this.device}, got ${hidden.dtype} on ${hidden.device}`);
    }
    const start = cache.length;
    if (start + t > cache.maxLen) throw new ArgumentError(`mtp: ${t} tokens after ${start} exceed the cache size ${cache.maxLen}`);
    const sink = stepSink(false);
    if (sink.load) await this.stats.reserve(t);
    const act = this.activations, dev = { device: this.device };
    const idT = Tensor.fromArray(Int32Array.from(nextIds), [t], dev);
    const e = embedding(this.embed, idT);  // [t, d]
    idT.dispose();
    // exact: the hidden was computed in `act`
    const h = hidden instanceof Tensor ? hidden.reshape([t, d]) : Tensor.fromFloats(hidden, [t, d], { dtype: act, ...dev });
    // [enorm(e); hnorm(h)] built as [2, t, d] then transposed to [t, 2, d] = [t, 2d] (embedding half first).
    const both = Tensor.zeros([2, t, d], { dtype: act, ...dev });
    rmsNorm(e, this.enorm, { eps, out: both.view(0, 1).reshape([t, d]) });
    rmsNorm(h, this.hnorm, { eps, out: both.view(1, 1).reshape([t, d]) });
    e.dispose(); h.dispose();
    const cat = transpose01(both);
    both.dispose();
    const u = this.ehProj.forward(cat.reshape([t, 2 * d]));  // [t, d]
    cat.dispose();
    const step = cache.prepare(t);
    let y: Tensor<Act>;
    try {
      y = this.block.forward(u, cache.paged, step, sink);
    } catch (err) {
      cache.truncate(t);
      throw err;
    } finally {
      step.dispose(); u.dispose();
    }
    let yl = y;
    if (lastOnly && t > 1) {
      yl = y.view(t - 1, 1);
      y.dispose();
    }
    const yn = rmsNorm(yl, this.headNorm, { eps });
    yl.dispose();
    const lt = gemm<Act, 'f32'>(yn, this.head, { outDtype: 'f32' });
    yn.dispose();
    return lt;
  }

  /** Releases the MTP's own weights (the shared embedding stays with the model). */
  dispose(): void {
    this.enorm.dispose(); this.hnorm.dispose(); this.ehProj.dispose(); this.block.dispose(); this.headNorm.dispose(); this.head.dispose();
  }
}
