// Greedy decode of a fixed batch of sequences as one step graph (lib/graph.ts; issue 7 on CUDA, issue 17 on
// the CPU): the whole step (embedding, every layer, final norm, lm_head, argmax) is captured once and replayed
// per token, so a step costs one graph launch instead of hundreds of op launches (on the CPU: no JS and no
// queueing between ops). The step's inputs live in fixed device tensors
// (token ids, positions, cache slots, block tables of a fixed width, lengths), refreshed from the host
// before each replay; only the chosen ids come back. On the CPU a step can be queued before the previous
// one's ids are read (queue): the captured step leaves its picks in its ids input, which feeds the next step.
// Greedy only: a sampled step would bake its seed into the graph. The captured step adds its MoE expert counts into the layers' load sinks (stats.ts), so every
// replay counts; the warm-up step does not count.
import { ArgumentError, UnsupportedError } from '../errors';
import { Graph } from '../graph';
import { MLA_PAGE_SIZE } from '../ops/mla';
import { checkPicks } from './picks';
import { synchronize, Tensor } from '../tensor';
import type { Transformer } from './transformer';
import { MlaStep, PagedLatentCache, SequenceCache } from './paged_cache';
import { stepSink } from './stats';

export class DecodeGraph {
  private disposed = false;
  private constructor(private readonly model: Transformer, readonly caches: readonly SequenceCache[], private readonly paged: PagedLatentCache,
    private readonly width: number, private readonly inputs: Tensor<'i32'>, private readonly step: MlaStep,
    private readonly graph: Graph, private readonly next: Tensor<'i32'>, private readonly counts: boolean,
    private readonly rest: Tensor<'i32'> | null) {}

  /**
   * Captures the decode step of `caches` (sequences of one paged cache on the model's device, each up to its
   * maxLen). Runs the step once eagerly first (kernel set-up, errors; it writes nothing to the cache), then records it.
   */
  static async capture(model: Transformer, caches: readonly SequenceCache[]): Promise<DecodeGraph> {
    if (caches.length < 1) throw new ArgumentError('decodeGraph: at least one sequence cache is needed');
    const paged = caches[0].paged;
    if (caches.some((c) => c.paged !== paged)) throw new ArgumentError('decodeGraph: the caches must share one paged cache (model.createCache(maxLen, paged))');
    if (paged.device !== model.device || paged.dtype !== model.activations) throw new ArgumentError('decodeGraph: the paged cache must be the model\'s (model.createPagedCache)');
    const b = caches.length;
    const width = Math.max(...caches.map((c) => Math.ceil(c.maxLen / MLA_PAGE_SIZE)));
    // Every input of the step in one device buffer, [ids | positions | slots | seqLens | blockTable], so a
    // step refreshes them with one host-to-device copy; the step's tensors are views of it.
    const h = paged.prepareHost(caches.map((c) => c.seq), 1, width, false);  // describes the next step, reserves nothing
    const inputs = Tensor.fromArray(pack(new Int32Array(b), h), [4 * b + b * width], { device: model.device });
    const ids = inputs.view(0, b);
    const step: MlaStep = {
      b, sq: 1, positions: inputs.view(b, b), slots: inputs.view(2 * b, b), seqLens: inputs.view(3 * b, b),
      blockTable: inputs.view(4 * b, b * width).reshape([b, width]),
      dispose: () => [ids, step.positions, step.slots, step.blockTable, step.seqLens, inputs].forEach((t) => t.dispose()),
    };
    try {
      if (model.device !== 'cpu') {  // warm-up: one-time kernel set-up outside the capture (not a real token: no statistics)
        const w = model.step(ids, paged, step, { pick: {} });
        w.logits!.dispose(); w.tokens!.dispose();
        await synchronize(model.device);
      }
      const sink = stepSink(false);
      let next: Tensor<'i32'> | null = null;
      const graph = await Graph.capture(() => {
        const o = model.step(ids, paged, step, { pick: {}, sink });
        o.logits!.dispose();
        next = o.tokens;
        if (model.device === 'cpu') ids.copyFrom(o.tokens!);  // the next step's ids, unless the host sends others (queue)
      }, model.device);
      const rest = model.device === 'cpu' ? inputs.view(b, inputs.numel - b) : null;  // [positions | slots | seqLens | blockTable]
      return new DecodeGraph(model, caches, paged, width, inputs, step, graph, next!, sink.load, rest);
    } catch (e) {
      step.dispose();
      throw e;
    }
  }

  /** One token per sequence (caches' order) -> the argmax next token of each; every cache advances by one. */
  async decode(tokens: ArrayLike<number>): Promise<Int32Array> {
    return (await this.launch('DecodeGraph.decode', tokens)).picks;
  }

  /**
   * CPU only: queues `steps` steps (default 1) and returns once they are queued, before their tokens are read, so
   * that more steps can be queued while these run (the host's work between steps then overlaps the computation).
   * `tokens`: one input id per sequence for the first step; omitted, it is fed the previous step's picks where
   * they are, on the device (as every later step is). `picks` resolves to the steps' argmax tokens, step-major
   * [steps * sequences], read once after the last (in stream order: a step queued later does not change them).
   * Every cache advances by `steps` at once; steps that fail give their tokens back when `picks` rejects.
   * Several steps per call cost the host one read and one wake-up for all of them (multi-step scheduling).
   */
  async queue(tokens?: ArrayLike<number>, steps = 1): Promise<{ picks: Promise<Int32Array> }> {
    if (this.model.device !== 'cpu') throw new UnsupportedError(`DecodeGraph.queue: steps are queued ahead on the CPU only (this graph is on ${this.model.device}); use decode`);
    return this.launch('DecodeGraph.queue', tokens, steps);
  }

  private async launch(what: string, tokens: ArrayLike<number> | undefined, steps = 1): Promise<{ picks: Promise<Int32Array> }> {
    if (this.disposed) throw new ArgumentError(`${what}: the graph has been disposed`);
    if (!Number.isInteger(steps) || steps < 1 || steps > DecodeGraph.MAX_STEPS) throw new ArgumentError(`${what}: steps must be an integer in [1, ${DecodeGraph.MAX_STEPS}], got ${steps}`);
    const b = this.caches.length;
    if (tokens !== undefined) {
      if (tokens.length !== b) throw new ArgumentError(`${what}: ${b} tokens are needed (one per sequence), got ${tokens.length}`);
      const V = this.model.config.vocabSize;
      for (let i = 0; i < b; i++) {
        const id = tokens[i];
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new ArgumentError(`${what}: token id ${id} is outside [0, ${V})`);
      }
    }
    for (const c of this.caches) if (c.length + steps > c.maxLen) throw new ArgumentError(`${what}: a sequence is full (${c.maxLen} tokens)`);
    if (this.counts) await this.model.loadStats.reserve(b * steps);
    let reserved = 0;
    const giveBack = (e: unknown): never => {
      for (const c of this.caches) c.truncate(reserved);
      throw e;
    };
    try {
      const seqs = this.caches.map((c) => c.seq);
      for (let s = 0; s < steps; s++) {
        const h = this.paged.prepareHost(seqs, 1, this.width);  // reserves the step's token
        reserved++;
        const all = pack(s > 0 || tokens === undefined ? new Int32Array(b) : Int32Array.from(tokens), h);
        // Without tokens, the ids the last step left stay: only the rest is written.
        if (s > 0 || tokens === undefined) this.rest!.write(all.subarray(b));
        else this.inputs.write(all);
        this.graph.replay();
        if (steps > 1) this.picksOf(steps, s).copyFrom(this.next);  // the next replay overwrites next
      }
      const out = steps > 1 ? this.picksOf(steps, -1) : this.next;
      const picks = out.toArray().then((next) => { checkPicks(next, what); return next; }).catch(giveBack);
      return { picks };
    } catch (e) {
      return giveBack(e);
    }
  }

  /** The most steps one queue() call takes. */
  static readonly MAX_STEPS = 64;

  /** Where the picks of a multi-step queue() go: [MAX_STEPS * b] i32, with views for step s's rows (s = -1: the first `steps` rows). */
  private picksOf(steps: number, s: number): Tensor<'i32'> {
    const b = this.caches.length;
    if (!this.stepPicks) this.stepPicks = { all: Tensor.empty([DecodeGraph.MAX_STEPS * b], { dtype: 'i32' }), views: new Map() };
    const key = s < 0 ? -steps : s;  // step s's rows, or (negative) the first `steps` steps' rows
    let v = this.stepPicks.views.get(key);
    if (!v) this.stepPicks.views.set(key, v = s < 0 ? this.stepPicks.all.view(0, steps * b) : this.stepPicks.all.view(s * b, b));
    return v;
  }
  private stepPicks: { all: Tensor<'i32'>; views: Map<number, Tensor<'i32'>> } | null = null;

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graph.dispose();  // CUDA: waits for the replays and frees the graph's memory (this.next included)
    if (this.model.device === 'cpu') { this.next.dispose(); this.rest?.dispose(); }  // CPU: the tensors a replay's tasks write
    if (this.stepPicks) { for (const v of this.stepPicks.views.values()) v.dispose(); this.stepPicks.all.dispose(); }
    this.step.dispose();
  }
  [Symbol.dispose](): void { this.dispose(); }
}

/** The step's inputs in the layout of DecodeGraph's input buffer: [ids | positions | slots | seqLens | blockTable]. */
function pack(ids: Int32Array, h: { positions: Int32Array; slots: Int32Array; seqLens: Int32Array; blockTable: Int32Array }): Int32Array {
  const b = ids.length, out = new Int32Array(4 * b + h.blockTable.length);
  out.set(ids, 0); out.set(h.positions, b); out.set(h.slots, 2 * b); out.set(h.seqLens, 3 * b); out.set(h.blockTable, 4 * b);
  return out;
}
