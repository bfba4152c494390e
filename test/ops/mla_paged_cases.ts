// Tensors for the MLA tests (test/ops/mla_*.test.ts, test/gpu/mla.gpu.test.ts) from the case table's inputs
// (test/cases/mla.ts): seeded normals drawn by the addon, values rounded to a dtype, mlaPagedAttention's inputs.
import { Tensor } from '../../lib';
import { A, F, PagedInputs, pagedInputs, PagedSpec } from '../cases/mla';
import { Rng } from '../reference/rng';

export interface PagedCase {
  spec: PagedSpec; b: number; maxPages: number; numPages: number; scale: number;
  qLatent: Tensor<A>; qPe: Tensor<A>; kvCache: Tensor<A>; blockTable: Tensor<'i32'>; seqLens: Tensor<'i32'>;
  /** The values the tensors hold (after rounding to their dtype). */
  v: { qLatent: Float32Array; qPe: Float32Array; kvCache: Float32Array; blockTable: Int32Array; seqLens: Int32Array };
  dispose(): void;
}

/** n standard normals (times std) from the addon's seeded generator (the test Rng is slow for millions); the
 * seed comes from rng, so a failing case replays. */
export async function normals(rng: Rng, n: number, std = 1): Promise<Float32Array> {
  if (n === 0) return new Float32Array(0);
  const t = Tensor.randn([n], { seed: rng.int(0, 2 ** 31), std });
  const v = await t.toFloat32Array();
  t.dispose();
  return v;
}

/** A tensor of dtype `dtype` from `vals` and the values it holds. */
export async function make<D extends F>(vals: Float32Array, shape: number[], dtype: D): Promise<[Tensor<D>, Float32Array]> {
  const t = Tensor.fromFloats(vals, shape, { dtype });
  return [t, await t.toFloat32Array()];
}

/** pagedInputs (test/cases/mla.ts) as tensors: q of dtype qd, the cache of dtype kd. */
export async function pagedCase(rng: Rng, spec: PagedSpec, qd: A, kd: A, qStd = 1): Promise<PagedCase> {
  const x: PagedInputs = await pagedInputs(rng, spec, (n, std) => normals(rng, n, std), qStd);
  const [qLatent, qLv] = await make(x.qLatent, x.shape.qLatent, qd);
  const [qPe, qPv] = await make(x.qPe, x.shape.qPe, qd);
  const [kvCache, kvv] = await make(x.kvCache, x.shape.kvCache, kd);
  const blockTable = Tensor.fromArray(x.blockTable, x.shape.blockTable);
  const seqLens = Tensor.fromArray(x.seqLens, x.shape.seqLens);
  return {
    spec, b: x.b, maxPages: x.maxPages, numPages: x.numPages, scale: x.scale, qLatent, qPe, kvCache, blockTable, seqLens,
    v: { qLatent: qLv, qPe: qPv, kvCache: kvv, blockTable: x.blockTable, seqLens: x.seqLens },
    dispose: () => [qLatent, qPe, kvCache, blockTable, seqLens].forEach((t) => t.dispose()),
  };
}
