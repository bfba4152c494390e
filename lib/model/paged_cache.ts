// The paged MLA latent cache (issue 5), FlashMLA's layout: per layer [numPages, 64, kv_lora_rank +
// qk_rope_head_dim] rows of kv_norm(c_kv) | rope(k_pe) (DeepSeek-V3 model.py absorb path, v3-reference.md
// §3), pages handed out from a free list to sequences as they grow, a block table per sequence. prepare()
// reserves the next tokens of a batch and builds the per-step tensors every layer's mlaForward reads.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { Tensor } from '../tensor';
import { MLA_PAGE_SIZE } from '../ops/mla';
import { Act } from './linear';

type Device = 'cpu' | 'cuda';

/** Cache length of model.createCache() without a length: max_position_embeddings, at most 4096 (V3's 163840 would take 11.5 GB). */
export const DEFAULT_CACHE_LENGTH = 4096;
/** The length model.createCache() and mtp.createCache() use when none is given. */
export function defaultCacheLength(cfg: ModelConfig): number { return Math.min(cfg.maxPositionEmbeddings, DEFAULT_CACHE_LENGTH); }

/** One forward step of a batch: b sequences with sq new tokens each (rows of x are sequence-major). */
export interface MlaStep {
  b: number;
  sq: number;
  /** [b*sq] i32: each new token's position in its sequence. */
  positions: Tensor<'i32'>;
  /** [b*sq] i32: each new token's cache row (page * 64 + offset). */
  slots: Tensor<'i32'>;
  /** [b, maxPages] i32 and [b] i32 (lengths after this step). */
  blockTable: Tensor<'i32'>;
  seqLens: Tensor<'i32'>;
  dispose(): void;
}

export class PagedLatentCache {
  static readonly PAGE_SIZE = MLA_PAGE_SIZE;
  /** Per layer [numPages, 64, kvLoraRank + qkRopeHeadDim]. */
  readonly pages: Tensor<Act>[] = [];
  readonly rowWidth: number;
  private readonly free: number[] = [];
  private readonly seqs = new Map<number, { pages: number[]; length: number }>();
  private nextId = 0;

  /** layers: layer slots (default num_hidden_layers). The pages start zeroed. */
  constructor(readonly cfg: ModelConfig, readonly numPages: number, readonly dtype: Act = 'bf16', readonly device: Device = 'cpu',
    readonly layers = cfg.numLayers) {
    if (!Number.isInteger(numPages) || numPages < 1) throw new ArgumentError(`PagedLatentCache: numPages must be a positive integer, got ${numPages}`);
    this.rowWidth = cfg.kvLoraRank + cfg.qkRopeHeadDim;
    for (let l = 0; l < layers; l++) this.pages.push(Tensor.zeros([numPages, MLA_PAGE_SIZE, this.rowWidth], { dtype, device }));
    for (let p = numPages - 1; p >= 0; p--) this.free.push(p);
  }

  /** Bytes per token per layer of this cache: (kv_lora_rank + qk_rope_head_dim) * element size (V3 bf16: 1152). */
  cacheBytesPerTokenPerLayer(): number { return this.rowWidth * this.elemBytes; }
  /** Bytes per token per layer of a per-head K/V cache at the same element size: h * (nope + rope + v) (V3 bf16: 81920). */
  mhaBytesPerTokenPerLayer(): number {
    const c = this.cfg;
    return c.numHeads * (c.qkNopeHeadDim + c.qkRopeHeadDim + c.vHeadDim) * this.elemBytes;
  }
  /** Both figures over all layer slots. */
  cacheBytesPerToken(): { latent: number; mha: number } {
    return { latent: this.layers * this.cacheBytesPerTokenPerLayer(), mha: this.layers * this.mhaBytesPerTokenPerLayer() };
  }
  private get elemBytes(): number { return this.dtype === 'f32' ? 4 : 2; }

  get freePages(): number { return this.free.length; }

  /** A new empty sequence; returns its id. */
  addSequence(): number {
    const id = this.nextId++;
    this.seqs.set(id, { pages: [], length: 0 });
    return id;
  }
  /** Frees a sequence's pages. */
  removeSequence(id: number): void {
    const s = this.seq(id);
    for (let i = s.pages.length - 1; i >= 0; i--) this.free.push(s.pages[i]);
    this.seqs.delete(id);
  }
  length(id: number): number { return this.seq(id).length; }
  /** Drops the last n tokens of a sequence (speculative rollback); whole pages past the end go back to the free list. */
  truncate(id: number, n: number): void {
    const s = this.seq(id);
    if (!Number.isInteger(n) || n < 0 || n > s.length) throw new ArgumentError(`PagedLatentCache.truncate: n must be an integer in [0, ${s.length}], got ${n}`);
    s.length -= n;
    while (s.pages.length > Math.ceil(s.length / MLA_PAGE_SIZE)) this.free.push(s.pages.pop()!);
  }

  /**
   * Reserves sq more tokens at the end of each sequence of `ids` (pages taken as needed, all or nothing)
   * and returns the step's tensors on the cache's device. The caller runs every layer, then disposes the step.
   */
  prepare(ids: readonly number[], sq: number): MlaStep {
    const h = this.prepareHost(ids, sq);
    const dev = { device: this.device };
    const step: MlaStep = {
      b: ids.length, sq,
      positions: Tensor.fromArray(h.positions, [h.positions.length], dev), slots: Tensor.fromArray(h.slots, [h.slots.length], dev),
      blockTable: Tensor.fromArray(h.blockTable, [ids.length, h.width], dev), seqLens: Tensor.fromArray(h.seqLens, [ids.length], dev),
      dispose: () => [step.positions, step.slots, step.blockTable, step.seqLens].forEach((t) => t.dispose()),
    };
    return step;
  }

  /**
   * prepare()'s host side: reserves the tokens and returns the step's arrays. `width` fixes the block
   * table's width (a captured decode step needs the same shapes every time; default: the longest table).
   * `reserve: false` only describes the next step (no pages taken, lengths unchanged, slots -1: nothing
   * is written to the cache), for a warm-up or a capture.
   */
  prepareHost(ids: readonly number[], sq: number, width?: number, reserve = true):
    { positions: Int32Array; slots: Int32Array; blockTable: Int32Array; seqLens: Int32Array; width: number } {
    if (!Number.isInteger(sq) || sq < 1) throw new ArgumentError(`PagedLatentCache.prepare: sq must be a positive integer, got ${sq}`);
    if (new Set(ids).size !== ids.length) throw new ArgumentError('PagedLatentCache.prepare: a sequence appears twice in ids');
    const seqs = ids.map((id) => this.seq(id));
    if (reserve) {
      const need = seqs.reduce((a, s) => a + Math.ceil((s.length + sq) / MLA_PAGE_SIZE) - s.pages.length, 0);
      if (need > this.free.length) throw new ArgumentError(`PagedLatentCache.prepare: ${need} more pages are needed, ${this.free.length} are free`);
      const tooWide = width !== undefined && seqs.some((s) => Math.ceil((s.length + sq) / MLA_PAGE_SIZE) > width);
      if (tooWide) throw new ArgumentError(`PagedLatentCache.prepare: a sequence would need more than ${width} pages (${width * MLA_PAGE_SIZE} tokens)`);
    }
    const b = ids.length, positions = new Int32Array(b * sq), slots = new Int32Array(b * sq).fill(-1), lens = new Int32Array(b);
    for (let bi = 0; bi < b; bi++) {
      const s = seqs[bi];
      if (reserve) while (s.pages.length < Math.ceil((s.length + sq) / MLA_PAGE_SIZE)) s.pages.push(this.free.pop()!);
      for (let i = 0; i < sq; i++) {
        const pos = s.length + i;
        positions[bi * sq + i] = pos;
        if (reserve) slots[bi * sq + i] = s.pages[Math.floor(pos / MLA_PAGE_SIZE)] * MLA_PAGE_SIZE + (pos % MLA_PAGE_SIZE);
      }
      if (reserve) s.length += sq;
      lens[bi] = s.length;
    }
    const w = width ?? Math.max(1, ...seqs.map((s) => s.pages.length));
    const table = new Int32Array(b * w).fill(-1);
    seqs.forEach((s, bi) => table.set(s.pages.slice(0, w), bi * w));
    return { positions, slots, blockTable: table, seqLens: lens, width: w };
  }

  /**
   * A ragged step (continuous batching): parts[i] appends n_i tokens to sequence id_i, sequences of any mix of
   * lengths (decodes with n = 1, prompt chunks with more). Every new token becomes its own attention row with
   * sq = 1: row j of a part sees its sequence's keys up to its own position (seqLens = position + 1), which is the
   * causal mask, since a step writes all its slots (mlaDownEpilogue) before any row attends. Rows are part-major.
   */
  prepareRagged(parts: readonly { id: number; n: number }[]): MlaStep {
    if (parts.length < 1) throw new ArgumentError('PagedLatentCache.prepareRagged: at least one part is needed');
    if (new Set(parts.map((p) => p.id)).size !== parts.length) throw new ArgumentError('PagedLatentCache.prepareRagged: a sequence appears twice');
    const seqs = parts.map((p) => {
      if (!Number.isInteger(p.n) || p.n < 1) throw new ArgumentError(`PagedLatentCache.prepareRagged: n must be a positive integer, got ${p.n}`);
      return this.seq(p.id);
    });
    const need = seqs.reduce((a, s, i) => a + Math.ceil((s.length + parts[i].n) / MLA_PAGE_SIZE) - s.pages.length, 0);
    if (need > this.free.length) throw new ArgumentError(`PagedLatentCache.prepareRagged: ${need} more pages are needed, ${this.free.length} are free`);
    const rows = parts.reduce((a, p) => a + p.n, 0);
    const w = Math.max(1, ...seqs.map((s, i) => Math.ceil((s.length + parts[i].n) / MLA_PAGE_SIZE)));
    const positions = new Int32Array(rows), slots = new Int32Array(rows), lens = new Int32Array(rows), table = new Int32Array(rows * w).fill(-1);
    let r = 0;
    seqs.forEach((s, i) => {
      const n = parts[i].n;
      while (s.pages.length < Math.ceil((s.length + n) / MLA_PAGE_SIZE)) s.pages.push(this.free.pop()!);
      for (let j = 0; j < n; j++, r++) {
        const pos = s.length + j;
        positions[r] = pos;
        slots[r] = s.pages[Math.floor(pos / MLA_PAGE_SIZE)] * MLA_PAGE_SIZE + (pos % MLA_PAGE_SIZE);
        lens[r] = pos + 1;
        table.set(s.pages, r * w);
      }
      s.length += n;
    });
    const dev = { device: this.device };
    const step: MlaStep = {
      b: rows, sq: 1,
      positions: Tensor.fromArray(positions, [rows], dev), slots: Tensor.fromArray(slots, [rows], dev),
      blockTable: Tensor.fromArray(table, [rows, w], dev), seqLens: Tensor.fromArray(lens, [rows], dev),
      dispose: () => [step.positions, step.slots, step.blockTable, step.seqLens].forEach((t) => t.dispose()),
    };
    return step;
  }

  dispose(): void { for (const t of this.pages) t.dispose(); }

  private seq(id: number): { pages: number[]; length: number } {
    const s = this.seqs.get(id);
    if (!s) throw new ArgumentError(`PagedLatentCache: no sequence ${id}`);
    return s;
  }
}

/**
 * One sequence in a paged latent cache, with the length/truncate/reset semantics of a per-sequence cache
 * (Model.createCache, Mtp.createCache; generate() and MTP speculative decoding rely on them). It owns its
 * PagedLatentCache (pages for maxLen tokens) unless it was made with SequenceCache.in().
 */
export class SequenceCache {
  private constructor(readonly paged: PagedLatentCache, readonly seq: number, readonly maxLen: number, private readonly owned: boolean) {}

  /** A cache of its own for up to maxLen tokens: ceil(maxLen / 64) pages per layer slot. */
  static create(cfg: ModelConfig, maxLen: number, dtype: Act, device: Device = 'cpu', layers = cfg.numLayers): SequenceCache {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new ArgumentError(`createCache: maxLen must be a positive integer, got ${maxLen}`);
    if (maxLen > cfg.maxPositionEmbeddings) throw new ArgumentError(`createCache: maxLen ${maxLen} exceeds max_position_embeddings ${cfg.maxPositionEmbeddings}`);
    const paged = new PagedLatentCache(cfg, Math.ceil(maxLen / MLA_PAGE_SIZE), dtype, device, layers);
    return new SequenceCache(paged, paged.addSequence(), maxLen, true);
  }

  /** A new sequence inside a shared paged cache (limited by maxLen and by the free pages); dispose() removes it. */
  static in(paged: PagedLatentCache, maxLen = paged.numPages * MLA_PAGE_SIZE): SequenceCache {
    return new SequenceCache(paged, paged.addSequence(), maxLen, false);
  }

  /** Tokens held (the start position of the next forward). */
  get length(): number { return this.paged.length(this.seq); }
  get dtype(): Act { return this.paged.dtype; }
  get device(): Device { return this.paged.device; }
  /** Layer slots (num_hidden_layers for the model's cache, 1 for the MTP module's). */
  get layers(): number { return this.paged.layers; }
  /** Drops the last n tokens (speculative rollback). */
  truncate(n: number): void { this.paged.truncate(this.seq, n); }
  /** Forgets every token (the pages go back to the free list). */
  reset(): void { this.paged.truncate(this.seq, this.length); }
  /** Reserves the next t tokens of this sequence: the step tensors for every layer's attention (the caller disposes them). */
  prepare(t: number): MlaStep { return this.paged.prepare([this.seq], t); }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.owned) this.paged.dispose();
    else this.paged.removeSequence(this.seq);
  }
  private disposed = false;
}
