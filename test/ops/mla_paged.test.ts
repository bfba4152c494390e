// mlaPagedAttention: CPU backend vs the float64 paged reference (test/reference/mla_paged.ts) on the cases of
// test/cases/mla.ts: batches of sequences of different lengths (empty, partial pages, page-aligned), shuffled
// pages, NaN in every cache row outside the sequences and garbage block-table entries past them, odd head counts,
// s_q 1..70, causal or not, outputs NaN-poisoned; and equality with mlaDecodeAttention over the same keys laid
// out contiguously.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { expectClose, poisoned, withSeed } from '../helpers';
import { A, PAGED_CPU, PAGED_CPU_V3, PAGED_DTYPES, PAGED_VS_SEQUENCE, PagedSpec, TOL_PAGED } from '../cases/mla';
import { pagedAttention, PAGE } from '../reference/mla_paged';
import { Rng } from '../reference/rng';
import { mlaPagedAttention } from '../../lib/ops/mla';
import { mlaDecodeAttention } from '../reference/mla_sequence';
import { pagedCase } from './mla_paged_cases';

async function check(spec: PagedSpec, qd: A, kd: A, seed: number, qStd = 1): Promise<void> {
  const rng = new Rng(seed);
  const c = await pagedCase(rng, spec, qd, kd, qStd);
  const { h, r, p, sq } = spec, causal = spec.causal ?? true;
  const out = poisoned([c.b, sq, h, r], 'f32'), lse = poisoned([c.b, h, sq], 'f32');
  const res = mlaPagedAttention(c.qLatent, c.qPe, c.kvCache, c.blockTable, c.seqLens, { softmaxScale: c.scale, causal, out: { out, lse } });
  expect(res.out).toBe(out);
  expect(res.lse).toBe(lse);
  const want = pagedAttention(c.v.qLatent, c.v.qPe, c.v.kvCache, c.v.blockTable, c.v.seqLens,
    { b: c.b, sq, h, r, p, maxPages: c.maxPages, causal }, c.scale);
  const what = `${JSON.stringify(spec)} ${qd}/${kd}`;
  expectClose(await out.toFloat32Array(), want.out, TOL_PAGED, `out ${what}`);
  expectClose(await lse.toFloat32Array(), want.lse, TOL_PAGED, `lse ${what}`);
  c.dispose();
}

describe('mlaPagedAttention', () => {
  describe.each(PAGED_DTYPES)('q %s, cache %s', (qd, kd) => {
    test.each(PAGED_CPU)('%s', (_n, spec) => withSeed((seed) => check(spec, qd, kd, seed)));
  });

  test('V3-sized decode: 16 heads, r=512, p=64, 4096 + 1000 keys, bf16', () => withSeed((seed) =>
    check(PAGED_CPU_V3, 'bf16', 'bf16', seed, 0.05)));

  test.each(PAGED_VS_SEQUENCE)('equals mlaDecodeAttention over the same keys stored contiguously (%s)', (_n, spec) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { h, r, p, sq, lens: [len] } = spec, d = r + p;
    const c = await pagedCase(rng, spec, 'f32', 'f32');
    const ckv = new Float32Array(len * r), kpe = new Float32Array(len * p);
    for (let j = 0; j < len; j++) {
      const row = (c.v.blockTable[Math.floor(j / PAGE)] * PAGE + (j % PAGE)) * d;
      ckv.set(c.v.kvCache.subarray(row, row + r), j * r);
      kpe.set(c.v.kvCache.subarray(row + r, row + d), j * p);
    }
    const a = mlaPagedAttention(c.qLatent, c.qPe, c.kvCache, c.blockTable, c.seqLens, { softmaxScale: c.scale });
    const want = mlaDecodeAttention(c.qLatent.reshape([sq, h, r]), c.qPe.reshape([sq, h, p]), Tensor.fromArray(ckv, [len, r]),
      Tensor.fromArray(kpe, [len, p]), { softmaxScale: c.scale });
    expect(Array.from(await a.out.toFloat32Array())).toEqual(Array.from(await want.toFloat32Array()));
    c.dispose();
  }));

  test('empty batch and zero heads', async () => {
    const r = mlaPagedAttention(Tensor.zeros([0, 1, 3, 32]), Tensor.zeros([0, 1, 3, 16]), Tensor.zeros([2, 64, 48]),
      Tensor.zeros([0, 4], { dtype: 'i32' }), Tensor.zeros([0], { dtype: 'i32' }), { softmaxScale: 0.1 });
    expect(r.out.shape).toEqual([0, 1, 3, 32]);
    expect(r.lse.shape).toEqual([0, 3, 1]);
  });

  test('bad input gives typed errors', () => {
    const b = 2, sq = 1, h = 3, r = 32, p = 16;
    const ql = Tensor.zeros([b, sq, h, r]), qp = Tensor.zeros([b, sq, h, p]), kv = Tensor.zeros([4, 64, r + p]);
    const bt = Tensor.zeros([b, 2], { dtype: 'i32' }), sl = Tensor.full([b], 3, { dtype: 'i32' });
    const o = { softmaxScale: 0.1 };
    const run = (...a: unknown[]) => () => (mlaPagedAttention as (...x: unknown[]) => unknown)(...a);
    expect(run(ql.cast('f16'), qp, kv, bt, sl, o)).toThrow(DTypeError);
    expect(run(ql, qp.cast('bf16'), kv, bt, sl, o)).toThrow(DTypeError);
    expect(run(ql, qp, kv.cast('f16'), bt, sl, o)).toThrow(DTypeError);
    expect(run(ql, qp, kv, Tensor.zeros([b, 2]), sl, o)).toThrow(DTypeError);
    expect(run(ql, qp, kv, bt, Tensor.zeros([b], { dtype: 'i64' }), o)).toThrow(DTypeError);
    expect(run(ql, qp, kv, bt, sl, { ...o, out: { out: Tensor.zeros([b, sq, h, r], { dtype: 'bf16' }) } })).toThrow(DTypeError);
    expect(run(Tensor.zeros([b, h, r]), qp, kv, bt, sl, o)).toThrow(ShapeError);
    expect(run(ql, Tensor.zeros([b, sq, h + 1, p]), kv, bt, sl, o)).toThrow(ShapeError);
    expect(run(ql, qp, Tensor.zeros([4, 32, r + p]), bt, sl, o)).toThrow(ShapeError);
    expect(run(ql, qp, Tensor.zeros([4, 64, r + p + 1]), bt, sl, o)).toThrow(ShapeError);
    expect(run(ql, qp, kv, Tensor.zeros([b + 1, 2], { dtype: 'i32' }), sl, o)).toThrow(ShapeError);
    expect(run(ql, qp, kv, bt, Tensor.zeros([b + 1], { dtype: 'i32' }), o)).toThrow(ShapeError);
    expect(run(ql, qp, kv, bt, sl, { ...o, out: { lse: Tensor.zeros([b, sq, h]) } })).toThrow(ShapeError);
    expect(run(ql, qp, kv, bt, sl, {})).toThrow(ArgumentError);
    expect(run(ql, qp, kv, bt, sl, { softmaxScale: NaN })).toThrow(ArgumentError);
    expect(run(ql, qp, kv, bt, sl, { ...o, numSplits: -1 })).toThrow(ArgumentError);
    expect(run(ql, qp, kv, bt, sl, { ...o, impl: 3 })).toThrow(ArgumentError);
    expect(run(ql, qp, kv, bt, sl, { ...o, impl: 1 })).not.toThrow();  // the CPU has one implementation
    expect(run(ql, qp, kv, bt, sl, { ...o, out: Tensor.zeros([b, sq, h, r]) })).toThrow(ArgumentError);
    const dead = Tensor.zeros([b, 2], { dtype: 'i32' });
    dead.dispose();
    expect(run(ql, qp, kv, dead, sl, o)).toThrow(DisposedError);
    expect(run(ql, qp, Tensor.zeros([4, 64, 40]), bt, sl, o)).toThrow(
      "mlaPagedAttention: argument 'kvCache' must have shape [*,64,48], got [4,64,40]");
  });
});
