// argmax and topk: CPU backend vs the float64 reference (test/reference/sampling.ts): ties go to the
// lower index, NaN ranks above every number.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { ARGMAX_TOPK_CPU as shapes } from '../cases/sampling';
import { poisoned, withSeed } from '../helpers';
import * as ref from '../reference/sampling';
import { Rng } from '../reference/rng';
import { argmax, topk } from '../../lib/ops/sampling';

/** Values from a small set so that ties are common; a few NaN and +-inf. */
function tiedRow(rng: Rng, len: number, withNaN: boolean): Float32Array {
  const x = Float32Array.from({ length: len }, () => rng.int(-5, 5) / 2);
  for (let i = 0; i < len; i++) {
    const r = rng.next();
    if (withNaN && r < 0.01) x[i] = NaN;
    else if (r < 0.02) x[i] = -Infinity;
    else if (r < 0.025) x[i] = Infinity;
  }
  return x;
}

describe('argmax', () => {
  test.each(shapes)('t=%i n=%i, ties and NaN', (t, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const withNaN of [false, true]) {
      const x = tiedRow(rng, t * n, withNaN);
      const out = poisoned([t], 'i32');
      const r = argmax(Tensor.fromArray(x, [t, n]), { out });
      expect(r).toBe(out);
      expect(Array.from(await r.toArray())).toEqual(Array.from(ref.argmax(x, n)));
    }
  }));

  test('explicit rows: first maximum wins, first NaN wins, all -inf gives 0; bf16 and f16 inputs', async () => {
    const x = new Float32Array([1, 3, 3, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, NaN, 5, NaN, 0, -0, 0, -1]);
    expect(Array.from(await argmax(Tensor.fromArray(x, [4, 4])).toArray())).toEqual([1, 0, 1, 0]);
    for (const dt of ['bf16', 'f16'] as const)
      expect(Array.from(await argmax(Tensor.fromFloats(x, [4, 4], { dtype: dt })).toArray())).toEqual([1, 0, 1, 0]);
  });

  test('flagInvalid: a row with a NaN gives -1, one with no finite maximum -2 (+inf or all -inf), the others their argmax', async () => {
    const x = new Float32Array([1, 3, 3, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, NaN, 5, NaN, 0, Infinity, 0, -1, -Infinity, 2, -Infinity, 1]);
    for (const dt of ['f32', 'bf16', 'f16'] as const) {
      expect(Array.from(await argmax(Tensor.fromFloats(x, [5, 4], { dtype: dt }), { flagInvalid: true }).toArray())).toEqual([1, -2, -1, -2, 1]);
      expect(Array.from(await argmax(Tensor.fromFloats(x, [5, 4], { dtype: dt })).toArray())).toEqual([1, 0, 1, 1, 1]);
    }
  });

  test('bad input gives typed errors', () => {
    expect(() => argmax(Tensor.zeros([4]))).toThrow(ShapeError);
    expect(() => argmax(Tensor.zeros([4]))).toThrow("argmax: argument 'x' must be 2-D, got shape [4]");
    expect(() => argmax(Tensor.zeros([4, 0]))).toThrow("argmax: argument 'x' must have a non-empty last dim, got shape [4,0]");
    expect(() => argmax(Tensor.zeros([4, 3], { dtype: 'i32' }) as never)).toThrow(DTypeError);
    expect(() => argmax(Tensor.zeros([4, 3]), { out: Tensor.zeros([4]) as never })).toThrow(DTypeError);
    expect(() => argmax(Tensor.zeros([4, 3]), { out: Tensor.zeros([3], { dtype: 'i32' }) })).toThrow(ShapeError);
    expect(() => argmax(undefined as never)).toThrow(ArgumentError);
    const d = Tensor.zeros([4, 3]);
    d.dispose();
    expect(() => argmax(d)).toThrow(DisposedError);
  });
});

describe('topk', () => {
  test.each(shapes)('t=%i n=%i, k in {1, 5, n}, ties and NaN', (t, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = tiedRow(rng, t * n, true);
    const xt = Tensor.fromArray(x, [t, n]);
    for (const k of [...new Set([1, Math.min(5, n), n])]) {
      const values = poisoned([t, k], 'f32'), indices = poisoned([t, k], 'i32');
      const r = topk(xt, k, { out: { values, indices } });
      expect(r.values).toBe(values);
      expect(r.indices).toBe(indices);
      const want = ref.topk(x, n, k);
      expect(Array.from(await r.indices.toArray())).toEqual(Array.from(want.indices));
      expect(Array.from(await r.values.toFloat32Array())).toEqual(Array.from(want.values));  // toEqual treats NaN as equal
    }
  }));

  test('explicit rows: descending, ties by lower index, NaN first; bf16 input', async () => {
    const x = new Float32Array([2, 5, 5, NaN, 1, 5, NaN, -Infinity]);
    const want = { values: [NaN, NaN, 5, 5, 5, 2, 1, -Infinity], indices: [3, 6, 1, 2, 5, 0, 4, 7] };
    for (const dt of ['f32', 'bf16'] as const) {
      const r = topk(Tensor.fromFloats(x, [1, 8], { dtype: dt }), 8);
      expect(Array.from(await r.indices.toArray())).toEqual(want.indices);
      expect(Array.from(await r.values.toFloat32Array())).toEqual(want.values);
    }
    const r1 = topk(Tensor.fromArray(new Float32Array([0, 3, 3, 1]), [2, 2]), 1);
    expect(r1.values.shape).toEqual([2, 1]);
    expect(Array.from(await r1.indices.toArray())).toEqual([1, 0]);
  });

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([4, 7]);
    expect(() => topk(x, 8)).toThrow(ArgumentError);
    expect(() => topk(x, 8)).toThrow("topk: argument 'k' must be an integer in [1, 7] (x's last dim), got 8");
    expect(() => topk(x, 0)).toThrow(ArgumentError);
    expect(() => topk(x, 2.5)).toThrow(ArgumentError);
    expect(() => topk(x, '2' as never)).toThrow(ArgumentError);
    expect(() => topk(Tensor.zeros([7]), 1)).toThrow(ShapeError);
    expect(() => topk(Tensor.zeros([4, 7], { dtype: 'u8' }) as never, 1)).toThrow(DTypeError);
    expect(() => topk(x, 2, { out: { values: Tensor.zeros([4, 3]) } })).toThrow(ShapeError);
    expect(() => topk(x, 2, { out: { indices: Tensor.zeros([4, 2]) as never } })).toThrow(DTypeError);
    const d = Tensor.zeros([4, 7]);
    d.dispose();
    expect(() => topk(d, 1)).toThrow(DisposedError);
  });
});
