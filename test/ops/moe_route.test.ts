// moeRoute: CPU backend vs the float64 router reference (test/reference/moe.ts), DeepSeek-V3 Gate
// semantics (v3-reference.md §5, §9). Indices must match exactly except on rows whose choices are
// within 1e-6 of a tie (counted, expected ~0); weights to f32 tolerance.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { expectClose, poisoned, TOL, withSeed } from '../helpers';
import * as ref from '../reference/moe';
import { Rng } from '../reference/rng';
import { moeRoute, MoeRouteOptions } from '../../lib/ops/moe';

const NEAR_TIE = 1e-6;

interface Case { name: string; t: number; e: number; opts: Omit<MoeRouteOptions, 'bias' | 'out'>; bias?: boolean; std?: number }

/** Runs one case on random logits and compares with the reference; returns the number of ambiguous rows. */
async function check(c: Case, seed: number): Promise<number> {
  const rng = new Rng(seed);
  const { t, e } = c, k = c.opts.topK;
  const logits = Float32Array.from(rng.normals(t * e, c.std ?? 1));
  const bias = c.bias ? Float32Array.from(rng.normals(e, 0.1)) : undefined;
  const out = { weights: poisoned([t, k], 'f32'), indices: poisoned([t, k], 'i32') };
  const r = moeRoute(Tensor.fromArray(logits, [t, e]), { ...c.opts, bias: bias && Tensor.fromArray(bias), out });
  expect(r.weights).toBe(out.weights);
  expect(r.indices).toBe(out.indices);
  const want = ref.moeRoute(logits, t, e, { ...c.opts, bias });
  const idx = await r.indices.toArray(), w = await r.weights.toFloat32Array();
  const gotW: number[] = [], wantW: number[] = [];
  let ambiguous = 0;
  for (let i = 0; i < t; i++) {
    if (want.margin[i] < NEAR_TIE) { ambiguous++; continue; }
    expect(Array.from(idx.subarray(i * k, (i + 1) * k))).toEqual(Array.from(want.indices.subarray(i * k, (i + 1) * k)));
    for (let j = i * k; j < (i + 1) * k; j++) { gotW.push(w[j]); wantW.push(want.weights[j]); }
  }
  expectClose(gotW, wantW, TOL.f32, `${c.name} weights`);
  return ambiguous;
}

const cases: Case[] = [
  { name: 'V3 (e=256, 8 groups keep 4, top-8, scale 2.5, bias)', t: 300, e: 256, bias: true,
    opts: { topK: 8, nGroup: 8, topkGroup: 4, routedScalingFactor: 2.5 } },
  { name: 'tiny fixture (e=16, 4 groups keep 2, top-4, scale 2.5, bias)', t: 129, e: 16, bias: true,
    opts: { topK: 4, nGroup: 4, topkGroup: 2, routedScalingFactor: 2.5 } },
  { name: 'sigmoid, groups without bias (group max)', t: 77, e: 64, opts: { topK: 6, nGroup: 8, topkGroup: 3, routedScalingFactor: 1.5 } },
  { name: 'V2 softmax group_limited_greedy (e=160, 8 groups keep 3, top-6, scale 16)', t: 50, e: 160,
    opts: { topK: 6, scoring: 'softmax', nGroup: 8, topkGroup: 3, routedScalingFactor: 16 } },
  { name: 'V2-Lite softmax greedy (e=64, top-6, no norm, scale 1)', t: 200, e: 64, opts: { topK: 6, scoring: 'softmax' } },
  { name: 'softmax, normalised', t: 33, e: 64, opts: { topK: 6, scoring: 'softmax', normTopkProb: true, routedScalingFactor: 2 } },
  { name: 'Moonlight (e=64, 1 group, top-6, bias, scale 2.446)', t: 65, e: 64, bias: true, opts: { topK: 6, routedScalingFactor: 2.446 } },
  { name: 'k = 1', t: 31, e: 16, opts: { topK: 1 } },
  { name: 'k = e', t: 17, e: 16, bias: true, opts: { topK: 16, routedScalingFactor: 3 } },
  { name: 'k = every expert of the kept groups', t: 9, e: 12, bias: true, opts: { topK: 6, nGroup: 4, topkGroup: 2 } },
  { name: 'sigmoid without norm', t: 11, e: 32, opts: { topK: 5, normTopkProb: false, routedScalingFactor: 2 } },
];

describe('moeRoute', () => {
  test.each(cases.map((c) => [c.name, c] as const))('%s matches the reference', (_n, c) => withSeed(async (seed) => {
    const ambiguous = await check(c, seed);
    if (ambiguous) console.log(`moeRoute ${c.name}: ${ambiguous} of ${c.t} rows within ${NEAR_TIE} of a tie, not compared`);
    expect(ambiguous).toBeLessThanOrEqual(Math.max(1, Math.floor(c.t / 50)));
  }));

  test('normalised weights sum to routedScalingFactor; unnormalised ones are the raw scores', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const t = 40, e = 256;
    const logits = Tensor.fromArray(Float32Array.from(rng.normals(t * e)), [t, e]);
    const bias = Tensor.fromArray(Float32Array.from(rng.normals(e, 0.1)));
    const w = await moeRoute(logits, { topK: 8, nGroup: 8, topkGroup: 4, bias, routedScalingFactor: 2.5 }).weights.toFloat32Array();
    for (let i = 0; i < t; i++) {
      const sum = w.subarray(i * 8, i * 8 + 8).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - 2.5)).toBeLessThan(1e-5);
    }
    const x = await logits.toFloat32Array();
    const r = moeRoute(logits, { topK: 3, normTopkProb: false });
    const [wi, ii] = [await r.weights.toFloat32Array(), await r.indices.toArray()];
    for (let j = 0; j < t * 3; j++) {
      const row = Math.floor(j / 3);
      expect(wi[j]).toBeCloseTo(1 / (1 + Math.exp(-x[row * e + ii[j]])), 6);
    }
  }));

  test('exact ties go to the lower index (experts and groups)', async () => {
    // All logits equal: every expert and every group ties.
    const t = 3, e = 16;
    const flat = Tensor.full([t, e], 0.25);
    let r = moeRoute(flat, { topK: 4, nGroup: 4, topkGroup: 2, bias: Tensor.zeros([e]), routedScalingFactor: 2.5 });
    expect(Array.from(await r.indices.toArray())).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]);
    expect(Array.from(await r.weights.toFloat32Array())).toEqual(new Array(12).fill(0.625));
    r = moeRoute(flat, { topK: 5, nGroup: 4, topkGroup: 2 });  // group max, no bias: groups 0 and 1
    expect(Array.from((await r.indices.toArray()).subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
    // Pairwise ties inside a row: [3, 1, 3, 1, 2, 2] -> 0, 2, 4, 5, 1, 3
    const x = Tensor.fromArray(Float32Array.from([3, 1, 3, 1, 2, 2]), [1, 6]);
    r = moeRoute(x, { topK: 6, scoring: 'softmax' });
    expect(Array.from(await r.indices.toArray())).toEqual([0, 2, 4, 5, 1, 3]);
    // Tied groups (sum of top-2 equal in groups 1 and 2) keep the lower group: experts 2..3 not 4..5.
    const g = Tensor.fromArray(Float32Array.from([-9, -9, 1, 2, 2, 1, 0, 0]), [1, 8]);
    r = moeRoute(g, { topK: 2, nGroup: 4, topkGroup: 1, bias: Tensor.zeros([8]) });
    expect(Array.from(await r.indices.toArray())).toEqual([3, 2]);
    // A NaN logit ranks first, so its NaN reaches the (normalised) weights instead of being dropped.
    const n = Tensor.fromArray(Float32Array.from([0, 1, NaN, 2]), [1, 4]);
    r = moeRoute(n, { topK: 2 });
    expect(Array.from(await r.indices.toArray())).toEqual([2, 3]);
    expect((await r.weights.toFloat32Array()).every(Number.isNaN)).toBe(true);
  });

  test('the bias steers selection but not the weights; dropped groups are never chosen', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const e = 16, logits = Float32Array.from(rng.normals(e));
    // A huge bias on expert 13 forces it in; its weight is still the unbiased sigmoid.
    const bias = new Float32Array(e); bias[13] = 100;
    const r = moeRoute(Tensor.fromArray(logits, [1, e]), { topK: 1, bias: Tensor.fromArray(bias), normTopkProb: false });
    expect((await r.indices.toArray())[0]).toBe(13);
    expect((await r.weights.toFloat32Array())[0]).toBeCloseTo(1 / (1 + Math.exp(-logits[13])), 6);
    // Group 3 holds the best single expert but the worst top-2 sum: noaux_tc drops it, group max keeps it.
    const x = Float32Array.from([1, 1, 1, 1, 0.9, 0.9, 5, -9]);
    const withBias = moeRoute(Tensor.fromArray(x, [1, 8]), { topK: 4, nGroup: 4, topkGroup: 2, bias: Tensor.zeros([8]) });
    expect(Array.from(await withBias.indices.toArray()).sort()).toEqual([0, 1, 2, 3]);
    const noBias = moeRoute(Tensor.fromArray(x, [1, 8]), { topK: 2, nGroup: 4, topkGroup: 2 });
    expect(Array.from(await noBias.indices.toArray())).toEqual([6, 0]);
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([2, 16]);
    expect(() => moeRoute(Tensor.zeros([2, 16], { dtype: 'bf16' }) as never, { topK: 2 })).toThrow(DTypeError);
    expect(() => moeRoute(Tensor.zeros([32]), { topK: 2 })).toThrow(ShapeError);
    expect(() => moeRoute(x, { topK: 2, bias: Tensor.zeros([15]) })).toThrow(ShapeError);
    expect(() => moeRoute(x, { topK: 2, bias: Tensor.zeros([16], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => moeRoute(x, {} as never)).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 0 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 17 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 9, nGroup: 4, topkGroup: 2 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, nGroup: 3 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, nGroup: 4, topkGroup: 5 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, nGroup: 4, topkGroup: 0 })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, nGroup: 16, topkGroup: 4, bias: Tensor.zeros([16]) })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, nGroup: 16, topkGroup: 4 })).not.toThrow();  // group max needs no pair
    expect(() => moeRoute(x, { topK: 2, scoring: 'tanh' as never })).toThrow(ArgumentError);
    expect(() => moeRoute(x, { topK: 2, out: { weights: Tensor.zeros([2, 3]) } })).toThrow(ShapeError);
    expect(() => moeRoute(x, { topK: 2, out: { indices: Tensor.zeros([2, 2]) as never } })).toThrow(DTypeError);
    const d = Tensor.zeros([2, 16]);
    d.dispose();
    expect(() => moeRoute(d, { topK: 2 })).toThrow(DisposedError);
    expect(() => moeRoute(x, { topK: 2 })).not.toThrow();
    expect(() => moeRoute(x, { topK: 9, nGroup: 4, topkGroup: 2 })).toThrow(
      "moeRoute: argument 'topK' must be in [1, topkGroup * e / nGroup = 8], got 9");
  });
});
