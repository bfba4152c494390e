// transpose01: CPU backend vs the reference (test/reference/shape.ts); exact (a pure copy).
import { Tensor, ShapeError, DTypeError, DisposedError, ArgumentError } from '../../lib';
import * as sh from '../../lib/ops/shape';
import { TRANSPOSE_CPU } from '../cases/shape';
import { poisoned, withSeed } from '../helpers';
import * as ref from '../reference/shape';
import { Rng } from '../reference/rng';

describe('transpose01', () => {
  test.each(TRANSPOSE_CPU)('f32 [%i, %i, %i] is exact', (a, b, inner) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(a * b * inner));
    const out = poisoned([b, a, inner], 'f32');
    const r = sh.transpose01(Tensor.fromArray(x, [a, b, inner]), { out });
    expect(r).toBe(out);
    expect(Array.from(await r.toFloat32Array())).toEqual(Array.from(ref.transpose01(x, a, b, inner)));
  }));

  test('2-D, 4-D, bf16 and i32 keep the dtype and the trailing dims', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(5 * 9));
    expect(Array.from(await sh.transpose01(Tensor.fromArray(x, [5, 9])).toFloat32Array())).toEqual(Array.from(ref.transpose01(x, 5, 9, 1)));
    const y = Float32Array.from(rng.normals(2 * 3 * 4 * 5));
    const t4 = sh.transpose01(Tensor.fromArray(y, [2, 3, 4, 5]));
    expect(t4.shape).toEqual([3, 2, 4, 5]);
    expect(Array.from(await t4.toFloat32Array())).toEqual(Array.from(ref.transpose01(y, 2, 3, 20)));
    const b16 = Tensor.fromFloats(y, [6, 20], { dtype: 'bf16' });
    const tb = sh.transpose01(b16);
    expect(tb.dtype).toBe('bf16');
    expect(Array.from(await tb.toArray())).toEqual(Array.from(ref.transpose01(await b16.toArray(), 6, 20, 1)));
    const ints = Int32Array.from({ length: 12 }, (_, i) => i * 7 - 3);
    expect(Array.from(await sh.transpose01(Tensor.fromArray(ints, [3, 4])).toArray())).toEqual(Array.from(ref.transpose01(ints, 3, 4, 1)));
  }));

  test('a view of a bigger tensor as input and as out', async () => {
    const big = Tensor.fromArray(Float32Array.from({ length: 6 * 2 * 3 }, (_, i) => i), [6, 2, 3]);
    const dst = Tensor.full([4, 3, 3], NaN);
    sh.transpose01(big.view(1, 3), { out: dst.view(1, 2) });
    const got = await dst.toFloat32Array();
    expect(Number.isNaN(got[0]) && Number.isNaN(got[27])).toBe(true);
    expect(Array.from(got.subarray(9, 27))).toEqual(Array.from(ref.transpose01(Array.from({ length: 18 }, (_, i) => i + 6), 3, 2, 3)));
  });

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([2, 3, 4]);
    expect(() => sh.transpose01(Tensor.zeros([5]))).toThrow(ShapeError);
    expect(() => sh.transpose01(x, { out: Tensor.zeros([2, 3, 4]) })).toThrow(ShapeError);
    expect(() => sh.transpose01(x, { out: Tensor.zeros([3, 2, 4], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => sh.transpose01({} as never)).toThrow(ArgumentError);
    const sq = Tensor.zeros([3, 3]);
    expect(() => sh.transpose01(sq, { out: sq })).toThrow(ArgumentError);
    expect(() => sh.transpose01(sq, { out: sq })).toThrow("transpose01: argument 'out' must not share memory with 'x'");
    const d = Tensor.zeros([2, 2]);
    d.dispose();
    expect(() => sh.transpose01(d)).toThrow(DisposedError);
    expect(() => sh.transpose01(Tensor.zeros([5]))).toThrow("transpose01: argument 'x' must have at least 2 dims, got shape [5]");
  });
});
