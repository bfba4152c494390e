// moeRoute: CPU backend vs the float64 router reference (test/reference/moe.ts), DeepSeek-V3 Gate
// semantics (v3-reference.md §5, §9). Indices must match exactly except on rows whose choices are
// within 1e-6 of a tie (counted, expected ~0); weights to f32 tolerance.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { NEAR_TIE, ROUTE_CPU, RouteCase as Case } from '../cases/moe';
import { expectClose, poisoned, TOL, withSeed } from '../helpers';
import * as ref from '../reference/moe';
import { Rng } from '../reference/rng';
import { moeRoute } from '../../lib/ops/moe';

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

describe('moeRoute', () => {
  test.each(ROUTE_CPU.map((c) => [c.name, c] as const))('%s matches the reference', (_n, c) => withSeed(async (seed) => {
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
