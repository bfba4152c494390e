// The DeepSeek-V3 Transformer (model.py Transformer): embedding -> decoder layers -> final RMSNorm ->
// lm_head, over the paged latent KV cache, on the CPU or one CUDA device. step() is the model: it only queues
// work on the model's device (no reads, no waits, so a step graph can capture it), recording MoE routing and
// expert counts into device sinks (stats.ts). forward() runs one sequence, forwardBatch() several sequences of
// different lengths in one step (batched decode), forwardRagged() sequences of different numbers of new tokens;
// they run step() and read back only what the caller asks for (logits, picked tokens, hidden states, a routing
// trace). Generation (lib/generate.ts) and the captured decode step (decode_graph.ts) drive it from outside;
// Model (model.ts) adds them as methods. Reference: docs/v3-reference.md §3, §8.
import { ModelConfig } from '../config';
import { AbortError, ArgumentError } from '../errors';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { rmsNorm } from '../ops/norm';
import { argmax, sample } from '../ops/sampling';
import { checkPicks } from './picks';
import { Device, synchronize, Tensor } from '../tensor';
import { Block } from './block';
import { Mtp } from './mtp';
import { Act } from './linear';
import { Moe } from './moe';
import { dropTrace, ExpertLoad, ExpertLoadStats, readTrace, RouteTrace, RoutingSink, stepSink } from './stats';
import { MLA_PAGE_SIZE } from '../ops/mla';
import { defaultCacheLength, MlaStep, PagedLatentCache, SequenceCache } from './paged_cache';
import type { DecodeGraph } from './decode_graph';
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

export type { ExpertLoad } from './stats';

/** What step() computes besides the layers. */
export interface StepOptions {
  /** Which rows of the step go through the final norm and lm_head: 'all' (default), 'none', or i32 [r] row indices on the model's device. */
  rows?: 'all' | 'none' | Tensor<'i32'>;
  /** Choose a token from every logits row on the device (argmax, or sample with the seed): StepOutput.tokens. */
  pick?: PickOptions;
  /** Also keep the final-normed hidden state of every row (StepOutput.normed). */
  normed?: boolean;
  /** Where the MoE layers record their expert counts and routing (default: nowhere). */
  sink?: RoutingSink;
}

/** The tensors of one step, on the model's device; the caller disposes them. */
export interface StepOutput {
  /** f32 [r, vocab] of the rows asked for; null with rows: 'none'. */
  logits: Tensor<'f32'> | null;
  /** i32 [r]: the picked token of each logits row (with `pick`; argmax flags a row it cannot pick with -1 / -2: checkPicks). */
  tokens: Tensor<'i32'> | null;
  /** [n, hidden]: the final-normed hidden state of every row (with `normed`). */
  normed: Tensor<Act> | null;
}

export class Transformer {
  /**
   * The multi-token-prediction module (layer num_hidden_layers), loaded when num_nextn_predict_layers is 1 and the
   * checkpoint holds it; null otherwise (then `mtpMissing` says why). Used by generate({ speculative: 'mtp' }).
   */
  mtp: Mtp | null = null;
  mtpMissing: string | null = 'the config has num_nextn_predict_layers = 0';

  /** Folds the MoE layers' load sinks (expertLoad()); drivers of step() reserve its rows before a step that counts load. */
  readonly loadStats: ExpertLoadStats;

  /**
   * The cache and captured decode step of the last greedy generate(), kept for the next one (lib/generate.ts
   * takeDecode / keepDecode): capturing a step costs milliseconds of host work. Freed by dispose(), replaced when a
   * later generate needs a longer cache.
   */
  keptDecode: { cache: SequenceCache; graph: DecodeGraph } | null = null;

  /** Frees the decode step and cache generate() kept (keptDecode), if any. */
  releaseKeptDecode(): void {
    const k = this.keptDecode;
    this.keptDecode = null;
    k?.graph.dispose(); k?.cache.dispose();
  }

  constructor(readonly config: ModelConfig, readonly embed: Tensor<Act>, readonly layers: Block[],
    readonly norm: Tensor<'f32'>, readonly head: Tensor<Act>, readonly precision: 'f32' | 'bf16' | 'fp8' = embed.dtype) {
    this.loadStats = new ExpertLoadStats(() => this.moeBlocks().map((b) => ({ layer: b.layer, sink: (b.ffn as Moe).loadSink })));
  }

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
    const sink = stepSink(opts.trace !== undefined);
    if (sink.load) await this.loadStats.reserve(b * sq);
    const dev = { device: this.device };
    const mla = paged.prepare(items.map((it) => it.cache.seq), sq);  // advances every sequence by sq
    const idT = Tensor.fromArray(ids, [b * sq], dev);
    // rows: 'last' takes rows bi*sq + sq-1 of the [b*sq, d] stream
    const rows = opts.rows === 'last' && sq > 1 ? Tensor.fromArray(Int32Array.from({ length: b }, (_, i) => i * sq + sq - 1), [b], dev) : 'all';
    const hidden: Float32Array[] = [];
    const layers = this.layerByLayer(idT, paged, mla, { rows, pick: opts.pick, normed: !!opts.normed, sink });
    let out: StepOutput;
    try {
      // with a signal, each layer's work is waited for before the next is queued
      for (let l = 0; ; l++) {
        const r = layers.next();
        if (r.done) { out = r.value; break; }
        if (opts.hidden && l > 0) hidden.push(await r.value.toFloat32Array());
        if (signal) { await synchronize(this.device); checkAbort(); }
      }
    } catch (e) {
      layers.return(null as never);
      dropTrace(sink.trace);
      for (const it of items) it.cache.truncate(sq);
      throw e;
    } finally {
      mla.dispose(); idT.dispose();
      if (rows !== 'all') rows.dispose();
    }
    const r: ForwardResult = { logits: new Float32Array(0) };
    try {
      if (sink.trace) await readTrace(sink.trace, opts.trace!);
      if (out.tokens) {
        r.tokens = await out.tokens.toArray();
        checkPicks(r.tokens, (opts.pick!.temperature ?? 0) <= 0 ? 'argmax' : 'sample');
      }
      if (opts.logits !== false) r.logits = await out.logits!.toFloat32Array();
      if (out.normed && opts.normed === 'tensor') r.normedTensor = out.normed;
      else if (out.normed) r.normed = await out.normed.toFloat32Array();
    } finally {
      out.tokens?.dispose(); out.logits!.dispose();
      if (out.normed && !r.normedTensor) out.normed.dispose();
    }
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
    const n = items.reduce((a, it) => a + it.ids.length, 0);
    const ids = new Int32Array(n);
    const last: number[] = [], want: number[] = [];
    let r = 0;
    items.forEach((it, i) => { ids.set(it.ids, r); r += it.ids.length; if (it.pick) { want.push(i); last.push(r - 1); } });
    const sink = stepSink(false);
    if (sink.load) await this.loadStats.reserve(n);
    const dev = { device: this.device };
    const mla = paged.prepareRagged(items.map((it) => ({ id: it.cache.seq, n: it.ids.length })));
    const idT = Tensor.fromArray(ids, [n], dev);
    const rows = want.length > 0 ? Tensor.fromArray(Int32Array.from(last), [last.length], dev) : 'none';
    let lt: Tensor<'f32'> | null;
    try {
      lt = this.step(idT, paged, mla, { rows, sink }).logits;
    } catch (e) {
      for (const it of items) it.cache.truncate(it.ids.length);
      throw e;
    } finally {
      mla.dispose(); idT.dispose();
      if (rows !== 'none') rows.dispose();
    }
    const out = new Int32Array(items.length).fill(-1);
    if (!lt) return out;
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
   * The model's step, queued on its device with no reads and no waits (so a step graph can capture it): ids i32 [n]
   * on the model's device -> embedding -> every layer (writing the n rows into `paged` where `mla` says:
   * PagedLatentCache.prepare / prepareRagged) -> final norm -> lm_head on the rows asked for -> the optional pick.
   */
  step(ids: Tensor<'i32'>, paged: PagedLatentCache, mla: MlaStep, opts: StepOptions = {}): StepOutput {
    const layers = this.layerByLayer(ids, paged, mla, opts);
    for (;;) {
      const r = layers.next();
      if (r.done) return r.value;
    }
  }

  /**
   * step() one layer at a time: yields the residual stream [n, d] before each layer and after the last (valid until
   * the next next()), so a caller can wait or read between layers; returns step()'s output. A caller that stops
   * early calls return() (the stream is released).
   */
  *layerByLayer(ids: Tensor<'i32'>, paged: PagedLatentCache, mla: MlaStep, opts: StepOptions = {}): Generator<Tensor<Act>, StepOutput, void> {
    let x: Tensor<Act> | null = embedding(this.embed, ids);
    try {
      for (const layer of this.layers) {
        yield x;
        const y: Tensor<Act> = layer.forward(x, paged, mla, opts.sink);
        x.dispose();
        x = y;
      }
      yield x;
      const out = this.output(x, opts);
      x = null;
      return out;
    } finally {
      x?.dispose();
    }
  }

  /** Final norm, lm_head on the rows asked for, the device-side pick. Consumes x [n, d]. */
  private output(x: Tensor<Act>, opts: StepOptions): StepOutput {
    const eps = this.config.rmsNormEps, rows = opts.rows ?? 'all';
    const normed = opts.normed ? rmsNorm(x, this.norm, { eps }) : null;
    if (rows === 'none') { x.dispose(); return { logits: null, tokens: null, normed }; }
    let xn: Tensor<Act>;
    if (normed) {
      xn = rows === 'all' ? normed : embedding(normed, rows);  // the embedding op gathers rows on either device
    } else {
      const xl = rows === 'all' ? x : embedding(x, rows);
      xn = rmsNorm(xl, this.norm, { eps });
      if (xl !== x) xl.dispose();
    }
    x.dispose();
    const logits = gemm<Act, 'f32'>(xn, this.head, { outDtype: 'f32' });
    if (xn !== normed) xn.dispose();
    const p = opts.pick;
    // A row with NaN or no finite maximum raises the error sampling raises (greedy emitted token 0 forever): checkPicks.
    const tokens = !p ? null : (p.temperature ?? 0) <= 0 ? argmax(logits, { flagInvalid: true })
      : sample(logits, { seed: p.seed!, temperature: p.temperature, topP: p.topP, topK: p.topK });
    return { logits, tokens, normed };
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

  /** Per MoE layer (the MTP module's included), tokens routed to each expert by every step since loading or resetExpertLoad(). Reads the counts kept on the device. */
  expertLoad(): Promise<ExpertLoad[]> { return this.loadStats.read(); }

  /** Zeroes the expert load statistics of every MoE layer. */
  resetExpertLoad(): void { this.loadStats.reset(); }

  private moeBlocks(): Block[] {
    return [...this.layers, ...(this.mtp ? [this.mtp.block] : [])].filter((b) => b.ffn instanceof Moe);
  }

  /**
   * Releases every weight now, and the decode step and cache generate() kept (other caches are separate:
   * SequenceCache / PagedLatentCache dispose).
   */
  dispose(): void {
    this.releaseKeptDecode();
    this.embed.dispose(); this.head.dispose(); this.norm.dispose();
    for (const l of this.layers) l.dispose();
    this.mtp?.dispose();
    this.layers[0]?.invFreq.dispose();
  }
}
