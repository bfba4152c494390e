// fp8Gemm: CPU backend vs the float64 reference of DeepSeek's fp8_gemm recipe (test/reference/gemm.ts),
// on every instruction-set path (DSV3_CPU_ISA), partial 128-blocks in n and k, skinny and packed m.
import { ArgumentError, backends, DisposedError, DTypeError, DeviceError, ShapeError, Tensor } from '../../lib';
import * as g from '../../lib/ops/gemm';
import { CPU_ISAS, FP8_GEMM_CPU, FP8_GEMM_CPU_LARGE, FP8_GEMM_CPU_M, FP8_GEMM_ISA, FP8_GEMM_NAN_ROW, TOL_FP8_F32_OUT } from '../cases/gemm';
import { expectClose, expectWithinDotBound, poisoned, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/gemm';
import { Rng } from '../reference/rng';

const kb = (k: number) => Math.ceil(k / 128);
function operand(d: ref.Fp8Data, rows: number, k: number, scaleShape: number[]): g.Fp8Operand {
  return { data: Tensor.fromArray(d.codes, [rows, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(d.scale, scaleShape) };
}
const free = (...xs: (g.Fp8Operand | Tensor)[]) => xs.forEach((x) => ('data' in x ? (x.data.dispose(), x.scale.dispose()) : x.dispose()));

/** Runs fn with DSV3_CPU_ISA set (the binding reads it at call time), restoring the environment after. */
function withIsa<T>(isa: string | undefined, fn: () => T): T {
  const old = process.env.DSV3_CPU_ISA;
  if (isa === undefined) delete process.env.DSV3_CPU_ISA; else process.env.DSV3_CPU_ISA = isa;
  try { return fn(); } finally { if (old === undefined) delete process.env.DSV3_CPU_ISA; else process.env.DSV3_CPU_ISA = old; }
}
const ORDER = ['generic', 'avx2', 'avx512', 'avx512bf16'];
/** The path a request runs on: the request, capped by what this CPU supports. */
function expectedIsa(want: string): string {
  const sup = withIsa(undefined, () => g.cpuGemmIsa().supported);
  return ORDER[Math.min(ORDER.indexOf(want), ORDER.indexOf(sup))];
}

async function check(rng: Rng, m: number, n: number, k: number, what: string): Promise<void> {
  const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
  const want = ref.fp8Gemm(a, b, m, n, k);
  const abs = (d: ref.Fp8Data): ref.Fp8Data => ({ codes: d.codes.map((c) => c & 0x7f), scale: d.scale });
  const mag = ref.fp8Gemm(abs(a), abs(b), m, n, k);  // sum_k |a b|: the f32 accumulation's error bound
  const A = operand(a, m, k, [m, kb(k)]), B = operand(b, n, k, [kb(n), kb(k)]);
  const o32 = poisoned([m, n], 'f32');
  expect(g.fp8Gemm(A, B, { out: o32, outDtype: 'f32' })).toBe(o32);
  const o16 = poisoned([m, n], 'bf16');
  expect(g.fp8Gemm(A, B, { out: o16 })).toBe(o16);
  // Per element against sum |a b|, not relative to the result: a dot that nearly cancels (n = 1: one element) is
  // off by f32 rounding of its terms, which no kernel order avoids (seed 1063794723: 3e-5 of the result,
  // 2e-8 of sum |a b|, on every ISA).
  expectWithinDotBound(await o32.toFloat32Array(), want, mag, TOL_FP8_F32_OUT, `${what} m=${m} n=${n} k=${k} f32 out`);
  expectClose(await o16.toFloat32Array(), want, TOL_BF16_OUT, `${what} m=${m} n=${n} k=${k} bf16 out`);
  free(A, B, o32, o16);
}

describe('fp8Gemm', () => {
  test.each(FP8_GEMM_CPU_M)('m=%i, n in {1,7,128,200,576} x k in {7,128,200,384}', (m) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const { n, k } of FP8_GEMM_CPU(m)) await check(rng, m, n, k, 'default isa');
  }));

  test(`m=${FP8_GEMM_CPU_LARGE.m}, n=${FP8_GEMM_CPU_LARGE.n}, k=${FP8_GEMM_CPU_LARGE.k}`, () => withSeed(async (seed) => {
    const { m, n, k } = FP8_GEMM_CPU_LARGE;
    await check(new Rng(seed), m, n, k, 'large');
  }));

  test.each(CPU_ISAS)('isa %s: skinny and packed shapes', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    expect(withIsa(isa, () => g.cpuGemmIsa().selected)).toBe(expectedIsa(isa));
    for (const { m, n, k } of FP8_GEMM_ISA) {
      const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
      const A = operand(a, m, k, [m, kb(k)]), B = operand(b, n, k, [kb(n), kb(k)]);
      const out = poisoned([m, n], 'f32');
      withIsa(isa, () => g.fp8Gemm(A, B, { out, outDtype: 'f32' }));
      expectClose(await out.toFloat32Array(), ref.fp8Gemm(a, b, m, n, k), TOL_FP8_F32_OUT, `${isa} m=${m} n=${n} k=${k}`);
      free(A, B, out);
    }
  }));

  test('default bf16 output; NaN codes propagate to their row only', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const { m, n, k } of FP8_GEMM_NAN_ROW) {
      const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
      a.codes[1 * k + 140] = 0x7f;  // row 1, second K block
      const want = ref.fp8Gemm(a, b, m, n, k);
      const A = operand(a, m, k, [m, kb(k)]), B = operand(b, n, k, [kb(n), kb(k)]);
      const out = g.fp8Gemm(A, B);
      expect(out.dtype).toBe('bf16');
      expect(out.shape).toEqual([m, n]);
      const got = await out.toFloat32Array();
      for (let j = 0; j < n; j++) expect(got[1 * n + j]).toBeNaN();
      expectClose(got, want, TOL_BF16_OUT, `m=${m} NaN row`);
      free(A, B, out);
    }
  }));

  test('cpuIsa option; a bad DSV3_CPU_ISA or cpuIsa is an ArgumentError at the call', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const a = ref.randomFp8(rng, 9, 140, 9), b = ref.randomFp8(rng, 33, 140, 1);
    const A = operand(a, 9, 140, [9, 2]), B = operand(b, 33, 140, [1, 2]);
    const out = poisoned([9, 33], 'f32');
    expect(g.cpuGemmIsa({ cpuIsa: 'generic' }).selected).toBe('generic');
    g.fp8Gemm(A, B, { out, outDtype: 'f32', cpuIsa: 'generic' });
    expectClose(await out.toFloat32Array(), ref.fp8Gemm(a, b, 9, 33, 140), TOL_FP8_F32_OUT, 'cpuIsa generic');
    expect(() => withIsa('sse9', () => g.fp8Gemm(A, B))).toThrow(ArgumentError);
    expect(() => withIsa('sse9', () => g.fp8Gemm(A, B))).toThrow(
      "fp8Gemm: argument 'cpuIsa' (default DSV3_CPU_ISA) must be avx512bf16, avx512, avx2 or generic, got 'sse9'");
    expect(() => g.fp8Gemm(A, B, { cpuIsa: 'neon' as never })).toThrow(ArgumentError);
    expect(() => withIsa('sse9', () => g.cpuGemmIsa())).toThrow(ArgumentError);
    free(A, B, out);
  }));

  test('bad input gives typed errors', () => {
    const m = 5, n = 200, k = 300;  // kb = 3, nb = 2: transposed scales have other shapes
    const rng = new Rng(7);
    const A = operand(ref.randomFp8(rng, m, k, m), m, k, [m, 3]);
    const B = operand(ref.randomFp8(rng, n, k, 2), n, k, [2, 3]);
    const f32 = Tensor.zeros([m, k]);
    const q = (data: Tensor, scale: Tensor) => ({ data, scale }) as g.Fp8Operand;
    expect(() => g.fp8Gemm(A, B)).not.toThrow();
    // not an operand / missing parts
    expect(() => g.fp8Gemm(f32 as never, B)).toThrow(ArgumentError);
    expect(() => g.fp8Gemm(f32 as never, B)).toThrow("fp8Gemm: argument 'a' must be an FP8 operand {data, scale}, got a Tensor");
    expect(() => g.fp8Gemm({ data: A.data } as never, B)).toThrow("fp8Gemm: argument 'a.scale' must be a Tensor, got undefined");
    expect(() => g.fp8Gemm(A, 3 as never)).toThrow(ArgumentError);
    // dtypes
    expect(() => g.fp8Gemm(q(f32, A.scale), B)).toThrow(DTypeError);
    expect(() => g.fp8Gemm(q(f32, A.scale), B)).toThrow("fp8Gemm: argument 'a.data' must have dtype f8_e4m3, got f32");
    expect(() => g.fp8Gemm(A, q(B.data, Tensor.zeros([2, 3], { dtype: 'bf16' })))).toThrow(DTypeError);
    // shapes: k mismatch, 1-D, transposed or floor-sized scales
    const Bk = operand(ref.randomFp8(rng, n, 256, 2), n, 256, [2, 2]);
    expect(() => g.fp8Gemm(A, Bk)).toThrow("fp8Gemm: argument 'b.data' must have shape [200,300], got [200,256]");
    expect(() => g.fp8Gemm(q(A.data.reshape([m * k]), A.scale), B)).toThrow(ShapeError);
    expect(() => g.fp8Gemm(q(A.data, Tensor.zeros([3, m])), B)).toThrow("fp8Gemm: argument 'a.scale' must have shape [5,3], got [3,5]");
    expect(() => g.fp8Gemm(A, q(B.data, Tensor.zeros([3, 2])))).toThrow(ShapeError);
    expect(() => g.fp8Gemm(A, q(B.data, Tensor.zeros([1, 3])))).toThrow("fp8Gemm: argument 'b.scale' must have shape [2,3], got [1,3]");
    expect(() => g.fp8Gemm(A, q(B.data, Tensor.zeros([2, 2])))).toThrow(ShapeError);
    // options and out
    expect(() => g.fp8Gemm(A, B, { outDtype: 'f16' as never })).toThrow(DTypeError);
    expect(() => g.fp8Gemm(A, B, 5 as never)).toThrow(ArgumentError);
    expect(() => g.fp8Gemm(A, B, { out: Tensor.zeros([m, n + 1], { dtype: 'bf16' }) })).toThrow(ShapeError);
    expect(() => g.fp8Gemm(A, B, { out: Tensor.zeros([m, n]) as never })).toThrow(DTypeError);  // f32 out without outDtype
    // disposed
    const d = operand(ref.randomFp8(rng, m, k, m), m, k, [m, 3]);
    d.scale.dispose();
    expect(() => g.fp8Gemm(d, B)).toThrow(DisposedError);
    // device (only where a CUDA device exists)
    if (backends().cuda.available) {
      const sc = B.scale.to('cuda');
      expect(() => g.fp8Gemm(A, q(B.data, sc))).toThrow(DeviceError);
    }
    free(A, B, Bk, f32, d.data);
  });
});
