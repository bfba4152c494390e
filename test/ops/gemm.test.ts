// gemm (a @ b^T, f32/bf16 inputs, f32 accumulation): CPU backend vs the float64 reference
// (test/reference/gemm.ts) for mixed dtypes, skinny and packed shapes, and every ISA path.
import { ArgumentError, backends, DisposedError, DTypeError, DeviceError, ShapeError, Tensor } from '../../lib';
import * as g from '../../lib/ops/gemm';
import { CPU_ISAS, GEMM_CPU, GEMM_CPU_PACKED, GEMM_DTYPE_PAIRS, GEMM_ISA, GEMM_THIN, gemmF32Tol } from '../cases/gemm';
import { expectClose, poisoned, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/gemm';
import { Rng } from '../reference/rng';

type F = 'f32' | 'bf16';
// Inputs exactly representable in bf16: an f32 with its low 16 bits cleared (fast; no rounding needed).
const bits = new Uint32Array(1), bitsF = new Float32Array(bits.buffer);
const toBf16 = (x: number) => { bitsF[0] = x; bits[0] &= 0xffff0000; return bitsF[0]; };
/** Random [rows, cols] values exactly representable in `dtype`, and the tensor holding them. */
function input(rng: Rng, rows: number, cols: number, dtype: F): { v: Float64Array; t: Tensor<F> } {
  const v = rng.normals(rows * cols).map((x) => (dtype === 'bf16' ? toBf16(x) : Math.fround(x)));
  return { v, t: Tensor.fromFloats(Float32Array.from(v), [rows, cols], { dtype }) };
}
function withIsa<T>(isa: string, fn: () => T): T {
  const old = process.env.DSV3_CPU_ISA;
  process.env.DSV3_CPU_ISA = isa;
  try { return fn(); } finally { if (old === undefined) delete process.env.DSV3_CPU_ISA; else process.env.DSV3_CPU_ISA = old; }
}

describe('gemm', () => {
  test.each(GEMM_DTYPE_PAIRS)(
    'a %s, b %s: f32 and bf16 outputs over skinny and packed shapes', (ad, bd) => withSeed(async (seed) => {
      const rng = new Rng(seed);
      for (const { m, n, k } of GEMM_CPU) {
        const a = input(rng, m, k, ad), b = input(rng, n, k, bd);
        const want = ref.gemm(a.v, b.v, m, n, k);
        const o32 = poisoned([m, n], 'f32'), o16 = poisoned([m, n], 'bf16');
        expect(g.gemm(a.t, b.t, { out: o32, outDtype: 'f32' })).toBe(o32);
        expect(g.gemm(a.t, b.t, { out: o16, outDtype: 'bf16' })).toBe(o16);
        expectClose(await o32.toFloat32Array(), want, gemmF32Tol(a.v, b.v, want, m, n, k), `${ad}x${bd} m=${m} n=${n} k=${k} f32 out`);
        expectClose(await o16.toFloat32Array(), want, TOL_BF16_OUT, `${ad}x${bd} m=${m} n=${n} k=${k} bf16 out`);
        [a.t, b.t, o32, o16].forEach((t) => t.dispose());
      }
    }));

  test('out dtype defaults to a\'s; larger packed shape', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { m, n, k } = GEMM_CPU_PACKED;
    const a = input(rng, m, k, 'bf16'), b = input(rng, n, k, 'f32');
    const o = g.gemm(a.t, b.t);
    expect(o.dtype).toBe('bf16');
    expect(o.shape).toEqual([m, n]);
    expectClose(await o.toFloat32Array(), ref.gemm(a.v, b.v, m, n, k), TOL_BF16_OUT, 'bf16 default');
    expect(g.gemm(b.t, a.t).dtype).toBe('f32');
  }));

  test.each(['avx512bf16', 'avx512'] as const)('thin shapes (9 to 32 rows) on isa %s, every dtype pair, f32 and bf16 out', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [ad, bd] of GEMM_DTYPE_PAIRS) for (const { m, n, k } of GEMM_THIN) {
      const a = input(rng, m, k, ad), b = input(rng, n, k, bd);
      const want = ref.gemm(a.v, b.v, m, n, k);
      const o32 = poisoned([m, n], 'f32'), o16 = poisoned([m, n], 'bf16');
      withIsa(isa, () => { g.gemm(a.t, b.t, { out: o32, outDtype: 'f32' }); g.gemm(a.t, b.t, { out: o16, outDtype: 'bf16' }); });
      expectClose(await o32.toFloat32Array(), want, gemmF32Tol(a.v, b.v, want, m, n, k), `${isa} ${ad}x${bd} m=${m} n=${n} k=${k} f32 out`);
      expectClose(await o16.toFloat32Array(), want, TOL_BF16_OUT, `${isa} ${ad}x${bd} m=${m} n=${n} k=${k} bf16 out`);
      [a.t, b.t, o32, o16].forEach((t) => t.dispose());
    }
  }));

  test.each(CPU_ISAS)('isa %s', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const { m, n, k, a: ad, b: bd } of GEMM_ISA) {
      const a = input(rng, m, k, ad), b = input(rng, n, k, bd);
      const out = poisoned([m, n], 'f32');
      withIsa(isa, () => g.gemm(a.t, b.t, { out, outDtype: 'f32' }));
      const want = ref.gemm(a.v, b.v, m, n, k);
      expectClose(await out.toFloat32Array(), want, gemmF32Tol(a.v, b.v, want, m, n, k), `${isa} m=${m} n=${n} k=${k} ${ad}x${bd}`);
    }
  }));

  test('bad input gives typed errors', () => {
    const a = Tensor.zeros([3, 8]), b = Tensor.zeros([5, 8]);
    expect(() => g.gemm(a, b)).not.toThrow();
    expect(() => g.gemm(a, Tensor.zeros([5, 9]))).toThrow(ShapeError);
    expect(() => g.gemm(a, Tensor.zeros([5, 9]))).toThrow("gemm: argument 'b' must have shape [5,8], got [5,9]");
    expect(() => g.gemm(a, Tensor.zeros([40]))).toThrow(ShapeError);
    expect(() => g.gemm(Tensor.zeros([3, 8], { dtype: 'f16' }) as never, b)).toThrow(DTypeError);
    expect(() => g.gemm(a, Tensor.zeros([5, 8], { dtype: 'f8_e4m3' }) as never)).toThrow("gemm: argument 'b' must have dtype f32 or bf16, got f8_e4m3");
    expect(() => g.gemm(a, {} as never)).toThrow(ArgumentError);
    expect(() => g.gemm(a, b, 'x' as never)).toThrow(ArgumentError);
    expect(() => g.gemm(a, b, { outDtype: 'f8_e4m3' as never })).toThrow(DTypeError);
    expect(() => g.gemm(a, b, { out: Tensor.zeros([5, 3]) })).toThrow(ShapeError);
    expect(() => g.gemm(a, b, { out: Tensor.zeros([3, 5], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    const d = Tensor.zeros([5, 8]);
    d.dispose();
    expect(() => g.gemm(a, d)).toThrow(DisposedError);
    if (backends().cuda.available) expect(() => g.gemm(a, b.to('cuda'))).toThrow(DeviceError);
  });
});
