// groupedGemmContiguous / groupedGemmMasked (DeepGEMM's MoE layouts), FP8 and bf16/f32: CPU backend vs
// per-expert float64 references (test/reference/gemm.ts). Unwritten rows must stay NaN; bad offsets /
// counts (device data) reject at the next read instead of touching memory.
import { ArgumentError, DTypeError, DisposedError, ShapeError, Tensor } from '../../lib';
import * as g from '../../lib/ops/gemm';
import { CONTIGUOUS_CPU, CONTIGUOUS_CPU_FLOAT_OFFSETS, MASKED_CPU } from '../cases/grouped_gemm';
import { CPU_ISAS } from '../cases/gemm';
import { expectClose, poisoned, TOL, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/gemm';
import { Rng } from '../reference/rng';

const kb = (k: number) => Math.ceil(k / 128);
// Inputs exactly representable in bf16: an f32 with its low 16 bits cleared (fast; no rounding needed).
const bits = new Uint32Array(1), bitsF = new Float32Array(bits.buffer);
const toBf16 = (x: number) => { bitsF[0] = x; bits[0] &= 0xffff0000; return bitsF[0]; };
const i32 = (xs: number[]) => Tensor.fromArray(Int32Array.from(xs));
const bf16 = (v: Float64Array, shape: number[]) => Tensor.fromFloats(Float32Array.from(v), shape, { dtype: 'bf16' });
function withIsa<T>(isa: string, fn: () => T): T {
  const old = process.env.DSV3_CPU_ISA;
  process.env.DSV3_CPU_ISA = isa;
  try { return fn(); } finally { if (old === undefined) delete process.env.DSV3_CPU_ISA; else process.env.DSV3_CPU_ISA = old; }
}

/** FP8 data for `rows` activation rows (per-row scales) and g experts [n,k] (per-128x128 scales); rows outside `live` hold NaN codes. */
function fp8Case(rng: Rng, rows: number, gN: number, n: number, k: number, live: (r: number) => boolean) {
  const a = ref.randomFp8(rng, rows, k, rows);
  for (let r = 0; r < rows; r++) if (!live(r)) a.codes.fill(0x7f, r * k, (r + 1) * k);
  const experts = Array.from({ length: gN }, () => ref.randomFp8(rng, n, k, kb(n)));
  const bCodes = new Uint8Array(gN * n * k), bScale = new Float32Array(gN * kb(n) * kb(k));
  experts.forEach((e, i) => { bCodes.set(e.codes, i * n * k); bScale.set(e.scale, i * kb(n) * kb(k)); });
  return { a, experts, bCodes, bScale };
}
/** The rows r0..r1 of an FP8 activation as its own operand (for the per-expert reference). */
function sliceFp8(a: ref.Fp8Data, k: number, r0: number, r1: number): ref.Fp8Data {
  return { codes: a.codes.subarray(r0 * k, r1 * k), scale: a.scale.subarray(r0 * kb(k), r1 * kb(k)) };
}

describe('groupedGemmContiguous', () => {
  const { offsets, rows: sumM, n, k } = CONTIGUOUS_CPU;

  test('fp8: per-expert reference, unwritten rows stay NaN', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const gN = offsets.length - 1;
    const c = fp8Case(rng, sumM, gN, n, k, (r) => r >= offsets[0] && r < offsets[gN]);
    const start = offsets.slice(0, gN), count = start.map((s, e) => offsets[e + 1] - s);
    const want = ref.grouped(sumM, n, start, count, (e, r0, r1) => ref.fp8Gemm(sliceFp8(c.a, k, r0, r1), c.experts[e], r1 - r0, n, k));
    const A = { data: Tensor.fromArray(c.a.codes, [sumM, k], { dtype: 'f8_e4m3' as const }), scale: Tensor.fromArray(c.a.scale, [sumM, kb(k)]) };
    const B = { data: Tensor.fromArray(c.bCodes, [gN, n, k], { dtype: 'f8_e4m3' as const }), scale: Tensor.fromArray(c.bScale, [gN, kb(n), kb(k)]) };
    for (const isa of CPU_ISAS) {
      const o32 = poisoned([sumM, n], 'f32');
      expect(withIsa(isa, () => g.groupedGemmContiguous(A, B, i32(offsets), { out: o32, outDtype: 'f32' }))).toBe(o32);
      expectClose(await o32.toFloat32Array(), want, TOL.f32, `fp8 ${isa} f32 out`);
    }
    const o16 = poisoned([sumM, n], 'bf16');
    g.groupedGemmContiguous(A, B, i32(offsets), { out: o16 });
    expectClose(await o16.toFloat32Array(), want, TOL_BF16_OUT, 'fp8 bf16 out');
    expect(g.groupedGemmContiguous(A, B, i32(offsets)).dtype).toBe('bf16');
  }));

  test('bf16 and f32: one expert with all rows, and the odd-offsets layout', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const dt of ['bf16', 'f32'] as const) {
      const gN = 3;
      const av = rng.normals(sumM * k).map(toBf16), bv = rng.normals(gN * n * k).map(toBf16);
      const A = dt === 'bf16' ? bf16(av, [sumM, k]) : Tensor.fromArray(Float32Array.from(av), [sumM, k]);
      const B = bf16(bv, [gN, n, k]);
      for (const offs of CONTIGUOUS_CPU_FLOAT_OFFSETS) {
        const start = offs.slice(0, gN), count = start.map((s, e) => offs[e + 1] - s);
        const want = ref.grouped(sumM, n, start, count, (e, r0, r1) =>
          ref.gemm(ref.rows(av, k, r0, r1), ref.rows(bv, n * k, e, e + 1), r1 - r0, n, k));
        const out = poisoned([sumM, n], 'f32');
        g.groupedGemmContiguous(A, B, i32(offs), { out, outDtype: 'f32' });
        expectClose(await out.toFloat32Array(), want, TOL.f32, `${dt} offsets ${offs}`);
      }
      expect(g.groupedGemmContiguous(A, B, i32([0, 1, 2, 3])).dtype).toBe(dt);
    }
  }));

  test('invalid offsets reject at the read, and the stream recovers', async () => {
    const A = Tensor.zeros([10, 16], { dtype: 'bf16' }), B = Tensor.zeros([2, 8, 16], { dtype: 'bf16' });
    for (const [offs, msg] of [[[0, 6, 4], /offsets must be non-decreasing within \[0, 10\].*offsets\[1\] = 6, offsets\[2\] = 4/],
      [[0, 5, 11], /offsets\[2\] = 11/], [[-1, 2, 3], /offsets\[0\] = -1 is outside \[0, 10\]/]] as [number[], RegExp][]) {
      const out = poisoned([10, 8], 'bf16');
      g.groupedGemmContiguous(A, B, i32(offs), { out });
      await expect(out.toFloat32Array()).rejects.toThrow(ArgumentError);
      const again = poisoned([10, 8], 'bf16');
      g.groupedGemmContiguous(A, B, i32(offs), { out: again });
      await expect(again.toFloat32Array()).rejects.toThrow(msg);
      await expect(out.toFloat32Array()).rejects.toThrow(msg);  // the failed op's output never reads as valid (issue 18)
    }
    const ok = g.groupedGemmContiguous(A, B, i32([0, 4, 10]), { outDtype: 'f32' });
    expect(Array.from(await ok.toFloat32Array())).toEqual(new Array(80).fill(0));
  });

  test('bad input gives typed errors', () => {
    const A = Tensor.zeros([10, 300], { dtype: 'bf16' }), B = Tensor.zeros([2, 200, 300], { dtype: 'bf16' });
    const fa = { data: Tensor.fromArray(new Uint8Array(3000), [10, 300], { dtype: 'f8_e4m3' as const }), scale: Tensor.zeros([10, 3]) };
    const fb = { data: Tensor.fromArray(new Uint8Array(120000), [2, 200, 300], { dtype: 'f8_e4m3' as const }), scale: Tensor.zeros([2, 2, 3]) };
    const offs = i32([0, 5, 10]);
    expect(() => g.groupedGemmContiguous(A, B, offs)).not.toThrow();
    expect(() => g.groupedGemmContiguous(fa, fb, offs)).not.toThrow();
    expect(() => g.groupedGemmContiguous(fa, B as never, offs)).toThrow(DTypeError);
    expect(() => g.groupedGemmContiguous(fa, B as never, offs)).toThrow("groupedGemmContiguous: argument 'b' must be an FP8 operand {data, scale} like 'a', got a bf16 tensor");
    expect(() => g.groupedGemmContiguous(A, fb as never, offs)).toThrow(DTypeError);
    expect(() => g.groupedGemmContiguous(A, B, Tensor.fromArray(new BigInt64Array(3)) as never)).toThrow(DTypeError);
    expect(() => g.groupedGemmContiguous(A, B, i32([0, 10]))).toThrow("groupedGemmContiguous: argument 'offsets' must have shape [3], got [2]");
    expect(() => g.groupedGemmContiguous(A, Tensor.zeros([2, 200, 301], { dtype: 'bf16' }), offs)).toThrow(ShapeError);
    expect(() => g.groupedGemmContiguous(A, Tensor.zeros([200, 300], { dtype: 'bf16' }), offs)).toThrow(ShapeError);
    expect(() => g.groupedGemmContiguous(fa, { data: fb.data, scale: Tensor.zeros([2, 3, 2]) }, offs)).toThrow(
      "groupedGemmContiguous: argument 'b.scale' must have shape [2,2,3], got [2,3,2]");
    expect(() => g.groupedGemmContiguous({ data: fa.data, scale: Tensor.zeros([3, 10]) }, fb, offs)).toThrow(ShapeError);
    expect(() => g.groupedGemmContiguous(A, B, offs, { out: Tensor.zeros([10, 201], { dtype: 'bf16' }) })).toThrow(ShapeError);
    expect(() => g.groupedGemmContiguous(A, B, offs, { outDtype: 'i32' as never })).toThrow(DTypeError);
    expect(() => g.groupedGemmContiguous(A, 7 as never, offs)).toThrow(ArgumentError);
    expect(() => g.groupedGemmContiguous(A, B, {} as never)).toThrow(ArgumentError);
    const d = i32([0, 5, 10]);
    d.dispose();
    expect(() => g.groupedGemmContiguous(A, B, d)).toThrow(DisposedError);
  });
});

describe('groupedGemmMasked', () => {
  const { experts: gN, mMax, n, k, counts } = MASKED_CPU;

  test('fp8 and bf16: rows < counts[e] match the reference, the rest stay NaN', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const live = (r: number) => r % mMax < counts[Math.floor(r / mMax)];
    const c = fp8Case(rng, gN * mMax, gN, n, k, live);
    const start = counts.map((_, e) => e * mMax);
    const want = ref.grouped(gN * mMax, n, start, counts, (e, r0, r1) => ref.fp8Gemm(sliceFp8(c.a, k, r0, r1), c.experts[e], r1 - r0, n, k));
    const A = { data: Tensor.fromArray(c.a.codes, [gN, mMax, k], { dtype: 'f8_e4m3' as const }), scale: Tensor.fromArray(c.a.scale, [gN, mMax, kb(k)]) };
    const B = { data: Tensor.fromArray(c.bCodes, [gN, n, k], { dtype: 'f8_e4m3' as const }), scale: Tensor.fromArray(c.bScale, [gN, kb(n), kb(k)]) };
    for (const isa of CPU_ISAS) {
      const out = poisoned([gN, mMax, n], 'f32');
      expect(withIsa(isa, () => g.groupedGemmMasked(A, B, i32(counts), { out, outDtype: 'f32' }))).toBe(out);
      expectClose(await out.toFloat32Array(), want, TOL.f32, `fp8 masked ${isa}`);
    }
    const o16 = poisoned([gN, mMax, n], 'bf16');
    g.groupedGemmMasked(A, B, i32(counts), { out: o16 });
    expectClose(await o16.toFloat32Array(), want, TOL_BF16_OUT, 'fp8 masked bf16 out');

    // bf16 activations with NaN in the rows past counts, f32 experts
    const av = rng.normals(gN * mMax * k).map((x, i) => (live(Math.floor(i / k)) ? toBf16(x) : NaN));
    const bv = rng.normals(gN * n * k).map(Math.fround);
    const wantB = ref.grouped(gN * mMax, n, start, counts, (e, r0, r1) =>
      ref.gemm(ref.rows(av, k, r0, r1), ref.rows(bv, n * k, e, e + 1), r1 - r0, n, k));
    const ob = poisoned([gN, mMax, n], 'bf16');
    g.groupedGemmMasked(bf16(av, [gN, mMax, k]), Tensor.fromArray(Float32Array.from(bv), [gN, n, k]), i32(counts), { out: ob });
    expectClose(await ob.toFloat32Array(), wantB, TOL_BF16_OUT, 'bf16 masked');
  }));

  test('invalid counts reject at the read', async () => {
    const A = Tensor.zeros([2, 6, 16]), B = Tensor.zeros([2, 8, 16]);
    for (const [cs, msg] of [[[7, 0], /counts\[0\] = 7 is outside \[0, 6\]/], [[1, -2], /counts\[1\] = -2/]] as [number[], RegExp][]) {
      const out = poisoned([2, 6, 8], 'f32');
      g.groupedGemmMasked(A, B, i32(cs), { out });
      await expect(out.toFloat32Array()).rejects.toThrow(msg);
      await expect(out.toFloat32Array()).rejects.toThrow(msg);  // every time: it never reads back as valid (issue 18)
    }
  });

  test('bad input gives typed errors', () => {
    const A = Tensor.zeros([3, 6, 16]), B = Tensor.zeros([3, 8, 16]);
    const cs = i32([1, 2, 3]);
    expect(() => g.groupedGemmMasked(A, B, cs)).not.toThrow();
    expect(() => g.groupedGemmMasked(Tensor.zeros([18, 16]), B, cs)).toThrow(ShapeError);
    expect(() => g.groupedGemmMasked(Tensor.zeros([2, 6, 16]), B, cs)).toThrow("groupedGemmMasked: argument 'a' must have shape [3,*,*], got [2,6,16]");
    expect(() => g.groupedGemmMasked(A, B, i32([1, 2]))).toThrow("groupedGemmMasked: argument 'counts' must have shape [3], got [2]");
    expect(() => g.groupedGemmMasked(A, Tensor.zeros([3, 8, 15]), cs)).toThrow(ShapeError);
    const fa = { data: Tensor.fromArray(new Uint8Array(288), [3, 6, 16], { dtype: 'f8_e4m3' as const }), scale: Tensor.zeros([3, 6, 1]) };
    const fb = { data: Tensor.fromArray(new Uint8Array(384), [3, 8, 16], { dtype: 'f8_e4m3' as const }), scale: Tensor.zeros([3, 1, 1]) };
    expect(() => g.groupedGemmMasked(fa, fb, cs)).not.toThrow();
    expect(() => g.groupedGemmMasked({ data: fa.data, scale: Tensor.zeros([3, 1, 6]) }, fb, cs)).toThrow(
      "groupedGemmMasked: argument 'a.scale' must have shape [3,6,1], got [3,1,6]");
    expect(() => g.groupedGemmMasked(A, fb as never, cs)).toThrow(DTypeError);
    expect(() => g.groupedGemmMasked(A, B, cs, { out: Tensor.zeros([3, 6, 9]) })).toThrow(ShapeError);
    expect(() => g.groupedGemmMasked(A, B, cs, null as never)).not.toThrow();
    expect(() => g.groupedGemmMasked(A, B, cs, 1 as never)).toThrow(ArgumentError);
  });
});
