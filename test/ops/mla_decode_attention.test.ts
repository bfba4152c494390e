// mlaDecodeAttention: CPU backend vs the float64 absorbed-attention reference (test/reference/mla.ts),
// DeepSeek-V3 MLA over the latent cache (v3-reference.md §3). Cache rows outside the causal window are
// NaN so a stray read fails; outputs are NaN-poisoned; the absorbed result is checked against the naive
// per-head attention with explicit W_UK / W_UV. Cases: test/cases/mla.ts.
import { Tensor, backends, DTypeError, ShapeError, DisposedError, ArgumentError, DeviceError } from '../../lib';
import { expectClose, poisoned, withSeed } from '../helpers';
import { F, SEQ_ABSORBED, SEQ_CPU, SEQ_DTYPES, SEQ_MIXED, SEQ_V3_DECODE, SeqCase, TOL_SEQ } from '../cases/mla';
import * as ref from '../reference/mla';
import { Rng } from '../reference/rng';
import { mlaDecodeAttention } from '../reference/mla_sequence';
import { make, normals } from './mla_paged_cases';

async function check(c: SeqCase, qd: F, kd: F, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const { h, r, p, t, s } = c, extra = c.extra ?? 0, causal = c.causal ?? true;
  const startPos = c.startPos ?? s - t;
  const rows = s + extra;  // rows >= s (= startPos + t when causal) are outside every window: NaN
  const kv = await normals(rng, rows * r), pe = await normals(rng, rows * p);
  kv.fill(NaN, s * r);
  pe.fill(NaN, s * p);
  const [qL, qLv] = await make(await normals(rng, t * h * r), [t, h, r], qd);
  const [qP, qPv] = await make(await normals(rng, t * h * p), [t, h, p], qd);
  const [cKv, kvv] = await make(kv, [rows, r], kd);
  const [kPe, pev] = await make(pe, [rows, p], kd);
  const scale = (1 + rng.next()) / Math.sqrt(r + p);
  const out = poisoned([t, h, r], 'f32');
  const opts = { softmaxScale: scale, out, causal, ...(c.startPos !== undefined || extra ? { startPos } : {}) };
  const o = mlaDecodeAttention(qL, qP, cKv, kPe, opts);
  expect(o).toBe(out);
  const want = ref.mlaAttention(qLv, qPv, kvv, pev, { t, h, r, p, s: rows, startPos, causal }, scale);
  expectClose(await o.toFloat32Array(), want, TOL_SEQ, `mla ${JSON.stringify(c)} ${qd}/${kd}`);
}

describe('mlaDecodeAttention', () => {
  describe.each(SEQ_DTYPES)('q %s, cache %s', (qd, kd) => {
    test.each(SEQ_CPU)('%s', (_n, c) => withSeed((seed) => check(c, qd, kd, seed)));
  });

  test('mixed dtypes: f16 query, bf16 cache; f32 query, f16 cache', () => withSeed(async (seed) => {
    for (const [i, [c, qd, kd]] of SEQ_MIXED.entries()) await check(c, qd, kd, seed + i);
  }));

  test('absorbed path equals the naive per-head attention (W_UK into q, W_UV after)', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { h, dn, dv, r, p } = SEQ_ABSORBED;
    for (const [t, s, startPos] of SEQ_ABSORBED.runs) {
      const wUK = rng.normals(h * dn * r, 1 / Math.sqrt(r)), wUV = rng.normals(h * dv * r, 1 / Math.sqrt(r));
      const qNope = rng.normals(t * h * dn), qPe = Float32Array.from(rng.normals(t * h * p));
      const cKv = Float32Array.from(rng.normals(s * r)), kPe = Float32Array.from(rng.normals(s * p));
      const scale = 1 / Math.sqrt(dn + p);
      const d = { t, h, r, p, s, startPos, causal: true, dn, dv };
      const naive = ref.mlaNaive(qNope, qPe, cKv, kPe, wUK, wUV, d, scale);
      const qLatent = Float32Array.from(ref.absorbQ(qNope, wUK, t, h, dn, r));
      const lat = mlaDecodeAttention(Tensor.fromArray(qLatent, [t, h, r]), Tensor.fromArray(qPe, [t, h, p]),
        Tensor.fromArray(cKv, [s, r]), Tensor.fromArray(kPe, [s, p]), { softmaxScale: scale, startPos });
      const o = ref.applyPerHead(await lat.toFloat32Array(), wUV, t, h, dv, r);
      expectClose(o, naive, TOL_SEQ, `absorbed vs naive t=${t} s=${s}`);
    }
  }));

  test('empty work: t = 0, and a non-causal query over an empty cache gives zeros', async () => {
    const e = mlaDecodeAttention(Tensor.zeros([0, 3, 32]), Tensor.zeros([0, 3, 16]), Tensor.zeros([5, 32]), Tensor.zeros([5, 16]),
      { softmaxScale: 0.1 });
    expect(e.shape).toEqual([0, 3, 32]);
    const out = poisoned([2, 3, 32], 'f32');
    mlaDecodeAttention(Tensor.full([2, 3, 32], 1), Tensor.full([2, 3, 16], 1),
      Tensor.zeros([0, 32]), Tensor.zeros([0, 16]), { softmaxScale: 0.1, causal: false, out });
    expect(Array.from(await out.toFloat32Array())).toEqual(new Array(2 * 3 * 32).fill(0));
  });

  test('a V3-sized decode step (s=4096, h=16, r=512, p=64) is correct', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { s, h, r, p, scale } = SEQ_V3_DECODE;
    const [qL, qLv] = await make(await normals(rng, h * r, 0.05), [1, h, r], 'bf16');
    const [qP, qPv] = await make(await normals(rng, h * p), [1, h, p], 'bf16');
    for (const kd of SEQ_V3_DECODE.caches) {
      const [cKv, kvv] = await make(await normals(rng, s * r), [s, r], kd);
      const [kPe, pev] = await make(await normals(rng, s * p), [s, p], kd);
      const out = Tensor.empty([1, h, r]);
      mlaDecodeAttention(qL, qP, cKv, kPe, { softmaxScale: scale, out });
      const want = ref.mlaAttention(qLv, qPv, kvv, pev, { t: 1, h, r, p, s, startPos: s - 1, causal: true }, scale);
      expectClose(await out.toFloat32Array(), want, TOL_SEQ, `decode ${s} ${kd}`);
    }
  }));

  test('bad input gives typed errors', () => {
    const t = 2, h = 3, r = 32, p = 16, s = 10;
    const qL = Tensor.zeros([t, h, r]), qP = Tensor.zeros([t, h, p]), kv = Tensor.zeros([s, r]), pe = Tensor.zeros([s, p]);
    const o = { softmaxScale: 0.1 };
    const bf = <T extends readonly number[]>(shape: T) => Tensor.zeros(shape, { dtype: 'bf16' });
    expect(() => mlaDecodeAttention(Tensor.zeros([t, h, r], { dtype: 'i32' }) as never, qP, kv, pe, o)).toThrow(DTypeError);
    expect(() => mlaDecodeAttention(qL, bf([t, h, p]) as never, kv, pe, o)).toThrow(DTypeError);
    expect(() => mlaDecodeAttention(qL, qP, kv, bf([s, p]) as never, o)).toThrow(DTypeError);
    expect(() => mlaDecodeAttention(qL, qP, Tensor.zeros([s, r], { dtype: 'f8_e4m3' }) as never, pe, o)).toThrow(DTypeError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, out: bf([t, h, r]) as never })).toThrow(DTypeError);
    expect(() => mlaDecodeAttention(Tensor.zeros([t * h, r]), qP, kv, pe, o)).toThrow(ShapeError);
    expect(() => mlaDecodeAttention(qL, Tensor.zeros([t, h + 1, p]), kv, pe, o)).toThrow(ShapeError);
    expect(() => mlaDecodeAttention(qL, qP, Tensor.zeros([s, r + 1]), pe, o)).toThrow(ShapeError);  // r mismatch
    expect(() => mlaDecodeAttention(qL, qP, kv, Tensor.zeros([s, p + 1]), o)).toThrow(ShapeError);  // p mismatch
    expect(() => mlaDecodeAttention(qL, qP, kv, Tensor.zeros([s + 1, p]), o)).toThrow(ShapeError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, out: Tensor.zeros([t, h, r + 1]) })).toThrow(ShapeError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: -1 })).toThrow(ArgumentError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: 9 })).toThrow(ArgumentError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: 1.5 })).toThrow(ArgumentError);
    expect(() => mlaDecodeAttention(qL, qP, Tensor.zeros([1, r]), Tensor.zeros([1, p]), o)).toThrow(ArgumentError);  // s < t
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, {} as never)).toThrow(ArgumentError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { softmaxScale: Infinity })).toThrow(ArgumentError);
    expect(() => mlaDecodeAttention(qL, qP, kv, {} as never, o)).toThrow(ArgumentError);
    const d = Tensor.zeros([s, r]);
    d.dispose();
    expect(() => mlaDecodeAttention(qL, qP, d, pe, o)).toThrow(DisposedError);
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: 8 })).not.toThrow();
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: 9, causal: false })).not.toThrow();
    expect(() => mlaDecodeAttention(qL, qP, kv, pe, { ...o, startPos: 9 })).toThrow(
      "mlaDecodeAttention: argument 'startPos' must satisfy 0 <= startPos and startPos + t <= s (t = 2, s = 10), got 9");
    expect(() => mlaDecodeAttention(qL, qP, Tensor.zeros([s, 64]), pe, o)).toThrow(
      "mlaDecodeAttention: argument 'cKv' must have shape [*,32], got [10,64]");
  });

  (backends().cuda.available ? test : test.skip)('device: inputs on different devices', () => {
    const qL = Tensor.zeros([1, 2, 32]), qP = Tensor.zeros([1, 2, 16]);
    expect(() => mlaDecodeAttention(qL, qP, Tensor.zeros([4, 32], { device: 'cuda' }), Tensor.zeros([4, 16]), { softmaxScale: 1 }))
      .toThrow(DeviceError);
  });
});
