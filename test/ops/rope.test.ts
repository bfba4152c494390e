// rope, yarnInvFreq, mlaSoftmaxScale: the CPU rotation vs the float64 reference
// (test/reference/rope.ts); the YaRN frequencies and the softmax scale vs the tiny-v3 fixture
// (values written by DeepSeek's model.py in float64), full V3's table (research/v3-reference.md §3-4),
// and HF's phrasing of the same formula.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { ROPE_CPU, ROPE_CPU_BF16, TINY_YARN as TINY, TOL_ROPE_F32_ANGLE, TOL_ROPE_F64_ANGLE, V3_YARN as V3 } from '../cases/rope';
import { expectClose, poisoned, relErr, TOL_BF16_OUT, withSeed } from '../helpers';
import * as ref from '../reference/rope';
import { Rng } from '../reference/rng';
import { mlaSoftmaxScale, rope, yarnInvFreq } from '../../lib/ops/rope';

/** A tiny safetensors reader: 8-byte LE header length, JSON header {name: {dtype, shape, data_offsets}}, data. */
function readSafetensorsF64(file: string, name: string): Float64Array {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const e = header[name];
  if (!e || e.dtype !== 'F64') throw new Error(`${name}: missing or not F64`);
  const [b, end] = e.data_offsets;
  const out = new Float64Array((end - b) / 8);
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(8 + n + b + 8 * i);
  expect(out.length).toBe(e.shape.reduce((a, s) => a * s, 1));
  return out;
}
const EXPECTED = path.join(__dirname, '..', 'fixtures', 'tiny-v3', 'expected.safetensors');

describe('yarnInvFreq and mlaSoftmaxScale', () => {
  test('tiny-v3 fixture: printed values and the stored float64 values', () => {
    const f = yarnInvFreq(TINY);
    const printed = [1, 0.237171, 0.05, 0.00790569, 0.0025, 0.000790569, 0.00025, 7.90569e-05];
    expect(f.length).toBe(8);
    // printed to 6 significant digits: half a unit of the 6th digit, plus the f32 rounding of f
    const halfUnit = (v: number) => 0.5 * 10 ** (Math.floor(Math.log10(v)) - 5);
    for (let i = 0; i < 8; i++) expect(Math.abs(f[i] - printed[i])).toBeLessThanOrEqual(halfUnit(printed[i]) + 6e-8 * printed[i]);
    const stored = readSafetensorsF64(EXPECTED, 'rope_inv_freq');
    for (let i = 0; i < 8; i++) expect(Math.abs(f[i] - stored[i]) / stored[i]).toBeLessThanOrEqual(1e-7);
    const scale = mlaSoftmaxScale({ qkHeadDim: 48, factor: 4, mscaleAllDim: 1 });
    expect(scale).toBeCloseTo(0.18713033519502428, 15);
    expect(Math.abs(scale - readSafetensorsF64(EXPECTED, 'attn_softmax_scale')[0]) / scale).toBeLessThanOrEqual(1e-7);
  });

  test("full V3: softmax scale 0.1352337789 and the theta'/theta ratio table", () => {
    expect(mlaSoftmaxScale({ qkHeadDim: 192, factor: 40, mscaleAllDim: 1 })).toBeCloseTo(0.1352337789, 10);
    const f = yarnInvFreq(V3), plain = yarnInvFreq({ ropeTheta: 10000, ropeDim: 64 });
    expect(f.length).toBe(32);
    const ratio = (i: number) => f[i] / plain[i];
    for (let i = 0; i <= 10; i++) expect(ratio(i)).toBeCloseTo(1, 6);
    for (let i = 23; i < 32; i++) expect(ratio(i)).toBeCloseTo(1 / 40, 6);
    const table: [number, number][] = [[11, 0.925], [12, 0.85], [13, 0.775], [22, 0.1]];
    for (const [i, r] of table) expect(ratio(i)).toBeCloseTo(r, 6);
    for (let i = 11; i <= 22; i++) expect(ratio(i)).toBeCloseTo(1 - (39 / 40) * (i - 10) / 13, 6);
  });

  test('plain RoPE, and agreement with HF phrasing across configs (including the low == high rule)', () => {
    const plain = yarnInvFreq({ ropeTheta: 50000, ropeDim: 64 });
    for (let i = 0; i < 32; i++) expect(plain[i]).toBe(Math.fround(1 / 50000 ** (2 * i / 64)));
    expect(Array.from(yarnInvFreq({ ropeTheta: 10000, ropeDim: 16, factor: 1, originalMaxPositionEmbeddings: 64 })))
      .toEqual(Array.from(yarnInvFreq({ ropeTheta: 10000, ropeDim: 16 })));
    const configs: [number, number, number, number, number, number][] = [
      [10000, 64, 40, 4096, 32, 1], [50000, 64, 32, 4096, 1, 1], [50000, 64, 64, 4096, 32, 1], [10000, 16, 4, 64, 32, 1],
      [10000, 128, 8, 8192, 16, 2], [10000, 16, 4, 4, 32, 1],  // the last: corr dims clamp to low == high == 0
    ];
    for (const [base, dim, factor, orig, bf, bs] of configs) {
      const got = yarnInvFreq({ ropeTheta: base, ropeDim: dim, factor, originalMaxPositionEmbeddings: orig, betaFast: bf, betaSlow: bs });
      expectClose(got, ref.yarnInvFreqHF(base, dim, factor, orig, bf, bs), 1e-7, `yarn ${[base, dim, factor, orig, bf, bs]}`);
    }
    // low == high == 0: high becomes 0.001, so only pair 0 keeps its frequency.
    const lh = yarnInvFreq({ ropeTheta: 10000, ropeDim: 16, factor: 4, originalMaxPositionEmbeddings: 4 });
    const p16 = yarnInvFreq({ ropeTheta: 10000, ropeDim: 16 });
    expect(lh[0]).toBe(p16[0]);
    for (let i = 1; i < 8; i++) expect(lh[i] / p16[i]).toBeCloseTo(0.25, 6);
    expect(mlaSoftmaxScale({ qkHeadDim: 192 })).toBeCloseTo(192 ** -0.5, 15);
    expect(mlaSoftmaxScale({ qkHeadDim: 192, factor: 40, mscaleAllDim: 0 })).toBeCloseTo(192 ** -0.5, 15);
    expect(mlaSoftmaxScale({ qkHeadDim: 192, factor: 40, mscaleAllDim: 0.707 })).toBeCloseTo(192 ** -0.5 * (0.0707 * Math.log(40) + 1) ** 2, 15);
  });

  test('bad parameters throw ArgumentError', () => {
    expect(() => yarnInvFreq({ ropeTheta: 10000, ropeDim: 15 })).toThrow(ArgumentError);
    expect(() => yarnInvFreq({ ropeTheta: 0, ropeDim: 16 })).toThrow(ArgumentError);
    expect(() => yarnInvFreq({ ropeTheta: 10000, ropeDim: 16, factor: 0.5 })).toThrow(ArgumentError);
    expect(() => yarnInvFreq({ ropeTheta: 10000, ropeDim: 16, factor: 4 })).toThrow(
      'yarnInvFreq: originalMaxPositionEmbeddings must be a finite number > 0, got undefined');
    expect(() => mlaSoftmaxScale({ qkHeadDim: -1 })).toThrow(ArgumentError);
  });
});

describe('rope', () => {
  test.each(ROPE_CPU)('f32 t=%i h=%i d=%i ropeDim=%i positions %s', (t, h, d, ropeDim, pdt) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(t * h * d, 2));
    // positions across 0..300: 0, beyond the YaRN original length (64 for tiny), and the top end
    const pos = Array.from({ length: t }, (_, i) => (i === 0 ? 0 : i === t - 1 ? 300 : rng.int(0, 300)));
    const invFreq = yarnInvFreq(ropeDim === 16 ? TINY : V3);
    const positions = pdt === 'i32' ? Tensor.fromArray(Int32Array.from(pos)) : Tensor.fromArray(BigInt64Array.from(pos.map(BigInt)));
    const out = poisoned([t, h, d], 'f32');
    const r = rope(Tensor.fromArray(x, [t, h, d]), positions, Tensor.fromArray(invFreq), { out });
    expect(r).toBe(out);
    const got = await r.toFloat32Array();
    expectClose(got, ref.rope(x, t, h, d, pos, invFreq), TOL_ROPE_F32_ANGLE, 'rope f32 angle');
    expectClose(got, ref.rope(x, t, h, d, pos, invFreq, (p, f) => p * f), TOL_ROPE_F64_ANGLE, 'rope f64 angle');
    for (let row = 0; row < t * h; row++) {
      const o = row * d;
      for (let j = 0; j < d - ropeDim; j++) if (got[o + j] !== x[o + j]) throw new Error(`copy part changed at row ${row} dim ${j}`);
      for (let j = d - ropeDim; j < d; j += 2) {
        const nIn = Math.hypot(x[o + j], x[o + j + 1]), nOut = Math.hypot(got[o + j], got[o + j + 1]);
        if (!(Math.abs(nIn - nOut) <= 1e-6 * nIn + 1e-30)) throw new Error(`pair norm changed at row ${row} dim ${j}: ${nIn} -> ${nOut}`);
      }
    }
  }));

  test('bf16 in / bf16 and f32 out; position 0 is the identity', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [t, h, d] = ROPE_CPU_BF16;
    const x = Tensor.fromFloats(Float32Array.from(rng.normals(t * h * d)), [t, h, d], { dtype: 'bf16' });
    const xv = await x.toFloat32Array();
    const pos = Array.from({ length: t }, () => rng.int(0, 300));
    const invFreq = yarnInvFreq(TINY);
    const positions = Tensor.fromArray(Int32Array.from(pos)), f = Tensor.fromArray(invFreq);
    const want = ref.rope(xv, t, h, d, pos, invFreq);
    const o16 = rope(x, positions, f);
    expect(o16.dtype).toBe('bf16');
    const g16 = await o16.toFloat32Array();
    expect(relErr(g16, want)).toBeLessThanOrEqual(TOL_BF16_OUT);
    for (let i = 0; i < want.length; i++) expect(Math.abs(g16[i] - want[i])).toBeLessThanOrEqual(Math.abs(want[i]) * 2 ** -8 + 1e-6);
    expectClose(await rope(x, positions, f, { outDtype: 'f32' }).toFloat32Array(), want, TOL_ROPE_F32_ANGLE, 'rope bf16->f32');
    const zero = rope(x, Tensor.zeros([t], { dtype: 'i32' }), f);
    expect(Array.from(await zero.toArray())).toEqual(Array.from(await x.toArray()));
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([4, 2, 48]), pos = Tensor.zeros([4], { dtype: 'i32' }), f = Tensor.zeros([8]);
    expect(() => rope(x, pos, Tensor.zeros([25]))).toThrow(ShapeError);
    expect(() => rope(x, pos, Tensor.zeros([25]))).toThrow(
      "rope: argument 'invFreq' must have at most 24 elements (2 per rotated pair in x's last dim 48), got 25");
    expect(() => rope(x, Tensor.zeros([5], { dtype: 'i32' }), f)).toThrow("rope: argument 'positions' must have shape [4], got [5]");
    expect(() => rope(Tensor.zeros([4, 48]) as never, pos, f)).toThrow(ShapeError);
    expect(() => rope(x, Tensor.zeros([4]) as never, f)).toThrow(DTypeError);
    expect(() => rope(x, pos, Tensor.zeros([8], { dtype: 'bf16' }) as never)).toThrow(DTypeError);
    expect(() => rope(Tensor.zeros([4, 2, 48], { dtype: 'i32' }) as never, pos, f)).toThrow(DTypeError);
    expect(() => rope(x, pos, f, { out: Tensor.zeros([4, 2, 48], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => rope(x, 3 as never, f)).toThrow(ArgumentError);
    const d = Tensor.zeros([8]);
    d.dispose();
    expect(() => rope(x, pos, d)).toThrow(DisposedError);
    expect(() => rope(x, pos, f)).not.toThrow();
  });
});
