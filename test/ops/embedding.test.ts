// embedding: CPU lookup vs the reference (test/reference/embedding.ts); out-of-range ids are
// reported by the CPU task on the next read.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { EMBEDDING_CPU, EMBEDDING_CPU_BF16, EMBEDDING_CPU_VOCAB } from '../cases/embedding';
import { expectClose, poisoned, TOL, withSeed } from '../helpers';
import * as ref from '../reference/embedding';
import { Rng } from '../reference/rng';
import { embedding } from '../../lib/ops/embedding';

describe('embedding', () => {
  test.each(EMBEDDING_CPU)(
    'f32 table, t=%i d=%i, ids %s', (t, d, idt) => withSeed(async (seed) => {
      const rng = new Rng(seed);
      const vocab = EMBEDDING_CPU_VOCAB;
      const table = Float32Array.from(rng.normals(vocab * d));
      const ids = Array.from({ length: t }, (_, i) => (i === 0 ? vocab - 1 : i === 1 ? 0 : rng.int(0, vocab - 1)));
      const idsT = idt === 'i32' ? Tensor.fromArray(Int32Array.from(ids)) : Tensor.fromArray(BigInt64Array.from(ids.map(BigInt)));
      const out = poisoned([t, d], 'f32');
      const r = embedding(Tensor.fromArray(table, [vocab, d]), idsT, { out });
      expect(r).toBe(out);
      expect(Array.from(await r.toFloat32Array())).toEqual(Array.from(ref.embedding(table, d, ids)));  // a copy: exact
    }));

  test('bf16 table: bf16 rows bit-exact, f32 out exact, repeated ids', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { vocab, d, ids } = EMBEDDING_CPU_BF16;
    const table = Tensor.fromFloats(Float32Array.from(rng.normals(vocab * d)), [vocab, d], { dtype: 'bf16' });
    const bits = await table.toArray();
    const idsT = Tensor.fromArray(BigInt64Array.from(ids.map(BigInt)));
    const got = await embedding(table, idsT, { out: poisoned([ids.length, d], 'bf16') }).toArray();
    for (let i = 0; i < ids.length; i++)
      expect(Array.from(got.subarray(i * d, (i + 1) * d))).toEqual(Array.from(bits.subarray(ids[i] * d, (ids[i] + 1) * d)));
    const f = await embedding(table, idsT, { outDtype: 'f32' }).toFloat32Array();
    expect(Array.from(f)).toEqual(Array.from(ref.embedding(await table.toFloat32Array(), d, ids)));
    const h = embedding(table.cast('f16'), idsT, { outDtype: 'bf16' });
    expectClose(await h.toFloat32Array(), ref.embedding(await table.toFloat32Array(), d, ids), TOL.f16, 'embedding f16->bf16');
  }));

  test('an out-of-range id rejects the next read with an exact message; the stream recovers', async () => {
    const table = Tensor.full([1024, 4], 1);
    const bad = embedding(table, Tensor.fromArray(Int32Array.from([1, 2, 3, 5000, 9])));
    await expect(bad.toFloat32Array()).rejects.toThrow(ArgumentError);
    const bad2 = embedding(table, Tensor.fromArray(Int32Array.from([1, 2, 3, 5000, 9])));
    await expect(bad2.toFloat32Array()).rejects.toThrow('embedding: id 5000 at row 3 is outside [0, 1024)');
    const neg = embedding(table, Tensor.fromArray(BigInt64Array.from([-1n])));
    await expect(neg.toFloat32Array()).rejects.toThrow('embedding: id -1 at row 0 is outside [0, 1024)');
    const big = embedding(table, Tensor.fromArray(BigInt64Array.from([0n, 1n << 40n])));
    await expect(big.toFloat32Array()).rejects.toThrow('embedding: id 1099511627776 at row 1 is outside [0, 1024)');
    const ok = embedding(table, Tensor.fromArray(Int32Array.from([1023])));
    expect(Array.from(await ok.toFloat32Array())).toEqual([1, 1, 1, 1]);
  });

  test('bad input gives typed errors', () => {
    const table = Tensor.zeros([16, 4]), ids = Tensor.zeros([3], { dtype: 'i32' });
    expect(() => embedding(table, Tensor.zeros([3]) as never)).toThrow(DTypeError);
    expect(() => embedding(table, Tensor.zeros([3]) as never)).toThrow("embedding: argument 'ids' must have dtype i32 or i64, got f32");
    expect(() => embedding(Tensor.zeros([16, 4], { dtype: 'f8_e4m3' }) as never, ids)).toThrow(DTypeError);
    expect(() => embedding(Tensor.zeros([64]), ids)).toThrow(ShapeError);
    expect(() => embedding(table, Tensor.zeros([3, 1], { dtype: 'i32' }))).toThrow(ShapeError);
    expect(() => embedding(table, ids, { out: Tensor.zeros([3, 5]) })).toThrow(ShapeError);
    expect(() => embedding(table, ids, { outDtype: 'i32' as never })).toThrow(DTypeError);
    expect(() => embedding(table, [1, 2] as never)).toThrow(ArgumentError);
    const d = Tensor.zeros([3], { dtype: 'i32' });
    d.dispose();
    expect(() => embedding(table, d)).toThrow(DisposedError);
    expect(() => embedding(table, ids)).not.toThrow();
  });
});
