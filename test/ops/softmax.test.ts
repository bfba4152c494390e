// softmax: CPU backend vs the float64 reference (test/reference/norm.ts).
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { NORM_CPU } from '../cases/norm';
import { expectClose, poisoned, relErr, TOL, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/norm';
import { Rng } from '../reference/rng';
import { softmax } from '../../lib/ops/norm';

describe('softmax', () => {
  test.each(NORM_CPU)('f32, t=%i n=%i, matches the reference; rows sum to 1', (t, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(t * n, 4));
    const out = poisoned([t, n], 'f32');
    const r = softmax(Tensor.fromArray(x, [t, n]), { out });
    expect(r).toBe(out);
    const got = await r.toFloat32Array();
    expectClose(got, ref.softmax(x, n), TOL.f32, 'softmax f32');
    for (let i = 0; i < t; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += got[i * n + j];
      expect(Math.abs(s - 1)).toBeLessThanOrEqual(1e-5);
    }
  }));

  test('large magnitudes are stable (max-subtracted)', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [t, n] = [5, 300];
    const x = Float32Array.from(rng.normals(t * n, 1e4));
    for (let i = 0; i < n; i++) x[n + i] = 1e30 + x[n + i] * 1e24;  // row 1: all huge, spread of ~1e24
    x.fill(3e38, 2 * n, 3 * n);                                       // row 2: all equal and near f32 max
    const got = await softmax(Tensor.fromArray(x, [t, n])).toFloat32Array();
    expect(got.some(Number.isNaN)).toBe(false);
    expectClose(got, ref.softmax(x, n), TOL.f32, 'softmax large');
    for (let j = 0; j < n; j++) expect(got[2 * n + j]).toBeCloseTo(1 / n, 7);
  }));

  test('-Infinity entries get 0; a row all -Infinity gives NaN (as torch); NaN poisons its row', async () => {
    const n = 7;
    const x = new Float32Array([
      -Infinity, 1, 2, -Infinity, 0, 3, -Infinity,                        // some -inf
      -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity,  // all -inf
      -Infinity, -Infinity, -Infinity, 5, -Infinity, -Infinity, -Infinity,  // one finite
      1, 2, NaN, 4, 5, 6, 7,                                               // NaN
    ]);
    const got = await softmax(Tensor.fromArray(x, [4, n]), { out: poisoned([4, n], 'f32') }).toFloat32Array();
    const want = ref.softmax(x, n);
    expect(Array.from(got.subarray(0, 7)).filter((v, j) => x[j] === -Infinity)).toEqual([0, 0, 0]);
    expectClose(got.subarray(0, 7), want.subarray(0, 7), TOL.f32, 'softmax -inf entries');
    expect(Array.from(got.subarray(7, 14)).every(Number.isNaN)).toBe(true);
    expect(Array.from(got.subarray(14, 21))).toEqual([0, 0, 0, 1, 0, 0, 0]);
    expect(Array.from(got.subarray(21, 28)).every(Number.isNaN)).toBe(true);
  });

  test('bf16 in: bf16 out within bf16 rounding, f32 out; 3-D input along the last dim', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [t, n] = [33, 129];
    const x = Tensor.fromFloats(Float32Array.from(rng.normals(t * n, 3)), [t, n], { dtype: 'bf16' });
    const want = ref.softmax(await x.toFloat32Array(), n);
    const got = await softmax(x).toFloat32Array();
    expect(relErr(got, want)).toBeLessThanOrEqual(TOL_BF16_OUT);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(want[i] * 2 ** -8 + 1e-38);
    expectClose(await softmax(x, { outDtype: 'f32' }).toFloat32Array(), want, TOL.f32, 'softmax bf16->f32');
    const x3 = Float32Array.from(rng.normals(2 * 3 * 11));
    const r3 = softmax(Tensor.fromArray(x3, [2, 3, 11]));
    expect(r3.shape).toEqual([2, 3, 11]);
    expectClose(await r3.toFloat32Array(), ref.softmax(x3, 11), TOL.f32, 'softmax 3-D');
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([4, 8]);
    expect(() => softmax(Tensor.zeros([4, 8], { dtype: 'i64' }) as never)).toThrow(DTypeError);
    expect(() => softmax(Tensor.zeros([4, 8], { dtype: 'i64' }) as never)).toThrow("softmax: argument 'x' must have dtype f32, bf16 or f16, got i64");
    expect(() => softmax(Tensor.zeros([]))).toThrow(ShapeError);
    expect(() => softmax(x, { out: Tensor.zeros([4, 9]) })).toThrow(ShapeError);
    expect(() => softmax(x, { outDtype: 'u8' as never })).toThrow(DTypeError);
    expect(() => softmax('x' as never)).toThrow(ArgumentError);
    expect(() => softmax(x, 5 as never)).toThrow(ArgumentError);
    expect(() => softmax(x)).not.toThrow();
    const d = Tensor.zeros([4, 8]);
    d.dispose();
    expect(() => softmax(d)).toThrow(DisposedError);
  });
});
