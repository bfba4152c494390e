// Continuous batching over the paged latent cache (vLLM / nano-vllm style): every step is ONE Model.forwardRagged
// over the running requests, each decoding one token, plus up to `prefillChunk` prompt tokens of requests still
// prefilling, so a long prompt is spread over steps and never stalls the others. Requests are admitted in arrival
// order while fewer than maxBatch run and the KV pages their prompt + max_tokens can need are free (so a running
// request never runs out of pages); a cancelled request's pages return to the free list at once (after the step
// in flight, when it is part of it).
import { OverloadedError, ArgumentError } from '../errors';
import { stepSeed } from '../generate';
import type { Model, RaggedItem } from '../model/model';
import { PagedLatentCache, SequenceCache } from '../model/paged_cache';
import type { TextTokenizer } from '../tokenizer';
import { OutputText } from './text';

export interface SamplingParams {
  maxTokens: number;
  /** <= 0: greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  /** Token s draws with stepSeed(seed, s), as Model.generate: equal seeds, equal output. Default: random. */
  seed?: number | bigint;
  stop?: string[];
}

export type FinishReason = 'stop' | 'length';

export interface RequestEvents {
  /** One generated token and the text it completes ('' while held back). */
  token(id: number, text: string): void;
  /** The last text (held-back remainder) and why it ended. */
  finish(reason: FinishReason, text: string): void;
  error(e: Error): void;
}

export interface SchedulerOptions {
  /** Most requests running (decoding or prefilling) at once (default 32). */
  maxBatch?: number;
  /** Most requests waiting for admission; past it submit() throws OverloadedError (default 256). */
  maxQueue?: number;
  /** KV cache size in tokens, all requests together (default 16384). */
  kvTokens?: number;
  /** Prompt tokens per step, all prefilling requests together (default 32). */
  prefillChunk?: number;
}

export interface SchedulerHooks {
  /** After each step: rows in it, requests decoding, prompt tokens prefilled. */
  step?(rows: number, decodes: number, prefill: number, ms: number): void;
  firstToken?(seconds: number): void;
  interToken?(seconds: number): void;
}

class Request {
  cache: SequenceCache | null = null;
  prefilled = 0;
  generated = 0;
  last = -1;  // the newest generated token, fed in the next step
  cancelled = false;
  done = false;
  readonly seed: number | bigint;
  readonly t0 = performance.now();
  tLast = 0;
  constructor(readonly prompt: number[], readonly params: SamplingParams, readonly pages: number, readonly out: OutputText, readonly ev: RequestEvents) {
    this.seed = params.seed ?? BigInt(Math.floor(Math.random() * 2 ** 53));
  }
}

export interface Handle { cancel(): void }

export class Scheduler {
  readonly paged: PagedLatentCache;
  readonly maxBatch: number;
  readonly maxQueue: number;
  readonly prefillChunk: number;
  private readonly waiting: Request[] = [];
  private readonly running: Request[] = [];
  private readonly inStep = new Set<Request>();
  private readonly eos: Set<number>;
  private reserved = 0;
  private loop: Promise<void> | null = null;
  private disposed = false;
  steps = 0;

  constructor(readonly model: Model, readonly tokenizer: TextTokenizer | null, opts: SchedulerOptions = {}, private readonly hooks: SchedulerHooks = {}) {
    this.maxBatch = opts.maxBatch ?? 32;
    this.maxQueue = opts.maxQueue ?? 256;
    this.prefillChunk = opts.prefillChunk ?? 32;
    for (const [k, v] of Object.entries({ maxBatch: this.maxBatch, maxQueue: this.maxQueue, prefillChunk: this.prefillChunk })) {
      if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`Scheduler: ${k} must be a positive integer, got ${v}`);
    }
    this.paged = model.createPagedCache(opts.kvTokens ?? 16384);
    this.eos = new Set(tokenizer?.eosTokenIds ?? []);
    if (model.config.eosTokenId !== null) this.eos.add(model.config.eosTokenId);
  }

  get queueDepth(): number { return this.waiting.length; }
  get runningCount(): number { return this.running.length; }
  get pagesFree(): number { return this.paged.freePages; }
  get pagesUsed(): number { return this.paged.numPages - this.paged.freePages; }
  /** Tokens one request may hold at most: the context, and the whole KV cache. */
  get maxTokensPerRequest(): number { return Math.min(this.model.config.maxPositionEmbeddings, this.paged.numPages * PagedLatentCache.PAGE_SIZE); }

  /** Queues a request (prompt ids, at least one); events arrive as it runs. Throws OverloadedError when the queue is full. */
  submit(prompt: number[], params: SamplingParams, ev: RequestEvents): Handle {
    const total = prompt.length + params.maxTokens;
    if (prompt.length < 1) throw new ArgumentError('submit: the prompt must hold at least one token');
    if (!Number.isInteger(params.maxTokens) || params.maxTokens < 1) throw new ArgumentError(`submit: maxTokens must be a positive integer, got ${params.maxTokens}`);
    if (total > this.maxTokensPerRequest) throw new ArgumentError(`submit: prompt (${prompt.length}) + max_tokens (${params.maxTokens}) exceed ${this.maxTokensPerRequest} tokens`);
    if (this.disposed) throw new ArgumentError('submit: the scheduler is disposed');
    if (this.waiting.length >= this.maxQueue) throw new OverloadedError(`the queue is full (${this.maxQueue} requests waiting)`);
    const r = new Request(prompt, params, Math.ceil(total / PagedLatentCache.PAGE_SIZE), new OutputText(this.tokenizer, params.stop ?? []), ev);
    this.waiting.push(r);
    this.kick();
    return { cancel: () => this.cancel(r) };
  }

  /** Resolves when nothing is running or waiting. */
  async idle(): Promise<void> { while (this.loop) await this.loop; }

  dispose(): void {
    this.disposed = true;
    for (const r of [...this.waiting, ...this.running]) this.cancel(r);
    this.paged.dispose();
  }

  private cancel(r: Request): void {
    if (r.done) return;
    r.cancelled = true;
    if (!this.inStep.has(r)) this.release(r);
  }

  private release(r: Request): void {
    if (r.done) return;
    r.done = true;
    const w = this.waiting.indexOf(r);
    if (w >= 0) this.waiting.splice(w, 1);
    const i = this.running.indexOf(r);
    if (i >= 0) { this.running.splice(i, 1); this.reserved -= r.pages; }
    r.cache?.dispose();
    r.cache = null;
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = this.run().finally(() => { this.loop = null; if (this.waiting.length && !this.disposed) this.kick(); });
  }

  private admit(): void {
    while (this.waiting.length && this.running.length < this.maxBatch && this.reserved + this.waiting[0].pages <= this.paged.numPages) {
      const r = this.waiting.shift()!;
      r.cache = this.model.createCache(r.prompt.length + r.params.maxTokens, this.paged);
      this.reserved += r.pages;
      this.running.push(r);
    }
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.disposed) return;
      this.admit();
      if (this.running.length === 0) return;
      await this.step();
      await new Promise((res) => setImmediate(res));  // let HTTP I/O (new requests, disconnects) in between steps
    }
  }

  private pickOf(r: Request): RaggedItem['pick'] {
    const p = r.params;
    return p.temperature <= 0 ? {} : { temperature: p.temperature, topP: p.topP, topK: p.topK, seed: stepSeed(r.seed, r.generated) };
  }

  private async step(): Promise<void> {
    const items: RaggedItem[] = [], reqs: Request[] = [];
    let budget = this.prefillChunk, decodes = 0;
    for (const r of this.running) {
      if (r.prefilled === r.prompt.length) {
        items.push({ cache: r.cache!, ids: [r.last], pick: this.pickOf(r) });
        decodes++;
      } else if (budget > 0) {
        const n = Math.min(budget, r.prompt.length - r.prefilled);
        budget -= n;
        const end = r.prefilled + n === r.prompt.length;
        items.push({ cache: r.cache!, ids: r.prompt.slice(r.prefilled, r.prefilled + n), pick: end ? this.pickOf(r) : null });
        r.prefilled += n;
      } else continue;
      reqs.push(r);
    }
    for (const r of reqs) this.inStep.add(r);
    const t0 = performance.now();
    let picks: Int32Array;
    try {
      picks = await this.model.forwardRagged(items);
    } catch (e) {
      for (const r of reqs) { this.inStep.delete(r); if (!r.cancelled) r.ev.error(e as Error); this.release(r); }
      return;
    }
    this.steps++;
    const rows = items.reduce((a, it) => a + it.ids.length, 0);
    this.hooks.step?.(rows, decodes, this.prefillChunk - budget, performance.now() - t0);
    reqs.forEach((r, i) => {
      this.inStep.delete(r);
      if (r.cancelled) { this.release(r); return; }
      if (picks[i] >= 0) this.deliver(r, picks[i]);
    });
  }

  private deliver(r: Request, id: number): void {
    const now = performance.now();
    if (r.generated === 0) this.hooks.firstToken?.((now - r.t0) / 1e3);
    else this.hooks.interToken?.((now - r.tLast) / 1e3);
    r.tLast = now;
    if (this.eos.has(id)) return this.end(r, 'stop');
    r.generated++;
    r.last = id;
    const { text, stopped } = r.out.push(id);
    try {
      r.ev.token(id, text);
    } catch (e) {
      r.ev.error(e as Error); this.release(r); return;
    }
    if (stopped) return this.end(r, 'stop', false);
    if (r.generated >= r.params.maxTokens) return this.end(r, 'length');
  }

  private end(r: Request, reason: FinishReason, flush = true): void {
    const rest = flush ? r.out.flush() : '';
    this.release(r);
    r.ev.finish(reason, rest);
  }
}
