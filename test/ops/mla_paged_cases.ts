// Test inputs for mlaPagedAttention shared by the CPU test (test/ops/mla_paged.test.ts) and the GPU test
// (test/gpu/mla.gpu.test.ts): a paged latent cache whose pages are handed out in shuffled order, every
// row outside the sequences (unused pages, the tail of partly filled pages) NaN, and block-table entries
// past each sequence's pages pointing nowhere (-1 or far beyond the cache), so any stray read shows.
import { Tensor } from '../../lib';
import { Rng } from '../reference/rng';
import { PAGE } from '../reference/mla_paged';

export type A = 'f32' | 'bf16';
export interface PagedSpec { h: number; r: number; p: number; sq: number; lens: number[]; causal?: boolean; extraPages?: number }
export interface PagedCase {
  spec: PagedSpec; b: number; maxPages: number; numPages: number; scale: number;
  qLatent: Tensor<A>; qPe: Tensor<A>; kvCache: Tensor<A>; blockTable: Tensor<'i32'>; seqLens: Tensor<'i32'>;
  /** The values the tensors hold (after rounding to their dtype). */
  v: { qLatent: Float32Array; qPe: Float32Array; kvCache: Float32Array; blockTable: Int32Array; seqLens: Int32Array };
  dispose(): void;
}

/** n standard normals (times std) from the addon's seeded generator (the test Rng is slow for millions). */
export async function normals(rng: Rng, n: number, std = 1): Promise<Float32Array> {
  if (n === 0) return new Float32Array(0);
  const t = Tensor.randn([n], { seed: rng.int(0, 2 ** 31), std });
  const v = await t.toFloat32Array();
  t.dispose();
  return v;
}

/** A tensor of dtype `dtype` from `vals` and the values it holds. */
export async function make<D extends A>(vals: Float32Array, shape: number[], dtype: D): Promise<[Tensor<D>, Float32Array]> {
  const t = Tensor.fromFloats(vals, shape, { dtype });
  return [t, await t.toFloat32Array()];
}

export async function pagedCase(rng: Rng, spec: PagedSpec, qd: A, kd: A, qStd = 1): Promise<PagedCase> {
  const { h, r, p, sq, lens } = spec, d = r + p, b = lens.length;
  const pagesOf = lens.map((l) => Math.ceil(l / PAGE));
  const maxPages = Math.max(1, ...pagesOf) + 1;  // one more column than any sequence needs: never read
  const numPages = pagesOf.reduce((a, x) => a + x, 0) + (spec.extraPages ?? 2);
  const order = Array.from({ length: numPages }, (_, i) => i);
  for (let i = numPages - 1; i > 0; i--) { const j = rng.int(0, i); [order[i], order[j]] = [order[j], order[i]]; }
  const bt = new Int32Array(b * maxPages);
  let next = 0;
  for (let bi = 0; bi < b; bi++)
    for (let k = 0; k < maxPages; k++) bt[bi * maxPages + k] = k < pagesOf[bi] ? order[next++] : (k % 2 ? -1 : numPages + 1000 + k);
  const cache = new Float32Array(numPages * PAGE * d).fill(NaN);
  const vals = await normals(rng, lens.reduce((a, x) => a + x, 0) * d);
  let o = 0;
  for (let bi = 0; bi < b; bi++)
    for (let j = 0; j < lens[bi]; j++, o += d) cache.set(vals.subarray(o, o + d), (bt[bi * maxPages + Math.floor(j / PAGE)] * PAGE + (j % PAGE)) * d);
  const [qLatent, qLv] = await make(await normals(rng, b * sq * h * r, qStd), [b, sq, h, r], qd);
  const [qPe, qPv] = await make(await normals(rng, b * sq * h * p), [b, sq, h, p], qd);
  const [kvCache, kvv] = await make(cache, [numPages, PAGE, d], kd);
  const blockTable = Tensor.fromArray(bt, [b, maxPages]);
  const seqLens = Tensor.fromArray(Int32Array.from(lens), [b]);
  const scale = (1 + rng.next()) / Math.sqrt(d);
  return {
    spec, b, maxPages, numPages, scale, qLatent, qPe, kvCache, blockTable, seqLens,
    v: { qLatent: qLv, qPe: qPv, kvCache: kvv, blockTable: bt, seqLens: Int32Array.from(lens) },
    dispose: () => [qLatent, qPe, kvCache, blockTable, seqLens].forEach((t) => t.dispose()),
  };
}
