// The DeepSeek-V3 Transformer (model.py Transformer): embedding -> decoder layers -> final RMSNorm ->
// lm_head, over the paged latent KV cache, on the CPU or one CUDA device. forward() runs one sequence,
// forwardBatch() several sequences of different lengths in one step (batched decode); inside a step every
// activation stays on the model's device: only what the caller asks for (logits, picked tokens, hidden states,
// a routing trace) is read back. Reference: docs/v3-reference.md §3, §8.
import { ModelConfig } from '../config';
import { AbortError, ArgumentError } from '../errors';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { rmsNorm } from '../ops/norm';
import { argmax, sample } from '../ops/sampling';
import { checkPicks } from './picks';
import { Device, synchronize, Tensor } from '../tensor';
import { generate, GenerateOptions, Generation } from '../generate';
import { TextTokenizer } from '../tokenizer';
import { Block } from './block';
import { DecodeGraph } from './decode_graph';
import { Mtp } from './mtp';
import { Act } from './linear';
import { Moe, RouteTrace } from './moe';
import { MLA_PAGE_SIZE } from '../ops/mla';
import { defaultCacheLength, MlaStep, PagedLatentCache, SequenceCache } from './paged_cache';
export { DEFAULT_CACHE_LENGTH, defaultCacheLength } from './paged_cache';

/** Token choice on the device from the logits rows a forward computes (sampling.ts argmax / sample). */
export interface PickOptions {
  /** <= 0 (default): argmax; > 0: sample from softmax(logits / temperature). */
  temperature?: number;
  /** Sampling seed: row r of the computed logits draws with (seed, r) (required when temperature > 0). */
  seed?: number | bigint;
  topP?: number;
  topK?: number;
}

export interface ForwardOptions {
  /** Continue from this cache (its length is the start position) and append the tokens; without it, a stateless forward at positions 0..t-1. */
  cache?: SequenceCache;
  /** Also return the residual stream after each layer (read back after every layer). */
  hidden?: boolean;
  /** Also return the final-normed hidden state of every row (the input of lm_head; the MTP module's h_i): true reads it back, 'tensor' keeps it on the device (the caller disposes normedTensor). */
  normed?: boolean | 'tensor';
  /** Collects each MoE layer's routing (indices and weights [t, topK]). */
  trace?: RouteTrace[];
  /** Which rows get logits: 'all' (default) or 'last' (the last row of each sequence: what decoding needs; lm_head on 1 row instead of t). */
  rows?: 'all' | 'last';
  /** Read the logits back (default true); false leaves `logits` empty (use with `pick`). */
  logits?: boolean;
  /** Choose a token from every logits row on the device; only the ids come back (result.tokens). */
  pick?: PickOptions;
  /**
   * Checked before each decoder layer: when aborted, forward throws AbortError and the cache is as before the
   * call. With a signal, each layer's work is waited for before the next is queued, so a long prefill stops
   * within one layer.
   */
  signal?: AbortSignal;
}


export interface ForwardResult {
  /** [rows, vocab] row-major (rows: every position, or the last of each sequence with rows: 'last'); empty with logits: false. */
  logits: Float32Array;
  /** Per layer [t, hidden] row-major (with `hidden: true`). */
  hidden?: Float32Array[];
  /** [t, hidden] row-major: model.norm(x) of the last layer (with `normed: true`). */
  normed?: Float32Array;
  /** [t, hidden] on the model's device (with `normed: 'tensor'`); the caller disposes it. */
  normedTensor?: Tensor<Act>;
  /** [rows] i32: the picked token of each logits row (with `pick`). */
  tokens?: Int32Array;
}

/** One sequence of a batched step: its cache (a sequence of a shared PagedLatentCache) and its new tokens. */
export interface BatchItem { cache: SequenceCache; ids: number[] | Int32Array }

/** One part of a ragged step (forwardRagged): new tokens for one sequence and how to choose the token after them (null: none). */
export interface RaggedItem { cache: SequenceCache; ids: number[] | Int32Array; pick: PickOptions | null }

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

  /** Where the weights live and the forward runs. */
  get device(): Device { return this.embed.device; }

  /**
   * A latent KV cache for one sequence of up to maxLen tokens, at most max_position_embeddings (default:
   * DEFAULT_CACHE_LENGTH = 4096 or max_position_embeddings if smaller; pass the length you need): its own paged
   * cache of ceil(maxLen / 64) pages per layer, or, with `paged`, a new sequence in that shared cache (batched decode).
   */
  createCache(maxLen = defaultCacheLength(this.config), paged?: PagedLatentCache): SequenceCache {
    if (Number.isInteger(maxLen) && maxLen > this.config.maxPositionEmbeddings) throw new ArgumentError(`createCache: maxLen ${maxLen} exceeds max_position_embeddings ${this.config.maxPositionEmbeddings}`);
    if (paged) {
      this.checkPaged(paged, 'createCache');
      return SequenceCache.in(paged, maxLen);
    }
    return SequenceCache.create(this.config, maxLen, this.activations, this.device);
  }

  /** A paged latent cache shared by many sequences (createCache(maxLen, paged) adds one): pages for `tokens` tokens in all, on the model's device. */
  createPagedCache(tokens: number): PagedLatentCache {
    if (!Number.isInteger(tokens) || tokens < 1) throw new ArgumentError(`createPagedCache: tokens must be a positive integer, got ${tokens}`);
    return new PagedLatentCache(this.config, Math.ceil(tokens / MLA_PAGE_SIZE), this.activations, this.device);
  }

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
    const t = ids.length;
    if (t < 1) throw new ArgumentError('forward: ids must hold at least one token');
    this.checkIds(ids, 'forward');
    if (!opts.cache && t > this.config.maxPositionEmbeddings) throw new ArgumentError(`forward: ${t} tokens exceed max_position_embeddings ${this.config.maxPositionEmbeddings}`);
    if (opts.cache) return this.forwardBatch([{ cache: opts.cache, ids }], opts);
    const cache = SequenceCache.create(this.config, t, this.activations, this.device);
    try {
      return await this.forwardBatch([{ cache, ids }], opts);
    } finally {
      cache.dispose();
    }
  }

  /**
   * One step of several sequences at once (batched decode, or prefill of equal-length chunks): items[i].ids are
   * appended to items[i].cache, all sequences of one PagedLatentCache (model.createPagedCache, then
   * model.createCache(maxLen, paged) per sequence), each with the same number of new tokens sq (1 for decode) and
   * any length so far. Rows of the result are sequence-major: [b * sq, vocab] logits, or [b, vocab] with
   * rows: 'last'. Equals running each sequence alone through forward() (up to the attention's summation order).
   */
  async forwardBatch(items: readonly BatchItem[], opts: Omit<ForwardOptions, 'cache'> = {}): Promise<ForwardResult> {
    const b = items.length;
    if (b < 1) throw new ArgumentError('forwardBatch: at least one sequence is needed');
    const sq = items[0].ids.length;
    const paged = items[0].cache.paged;
    this.checkPaged(paged, 'forward');
    for (const it of items) {
      if (it.ids.length !== sq) throw new ArgumentError(`forwardBatch: every sequence needs the same number of new tokens, got ${it.ids.length} and ${sq}`);
      if (it.cache.paged !== paged) throw new ArgumentError('forwardBatch: the sequences must share one paged cache (model.createCache(maxLen, paged))');
      if (sq < 1) throw new ArgumentError('forward: ids must hold at least one token');
      this.checkIds(it.ids, 'forward');
      const start = it.cache.length;
      if (start + sq > it.cache.maxLen) throw new ArgumentError(`forward: ${sq} tokens after ${start} exceed the cache size ${it.cache.maxLen}`);
      if (start + sq > this.config.maxPositionEmbeddings) throw new ArgumentError(`forward: ${sq} tokens after ${start} exceed max_position_embeddings ${this.config.maxPositionEmbeddings}`);
    }
    const signal = (opts as ForwardOptions).signal;
    const checkAbort = (): void => { if (signal?.aborted) throw new AbortError('forward: aborted'); };
    checkAbort();
    if (opts.pick && (opts.pick.temperature ?? 0) > 0 && opts.pick.seed === undefined) throw new ArgumentError('forward: pick with temperature > 0 needs a seed');
    const ids = new Int32Array(b * sq);
    items.forEach((it, i) => ids.set(it.ids, i * sq));
    const step = paged.prepare(items.map((it) => it.cache.seq), sq);  // advances every sequence by sq
    const dev = { device: this.device };
    const hidden: Float32Array[] = [];
    let x: Tensor<Act> | null = null;
    try {
      const idT = Tensor.fromArray(ids, [b * sq], dev);
      x = embedding(this.embed, idT);
      idT.dispose();
      for (const layer of this.layers) {
        if (signal) { await synchronize(this.device); checkAbort(); }
        const y: Tensor<Act> = await layer.forward(x, paged, step, opts.trace);
        x.dispose();
        x = y;
        if (opts.hidden) hidden.push(await x.toFloat32Array());
      }
      if (signal) { await synchronize(this.device); checkAbort(); }
    } catch (e) {
      x?.dispose();
      for (const it of items) it.cache.truncate(sq);
      throw e;
    } finally {
      step.dispose();
    }
    const r = await this.output(x, b, sq, opts);
    if (opts.hidden) r.hidden = hidden;
    return r;
  }

  /**
   * One step of sequences with different numbers of new tokens (continuous batching: decodes of 1 token and prompt
   * chunks in the same forward), all in one PagedLatentCache. Each new token is its own attention row
   * (PagedLatentCache.prepareRagged), every other op runs on all rows at once. Returns, per item, the token picked
   * from the logits of its last row (-1 where pick is null); only those rows go through lm_head.
   */
  async forwardRagged(items: readonly RaggedItem[]): Promise<Int32Array> {
    if (items.length < 1) throw new ArgumentError('forwardRagged: at least one sequence is needed');
    const paged = items[0].cache.paged;
    this.checkPaged(paged, 'forwardRagged');
    for (const it of items) {
      if (it.cache.paged !== paged) throw new ArgumentError('forwardRagged: the sequences must share one paged cache (model.createCache(maxLen, paged))');
      if (it.ids.length < 1) throw new ArgumentError('forwardRagged: every sequence needs at least one new token');
      this.checkIds(it.ids, 'forwardRagged');
      if (it.cache.length + it.ids.length > it.cache.maxLen) throw new ArgumentError(`forwardRagged: ${it.ids.length} tokens after ${it.cache.length} exceed the cache size ${it.cache.maxLen}`);
      if (it.cache.length + it.ids.length > this.config.maxPositionEmbeddings) throw new ArgumentError(`forwardRagged: ${it.ids.length} tokens after ${it.cache.length} exceed max_position_embeddings ${this.config.maxPositionEmbeddings}`);
      if (it.pick && (it.pick.temperature ?? 0) > 0 && it.pick.seed === undefined) throw new ArgumentError('forwardRagged: pick with temperature > 0 needs a seed');
    }
    const rows = items.reduce((a, it) => a + it.ids.length, 0);
    const ids = new Int32Array(rows);
    const last: number[] = [], want: number[] = [];
    let r = 0;
    items.forEach((it, i) => { ids.set(it.ids, r); r += it.ids.length; if (it.pick) { want.push(i); last.push(r - 1); } });
    const step = paged.prepareRagged(items.map((it) => ({ id: it.cache.seq, n: it.ids.length })));
    const dev = { device: this.device };
    let x: Tensor<Act> | null = null;
    try {
      const idT = Tensor.fromArray(ids, [rows], dev);
      x = embedding(this.embed, idT);
      idT.dispose();
      for (const layer of this.layers) {
        const y: Tensor<Act> = await layer.forward(x, paged, step);
        x.dispose();
        x = y;
      }
    } catch (e) {
      x?.dispose();
      for (const it of items) it.cache.truncate(it.ids.length);
      throw e;
    } finally {
      step.dispose();
    }
    const out = new Int32Array(items.length).fill(-1);
    if (want.length === 0) { x.dispose(); return out; }
    const idx = Tensor.fromArray(Int32Array.from(last), [last.length], dev);
    const xl = embedding(x, idx);
    idx.dispose(); x.dispose();
    const xn = rmsNorm(xl, this.norm, { eps: this.config.rmsNormEps });
    xl.dispose();
    const lt = gemm<Act, 'f32'>(xn, this.head, { outDtype: 'f32' });
    xn.dispose();
    const picked: Tensor<'i32'>[] = [];
    try {
      // greedy rows read the argmax of every row; a sampled row draws alone (row 0 of its view), as generate() does
      const anyGreedy = want.some((i) => (items[i].pick!.temperature ?? 0) <= 0);
      const greedy = anyGreedy ? argmax(lt, { flagInvalid: true }) : null;
      if (greedy) picked.push(greedy);
      const g = greedy ? await greedy.toArray() : null;
      for (let j = 0; j < want.length; j++) {
        const p = items[want[j]].pick!;
        if ((p.temperature ?? 0) <= 0) {
          checkPicks([g![j]], 'argmax', j);
          out[want[j]] = g![j];
          continue;
        }
        const row = lt.view(j, 1);
        const s = sample(row, { seed: p.seed!, temperature: p.temperature, topP: p.topP, topK: p.topK });
        row.dispose();
        picked.push(s);
        const id = (await s.toArray())[0];
        checkPicks([id], 'sample', j);
        out[want[j]] = id;
      }
    } finally {
      for (const t of picked) t.dispose();
      lt.dispose();
    }
    return out;
  }

  /**
   * The device side of one greedy decode step: ids i32 [b] on the model's device, a prepared step (one new
   * token per sequence of `paged`) -> the argmax ids i32 [b], on the device. It only queues work (no reads,
   * no host copies), so it can be captured in a CUDA graph (decodeGraph).
   */
  async decodeTensors(ids: Tensor<'i32'>, paged: PagedLatentCache, step: MlaStep): Promise<Tensor<'i32'>> {
    let x: Tensor<Act> = embedding(this.embed, ids);
    for (const layer of this.layers) {
      const y: Tensor<Act> = await layer.forward(x, paged, step);
      x.dispose();
      x = y;
    }
    const xn = rmsNorm(x, this.norm, { eps: this.config.rmsNormEps });
    x.dispose();
    const lt = gemm<Act, 'f32'>(xn, this.head, { outDtype: 'f32' });
    xn.dispose();
    const next = argmax(lt, { flagInvalid: true });  // DecodeGraph.decode checks the ids it reads
    lt.dispose();
    return next;
  }

  /**
   * Greedy decode of these sequences (one shared paged cache on the model's device) as a captured step graph: one
   * launch per step (lib/model/decode_graph.ts; a CUDA graph, or on the CPU the recorded ops run back to back by the
   * stream thread). `await g.decode(tokens)` appends one token per sequence and returns the next ones; dispose()
   * frees the graph. Replays count expert load like forwards do.
   */
  decodeGraph(caches: readonly SequenceCache[]): Promise<DecodeGraph> { return DecodeGraph.capture(this, caches); }

  /** Final norm, lm_head on the rows asked for, the device-side pick; reads back only what opts ask for. Consumes x [b*sq, d]. */
  private async output(x: Tensor<Act>, b: number, sq: number, opts: Omit<ForwardOptions, 'cache'>): Promise<ForwardResult> {
    const eps = this.config.rmsNormEps;
    const last = opts.rows === 'last' && sq > 1;
    // rows bi*sq + sq-1 of a [b*sq, d] tensor, gathered with the embedding op (a row lookup on either device)
    const lastRows = <D extends Act>(t: Tensor<D>): Tensor<D> => {
      const idx = Tensor.fromArray(Int32Array.from({ length: b }, (_, i) => i * sq + sq - 1), [b], { device: this.device });
      const g = embedding(t, idx);
      idx.dispose();
      return g;
    };
    let xn: Tensor<Act>, normedAll: Tensor<Act> | null = null;
    if (opts.normed) {
      normedAll = rmsNorm(x, this.norm, { eps });
      xn = last ? lastRows(normedAll) : normedAll;
    } else {
      const xl = last ? lastRows(x) : x;
      xn = rmsNorm(xl, this.norm, { eps });
      if (xl !== x) xl.dispose();
    }
    x.dispose();
    const lt = gemm<Act, 'f32'>(xn, this.head, { outDtype: 'f32' });
    if (xn !== normedAll) xn.dispose();
    let picked: Tensor<'i32'> | null = null;
    const greedy = opts.pick !== undefined && (opts.pick.temperature ?? 0) <= 0;
    if (opts.pick) {
      const p = opts.pick;
      // A row with NaN or no finite maximum raises the error sampling raises (greedy emitted token 0 forever).
      picked = greedy ? argmax(lt, { flagInvalid: true }) : sample(lt, { seed: p.seed!, temperature: p.temperature, topP: p.topP, topK: p.topK });
    }
    const r: ForwardResult = { logits: new Float32Array(0) };
    try {
      if (picked) {
        r.tokens = await picked.toArray();
        checkPicks(r.tokens, greedy ? 'argmax' : 'sample');
      }
      if (opts.logits !== false) r.logits = await lt.toFloat32Array();
      if (normedAll && opts.normed === 'tensor') r.normedTensor = normedAll;
      else if (normedAll) r.normed = await normedAll.toFloat32Array();
    } finally {
      picked?.dispose(); lt.dispose();
      if (normedAll && !r.normedTensor) normedAll.dispose();
    }
    return r;
  }

  private checkIds(ids: ArrayLike<number>, what: string): void {
    const V = this.config.vocabSize;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new ArgumentError(`${what}: token id ${id} is outside [0, ${V})`);
    }
  }

  private checkPaged(paged: PagedLatentCache, what: string): void {
    if (paged.dtype !== this.activations) throw new ArgumentError(`${what}: the cache holds ${paged.dtype}, the model computes in ${this.activations}`);
    if (paged.device !== this.device) throw new ArgumentError(`${what}: the cache is on ${paged.device}, the model on ${this.device}`);
    if (paged.layers !== this.layers.length) throw new ArgumentError(`${what}: the cache has ${paged.layers} layer slots, the model ${this.layers.length} layers`);
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

  /** Makes what a captured step (lib/graph.ts) needs to exist before the capture: the expert-load sinks. */
  prepareCapture(): void { for (const b of this.moeBlocks()) (b.ffn as Moe).prepareCapture(); }

  /** Zeroes the expert load statistics of every MoE layer. */
  resetExpertLoad(): void { for (const b of this.moeBlocks()) (b.ffn as Moe).resetExpertLoad(); }

  private moeBlocks(): Block[] {
    return [...this.layers, ...(this.mtp ? [this.mtp.block] : [])].filter((b) => b.ffn instanceof Moe);
  }

  /** Releases every weight now (caches are separate: SequenceCache / PagedLatentCache dispose). */
  dispose(): void {
    this.embed.dispose(); this.head.dispose(); this.norm.dispose();
    for (const l of this.layers) l.dispose();
    this.mtp?.dispose();
    this.layers[0]?.invFreq.dispose();
  }
}
