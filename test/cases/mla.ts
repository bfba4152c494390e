// Cases of the MLA ops (DeepSeek-V3 attention over the latent cache, model.py attn_impl="absorb"):
// mlaPagedAttention (decode and chunked prefill over the paged latent cache), the fused projections
// mlaDownEpilogue / mlaAbsorbQ / mlaOutput, and the per-sequence mlaDecodeAttention (a test reference,
// test/reference/mla_sequence.ts). One table for the CPU tests (test/ops/mla_paged.test.ts, mla_proj.test.ts,
// mla_decode_attention.test.ts: against the float64 references of test/reference/), the CUDA suite
// (test/gpu/mla.gpu.test.ts: against the CPU backend) and the benchmark (bench/mla.bench.mjs: V3 shapes,
// one case checked before timing). The paged inputs (pagedInputs) are built here as plain arrays.
import type { Rng } from '../reference/rng';
import { PAGE } from '../reference/mla_paged';
import { V3_YARN } from './rope';
import { TOL } from './tolerance';

export type A = 'f32' | 'bf16';
export type F = 'f32' | 'bf16' | 'f16';

/** DeepSeek-V3: hidden 7168, q_lora_rank 1536, kv_lora_rank r 512, rope dim p 64, qk_nope = v_head_dim 128, 128 heads. */
export const V3_MLA = { hidden: 7168, qLora: 1536, r: 512, p: 64, nope: 128, v: 128, heads: 128, scale: 0.1352337789, eps: 1e-6 };
/** V3's YaRN (factor 40 over 4096 positions) at rope dim p. */
export const yarnOf = (p: number) => ({ ...V3_YARN, ropeDim: p });

// ---- mlaPagedAttention ----
export interface PagedSpec { h: number; r: number; p: number; sq: number; lens: number[]; causal?: boolean; extraPages?: number }

/** Batches of sequences of different lengths (empty, partial pages, page-aligned), odd head counts, s_q 1..70. */
export const PAGED_CPU: [string, PagedSpec][] = [
  ['decode batch: empty, 1, a full page, a partial page, 200', { h: 5, r: 512, p: 64, sq: 1, lens: [0, 1, 64, 65, 200] }],
  ['decode, 1 head, r=32, p=16, long', { h: 1, r: 32, p: 16, sq: 1, lens: [1000, 3] }],
  ['s_q=2, 3 heads', { h: 3, r: 128, p: 64, sq: 2, lens: [7, 130, 64] }],
  ['s_q=4, sequences shorter than s_q (queries without keys)', { h: 3, r: 64, p: 16, sq: 4, lens: [2, 100, 4] }],
  ['non-causal s_q=3', { h: 5, r: 128, p: 16, sq: 3, lens: [3, 77, 128], causal: false }],
  ['prefill-like s_q=70 over 70 and 135 keys', { h: 3, r: 32, p: 16, sq: 70, lens: [70, 135] }],
  ['r=40, p=8: not multiples of 16 (the AVX2 tile on an AVX-512 CPU)', { h: 5, r: 40, p: 8, sq: 3, lens: [3, 70] }],
];
/** [q dtype, cache dtype], CPU and CUDA. */
export const PAGED_DTYPES: [A, A][] = [['f32', 'f32'], ['bf16', 'bf16'], ['f32', 'bf16']];
/** CPU: a V3-sized decode (16 heads), bf16 q (std 0.05) and cache. */
export const PAGED_CPU_V3: PagedSpec = { h: 16, r: V3_MLA.r, p: V3_MLA.p, sq: 1, lens: [4096, 1000] };
/** CPU: the same keys stored contiguously give mlaDecodeAttention's output bit for bit (its scalar tile against the
 * paged op's vector tiles: AVX-512 for r and p multiples of 16, else AVX2). */
export const PAGED_VS_SEQUENCE: [string, PagedSpec][] = [
  ['r=128, p=64', { h: 3, r: 128, p: 64, sq: 2, lens: [150] }],
  ['r=40, p=8', { h: 5, r: 40, p: 8, sq: 2, lens: [150] }],
];

/** CUDA: the CPU cases of decode size (s_q <= 4) that the kernels support (r a multiple of 32), V3's 128 heads
 * (shorter sequences on the emulator, still several pages and CTA tiles) and rows across CTA groups. */
export const PAGED_GPU = (emu: boolean): [string, PagedSpec][] => [
  ...PAGED_CPU.filter(([, s]) => s.sq <= 4 && s.r % 32 === 0),
  ['128 heads (V3), batch of 3', { h: 128, r: 512, p: 64, sq: 1, lens: emu ? [1, 65, 130] : [1, 300, 2049] }],
  ['17 heads x s_q 2 (rows across CTA groups)', { h: 17, r: 512, p: 64, sq: 2, lens: [65, 500] }],
];
/** CUDA split-KV: automatic (undefined), 1 and 7 splits. */
export const PAGED_GPU_SPLITS: [string, number | undefined][] = [['automatic splits', undefined], ['1 split', 1], ['7 splits', 7]];
/** The tensor-core kernel (impl 1) takes a bf16 cache, r a multiple of 64 and r + p a multiple of 16. */
export const tensorCoreFits = (s: PagedSpec) => s.r % 64 === 0 && (s.r + s.p) % 16 === 0;
/** q dtypes of the tensor-core runs (cache bf16). */
export const PAGED_TC_Q: A[] = ['bf16', 'f32'];

/** Where a cache must not be read: see attnPoisoned in test/gpu/mla.gpu.test.ts. */
export interface Poison {
  /** The newest `newestKeys` keys of each sequence get NaN and +-inf: only the last query tokens of a causal step see them. */
  newestKeys: number;
  /** Block-table entries made bad: -1, or one past the last page of the cache. */
  badPages?: { seq: number; page: number; id: 'negative' | 'past the end' }[];
}
export const POISON_GPU: [string, PagedSpec, Poison][] = [
  ['NaN/inf in the newest keys, s_q=4, 3 heads (rows of 4 tokens in one CTA)', { h: 3, r: 64, p: 16, sq: 4, lens: [5, 70, 131, 64] }, { newestKeys: 2 }],
  ['NaN/inf in the newest key, s_q=2, 16 heads (32-row tensor-core CTAs)', { h: 16, r: 64, p: 16, sq: 2, lens: [66, 3] }, { newestKeys: 1 }],
  ['block-table entries -1 and past the end, s_q=4, 3 heads', { h: 3, r: 64, p: 16, sq: 4, lens: [66, 200, 10, 9] },
    { newestKeys: 0, badPages: [{ seq: 0, page: 1, id: 'negative' }, { seq: 1, page: 0, id: 'past the end' }, { seq: 2, page: 0, id: 'negative' }] }],
];
/** [cache dtype, impl] of the poisoned runs (q f32), each with 1 and 3 splits. */
export const POISON_GPU_RUNS: [A, number][] = [['f32', 0], ['bf16', 0], ['bf16', 1]];
export const POISON_GPU_SPLITS: [string, number][] = [['1 split', 1], ['3 splits', 3]];

/** CUDA long contexts, bf16, q std 0.05: 32K + 5000 and 128K tokens, automatic and 64 splits, impl 1 at V3's
 * 128 heads. On the emulator (about 1e8 thread-instructions/s) the same calls over 8K-16K tokens. */
export const LONG_GPU = (emu: boolean): { spec: PagedSpec; splits?: number; impl: number }[] => {
  const [k32, k128, k70] = emu ? [8192, 16384, 4000] : [32768, 131072, 70000];
  const decode = (h: number, lens: number[]): PagedSpec => ({ h, r: 512, p: 64, sq: 1, lens });
  return [
    { spec: decode(16, [k32, 5000]), impl: 0 },
    { spec: decode(16, [k128]), impl: 0 },
    { spec: decode(16, [k128]), splits: 64, impl: 0 },
    { spec: decode(emu ? 32 : 128, [k128, k70]), impl: 1 },
  ];
};
export const LONG_GPU_TIMEOUT_MS = (emu: boolean) => (emu ? 1800000 : 600000);

/** Issue 18, CUDA: seqLens past what the block-table row covers (maxPages 3 = 192 tokens) for sequence 0. */
export const BEYOND_GPU = {
  spec: { h: 16, r: 64, p: 16, sq: 1, lens: [128, 100] } as PagedSpec,
  /** [impl, splits] */
  runs: [[0, 1], [0, 3], [1, 1], [1, 3]] as [number, number][],
  /** 129: one token past the covered 192. */
  lens: [['one token past', 129], ['64000000', 64000000]] as [string, number][],
};

/** CPU against the float64 reference: out and lse. */
export const TOL_PAGED = TOL.f32;
/** CUDA impl 0 (f32 math) against the CPU backend. */
export const TOL_PAGED_VS_CPU = { out: 2e-5, lse: 2e-5 };
/** CUDA impl 1 against the CPU backend, by q dtype: it rounds P (and an f32 q) to bf16 for the tensor cores, as
 * FlashMLA does: out to one bf16 rounding; the scores of an f32 q carry bf16 rounding (lse seen at 5.4e-4 on the
 * emulator, checked at 2e-3); a bf16 q is exact. */
export const TOL_PAGED_TC_VS_CPU: Record<A, { out: number; lse: number }> = { bf16: { out: TOL.bf16, lse: 1e-4 }, f32: { out: TOL.bf16, lse: 2e-3 } };
export const pagedTolVsCpu = (impl: number, qd: A) => (impl === 1 ? TOL_PAGED_TC_VS_CPU[qd] : TOL_PAGED_VS_CPU);
/** BEYOND_GPU: the other sequence's rows against the CPU (strictly below): out by impl, lse. */
export const TOL_BEYOND_VS_CPU = { out: [1e-5, 1e-2], lse: 1e-3 };

// ---- mlaDecodeAttention (the per-sequence reference path) ----
export interface SeqCase { h: number; r: number; p: number; t: number; s: number; startPos?: number; extra?: number; causal?: boolean }
/** Decode, prefill and chunks; `extra` NaN rows past the window. */
export const SEQ_CPU: [string, SeqCase][] = [
  ['decode, s=1, 1 head, r=32, p=16', { h: 1, r: 32, p: 16, t: 1, s: 1 }],
  ['decode, s=2000, 3 heads, r=128, p=64', { h: 3, r: 128, p: 64, t: 1, s: 2000 }],
  ['decode, s=1537, 5 heads, r=512, p=64, NaN tail', { h: 5, r: 512, p: 64, t: 1, s: 1537, extra: 100 }],
  ['decode, s=129, 5 heads, r=512, p=16', { h: 5, r: 512, p: 16, t: 1, s: 129 }],
  ['prefill, t=s=300, 3 heads, r=128, p=16, NaN tail', { h: 3, r: 128, p: 16, t: 300, s: 300, startPos: 0, extra: 7 }],
  ['prefill, t=s=1, 5 heads, r=512, p=64', { h: 5, r: 512, p: 64, t: 1, s: 1, startPos: 0 }],
  ['prefill, t=s=65, 5 heads, r=32, p=64', { h: 5, r: 32, p: 64, t: 65, s: 65 }],
  ['chunk t=7 at startPos=20, 3 heads, r=128, p=64', { h: 3, r: 128, p: 64, t: 7, s: 27, startPos: 20 }],
  ['chunk t=7 at startPos=20, 5 heads, r=512, p=16, NaN tail', { h: 5, r: 512, p: 16, t: 7, s: 27, startPos: 20, extra: 33 }],
  ['non-causal, t=3, s=50, 3 heads, r=128, p=16', { h: 3, r: 128, p: 16, t: 3, s: 50, causal: false }],
];
export const SEQ_DTYPES: [F, F][] = [['f32', 'f32'], ['bf16', 'bf16']];
/** Mixed dtypes: f16 query, bf16 cache; f32 query, f16 cache. */
export const SEQ_MIXED: [SeqCase, F, F][] = [
  [{ h: 3, r: 128, p: 16, t: 7, s: 100, startPos: 20, extra: 73 }, 'f16', 'bf16'],
  [{ h: 5, r: 32, p: 64, t: 1, s: 333 }, 'f32', 'f16'],
];
/** The absorbed path against the naive per-head attention: head dims and [t, s, startPos] runs. */
export const SEQ_ABSORBED = { h: 5, dn: 32, dv: 32, r: 128, p: 16, runs: [[7, 27, 20], [1, 150, 149], [12, 12, 0]] as [number, number, number][] };
/** A V3-sized decode step: bf16 q (q_latent std 0.05), bf16 and f32 caches. */
export const SEQ_V3_DECODE = { s: 4096, h: 16, r: V3_MLA.r, p: V3_MLA.p, scale: V3_MLA.scale, caches: ['bf16', 'f32'] as F[] };
/** Against the float64 reference (f32 out). */
export const TOL_SEQ = TOL.f32;

// ---- mlaDownEpilogue ----
export interface DownCase { xd: A; kd: A; t: number; qLora: number; r: number; p: number }
/** CPU: [name, case]; positions beyond YaRN's 4096 and a padding slot (-1) every 5th token. */
export const DOWN_CPU: [string, DownCase][] = [
  ['V3 widths, f32', { xd: 'f32', kd: 'f32', t: 9, qLora: 1536, r: 512, p: 64 }],
  ['V3 widths, bf16 in, bf16 cache', { xd: 'bf16', kd: 'bf16', t: 9, qLora: 1536, r: 512, p: 64 }],
  ['odd widths, f32 in, bf16 cache', { xd: 'f32', kd: 'bf16', t: 70, qLora: 100, r: 96, p: 16 }],
  ['no q part (q_lora_rank null)', { xd: 'f32', kd: 'f32', t: 5, qLora: 0, r: 64, p: 16 }],
];
/** CUDA: V3 widths, 37 tokens over 3 pages; [qkv dtype, cache dtype]. */
export const DOWN_GPU = { t: 37, qLora: V3_MLA.qLora, r: V3_MLA.r, p: V3_MLA.p, pages: 3, dtypes: [['bf16', 'bf16'], ['f32', 'f32']] as [A, A][] };
/** CUDA against the CPU backend, by qkv dtype (cq and cache). */
export const TOL_DOWN_VS_CPU: Record<A, number> = { bf16: 8e-3, f32: TOL.f32 };

// ---- mlaAbsorbQ and mlaOutput ----
/** v_head_dim = qk_nope_head_dim, as in V3. */
export interface ProjCase { xd: A; wd: A; t: number; h: number; nope: number; p: number; r: number }
export const PROJ_CPU: [string, ProjCase][] = [
  ['V3 head dims, 5 heads, f32', { xd: 'f32', wd: 'f32', t: 3, h: 5, nope: 128, p: 64, r: 512 }],
  ['V3 head dims, 3 heads, bf16 activations and weights', { xd: 'bf16', wd: 'bf16', t: 4, h: 3, nope: 128, p: 64, r: 512 }],
  ['odd dims, 7 heads, f32 activations, bf16 weights', { xd: 'f32', wd: 'bf16', t: 66, h: 7, nope: 24, p: 16, r: 40 }],
];
/** CPU: a token in a batch equals it alone, bit for bit; r = 2 * 32 + 8: full and partial column tiles. [x, w] dtypes. */
export const PROJ_BATCH_CPU = { t: 11, h: 3, nope: 24, p: 8, r: 72, dtypes: [['f32', 'f32'], ['f32', 'bf16'], ['bf16', 'bf16']] as [A, A][] };
/** CUDA: V3 head dims, [t, h] runs (one token at 128 heads on the emulator: ~80 thread-instructions per MAC there). */
export const PROJ_GPU = (emu: boolean) => ({
  nope: V3_MLA.nope, p: V3_MLA.p, r: V3_MLA.r, v: V3_MLA.v,
  runs: (emu ? [[7, 5], [1, 128]] : [[7, 5], [130, 128], [1, 128]]) as [number, number][],
});
/** CUDA: [activations, weights, tolerance against the CPU backend]. */
export const PROJ_GPU_DTYPES: [A, A, number][] = [['bf16', 'bf16', 8e-3], ['f32', 'f32', 2e-5], ['f32', 'bf16', 2e-5]];

// ---- mlaForward (the whole block on tiny-v3 layer 0) ----
/** CUDA against the CPU backend: [activations, fp8, tolerance]. */
export const FORWARD_GPU: [A, boolean, number][] = [['f32', false, 1e-4], ['bf16', true, 2e-2]];

// ---- bench/mla.bench.mjs ----
/** V3 on CUDA; on the CPU a reduced grid (said in the output). `check`: the case run against the CPU backend (CUDA)
 * or the float64 reference (CPU) before timing: a decode batch at the bench's head count, bf16 q (std 0.05) and cache. */
export const MLA_BENCH = {
  gpu: { heads: V3_MLA.heads, batches: [1, 32, 128], contexts: [1024, 8192, 32768, 131072], prefill: 4096 },
  cpu: { heads: 16, batches: [1, 4], contexts: [1024, 8192], prefill: 256 },
  check: { sq: 1, lens: [1000, 65, 1], qStd: 0.05 },
};

// ---- inputs ----
/** mlaPagedAttention's inputs as plain arrays; `shape` gives each tensor's. */
export interface PagedInputs {
  b: number; maxPages: number; numPages: number; scale: number;
  qLatent: Float32Array; qPe: Float32Array; kvCache: Float32Array; blockTable: Int32Array; seqLens: Int32Array;
  shape: { qLatent: number[]; qPe: number[]; kvCache: number[]; blockTable: number[]; seqLens: number[] };
}

/**
 * A paged latent cache whose pages are handed out in shuffled order, every row outside the sequences (unused
 * pages, the tail of partly filled pages) NaN, and block-table entries past each sequence's pages pointing
 * nowhere (-1 or far beyond the cache), so any stray read shows. `normals(n, std)` draws n standard normals
 * (the tests: the addon's seeded generator, seeded from rng).
 */
export async function pagedInputs(rng: Rng, spec: PagedSpec, normals: (n: number, std?: number) => Promise<Float32Array>, qStd = 1): Promise<PagedInputs> {
  const { h, r, p, sq, lens } = spec, d = r + p, b = lens.length;
  const pagesOf = lens.map((l) => Math.ceil(l / PAGE));
  const maxPages = Math.max(1, ...pagesOf) + 1;  // one more column than any sequence needs: never read
  const numPages = pagesOf.reduce((a, x) => a + x, 0) + (spec.extraPages ?? 2);
  const order = Array.from({ length: numPages }, (_, i) => i);
  for (let i = numPages - 1; i > 0; i--) { const j = rng.int(0, i); [order[i], order[j]] = [order[j], order[i]]; }
  const blockTable = new Int32Array(b * maxPages);
  let next = 0;
  for (let bi = 0; bi < b; bi++)
    for (let k = 0; k < maxPages; k++) blockTable[bi * maxPages + k] = k < pagesOf[bi] ? order[next++] : (k % 2 ? -1 : numPages + 1000 + k);
  const kvCache = new Float32Array(numPages * PAGE * d).fill(NaN);
  const vals = await normals(lens.reduce((a, x) => a + x, 0) * d);
  let o = 0;
  for (let bi = 0; bi < b; bi++)
    for (let j = 0; j < lens[bi]; j++, o += d) kvCache.set(vals.subarray(o, o + d), (blockTable[bi * maxPages + Math.floor(j / PAGE)] * PAGE + (j % PAGE)) * d);
  const qLatent = await normals(b * sq * h * r, qStd), qPe = await normals(b * sq * h * p);
  const scale = (1 + rng.next()) / Math.sqrt(d);
  return {
    b, maxPages, numPages, scale, qLatent, qPe, kvCache, blockTable, seqLens: Int32Array.from(lens),
    shape: { qLatent: [b, sq, h, r], qPe: [b, sq, h, p], kvCache: [numPages, PAGE, d], blockTable: [b, maxPages], seqLens: [b] },
  };
}
