// rmsNorm: CPU backend vs the float64 reference (test/reference/norm.ts).
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { NORM_CPU, RMS_NORM_CPU_BF16 } from '../cases/norm';
import { expectClose, poisoned, relErr, TOL, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/norm';
import { Rng } from '../reference/rng';
import * as n from '../../lib/ops/norm';

/** Every element within half a bf16 ulp (2^-9 relative, taken as 2^-8 for safety) of the f64 value. */
function expectBf16Rounded(out: Float32Array, want: Float64Array, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const bound = Math.abs(want[i]) * 2 ** -8 + 1e-30;
    if (!(Math.abs(out[i] - want[i]) <= bound)) throw new Error(`${what}: element ${i}: got ${out[i]}, expected ${want[i]} (bf16 rounding)`);
  }
}

describe('rmsNorm', () => {
  test.each(NORM_CPU)('f32, t=%i d=%i, matches the reference', (t, d) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(t * d, 3)), w = Float32Array.from(rng.normals(d));
    const out = poisoned([t, d], 'f32');
    const r = n.rmsNorm(Tensor.fromArray(x, [t, d]), Tensor.fromArray(w), { out });
    expect(r).toBe(out);
    expectClose(await r.toFloat32Array(), ref.rmsNorm(x, w, d, 1e-6), TOL.f32, 'rmsNorm f32');
  }));

  test.each(RMS_NORM_CPU_BF16)('bf16 in, bf16 out within bf16 rounding; f32 out within f32 (t=%i d=%i)', (t, d) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Tensor.fromFloats(Float32Array.from(rng.normals(t * d, 2)), [t, d], { dtype: 'bf16' });
    const w = Tensor.fromFloats(Float32Array.from(rng.normals(d)), [d], { dtype: 'bf16' });
    const want = ref.rmsNorm(await x.toFloat32Array(), await w.toFloat32Array(), d, 1e-6);  // on the bf16-rounded inputs
    const o16 = n.rmsNorm(x, w, { out: poisoned([t, d], 'bf16') });
    expect(o16.dtype).toBe('bf16');
    const got = await o16.toFloat32Array();
    expect(relErr(got, want)).toBeLessThanOrEqual(TOL_BF16_OUT);
    expectBf16Rounded(got, want, 'rmsNorm bf16');
    expectClose(await n.rmsNorm(x, w, { outDtype: 'f32' }).toFloat32Array(), want, TOL.f32, 'rmsNorm bf16->f32');
  }));

  test('f16 input with an f32 weight, and a 3-D input normalizes the last dim', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Tensor.fromFloats(Float32Array.from(rng.normals(2 * 3 * 129)), [2, 3, 129], { dtype: 'f16' });
    const w = Float32Array.from(rng.normals(129));
    const want = ref.rmsNorm(await x.toFloat32Array(), w, 129, 1e-6);
    const r = n.rmsNorm(x, Tensor.fromArray(w), { outDtype: 'f32' });
    expect(r.shape).toEqual([2, 3, 129]);
    expectClose(await r.toFloat32Array(), want, TOL.f32, 'rmsNorm f16 3-D');
    expectClose(await n.rmsNorm(x, Tensor.fromArray(w)).toFloat32Array(), want, TOL.f16, 'rmsNorm f16 out');
  }));

  test('eps: zero rows give 0 (not NaN), and a large eps is applied', () => withSeed(async (seed) => {
    const zeros = n.rmsNorm(Tensor.zeros([3, 7]), Tensor.full([7], 2));
    expect(Array.from(await zeros.toFloat32Array())).toEqual(new Array(21).fill(0));
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(5 * 128)), w = Float32Array.from(rng.normals(128));
    const r = await n.rmsNorm(Tensor.fromArray(x, [5, 128]), Tensor.fromArray(w), { eps: 10 }).toFloat32Array();
    expectClose(r, ref.rmsNorm(x, w, 128, 10), TOL.f32, 'rmsNorm eps=10');
    expect(relErr(r, ref.rmsNorm(x, w, 128, 1e-6))).toBeGreaterThan(0.5);  // the eps really changed the result
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([4, 8]), w = Tensor.zeros([8]);
    expect(() => n.rmsNorm(x, Tensor.zeros([7]))).toThrow(ShapeError);
    expect(() => n.rmsNorm(Tensor.zeros([4, 8], { dtype: 'i32' }) as never, w)).toThrow(DTypeError);
    expect(() => n.rmsNorm(x, Tensor.zeros([8], { dtype: 'f8_e4m3' }) as never)).toThrow(DTypeError);
    expect(() => n.rmsNorm(x, w, { outDtype: 'i32' as never })).toThrow(DTypeError);
    expect(() => n.rmsNorm(x, w, { out: Tensor.zeros([4, 7]) })).toThrow(ShapeError);
    expect(() => n.rmsNorm(x, {} as never)).toThrow(ArgumentError);
    expect(() => n.rmsNorm(x, w, { eps: -1 })).toThrow(ArgumentError);
    expect(() => n.rmsNorm(x, w, { eps: 'a' as never })).toThrow(ArgumentError);
    const d = Tensor.zeros([8]);
    d.dispose();
    expect(() => n.rmsNorm(x, d)).toThrow(DisposedError);
    expect(() => n.rmsNorm(x, Tensor.zeros([7]))).toThrow("rmsNorm: argument 'weight' must have shape [8], got [7]");
    expect(() => n.rmsNorm(x, w, { eps: -1 })).toThrow("rmsNorm: argument 'eps' must be a finite number >= 0, got -1");
    expect(() => n.rmsNorm(x, w)).not.toThrow();
  });
});
