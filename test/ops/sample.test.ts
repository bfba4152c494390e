// sample: greedy and top-k=1 equal argmax, determinism per (seed, row), and the empirical
// distribution of many identical rows against the float64 reference distribution
// (test/reference/sampling.ts) with top-k / top-p filtering.
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import { SAMPLE_DISTRIBUTION_CPU, SAMPLE_GREEDY_CPU, SAMPLE_MAX_SIGMA, SAMPLE_SEEDS_CPU } from '../cases/sampling';
import { poisoned, withSeed } from '../helpers';
import * as ref from '../reference/sampling';
import { Rng } from '../reference/rng';
import { argmax, sample } from '../../lib/ops/sampling';

describe('sample', () => {
  test.each(SAMPLE_GREEDY_CPU)('greedy (temperature <= 0) and topK = 1 equal argmax, t=%i vocab=%i', (t, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(t * n, 3));
    for (let i = 0; i < t; i++) x[i * n + rng.int(0, n - 1)] = x[i * n + rng.int(0, n - 1)];  // some ties
    const logits = Tensor.fromArray(x, [t, n]);
    const want = Array.from(ref.argmax(x, n));
    expect(Array.from(await argmax(logits).toArray())).toEqual(want);
    const out = poisoned([t], 'i32');
    expect(sample(logits, { seed, temperature: 0, out })).toBe(out);
    expect(Array.from(await out.toArray())).toEqual(want);
    expect(Array.from(await sample(logits, { seed, temperature: -1, topP: 0.5 }).toArray())).toEqual(want);
    expect(Array.from(await sample(logits, { seed, temperature: 1.7, topK: 1 }).toArray())).toEqual(want);
    expect(Array.from(await sample(logits, { seed, temperature: 0.8, topP: 1e-9 }).toArray())).toEqual(want);
  }));

  test('same seed, same tokens; different seeds differ; a row depends only on (seed, row, its logits)', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [t, n] = SAMPLE_SEEDS_CPU;
    const x = Float32Array.from(rng.normals(t * n, 0.5));  // flat: many likely tokens per row
    const logits = Tensor.fromArray(x, [t, n]);
    const opts = { seed, temperature: 1.2, topP: 0.95, topK: 500 };
    const a = Array.from(await sample(logits, opts).toArray());
    expect(Array.from(await sample(logits, opts).toArray())).toEqual(a);
    expect(Array.from(await sample(logits, { ...opts, seed: BigInt(seed) }).toArray())).toEqual(a);
    const b = Array.from(await sample(logits, { ...opts, seed: seed + 1 }).toArray());
    expect(b.filter((v, i) => v !== a[i]).length).toBeGreaterThan(t / 2);
    // the other rows changed: row 10 keeps its token
    const y = Float32Array.from(rng.normals(t * n, 0.5));
    y.set(x.subarray(10 * n, 11 * n), 10 * n);
    expect((await sample(Tensor.fromArray(y, [t, n]), opts).toArray())[10]).toBe(a[10]);
    // rows are not all drawn with the same u: identical rows give different tokens
    const same = new Float32Array(t * n);
    for (let i = 0; i < t; i++) same.set(x.subarray(0, n), i * n);
    expect(new Set(await sample(Tensor.fromArray(same, [t, n]), opts).toArray()).size).toBeGreaterThan(10);
  }));

  // Identical rows: frequencies within SAMPLE_MAX_SIGMA standard errors of the reference probabilities;
  // filtered tokens never appear.
  const logits6 = SAMPLE_DISTRIBUTION_CPU.logits;
  test.each(SAMPLE_DISTRIBUTION_CPU.opts.map((o) => [o]))(`distribution of ${SAMPLE_DISTRIBUTION_CPU.draws} draws matches the reference: %o`, (o) => withSeed(async (seed) => {
    const t = SAMPLE_DISTRIBUTION_CPU.draws, n = logits6.length;
    const x = new Float32Array(t * n);
    for (let i = 0; i < t; i++) x.set(logits6, i * n);
    const tokens = await sample(Tensor.fromArray(x, [t, n]), { ...o, seed }).toArray();
    const counts = new Array(n).fill(0);
    for (const k of tokens) counts[k]++;
    const p = ref.sampleDistribution(Float32Array.from(logits6), o);
    for (let j = 0; j < n; j++) {
      if (p[j] === 0) { expect([j, counts[j]]).toEqual([j, 0]); continue; }
      const sigma = Math.sqrt(p[j] * (1 - p[j]) / t);
      const z = Math.abs(counts[j] / t - p[j]) / (sigma || 1e-12);
      if (!(z <= SAMPLE_MAX_SIGMA)) throw new Error(`token ${j}: frequency ${counts[j] / t} vs p ${p[j]} (${z.toFixed(1)} sigma); counts ${counts}`);
    }
  }));

  test('the reference distributions are what the filters say', () => {
    const l = Float32Array.from(logits6);
    expect(Array.from(ref.sampleDistribution(l, { topK: 2 })).map((v) => v > 0)).toEqual([true, false, false, false, true, false]);
    const p = ref.sampleDistribution(l, { temperature: 1.3, topP: 0.8 });
    expect(p.filter((v) => v > 0).length).toBe(3);
    expect(p[5]).toBe(0);
  });

  test('a row with NaN or without a finite logit rejects the next read', async () => {
    const bad = sample(Tensor.fromArray(new Float32Array([0, 1, 2, 3, NaN, 1]), [2, 3]), { seed: 1 });
    await expect(bad.toArray()).rejects.toThrow("sample: row 1 of 'logits' contains NaN");
    const inf = sample(Tensor.fromArray(new Float32Array([-Infinity, -Infinity]), [1, 2]), { seed: 1 });
    await expect(inf.toArray()).rejects.toThrow(ArgumentError);
    const ok = sample(Tensor.fromArray(new Float32Array([-Infinity, 0, -Infinity]), [1, 3]), { seed: 1 });
    expect(Array.from(await ok.toArray())).toEqual([1]);
  });

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([2, 5]);
    expect(() => sample(x, {} as never)).toThrow("sample: argument 'seed' is required (a number or bigint)");
    expect(() => sample(x, undefined as never)).toThrow(ArgumentError);
    expect(() => sample(x, { seed: 1.5 })).toThrow(ArgumentError);
    expect(() => sample(x, { seed: 1, topP: 0 })).toThrow("sample: argument 'topP' must be in (0, 1], got 0");
    expect(() => sample(x, { seed: 1, topP: 1.5 })).toThrow(ArgumentError);
    expect(() => sample(x, { seed: 1, topK: -1 })).toThrow(ArgumentError);
    expect(() => sample(x, { seed: 1, topK: 2.5 })).toThrow(ArgumentError);
    expect(() => sample(x, { seed: 1, temperature: Infinity })).toThrow("sample: argument 'temperature' must be finite, got Infinity");
    expect(() => sample(x, { seed: 1, temperature: NaN })).toThrow(ArgumentError);
    expect(() => sample(Tensor.zeros([2, 5], { dtype: 'bf16' }) as never, { seed: 1 })).toThrow(DTypeError);
    expect(() => sample(Tensor.zeros([5]), { seed: 1 })).toThrow(ShapeError);
    expect(() => sample(Tensor.zeros([2, 0]), { seed: 1 })).toThrow(ShapeError);
    expect(() => sample(x, { seed: 1, out: Tensor.zeros([3], { dtype: 'i32' }) })).toThrow(ShapeError);
    const d = Tensor.zeros([2, 5]);
    d.dispose();
    expect(() => sample(d, { seed: 1 })).toThrow(DisposedError);
    expect(() => sample(x, { seed: 1, topK: 99 })).not.toThrow();  // topK above the vocabulary keeps all
  });
});
