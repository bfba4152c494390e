// mlaDownEpilogue, mlaAbsorbQ, mlaOutput: CPU backend vs float64 references (test/reference/norm.ts, rope.ts,
// mla.ts) and, bit for bit, vs composing the existing rmsNorm / rope ops (the fused ops promise the same f32
// math), on the cases of test/cases/mla.ts. Positions beyond YaRN's original 4096, padding slots (-1), cache
// rows not written stay NaN, outputs NaN-poisoned. DeepSeek-V3 model.py MLA attn_impl="absorb" (v3-reference.md §3-4).
import { Tensor, DTypeError, ShapeError, ArgumentError, DisposedError } from '../../lib';
import { expectClose, poisoned, TOL, withSeed } from '../helpers';
import { DOWN_CPU, PROJ_BATCH_CPU, PROJ_CPU, yarnOf } from '../cases/mla';
import { rmsNorm as refRms } from '../reference/norm';
import { rope as refRope } from '../reference/rope';
import { absorbQ, applyPerHead } from '../reference/mla';
import { Rng } from '../reference/rng';
import { mlaAbsorbQ, mlaDownEpilogue, mlaOutput } from '../../lib/ops/mla';
import { rmsNorm } from '../../lib/ops/norm';
import { rope, yarnInvFreq } from '../../lib/ops/rope';
import { narrow } from '../../lib/ops/shape';
import { make, normals } from './mla_paged_cases';

const invFreqOf = (p: number) => yarnInvFreq(yarnOf(p));

describe('mlaDownEpilogue', () => {
  test.each(DOWN_CPU)('%s', (_n, { xd, kd, t, qLora, r, p }) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const d = r + p, pages = 2 + Math.ceil(t / 64), slotsN = pages * 64;
    const [qkv, xv] = await make(await normals(rng, t * (qLora + d), 2), [t, qLora + d], xd);
    const qw = Float32Array.from(rng.uniforms(qLora, 0.5, 1.5)), kw = Float32Array.from(rng.uniforms(r, 0.5, 1.5));
    const pos = Int32Array.from({ length: t }, (_, i) => (i % 3 === 0 ? 4096 + 1000 * i : 1 + 2 * i));
    // A random injective slot mapping with a padding token (-1) every 5th token.
    const free = Array.from({ length: slotsN }, (_, i) => i);
    for (let i = slotsN - 1; i > 0; i--) { const j = rng.int(0, i); [free[i], free[j]] = [free[j], free[i]]; }
    const slots = Int32Array.from({ length: t }, (_, i) => (i % 5 === 4 ? -1 : free[i]));
    const invFreq = invFreqOf(p);
    const cache = Tensor.full([pages, 64, d], NaN, { dtype: kd });
    const out = poisoned([t, qLora], xd);
    const cq = mlaDownEpilogue(qkv, qLora ? Tensor.fromArray(qw) : null, Tensor.fromArray(kw), Tensor.fromArray(pos),
      Tensor.fromArray(invFreq), cache, Tensor.fromArray(slots), { out });
    expect(cq).toBe(out);

    // float64 reference
    const wantCq = new Float64Array(t * qLora), wantCache = new Float64Array(slotsN * d).fill(NaN);
    for (let i = 0; i < t; i++) {
      const row = xv.subarray(i * (qLora + d), (i + 1) * (qLora + d));
      wantCq.set(refRms(row.subarray(0, qLora), qw, qLora, 1e-6), i * qLora);
      if (slots[i] < 0) continue;
      wantCache.set(refRms(row.subarray(qLora, qLora + r), kw, r, 1e-6), slots[i] * d);
      wantCache.set(refRope(row.subarray(qLora + r), 1, 1, p, [pos[i]], invFreq), slots[i] * d + r);
    }
    expectClose(await cq.toFloat32Array(), wantCq, TOL[xd], 'cq');
    expectClose(await cache.toFloat32Array(), wantCache, TOL[kd === 'bf16' || xd === 'bf16' ? 'bf16' : 'f32'], 'cache');

    // bit for bit: the composed ops (narrow + rmsNorm + rope) give the same values
    if (qLora) {
      const composed = rmsNorm(narrow(qkv, 0, qLora), Tensor.fromArray(qw), { eps: 1e-6 });
      expect(Array.from(await cq.toFloat32Array())).toEqual(Array.from(await composed.toFloat32Array()));
    }
    const ckv = rmsNorm(narrow(qkv, qLora, r), Tensor.fromArray(kw), { eps: 1e-6, outDtype: 'f32' });
    const kpe = rope(narrow(qkv, qLora + r, p).reshape([t, 1, p]), Tensor.fromArray(pos), Tensor.fromArray(invFreq), { outDtype: 'f32' });
    const cv = await ckv.toFloat32Array(), pv = await kpe.toFloat32Array();
    const composedCache = Tensor.fromFloats(Float32Array.from({ length: t * d }, (_, k) => {
      const i = Math.floor(k / d), c = k % d;
      return c < r ? cv[i * r + c] : pv[i * p + c - r];
    }), [t, d], { dtype: kd });
    const cc = await composedCache.toFloat32Array(), got = await cache.toFloat32Array();
    for (let i = 0; i < t; i++) {
      if (slots[i] < 0) continue;
      expect(Array.from(got.subarray(slots[i] * d, (slots[i] + 1) * d))).toEqual(Array.from(cc.subarray(i * d, (i + 1) * d)));
    }
  }));

  test('bad input gives typed errors', () => {
    const t = 3, q = 8, r = 16, p = 8;
    const x = Tensor.zeros([t, q + r + p]), qn = Tensor.zeros([q]), kn = Tensor.zeros([r]), pos = Tensor.zeros([t], { dtype: 'i32' });
    const f = Tensor.zeros([p / 2]), cache = Tensor.zeros([1, 64, r + p]), sm = Tensor.zeros([t], { dtype: 'i32' });
    const run = (...a: unknown[]) => () => (mlaDownEpilogue as (...x: unknown[]) => unknown)(...a);
    expect(run(x, qn, kn, pos, f, cache, sm)).not.toThrow();
    expect(run(x.cast('f16'), qn, kn, pos, f, cache, sm)).toThrow(DTypeError);
    expect(run(x, qn.cast('bf16'), kn, pos, f, cache, sm)).toThrow(DTypeError);
    expect(run(x, qn, kn, pos.cast('f32'), f, cache, sm)).toThrow(DTypeError);
    expect(run(x, qn, kn, pos, f, cache.cast('f16'), sm)).toThrow(DTypeError);
    expect(run(x, qn, kn, pos, f, cache, Tensor.zeros([t], { dtype: 'i64' }))).toThrow(DTypeError);
    expect(run(Tensor.zeros([t, q + r + p + 1]), qn, kn, pos, f, cache, sm)).toThrow(ShapeError);
    expect(run(x, qn, kn, pos, Tensor.zeros([p]), cache, sm)).toThrow(ShapeError);
    expect(run(x, qn, kn, pos, f, Tensor.zeros([1, 32, r + p]), sm)).toThrow(ShapeError);
    expect(run(x, qn, kn, Tensor.zeros([t + 1], { dtype: 'i32' }), f, cache, sm)).toThrow(ShapeError);
    expect(run(x, qn, kn, pos, f, cache, Tensor.zeros([t - 1], { dtype: 'i32' }))).toThrow(ShapeError);
    expect(run(x, qn, kn, pos, f, cache, sm, { eps: -1 })).toThrow(ArgumentError);
    const dead = Tensor.zeros([r]);
    dead.dispose();
    expect(run(x, qn, dead, pos, f, cache, sm)).toThrow(DisposedError);
    expect(run(Tensor.zeros([t, 31]), qn, kn, pos, f, cache, sm)).toThrow(
      "mlaDownEpilogue: argument 'qkv' must have 32 columns (qLora 8 + r 16 + p 8), got shape [3,31]");
  });
});

describe('mlaAbsorbQ and mlaOutput', () => {
  test.each(PROJ_CPU)('%s', (_n, { xd, wd, t, h, nope, p, r }) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const v = nope;  // v_head_dim = qk_nope_head_dim in V3
    const [q, qv] = await make(await normals(rng, t * h * (nope + p)), [t, h, nope + p], xd);
    const [wUK, wkv] = await make(await normals(rng, h * nope * r, 0.1), [h, nope, r], wd);
    const [wUV, wvv] = await make(await normals(rng, h * v * r, 0.1), [h, v, r], wd);
    const pos = Int32Array.from({ length: t }, (_, i) => 100000 + 17 * i);
    const invFreq = invFreqOf(p);
    const out = { qLatent: poisoned([t, h, r], xd), qPe: poisoned([t, h, p], xd) };
    const res = mlaAbsorbQ(q, wUK, Tensor.fromArray(pos), Tensor.fromArray(invFreq), { out });
    expect(res.qLatent).toBe(out.qLatent);
    expect(res.qPe).toBe(out.qPe);
    const qNope = new Float64Array(t * h * nope), qPe = new Float64Array(t * h * p);
    for (let row = 0; row < t * h; row++) {
      qNope.set(qv.subarray(row * (nope + p), row * (nope + p) + nope), row * nope);
      qPe.set(qv.subarray(row * (nope + p) + nope, (row + 1) * (nope + p)), row * p);
    }
    expectClose(await res.qLatent.toFloat32Array(), absorbQ(qNope, wkv, t, h, nope, r), TOL[xd], 'qLatent');
    expectClose(await res.qPe.toFloat32Array(), refRope(qPe, t, h, p, pos, invFreq), TOL[xd], 'qPe');

    const [oLat, ov] = await make(await normals(rng, t * h * r), [t, h, r], xd);
    const o = poisoned([t, h * v], xd);
    expect(mlaOutput(oLat, wUV, { out: o, outDtype: xd })).toBe(o);
    expectClose(await o.toFloat32Array(), applyPerHead(ov, wvv, t, h, v, r), TOL[xd], 'output');
  }));

  // Tokens go through register tiles of up to 4 that share each weight load; a token's result must not depend
  // on the tile or the other tokens: every row of a batch equals the same token computed alone (bit for bit).
  test.each(PROJ_BATCH_CPU.dtypes)('a token computed in a batch equals it alone (x %s, w %s)', (xd, wd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { t, h, nope, p, r } = PROJ_BATCH_CPU, v = nope;
    const [q] = await make(await normals(rng, t * h * (nope + p)), [t, h, nope + p], xd);
    const [wUK] = await make(await normals(rng, h * nope * r, 0.1), [h, nope, r], wd);
    const [wUV] = await make(await normals(rng, h * v * r, 0.1), [h, v, r], wd);
    const [oLat] = await make(await normals(rng, t * h * r), [t, h, r], xd);
    const pos = Tensor.fromArray(Int32Array.from({ length: t }, (_, i) => 3 + 5 * i));
    const invFreq = Tensor.fromArray(invFreqOf(p));
    const all = mlaAbsorbQ(q, wUK, pos, invFreq);
    const lat = await all.qLatent.bytes(), pe = await all.qPe.bytes();
    const out = await mlaOutput(oLat, wUV).bytes();
    const es = xd === 'f32' ? 4 : 2, ws = wd === 'f32' ? 4 : 2;
    for (let i = 0; i < t; i++) {
      const one = mlaAbsorbQ(q.view(i, 1), wUK, pos.view(i, 1), invFreq);
      expect(await one.qLatent.bytes()).toEqual(lat.subarray(i * h * r * es, (i + 1) * h * r * es));
      expect(await one.qPe.bytes()).toEqual(pe.subarray(i * h * p * es, (i + 1) * h * p * es));
      const o1 = await mlaOutput(oLat.view(i, 1), wUV).bytes();
      expect(o1).toEqual(out.subarray(i * h * v * ws, (i + 1) * h * v * ws));
    }
  }));

  test('empty token count', () => {
    const r = mlaAbsorbQ(Tensor.zeros([0, 3, 24]), Tensor.zeros([3, 8, 32]), Tensor.zeros([0], { dtype: 'i32' }), Tensor.zeros([8]));
    expect(r.qLatent.shape).toEqual([0, 3, 32]);
    expect(r.qPe.shape).toEqual([0, 3, 16]);
    expect(mlaOutput(Tensor.zeros([0, 3, 32]), Tensor.zeros([3, 8, 32])).shape).toEqual([0, 24]);
  });

  test('bad input gives typed errors', () => {
    const t = 2, h = 3, nope = 8, p = 4, r = 16, v = 8;
    const q = Tensor.zeros([t, h, nope + p]), w = Tensor.zeros([h, nope, r]), pos = Tensor.zeros([t], { dtype: 'i32' }), f = Tensor.zeros([p / 2]);
    const absorb = (...a: unknown[]) => () => (mlaAbsorbQ as (...x: unknown[]) => unknown)(...a);
    const output = (...a: unknown[]) => () => (mlaOutput as (...x: unknown[]) => unknown)(...a);
    expect(absorb(q.cast('f16'), w, pos, f)).toThrow(DTypeError);
    expect(absorb(q, w.cast('f16'), pos, f)).toThrow(DTypeError);
    expect(absorb(q, w, pos, f.cast('bf16'))).toThrow(DTypeError);
    expect(absorb(q, Tensor.zeros([h + 1, nope, r]), pos, f)).toThrow(ShapeError);
    expect(absorb(q, Tensor.zeros([h, nope + p, r]), pos, f)).toThrow(ShapeError);
    expect(absorb(q, w, pos, Tensor.zeros([p]))).toThrow(ShapeError);
    expect(absorb(q, w, Tensor.zeros([t + 1], { dtype: 'i32' }), f)).toThrow(ShapeError);
    expect(absorb(q, w, pos, f, { out: { qPe: Tensor.zeros([t, h, p + 1]) } })).toThrow(ShapeError);
    expect(absorb(q, w, pos, f, { outDtype: 'i32' })).toThrow(DTypeError);
    expect(absorb(q, w, pos, f, { out: Tensor.zeros([t, h, r]) })).toThrow(ArgumentError);
    expect(output(Tensor.zeros([t, h, r], { dtype: 'i32' }), Tensor.zeros([h, v, r]))).toThrow(DTypeError);
    expect(output(Tensor.zeros([t, h, r]), Tensor.zeros([h, v, r + 1]))).toThrow(ShapeError);
    expect(output(Tensor.zeros([t, h, r]), Tensor.zeros([h, v, r]), { out: Tensor.zeros([t, h, v]) })).toThrow(ShapeError);
    expect(output(Tensor.zeros([t, h, r]), Tensor.zeros([h, v, r]), { out: Tensor.zeros([t, h * v], { dtype: 'bf16' }) })).toThrow(DTypeError);
    expect(output(Tensor.zeros([t, h, r]), Tensor.zeros([h + 1, v, r]))).toThrow(
      "mlaOutput: argument 'wUV' must have shape [3,*,16], got [4,8,16]");
  });
});
