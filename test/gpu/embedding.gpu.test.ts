// embedding on CUDA against the CPU backend: every table/output dtype, i32 and i64 ids (repeats, first
// and last rows), odd widths (1, 7, 129, 7168), outputs poisoned with NaN; bytes must be equal (a copy,
// or the CPU's conversion). Ids outside the vocabulary cannot throw on the device: their rows are NaN.
// Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { embedding } from '../../lib/ops/embedding';
import { EMBEDDING_GPU } from '../cases/embedding';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, expectSameBytes, poisonedLike, randomFloats } from './exact';
import { describeGpu } from './gpu';

const ids = (v: number[], dtype: 'i32' | 'i64') =>
  dtype === 'i32' ? Tensor.fromArray(Int32Array.from(v), [v.length]) : Tensor.fromArray(BigInt64Array.from(v.map(BigInt)), [v.length]);

describeGpu('embedding (CUDA)', () => {
  test.each(FLOATS)('%s table: every output dtype, i32 and i64 ids, bytes equal the CPU backend', (td) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [vocab, d, t] of EMBEDDING_GPU) {
      const table = randomFloats(rng, [vocab, d], td);
      const tableG = table.to('cuda');
      for (const idd of ['i32', 'i64'] as const) {
        const v = Array.from({ length: t }, () => rng.int(0, vocab - 1));
        if (t > 2) { v[0] = 0; v[1] = vocab - 1; v[2] = v[0]; }
        const idx = ids(v, idd);
        for (const od of FLOATS) {
          const want = embedding(table, idx, { outDtype: od });
          const got = embedding(tableG, idx.to('cuda'), { outDtype: od, out: poisonedLike(tableG, [t, d], od) });
          await expectSameBytes(got, want, `embedding ${td}->${od} ids ${idd} [${vocab}, ${d}] t=${t}`);
        }
      }
    }
  }));

  test('ids outside [0, vocab) give NaN rows on the device (the CPU rejects them); other rows are right', async () => {
    const [vocab, d] = [10, 129];
    const table = Tensor.fromFloats(Float32Array.from({ length: vocab * d }, (_, i) => i), [vocab, d]);
    for (const idd of ['i32', 'i64'] as const) {
      const got = await embedding(table.to('cuda'), ids([3, -1, 10, 2 ** 31 - 1, 9], idd).to('cuda')).toFloat32Array();
      for (const r of [1, 2, 3]) expect(got.subarray(r * d, (r + 1) * d).every(Number.isNaN)).toBe(true);
      expect(Array.from(got.subarray(0, d))).toEqual(Array.from({ length: d }, (_, j) => 3 * d + j));
      expect(Array.from(got.subarray(4 * d))).toEqual(Array.from({ length: d }, (_, j) => 9 * d + j));
      await expect(embedding(table, ids([3, -1], idd)).toFloat32Array()).rejects.toThrow(/outside \[0, 10\)/);
    }
  });
});
