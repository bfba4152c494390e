// add: CPU backend vs the float64 reference (test/reference/elementwise.ts).
import { ops, Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { ADD_CPU } from '../cases/elementwise';
import { expectClose, poisoned, TOL, withSeed } from '../helpers';
import * as ref from '../reference/elementwise';
import { bf16Round } from '../reference/codec';
import { Rng } from '../reference/rng';

describe('add', () => {
  test.each(ADD_CPU)('f32, n=%i, matches the reference', (n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const a = Float32Array.from(rng.normals(n)), b = Float32Array.from(rng.normals(n));
    const out = poisoned([n], 'f32');
    const r = ops.add(Tensor.fromArray(a), Tensor.fromArray(b), { out });
    expect(r).toBe(out);
    expectClose(await r.toFloat32Array(), ref.add(a, b), TOL.f32, 'add f32');
  }));

  test('bf16 inputs, bf16 and f32 outputs', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 1000;
    const a = Tensor.fromFloats(Float32Array.from(rng.normals(n)), [10, 100], { dtype: 'bf16' });
    const b = Tensor.fromFloats(Float32Array.from(rng.normals(n)), [10, 100], { dtype: 'bf16' });
    const [av, bv] = [await a.toFloat32Array(), await b.toFloat32Array()];
    const want = ref.add(av, bv);
    const o16 = ops.add(a, b);
    expect(o16.dtype).toBe('bf16');
    expect(Array.from(await o16.toFloat32Array())).toEqual(Array.from(want, bf16Round));  // exact: one rounding
    expectClose(await ops.add(a, b, { outDtype: 'f32' }).toFloat32Array(), want, TOL.f32, 'add bf16->f32');
  }));

  test('bad input gives typed errors', () => {
    const a = Tensor.zeros([4]);
    expect(() => ops.add(a, Tensor.zeros([5]))).toThrow(ShapeError);
    expect(() => ops.add(a, Tensor.zeros([4], { dtype: 'i32' }) as never)).toThrow(DTypeError);
    expect(() => ops.add(a, {} as never)).toThrow(ArgumentError);
    expect(() => ops.add(a, a, { out: Tensor.zeros([4], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    const d = Tensor.zeros([4]);
    d.dispose();
    expect(() => ops.add(a, d)).toThrow(DisposedError);
    expect(() => ops.add(a, a)).not.toThrow();
    try { ops.add(a, Tensor.zeros([5])); } catch (e) {
      expect((e as Error).message).toBe("add: argument 'b' must have shape [4], got [5]");
    }
  });
});
