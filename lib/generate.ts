// Autoregressive generation over the latent KV cache (DeepSeek-V3 generate.py generate(): one prefill forward
// of the prompt, then one token per forward; greedy argmax at temperature <= 0, else seeded sampling with
// top-k / top-p). Stops at eos ids, caller stop ids/strings, maxNewTokens, a full cache, or an abort.
import { AbortError, ArgumentError, UnsupportedError } from './errors';
import { Tensor } from './tensor';
import { ChatMessage, StreamDecoder, TextTokenizer } from './tokenizer';
import type { ForwardOptions, Transformer } from './model/transformer';
import type { Act } from './model/linear';
import type { RouteTrace } from './model/stats';
import type { SequenceCache } from './model/paged_cache';
import { DecodeGraph } from './model/decode_graph';

/** Generation was aborted through its AbortSignal (thrown by the iterator; the cache is released first). */
export { AbortError };

export interface GenerateOptions {
  /** Chat messages rendered with the tokenizer's chat template (replaces the prompt; pass '' or [] as prompt). */
  messages?: ChatMessage[];
  /** Most tokens to generate (default 64). */
  maxNewTokens?: number;
  /** <= 0 (default 0): greedy argmax; > 0: sampling from softmax(logits / temperature). */
  temperature?: number;
  topP?: number;
  topK?: number;
  /** Sampling seed (default: random). Step s draws with a seed derived from (seed, s): equal seeds, equal output. */
  seed?: number | bigint;
  /** Token ids or strings that end generation (a stop id is not yielded; a stop string ends after the token completing it). */
  stop?: (number | string)[];
  /** Keep going past end-of-sequence tokens (llama.cpp's --ignore-eos): benchmarks of a fixed token count. */
  ignoreEos?: boolean;
  /** Aborting it makes the iterator throw AbortError before the next forward. */
  signal?: AbortSignal;
  /** Needed for a string prompt, messages, stop strings and `text`; default: the model's tokenizer. */
  tokenizer?: TextTokenizer | null;
  /**
   * 'mtp': speculative greedy decoding with the checkpoint's MTP module (model.mtp): it drafts one token, the main
   * model verifies it in the same forward that computes the next one (2 tokens per forward when accepted). The
   * output equals plain greedy decoding. Needs temperature <= 0 and a loaded MTP module (else UnsupportedError).
   */
  speculative?: 'mtp' | null;
  /** Called once when generation ends (also on abort or error). */
  onStats?: (stats: GenerateStats) => void;
  /** Collects the routing of every main-model forward (expert load statistics). */
  trace?: RouteTrace[];
}

export interface GeneratedToken {
  id: number;
  /** The complete new text this token adds (with a tokenizer; '' while a UTF-8 character is partial). */
  text?: string;
}

/** 'cancel': the consumer left the loop early (break / return()). */
export type StopReason = 'eos' | 'stop' | 'length' | 'abort' | 'error' | 'cancel';

export interface GenerateStats {
  promptTokens: number;
  generatedTokens: number;
  /** Wall time of the prefill forward (ms). */
  prefillMs: number;
  /** Wall time of the decode forwards and sampling after the prefill (ms). */
  decodeMs: number;
  prefillTokensPerS: number;
  /** Decode forwards per second (tokens fed through the cache after the prefill). */
  decodeTokensPerS: number;
  stopReason: StopReason | null;
  /** Main-model forwards after the prefill. */
  decodeForwards: number;
  /**
   * Greedy decode's captured step: 'captured' by this generate, 'reused' from the previous greedy generate (kept on
   * the model with its cache: model.keptDecode), 'none' (sampling, a trace, or no decode step).
   */
  decodeGraph?: 'captured' | 'reused' | 'none';
  /** speculative 'mtp': drafts verified and drafts accepted (acceptance rate = draftAccepted / draftTotal). */
  draftTotal?: number;
  draftAccepted?: number;
}

/**
 * The cache (empty: keepDecode emptied it) and captured decode step the model keeps from its last greedy generate,
 * when that cache holds `len` tokens (the step graph is bound to it; its inputs are refreshed every step); else null.
 */
function takeDecode(model: Transformer, len: number): { cache: SequenceCache; graph: DecodeGraph } | null {
  const k = model.keptDecode;
  if (!k || k.cache.maxLen < len) return null;
  model.keptDecode = null;
  return k;
}

/** Keeps a generate's cache (emptied) and captured step on the model for the next one, instead of another it kept. */
function keepDecode(model: Transformer, cache: SequenceCache, graph: DecodeGraph): void {
  model.releaseKeptDecode();
  cache.reset();
  model.keptDecode = { cache, graph };
}

/**
 * Decode steps per batch on the CPU (multi-step scheduling, as vLLM's): the host reads a batch's tokens at once,
 * one wake-up of the JS thread per batch instead of per token, which on a 2-core machine takes the cores the
 * steps run on. A batch lasts about DECODE_BATCH_MS at the rate measured so far (one step until there is one),
 * so that tokens still stream every few tens of milliseconds and a generation that stops early has computed at
 * most two batches ahead; small models decode up to MAX_DECODE_BATCH steps per batch, large ones one.
 */
export const DECODE_BATCH_MS = 20;
export const MAX_DECODE_BATCH = 8;
function decodeBatchSize(stats: GenerateStats, queuedSteps: number): number {
  if (queuedSteps === 0 || stats.decodeMs <= 0 || stats.generatedTokens < 2) return 1;
  const msPerStep = stats.decodeMs / (stats.generatedTokens - 1);
  return Math.max(1, Math.min(MAX_DECODE_BATCH, Math.floor(DECODE_BATCH_MS / msPerStep)));
}

/** The per-step sampling seed: a 64-bit mix of (seed, step) (splitmix64 finalizer), as a signed bigint. */
export function stepSeed(seed: number | bigint, step: number): bigint {
  let z = BigInt.asUintN(64, BigInt(seed) + BigInt(step + 1) * 0x9e3779b97f4a7c15n);
  z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
  z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
  return BigInt.asIntN(64, z ^ (z >> 31n));
}

/** An async iterable of generated tokens with its running stats. */
export class Generation implements AsyncIterable<GeneratedToken> {
  readonly stats: GenerateStats;
  private started = false;
  constructor(private readonly model: Transformer, private readonly promptIds: number[], private readonly opts: GenerateOptions,
    private readonly tokenizer: TextTokenizer | null) {
    this.stats = { promptTokens: promptIds.length, generatedTokens: 0, prefillMs: 0, decodeMs: 0, prefillTokensPerS: 0, decodeTokensPerS: 0, stopReason: null, decodeForwards: 0 };
    if (opts.speculative === 'mtp') { this.stats.draftTotal = 0; this.stats.draftAccepted = 0; }
  }

  [Symbol.asyncIterator](): AsyncIterator<GeneratedToken> {
    if (this.started) throw new ArgumentError('generate: a Generation can be iterated only once');
    this.started = true;
    return this.opts.speculative === 'mtp' ? this.runMtp() : this.run();
  }

  /**
   * What ends a generation and how a chosen token becomes output, shared by both loops: `take(id)` returns the
   * token to yield (with its text), or null after recording why generation ends (eos or a stop id);
   * `stopped()` tells, after a yield, whether a stop string has appeared; `finish` records a reason once.
   */
  private rules() {
    const { model, opts, tokenizer, stats } = this;
    const eos = new Set<number>(opts.ignoreEos ? [] : tokenizer?.eosTokenIds ?? []);
    if (model.config.eosTokenId !== null && !opts.ignoreEos) eos.add(model.config.eosTokenId);
    const stopIds = new Set<number>(opts.stop?.filter((s): s is number => typeof s === 'number'));
    const stopStrings = opts.stop?.filter((s): s is string => typeof s === 'string') ?? [];
    const decoder: StreamDecoder | null = tokenizer ? tokenizer.streamDecoder() : null;
    // A stop string that appears with a token ends within that token's text: searching the token's text plus the
    // (longest stop - 1) characters before it finds it, in time independent of the length so far.
    const keep = Math.max(0, ...stopStrings.map((s) => s.length)) - 1;
    let recent = '', window = '';
    const finish = (reason: StopReason): void => { stats.stopReason ??= reason; };
    return {
      finish,
      checkAbort: (): void => {
        if (opts.signal?.aborted) { stats.stopReason = 'abort'; throw new AbortError('generate: aborted'); }
      },
      take: (id: number): GeneratedToken | null => {
        if (eos.has(id)) { finish('eos'); return null; }
        if (stopIds.has(id)) { finish('stop'); return null; }
        const tok: GeneratedToken = { id };
        if (decoder) {
          tok.text = decoder.push(id);
          window = recent + tok.text;
          recent = keep > 0 ? window.slice(-keep) : '';
        }
        stats.generatedTokens++;
        return tok;
      },
      stopped: (): boolean => {
        if (!stopStrings.some((s) => window.includes(s))) return false;
        finish('stop');
        return true;
      },
    };
  }

  private async *run(): AsyncGenerator<GeneratedToken> {
    const { model, promptIds, opts, stats } = this;
    const cfg = model.config;
    const maxNew = opts.maxNewTokens ?? 64;
    const temperature = opts.temperature ?? 0;
    const seed = opts.seed ?? BigInt(Math.floor(Math.random() * 2 ** 53));
    const { finish, checkAbort, take, stopped } = this.rules();
    // The token after each forward is chosen on the model's device from the last row's logits; only its id comes back.
    const forwardOpts = (step: number): ForwardOptions => ({
      cache, trace: opts.trace, rows: 'last', logits: false, signal: opts.signal,
      pick: temperature <= 0 ? {} : { temperature, seed: stepSeed(seed, step), topP: opts.topP, topK: opts.topK },
    });
    // Greedy steps without a routing trace replay one captured step graph (DecodeGraph): no per-op host work. On the
    // CPU, steps go in batches (each step fed its predecessor's pick on the device; one read per batch, see
    // decodeBatchSize), and the next batch is queued before the current one's tokens are read, so the host's work
    // between tokens overlaps the computation. When generation ends at an eos or a stop, the rest of the current
    // batch and the next one have run (their expert load counted); their cache positions are dropped with the cache.
    // The last greedy generate's cache and captured step are kept on the model for the next one (takeDecode).
    const greedyGraph = temperature <= 0 && !opts.trace;
    const needLen = Math.min(cfg.maxPositionEmbeddings, promptIds.length + Math.max(maxNew, 1));
    const kept = greedyGraph ? takeDecode(model, needLen) : null;
    const cache = kept?.cache ?? model.createCache(needLen);
    let graph: DecodeGraph | null = kept?.graph ?? null;
    stats.decodeGraph = 'none';
    const batches: { start: number; n: number; picks: Promise<Int32Array> }[] = [];  // queued on the CPU, in order
    let queuedSteps = 0;  // decode steps queued: step s gives token s + 1
    let decodeStart = 0;
    /** Queues the next batch of decode steps (within maxNew and the cache); the first step of all is fed `first`. */
    const queueBatch = async (g: DecodeGraph, first: number): Promise<void> => {
      const n = Math.min(decodeBatchSize(stats, queuedSteps), maxNew - 1 - queuedSteps, cache.maxLen - cache.length);
      if (n < 1) return;
      const q = await g.queue(queuedSteps === 0 ? [first] : undefined, n);
      q.picks.catch(() => {});  // read when its tokens are due, or never when generation ends first
      batches.push({ start: queuedSteps, n, picks: q.picks });
      queuedSteps += n;
      stats.decodeForwards += n;
    };
    try {
      checkAbort();
      const t0 = performance.now();
      let next = (await model.forward(promptIds, forwardOpts(0))).tokens![0];
      stats.prefillMs = performance.now() - t0;
      stats.prefillTokensPerS = promptIds.length / (stats.prefillMs / 1000);
      decodeStart = performance.now();
      for (let step = 0; ; step++) {
        if (step >= maxNew) { finish('length'); return; }
        checkAbort();
        const tok = take(next);
        if (!tok) return;
        yield tok;
        if (stopped()) return;
        if (step + 1 >= maxNew) { finish('length'); return; }
        if (queuedSteps <= step && cache.length >= cache.maxLen) { finish('length'); return; }
        checkAbort();
        if (!graph && greedyGraph) { graph = await DecodeGraph.capture(model, [cache]); stats.decodeGraph = 'captured'; }
        else if (graph && stats.decodeGraph === 'none') stats.decodeGraph = 'reused';
        if (graph && model.device === 'cpu') {
          if (queuedSteps <= step) await queueBatch(graph, tok.id);
          const cur = batches[0];
          if (batches.length === 1) await queueBatch(graph, tok.id);  // the next batch runs while this one's tokens are handed out
          next = (await cur.picks)[step - cur.start];
          if (step === cur.start + cur.n - 1) batches.shift();
        } else {
          next = graph ? (await graph.decode([tok.id]))[0] : (await model.forward([tok.id], forwardOpts(step + 1))).tokens![0];
          stats.decodeForwards++;
        }
        stats.decodeMs = performance.now() - decodeStart;
        stats.decodeTokensPerS = (step + 1) / (stats.decodeMs / 1000);
      }
    } catch (e) {
      finish(e instanceof AbortError ? 'abort' : 'error');
      throw e;
    } finally {
      finish('cancel'); // only when nothing else ended it: the consumer stopped iterating
      // After an error or an abort the step and cache are not trusted again; else they are kept for the next generate.
      if (graph && stats.stopReason !== 'error' && stats.stopReason !== 'abort') keepDecode(model, cache, graph);
      else { graph?.dispose(); cache.dispose(); }
      opts.onStats?.({ ...stats });
    }
  }

  /**
   * Greedy MTP speculative decoding. Invariant between steps: the main cache holds positions 0..n-1, `cur` (the
   * token at n, already chosen, not yet fed) is what the next main forward starts with, and the MTP cache lags
   * with (mtpH, mtpIds) still to feed: the final-normed main hidden of the positions not yet fed to the MTP and
   * the token after each. After feeding them, the MTP cache also holds n positions and its last row drafts the
   * token at n+1. The main model then runs [cur, draft] at n, n+1: the argmax at n is the true token at n+1;
   * when it equals the draft, the argmax at n+1 is the true token at n+2 (two tokens for one forward), else the
   * main cache drops position n+1. The MTP never sees an unverified token, so it needs no rollback. The hidden
   * states stay on the model's device and every argmax is taken there: only token ids come back.
   */
  private async *runMtp(): AsyncGenerator<GeneratedToken> {
    const { model, promptIds, opts, stats } = this;
    const cfg = model.config;
    const mtp = model.mtp!;
    const maxNew = opts.maxNewTokens ?? 64;
    const { finish, checkAbort, take, stopped } = this.rules();
    // The same limit as plain decoding, so both stop at the same token.
    const limit = Math.min(cfg.maxPositionEmbeddings, promptIds.length + Math.max(maxNew, 1));
    const cache = model.createCache(limit);
    const mcache = mtp.createCache(limit);
    const greedy = (rows: 'all' | 'last'): ForwardOptions => ({ cache, normed: 'tensor', trace: opts.trace, rows, logits: false, pick: {}, signal: opts.signal });
    let mtpH: Tensor<Act> | null = null;
    let decodeStart = 0;
    try {
      checkAbort();
      const t0 = performance.now();
      const pre = await model.forward(promptIds, greedy('last'));
      let cur = pre.tokens![0];
      mtpH = pre.normedTensor!;
      let mtpIds = [...promptIds.slice(1), cur];
      stats.prefillMs = performance.now() - t0;
      stats.prefillTokensPerS = promptIds.length / (stats.prefillMs / 1000);
      decodeStart = performance.now();
      let queue = [cur];
      for (;;) {
        for (const id of queue) {
          if (stats.generatedTokens >= maxNew) { finish('length'); return; }
          checkAbort();
          const tok = take(id);
          if (!tok) return;
          yield tok;
          if (stopped()) return;
        }
        if (stats.generatedTokens >= maxNew) { finish('length'); return; }
        if (cache.length >= cache.maxLen) { finish('length'); return; }
        checkAbort();
        const n = cache.length;
        // Catch the MTP up (this also gives the draft); a draft pays only with room for 2 positions and 2 tokens to go.
        const draft = await mtp.draft(mtpH, mtpIds, mcache);
        mtpH.dispose(); mtpH = null;
        if (n + 2 <= cache.maxLen && maxNew - stats.generatedTokens >= 2) {
          const v = await model.forward([cur, draft], greedy('all'));
          stats.decodeForwards++;
          stats.draftTotal!++;
          const next = v.tokens![0];
          if (next === draft) {
            stats.draftAccepted!++;
            cur = v.tokens![1];
            queue = [draft, cur];
            mtpH = v.normedTensor!; mtpIds = [draft, cur];
          } else {
            cache.truncate(1);
            cur = next;
            queue = [cur];
            mtpH = v.normedTensor!.view(0, 1); mtpIds = [cur];
            v.normedTensor!.dispose();
          }
        } else {
          const v = await model.forward([cur], greedy('all'));
          stats.decodeForwards++;
          cur = v.tokens![0];
          queue = [cur];
          mtpH = v.normedTensor!; mtpIds = [cur];
        }
        stats.decodeMs = performance.now() - decodeStart;
        stats.decodeTokensPerS = (stats.generatedTokens - 1 + queue.length) / (stats.decodeMs / 1000);  // tokens the decode forwards produced
      }
    } catch (e) {
      finish(e instanceof AbortError ? 'abort' : 'error');
      throw e;
    } finally {
      finish('cancel');
      mtpH?.dispose();
      cache.dispose(); mcache.dispose();
      opts.onStats?.({ ...stats });
    }
  }
}

/** Prompt ids for generate: ids as given, a string through the tokenizer, or messages through the chat template. */
function promptIdsOf(model: Transformer, prompt: string | number[], opts: GenerateOptions, tok: TextTokenizer | null): number[] {
  if (opts.messages !== undefined) {
    if (!tok) throw new ArgumentError('generate: messages need a tokenizer (the checkpoint folder has no tokenizer.json)');
    return tok.applyChatTemplate(opts.messages, { addGenerationPrompt: true });
  }
  if (typeof prompt === 'string') {
    if (!tok) throw new ArgumentError('generate: a string prompt needs a tokenizer (the checkpoint folder has no tokenizer.json); pass token ids');
    const ids = tok.encode(prompt, { addSpecialTokens: true });
    return ids;
  }
  if (!Array.isArray(prompt)) throw new ArgumentError('generate: the prompt must be a string or an array of token ids');
  for (const id of prompt) if (!Number.isInteger(id) || id < 0 || id >= model.config.vocabSize) throw new ArgumentError(`generate: token id ${id} is outside [0, ${model.config.vocabSize})`);
  return prompt.slice();
}

/**
 * Streams generated tokens from `model` (model.generate(prompt, opts) calls it with the model's tokenizer as the
 * default): validates the options and returns the lazy Generation (nothing runs until it is iterated).
 */
export function generate(model: Transformer, prompt: string | number[], opts: GenerateOptions = {}, defaultTokenizer: TextTokenizer | null = null): Generation {
  const tok = opts.tokenizer !== undefined ? opts.tokenizer : defaultTokenizer;
  const maxNew = opts.maxNewTokens ?? 64;
  if (!Number.isInteger(maxNew) || maxNew < 0) throw new ArgumentError(`generate: maxNewTokens must be a non-negative integer, got ${maxNew}`);
  const temperature = opts.temperature ?? 0;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature)) throw new ArgumentError(`generate: temperature must be finite, got ${temperature}`);
  if (opts.stop !== undefined && !Array.isArray(opts.stop)) throw new ArgumentError(`generate: stop must be an array of token ids and strings, got ${JSON.stringify(opts.stop)}`);
  for (const s of opts.stop ?? []) {
    const ok = typeof s === 'string' ? s.length > 0 : Number.isInteger(s) && s >= 0 && s < model.config.vocabSize;
    if (!ok) throw new ArgumentError(`generate: each stop entry must be a token id in [0, ${model.config.vocabSize}) or a non-empty string, got ${JSON.stringify(s)}`);
  }
  if (opts.ignoreEos !== undefined && typeof opts.ignoreEos !== 'boolean') throw new ArgumentError(`generate: ignoreEos must be a boolean, got ${JSON.stringify(opts.ignoreEos)}`);
  if (opts.stop?.some((s) => typeof s === 'string') && !tok) throw new ArgumentError('generate: stop strings need a tokenizer');
  const seed = opts.seed;
  if (seed !== undefined && typeof seed !== 'bigint' && !(typeof seed === 'number' && Number.isSafeInteger(seed))) {
    throw new ArgumentError(`generate: seed must be a safe integer or a bigint, got ${typeof seed === 'number' ? seed : JSON.stringify(seed)}`);
  }
  if (opts.topP !== undefined && !(typeof opts.topP === 'number' && opts.topP > 0 && opts.topP <= 1)) throw new ArgumentError(`generate: topP must be in (0, 1], got ${opts.topP}`);
  if (opts.topK !== undefined && !(Number.isInteger(opts.topK) && opts.topK >= 0)) throw new ArgumentError(`generate: topK must be a non-negative integer, got ${opts.topK}`);
  if (opts.signal !== undefined && (typeof opts.signal !== 'object' || opts.signal === null || !('aborted' in opts.signal))) throw new ArgumentError('generate: signal must be an AbortSignal');
  if (opts.speculative != null) {
    if (opts.speculative !== 'mtp') throw new ArgumentError(`generate: speculative must be 'mtp' or null, got ${JSON.stringify(opts.speculative)}`);
    if (temperature > 0) throw new UnsupportedError('generate: speculative \'mtp\' supports greedy decoding only (temperature <= 0)');
    if (!model.mtp) throw new UnsupportedError(`generate: speculative 'mtp' needs the MTP module, which this model lacks: ${model.mtpMissing ?? 'not loaded'}`);
  }
  const ids = promptIdsOf(model, prompt, opts, tok);
  if (ids.length < 1) throw new ArgumentError('generate: the prompt must hold at least one token');
  if (ids.length >= model.config.maxPositionEmbeddings) throw new ArgumentError(`generate: the prompt (${ids.length} tokens) leaves no room under max_position_embeddings ${model.config.maxPositionEmbeddings}`);
  return new Generation(model, ids, opts, tok);
}
