// The DeepSeek-V3 Transformer (model.py Transformer): embedding -> decoder layers -> final RMSNorm ->
// lm_head, logits for every position, over an optional latent KV cache ('f32' or 'bf16' activations).
// Reference: ../shared/research/v3-reference.md §3, §8.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { rmsNorm } from '../ops/norm';
import { Tensor } from '../tensor';
import { generate, GenerateOptions, Generation } from '../generate';
import { TextTokenizer } from '../tokenizer';
import { Block } from './block';
import { KVCache } from './cache';
import { Mtp } from './mtp';
import { Act } from './linear';
import { Moe, RouteTrace } from './moe';

export interface ForwardOptions {
  /** Continue from this cache (its length is the start position) and append the tokens; without it, a stateless forward at positions 0..t-1. */
  cache?: KVCache;
  /** Also return the residual stream after each layer. */
  hidden?: boolean;
  /** Also return the final-normed hidden state (the input of lm_head; the MTP module's h_i). */
  normed?: boolean;
  /** Collects each MoE layer's routing (indices and weights [t, topK]). */
  trace?: RouteTrace[];
}

export interface ForwardResult {
  /** [t, vocab] row-major. */
  logits: Float32Array;
  /** Per layer [t, hidden] row-major (with `hidden: true`). */
  hidden?: Float32Array[];
  /** [t, hidden] row-major: model.norm(x) of the last layer (with `normed: true`). */
  normed?: Float32Array;
}

/** One MoE layer's expert load: tokens routed to each expert since loading or resetExpertLoad(). */
export interface ExpertLoad {
  /** The decoder layer (num_hidden_layers for the MTP module's layer). */
  layer: number;
  /** [n_routed_experts] token count per expert (each token counts once per chosen expert). */
  tokens: Float64Array;
  /** Sum of tokens: routed tokens times num_experts_per_tok. */
  total: number;
}

export class Model {
  /** The checkpoint's tokenizer (loadTokenizer(dir)), used by generate for text; null: ids only. */
  tokenizer: TextTokenizer | null = null;
  /**
   * The multi-token-prediction module (layer num_hidden_layers), loaded when num_nextn_predict_layers is 1 and the
   * checkpoint holds it; null otherwise (then `mtpMissing` says why). Used by generate({ speculative: 'mtp' }).
   */
  mtp: Mtp | null = null;
  mtpMissing: string | null = 'the config has num_nextn_predict_layers = 0';

  constructor(readonly config: ModelConfig, readonly embed: Tensor<Act>, readonly layers: Block[],
    readonly norm: Tensor<'f32'>, readonly head: Tensor<Act>, readonly precision: 'f32' | 'bf16' | 'fp8' = embed.dtype) {}

  /** The activation dtype ('f32' or 'bf16'); the KV cache holds this dtype too. */
  get activations(): Act { return this.embed.dtype; }

  /** A latent KV cache for up to maxLen tokens (default max_position_embeddings). */
  createCache(maxLen = this.config.maxPositionEmbeddings): KVCache { return new KVCache(this.config, maxLen, this.activations); }

  /** Bytes per token of the latent cache (all layers): layers * (kv_lora_rank + qk_rope_head_dim) * element size. */
  kvCacheBytesPerToken(): number {
    const c = this.config;
    return c.numLayers * (c.kvLoraRank + c.qkRopeHeadDim) * this.elemBytes;
  }

  /** Bytes per token a per-head K/V cache (naive MLA / HF) would need at the same element size. */
  mhaCacheBytesPerToken(): number {
    const c = this.config;
    return c.numLayers * c.numHeads * (c.qkNopeHeadDim + c.qkRopeHeadDim + c.vHeadDim) * this.elemBytes;
  }

  private get elemBytes(): number { return this.activations === 'f32' ? 4 : 2; }

  /** ids [t] -> logits [t, vocab] (and per-layer hidden states); advances `opts.cache` by t. */
  async forward(ids: number[] | Int32Array, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const cfg = this.config, t = ids.length;
    if (t < 1) throw new ArgumentError('forward: ids must hold at least one token');
    for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= cfg.vocabSize) throw new ArgumentError(`forward: token id ${id} is outside [0, ${cfg.vocabSize})`);
    const cache = opts.cache ?? new KVCache(cfg, t, this.activations);
    if (cache.dtype !== this.activations) throw new ArgumentError(`forward: the cache holds ${cache.dtype}, the model computes in ${this.activations}`);
    const start = cache.length;
    if (start + t > cache.maxLen) throw new ArgumentError(`forward: ${t} tokens after ${start} exceed the cache size ${cache.maxLen}`);
    const positions = Tensor.fromArray(Int32Array.from({ length: t }, (_, i) => start + i));
    const idT = Tensor.fromArray(Int32Array.from(ids));
    let x = embedding(this.embed, idT);
    idT.dispose();
    const hidden: Float32Array[] = [];
    try {
      for (const layer of this.layers) {
        const y = await layer.forward(x, positions, cache, start, opts.trace);
        x.dispose();
        x = y;
        if (opts.hidden) hidden.push(await x.toFloat32Array());
      }
    } finally {
      positions.dispose();
      if (!opts.cache) cache.dispose();
    }
    if (opts.cache) cache.length = start + t;
    const xn = rmsNorm(x, this.norm, { eps: cfg.rmsNormEps });
    x.dispose();
    const lt = gemm<Act, 'f32'>(xn, this.head, { outDtype: 'f32' });
    const normed = opts.normed ? await xn.toFloat32Array() : undefined;
    xn.dispose();
    const logits = await lt.toFloat32Array();
    lt.dispose();
    const r: ForwardResult = { logits };
    if (opts.hidden) r.hidden = hidden;
    if (normed) r.normed = normed;
    return r;
  }

  /** Streams generated tokens (lib/generate.ts): `for await (const { id, text } of model.generate(prompt, opts))`. */
  generate(promptOrIds: string | number[], opts: GenerateOptions = {}): Generation {
    return generate(this, promptOrIds, opts, this.tokenizer);
  }

  /** Per MoE layer (the MTP module's included), tokens routed to each expert by every forward since loading or resetExpertLoad(). Reads the counts kept on the device. */
  async expertLoad(): Promise<ExpertLoad[]> {
    const out: ExpertLoad[] = [];
    for (const b of this.moeBlocks()) {
      const tokens = await (b.ffn as Moe).expertLoad();
      out.push({ layer: b.layer, tokens, total: tokens.reduce((a, v) => a + v, 0) });
    }
    return out;
  }

  /** Zeroes the expert load statistics of every MoE layer. */
  resetExpertLoad(): void { for (const b of this.moeBlocks()) (b.ffn as Moe).resetExpertLoad(); }

  private moeBlocks(): Block[] {
    return [...this.layers, ...(this.mtp ? [this.mtp.block] : [])].filter((b) => b.ffn instanceof Moe);
  }

  /** Releases every weight now (caches are separate: KVCache.dispose). */
  dispose(): void {
    this.embed.dispose(); this.head.dispose(); this.norm.dispose();
    for (const l of this.layers) l.dispose();
    this.mtp?.dispose();
  }
}
