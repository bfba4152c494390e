// groupedGemmSiluMulContiguous / Masked: the experts' gate/up GEMM with silu(gate) * up and the FP8
// re-quantization fused, against (1) a float64 reference: the FP8 GEMMs in float64, silu * up, then
// act_quant (codes compared after decoding, since float64 vs f32 sums can move a value across a
// rounding boundary), and (2) the composition of the existing CPU ops (groupedGemm to f32, then
// siluMulQuant), which it must equal byte for byte. Rows of no expert stay poisoned.
import { ArgumentError, DTypeError, ShapeError, Tensor } from '../../lib';
import * as g from '../../lib/ops/gemm';
import { siluMulQuant } from '../../lib/ops/moe';
import { GLU_CONTIGUOUS_CPU, GLU_MASKED_CPU, TOL_GLU } from '../cases/grouped_gemm';
import { poisoned, relErr, withSeed } from '../helpers';
import { e4m3Decode } from '../reference/codec';
import * as ref from '../reference/gemm';
import { siluMulQuant as refSiluMulQuant } from '../reference/moe_dispatch';
import { Rng } from '../reference/rng';

const kb = (k: number) => Math.ceil(k / 128);
const i32 = (xs: number[]) => Tensor.fromArray(Int32Array.from(xs));

/** Experts' [w1; w3] stacked [g, 2n, k] with 128x128 block scales [g, 2n/128, kb]. */
function w13Case(rng: Rng, gN: number, n: number, k: number) {
  const experts = Array.from({ length: gN }, () => ref.randomFp8(rng, 2 * n, k, kb(2 * n)));
  const codes = new Uint8Array(gN * 2 * n * k), scale = new Float32Array(gN * kb(2 * n) * kb(k));
  experts.forEach((e, i) => { codes.set(e.codes, i * 2 * n * k); scale.set(e.scale, i * kb(2 * n) * kb(k)); });
  return {
    experts,
    op: { data: Tensor.fromArray(codes, [gN, 2 * n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(scale, [gN, kb(2 * n), kb(k)]) },
  };
}

/** Decoded h of rows r (data [rows, n] codes, scale [rows, n / 128 or 1]). */
function decode(codes: Uint8Array, scale: Float32Array | Float64Array, r: number, n: number, nb = n / 128): Float64Array {
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) out[j] = e4m3Decode(codes[r * n + j]) * scale[r * nb + Math.floor(j / (n / nb))];
  return out;
}

/** Row r of ours against row i of the float64 reference, decoded. An element whose reference value, in
 * units of its block scale, lies within a relative NEAR_MIDPOINT of the midpoint between two adjacent e4m3
 * codes may round either way (f32 vs float64 sums): where ours is the other of those two codes, the
 * reference takes our value there (counted in `ties`); any other code difference still counts. One such
 * element can dominate a row (a code step is 2^-3 of its value). */
const NEAR_MIDPOINT = 1e-4;
function compareRow(codes: Uint8Array, sc: Float32Array, r: number, want: { h: Float64Array; codes: Uint8Array; scale: Float64Array },
  i: number, n: number, nb: number, ties: { n: number }): number {
  const got = decode(codes, sc, r, n, nb), ref = decode(want.codes, want.scale, i, n, nb);
  for (let j = 0; j < n; j++) {
    const a = codes[r * n + j], b = want.codes[i * n + j];
    if (a === b || (a & 0x80) !== (b & 0x80) || Math.abs((a & 0x7f) - (b & 0x7f)) !== 1) continue;
    const q = Math.abs(want.h[i * n + j] / want.scale[i * nb + Math.floor(j / (n / nb))]);
    const mid = (Math.abs(e4m3Decode(a)) + Math.abs(e4m3Decode(b))) / 2;
    if (Math.abs(q - mid) <= NEAR_MIDPOINT * mid) { ref[j] = got[j]; ties.n++; }
  }
  return relErr(got, ref);
}

describe('groupedGemmSiluMul', () => {
  test('contiguous: float64 reference, untouched rows, and byte equality with groupedGemm + siluMulQuant', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { offsets, rows, n, k } = GLU_CONTIGUOUS_CPU;
    const gN = offsets.length - 1;
    const a = ref.randomFp8(rng, rows, k, rows);
    const w = w13Case(rng, gN, n, k);
    const aOp = { data: Tensor.fromArray(a.codes, [rows, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(a.scale, [rows, kb(k)]) };
    const out = { data: poisoned([rows, n], 'f8_e4m3'), scale: poisoned([rows, n / 128], 'f32') };
    const got = g.groupedGemmSiluMulContiguous(aOp, w.op, i32(offsets), { out });
    expect(got.data).toBe(out.data);
    const codes = await got.data.bytes(), sc = await got.scale.toFloat32Array();
    const ties = { n: 0 };
    // float64 reference per expert segment
    for (let e = 0; e < gN; e++) {
      const r0 = offsets[e], r1 = offsets[e + 1];
      if (r1 === r0) continue;
      const seg = { codes: a.codes.subarray(r0 * k, r1 * k), scale: a.scale.subarray(r0 * kb(k), r1 * kb(k)) };
      const gu = ref.fp8Gemm(seg, w.experts[e], r1 - r0, 2 * n, k);  // [rows, 2n]
      const gate = new Float64Array((r1 - r0) * n), up = new Float64Array((r1 - r0) * n);
      for (let i = 0; i < r1 - r0; i++) for (let j = 0; j < n; j++) { gate[i * n + j] = gu[i * 2 * n + j]; up[i * n + j] = gu[i * 2 * n + n + j]; }
      const want = refSiluMulQuant(gate, up, r1 - r0, n, 'f32');
      for (let i = 0; i < r1 - r0; i++) {
        const e1 = compareRow(codes, sc, r0 + i, want, i, n, n / 128, ties);
        if (!(e1 <= TOL_GLU)) throw new Error(`expert ${e} row ${r0 + i}: relative error ${e1} vs the float64 reference`);
      }
    }
    if (ties.n) console.log(`groupedGemmSiluMulContiguous: ${ties.n} elements at an e4m3 rounding midpoint took the other neighbour code`);
    const [r0, r1] = [offsets[0], offsets[gN]], nb = n / 128;  // rows of some expert
    const noExpert = Array.from({ length: rows }, (_, r) => r).filter((r) => r < r0 || r >= r1);
    expect(noExpert.length).toBeGreaterThan(0);
    for (const r of noExpert) {
      expect(Array.from(codes.subarray(r * n, (r + 1) * n)).every((c) => c === 0x7f)).toBe(true);
      expect(Number.isNaN(sc[r * nb])).toBe(true);
    }
    // the composition of the existing ops, byte for byte (rows of some expert)
    const gu = g.groupedGemmContiguous(aOp, w.op, i32(offsets), { outDtype: 'f32' });
    const comp = siluMulQuant(gu);
    const [cc, cs] = [await comp.data.bytes(), await comp.scale.bytes()];
    const gs = new Uint8Array(sc.buffer);
    expect(Buffer.from(codes.subarray(r0 * n, r1 * n)).equals(Buffer.from(cc.subarray(r0 * n, r1 * n)))).toBe(true);
    expect(Buffer.from(gs.subarray(r0 * nb * 4, r1 * nb * 4)).equals(Buffer.from(cs.subarray(r0 * nb * 4, r1 * nb * 4)))).toBe(true);
  }));

  test('masked: rows < counts[e] written, the rest untouched; ue8m0 scales are powers of two', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { experts: gN, mMax, n, k, counts } = GLU_MASKED_CPU;
    const a = ref.randomFp8(rng, gN * mMax, k, gN * mMax);
    const w = w13Case(rng, gN, n, k);
    const aOp = { data: Tensor.fromArray(a.codes, [gN, mMax, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(a.scale, [gN, mMax, kb(k)]) };
    const out = { data: poisoned([gN, mMax, n], 'f8_e4m3'), scale: poisoned([gN, mMax, 1], 'f32') };
    const got = g.groupedGemmSiluMulMasked(aOp, w.op, i32(counts), { out, ue8m0: true });
    const codes = await got.data.bytes(), sc = await got.scale.toFloat32Array();
    const ties = { n: 0 };
    for (let e = 0; e < gN; e++) {
      for (let i = 0; i < mMax; i++) {
        const r = e * mMax + i;
        if (i >= counts[e]) { expect(Number.isNaN(sc[r])).toBe(true); expect(codes[r * n]).toBe(0x7f); continue; }
        expect(Number.isInteger(Math.log2(sc[r]))).toBe(true);
        const seg = { codes: a.codes.subarray(r * k, (r + 1) * k), scale: a.scale.subarray(r * kb(k), (r + 1) * kb(k)) };
        const gu = ref.fp8Gemm(seg, w.experts[e], 1, 2 * n, k);
        const want = refSiluMulQuant(gu.subarray(0, n), gu.subarray(n, 2 * n), 1, n, 'f32', true);
        const e1 = compareRow(codes, sc, r, want, 0, n, 1, ties);
        if (!(e1 <= TOL_GLU)) throw new Error(`expert ${e} row ${i}: relative error ${e1}`);
      }
    }
    if (ties.n) console.log(`groupedGemmSiluMulMasked: ${ties.n} elements at an e4m3 rounding midpoint took the other neighbour code`);
  }));

  test('bad input: typed errors', () => {
    const rng = new Rng(3);
    const a = ref.randomFp8(rng, 4, 128, 4);
    const aOp = { data: Tensor.fromArray(a.codes, [4, 128], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(a.scale, [4, 1]) };
    const w = w13Case(rng, 2, 128, 128);
    const odd = { data: Tensor.zeros([2, 192, 128], { dtype: 'f8_e4m3' }), scale: Tensor.zeros([2, 2, 1]) };
    expect(() => g.groupedGemmSiluMulContiguous(aOp, odd, i32([0, 2, 4]))).toThrow(ShapeError);
    expect(() => g.groupedGemmSiluMulContiguous(aOp, odd, i32([0, 2, 4]))).toThrow(/n a multiple of 128/);
    expect(() => g.groupedGemmSiluMulContiguous(aOp, w.op, i32([0, 4]))).toThrow(ShapeError);
    expect(() => g.groupedGemmSiluMulContiguous(aOp, w.op, Tensor.zeros([3]) as unknown as Tensor<'i32'>)).toThrow(DTypeError);
    expect(() => g.groupedGemmSiluMulContiguous(aOp.data as unknown as g.Fp8Operand, w.op, i32([0, 2, 4]))).toThrow(ArgumentError);
    expect(() => g.groupedGemmSiluMulMasked(aOp, w.op, i32([1, 1]))).toThrow(ShapeError);  // a must be [g, m_max, k]
  });

  test('offsets outside the rows of a are reported when the result is read', async () => {
    const rng = new Rng(4);
    const a = ref.randomFp8(rng, 4, 128, 4);
    const aOp = { data: Tensor.fromArray(a.codes, [4, 128], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(a.scale, [4, 1]) };
    const w = w13Case(rng, 2, 128, 128);
    const r = g.groupedGemmSiluMulContiguous(aOp, w.op, i32([0, 3, 9]));
    await expect(r.data.bytes()).rejects.toThrow(/offsets must be non-decreasing/);
  });
});
