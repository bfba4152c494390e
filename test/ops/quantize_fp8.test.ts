// quantizeFp8 (DeepSeek act_quant, 1x128 groups): CPU backend vs the float64 reference
// (test/reference/quant.ts). Codes and scales must match exactly.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import * as q from '../../lib/ops/quant';
import { ACT_QUANT_3D_CPU, ACT_QUANT_CPU, ACT_QUANT_UE8M0_CPU, TOL_FP8_ROUND_TRIP } from '../cases/quant';
import { poisoned, relErr, withSeed } from '../helpers';
import { e4m3Decode, e4m3Encode } from '../reference/codec';
import * as ref from '../reference/quant';
import { Rng } from '../reference/rng';

/** Rows of normals scaled by 10^U(-3,3) each; group 0 of the last row all zero; one huge outlier. */
function activations(rng: Rng, m: number, k: number): { x: Float32Array; zero: [number, number] | null; outlier: [number, number] | null } {
  const x = new Float32Array(m * k);
  for (let r = 0; r < m; r++) {
    const mag = 10 ** (rng.next() * 6 - 3);
    for (let j = 0; j < k; j++) x[r * k + j] = rng.normal() * mag;
  }
  const g = Math.ceil(k / 128);
  const zero: [number, number] = [m - 1, 0];
  for (let j = 0; j < Math.min(k, 128); j++) x[(m - 1) * k + j] = 0;
  let outlier: [number, number] | null = null;
  if (m > 1 || g > 1) {  // keep the zero group intact
    const j = (g - 1) * 128 + rng.int(0, Math.min(k, g * 128) - (g - 1) * 128 - 1);
    x[j] = (rng.next() < 0.5 ? -1 : 1) * 1e4 * (1 + rng.next());
    outlier = [0, j];
  }
  return { x, zero, outlier };
}

function expectCodesEqual(got: Uint8Array, want: Uint8Array, what: string): void {
  expect(got.length).toBe(want.length);
  let bad = 0, first = -1;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) { if (first < 0) first = i; bad++; }
  if (bad) throw new Error(`${what}: ${bad} of ${want.length} codes differ; first at ${first}: got 0x${got[first].toString(16)}, expected 0x${want[first].toString(16)}`);
}
function expectScalesEqual(got: Float32Array, want: Float64Array, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) throw new Error(`${what}: scale ${i}: got ${got[i]}, expected ${want[i]}`);
}

describe('quantizeFp8', () => {
  test.each(ACT_QUANT_CPU)('m=%i, k=%i, f32 and bf16 inputs: codes and scales exact', (m, k) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const g = Math.ceil(k / 128);
    const { x, zero, outlier } = activations(rng, m, k);
    for (const dtype of ['f32', 'bf16'] as const) {
      const xt = Tensor.fromFloats(x, [m, k], { dtype });
      const xv = await xt.toFloat32Array();  // the values the op sees (bf16-rounded)
      const out = poisoned([m, k], 'f8_e4m3'), outScale = poisoned([m, g], 'f32');
      const r = q.quantizeFp8(xt, { out: { data: out, scale: outScale } });
      expect(r.data).toBe(out);
      expect(r.scale).toBe(outScale);
      const codes = await r.data.toArray(), scale = await r.scale.toFloat32Array();
      const want = ref.actQuant(xv, m, k);
      expectCodesEqual(codes, want.codes, `${dtype} codes`);
      expectScalesEqual(scale, want.scale, `${dtype} scales`);

      // Independent of the reference: the all-zero group, the outlier, and reconstruction error.
      if (zero) {
        expect(scale[zero[0] * g + zero[1]]).toBe(Math.fround(Math.fround(1e-4) / 448));
        for (let j = 0; j < Math.min(k, 128); j++) expect(codes[zero[0] * k + j]).toBe(0);
      }
      if (outlier) {
        const [r0, j] = outlier;
        expect(scale[r0 * g + Math.floor(j / 128)]).toBe(Math.fround(Math.abs(xv[r0 * k + j]) / 448));
        expect(codes[r0 * k + j] & 0x7f).toBe(0x7e);  // maps to +-448
      }
      const deq = Array.from(codes, (c, i) => e4m3Decode(c) * scale[Math.floor(i / k) * g + Math.floor((i % k) / 128)]);
      expect(relErr(deq, xv)).toBeLessThan(TOL_FP8_ROUND_TRIP);

      // kernel.py divides in fp32 and so does the reference. With the exact (f64) quotient instead,
      // codes differ only where the fp32 quotient lands exactly on an e4m3 midpoint (a tie): common
      // for bf16 inputs (x = amax * 3/32 gives 42 * (1 + eps) -> fp32 42, a tie between 40 and 44).
      const exactQ = ref.actQuant(xv, m, k, { quotient: 'f64' }).codes;
      for (let i = 0; i < codes.length; i++) {
        if (codes[i] === exactQ[i]) continue;
        const s = scale[Math.floor(i / k) * g + Math.floor((i % k) / 128)];
        expect(Math.abs(codes[i] - exactQ[i])).toBe(1);
        expect(Math.fround(xv[i] / s)).toBe((e4m3Decode(codes[i]) + e4m3Decode(exactQ[i])) / 2);
      }
    }
  }));

  test('the op\'s encoder on every e4m3 value, midpoint (ties to even) and f32 neighbour (scale 1)', async () => {
    // Each row holds 448 (so scale = 448/448 = 1 and x / scale = x exactly) and 127 test values.
    const vals: number[] = [];
    const pos = Array.from({ length: 0x7f }, (_, c) => e4m3Decode(c));
    const up = (x: number): number => { const b = new Float32Array([x]), u = new Uint32Array(b.buffer); u[0]++; return b[0]; };
    const down = (x: number): number => { const b = new Float32Array([x]), u = new Uint32Array(b.buffer); u[0]--; return b[0]; };
    for (let c = 0; c < pos.length; c++) {
      vals.push(pos[c]);
      if (c + 1 < pos.length) { const mid = (pos[c] + pos[c + 1]) / 2; vals.push(mid, up(mid), down(mid)); }
    }
    vals.push(2 ** -11, 1e-20, 1.4e-45);
    const all = vals.flatMap((v) => [v, -v]);
    const m = Math.ceil(all.length / 127), k = 128;
    const x = new Float32Array(m * k);
    for (let r = 0; r < m; r++) {
      x[r * k] = r % 2 ? -448 : 448;
      for (let j = 1; j < k; j++) x[r * k + j] = all[(r * 127 + j - 1) % all.length];
    }
    const r = q.quantizeFp8(Tensor.fromArray(x, [m, k]));
    expect(Array.from(await r.scale.toFloat32Array())).toEqual(new Array(m).fill(1));
    const codes = await r.data.toArray();
    expectCodesEqual(codes, Uint8Array.from(x, e4m3Encode), 'codes at scale 1');
    for (let c = 0; c + 1 < pos.length; c++) {  // hand-checked ties: the even code wins
      const i = x.indexOf((pos[c] + pos[c + 1]) / 2);
      expect(codes[i]).toBe(c % 2 === 0 ? c : c + 1);
    }
  });

  test('leading dims are flattened; f16 input; fresh outputs', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const shape = ACT_QUANT_3D_CPU, k = shape[shape.length - 1], rows = shape.reduce((a, b) => a * b, 1) / k;
    const x = Float32Array.from(rng.normals(rows * k, 3));
    const xt = Tensor.fromFloats(x, shape, { dtype: 'f16' });
    const xv = await xt.toFloat32Array();
    const r = q.quantizeFp8(xt);
    expect(r.data.dtype).toBe('f8_e4m3');
    expect(r.data.shape).toEqual(shape);
    expect(r.scale.dtype).toBe('f32');
    expect(r.scale.shape).toEqual([...shape.slice(0, -1), Math.ceil(k / 128)]);
    const want = ref.actQuant(xv, rows, k);
    expectCodesEqual(await r.data.toArray(), want.codes, 'f16 codes');
    expectScalesEqual(await r.scale.toFloat32Array(), want.scale, 'f16 scales');
    const one = q.quantizeFp8(Tensor.fromArray(Float32Array.from([1, -2, 448, 0.0009])));  // 1-D: one row
    expect(one.scale.shape).toEqual([1]);
    expect(Array.from(await one.scale.toFloat32Array())).toEqual([1]);
    expect(Array.from(await one.data.toArray())).toEqual([0x38, 0xc0, 0x7e, 0x00]);  // 0.0009 < 2^-10: rounds to 0
  }));

  test.each(ACT_QUANT_UE8M0_CPU)('ue8m0, m=%i, k=%i: power-of-two scales, exact codes', (m, k) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const g = Math.ceil(k / 128);
    const { x } = activations(rng, m, k);
    const xt = Tensor.fromArray(x, [m, k]);
    const out = poisoned([m, k], 'f8_e4m3'), outScale = poisoned([m, g], 'f32');
    const r = q.quantizeFp8(xt, { ue8m0: true, out: { data: out, scale: outScale } });
    const codes = await r.data.toArray(), scale = await r.scale.toFloat32Array();
    const want = ref.actQuant(x, m, k, { ue8m0: true });
    expectCodesEqual(codes, want.codes, 'ue8m0 codes');
    expectScalesEqual(scale, want.scale, 'ue8m0 scales');
    for (let r0 = 0; r0 < m; r0++) {
      for (let gi = 0; gi < g; gi++) {
        let amax = 0;
        for (let j = gi * 128; j < Math.min(k, gi * 128 + 128); j++) amax = Math.max(amax, Math.abs(x[r0 * k + j]));
        const s = scale[r0 * g + gi], plain = Math.fround(Math.max(amax, Math.fround(1e-4)) / 448);
        expect(2 ** Math.round(Math.log2(s))).toBe(s);  // a power of two
        expect(s).toBeGreaterThanOrEqual(plain);
        expect(s / 2).toBeLessThan(plain);               // the smallest one
      }
    }
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([2, 128]);
    expect(() => q.quantizeFp8(Tensor.zeros([2, 128], { dtype: 'i32' }) as never)).toThrow(DTypeError);
    expect(() => q.quantizeFp8(Tensor.zeros([2, 128], { dtype: 'f8_e4m3' }) as never)).toThrow(DTypeError);
    expect(() => q.quantizeFp8(x, { out: { data: Tensor.zeros([2, 127], { dtype: 'f8_e4m3' }) } })).toThrow(ShapeError);
    // a tensor where the { data, scale } object belongs
    expect(() => q.quantizeFp8(x, { out: Tensor.zeros([2, 128], { dtype: 'f8_e4m3' }) as never })).toThrow(ArgumentError);
    expect(() => q.quantizeFp8(x, { out: { scale: Tensor.zeros([2, 2]) } })).toThrow(ShapeError);
    expect(() => q.quantizeFp8(x, { out: { scale: Tensor.zeros([2, 1], { dtype: 'bf16' }) as never } })).toThrow(DTypeError);
    expect(() => q.quantizeFp8(Tensor.zeros([]))).toThrow(ShapeError);
    expect(() => q.quantizeFp8(x, { ue8m0: 1 as never })).toThrow(ArgumentError);
    expect(() => q.quantizeFp8({} as never)).toThrow(ArgumentError);
    const d = Tensor.zeros([2, 128]);
    d.dispose();
    expect(() => q.quantizeFp8(d)).toThrow(DisposedError);
    expect(() => q.quantizeFp8(x)).not.toThrow();
    expect(() => q.quantizeFp8(Tensor.zeros([2, 128], { dtype: 'i32' }) as never))
      .toThrow("quantizeFp8: argument 'x' must have dtype f32, bf16 or f16, got i32");
    expect(() => q.quantizeFp8(x, { ue8m0: 'yes' as never })).toThrow("quantizeFp8: argument 'ue8m0' must be a boolean, got string");
  });
});
