// siluMul: CPU backend vs the float64 reference (test/reference/activation.ts).
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { SILU_MUL_CPU, TOL_SILU_ELEMENT } from '../cases/elementwise';
import { expectClose, poisoned, relErr, TOL, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/activation';
import { Rng } from '../reference/rng';
import { siluMul } from '../../lib/ops/activation';

describe('siluMul', () => {
  test.each(SILU_MUL_CPU)('f32, t=%i n=%i, matches the reference', (t, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const g = Float32Array.from(rng.normals(t * n, 3)), u = Float32Array.from(rng.normals(t * n));
    const out = poisoned([t, n], 'f32');
    const r = siluMul(Tensor.fromArray(g, [t, n]), Tensor.fromArray(u, [t, n]), { out });
    expect(r).toBe(out);
    expectClose(await r.toFloat32Array(), ref.siluMul(g, u), TOL.f32, 'siluMul f32');
  }));

  test('large-magnitude gates: no NaN, silu -> 0 for very negative and -> x for very positive', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 300;
    const g = Float32Array.from(rng.normals(n, 200));
    g.set([-1e30, -1000, -89, -88, 88, 89, 1000, 1e30, 0, -0]);
    const u = Float32Array.from(rng.normals(n));
    const got = await siluMul(Tensor.fromArray(g, [1, n]), Tensor.fromArray(u, [1, n])).toFloat32Array();
    expect(got.some(Number.isNaN)).toBe(false);
    const want = ref.siluMul(g, u);
    expectClose(got, want, TOL.f32, 'siluMul large');
    for (let i = 0; i < n; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(TOL_SILU_ELEMENT * Math.abs(want[i]) + 1e-30);
  }));

  test('bf16 inputs: bf16 out within bf16 rounding, f32 out within f32', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [t, n] = [33, 300];
    const g = Tensor.fromFloats(Float32Array.from(rng.normals(t * n, 3)), [t, n], { dtype: 'bf16' });
    const u = Tensor.fromFloats(Float32Array.from(rng.normals(t * n)), [t, n], { dtype: 'bf16' });
    const want = ref.siluMul(await g.toFloat32Array(), await u.toFloat32Array());
    const o16 = siluMul(g, u, { out: poisoned([t, n], 'bf16') });
    const got = await o16.toFloat32Array();
    expect(relErr(got, want)).toBeLessThanOrEqual(TOL_BF16_OUT);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -8 + 1e-30);
    expectClose(await siluMul(g, u, { outDtype: 'f32' }).toFloat32Array(), want, TOL.f32, 'siluMul bf16->f32');
    const f16 = siluMul(g.cast('f16'), u, { outDtype: 'f16' });
    expectClose(await f16.toFloat32Array(), want, TOL.f16, 'siluMul f16 gate');
  }));

  test('bad input gives typed errors', () => {
    const g = Tensor.zeros([4, 8]);
    expect(() => siluMul(g, Tensor.zeros([4, 7]))).toThrow(ShapeError);
    expect(() => siluMul(g, Tensor.zeros([4, 7]))).toThrow("siluMul: argument 'up' must have shape [4,8], got [4,7]");
    expect(() => siluMul(g, Tensor.zeros([4, 8], { dtype: 'i32' }) as never)).toThrow(DTypeError);
    expect(() => siluMul(Tensor.zeros([4, 8], { dtype: 'f8_e4m3' }) as never, g)).toThrow(DTypeError);
    expect(() => siluMul(g, g, { out: Tensor.zeros([4, 8], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => siluMul(g, g, { out: Tensor.zeros([8, 4]) })).toThrow(ShapeError);
    expect(() => siluMul(g, null as never)).toThrow(ArgumentError);
    expect(() => siluMul(g, g, 5 as never)).toThrow(ArgumentError);
    const d = Tensor.zeros([4, 8]);
    d.dispose();
    expect(() => siluMul(d, g)).toThrow(DisposedError);
    expect(() => siluMul(g, g)).not.toThrow();
  });
});
