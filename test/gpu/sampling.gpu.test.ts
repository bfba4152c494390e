// argmax, topk and sample on CUDA against the CPU backend; integer outputs must be equal. Ties, NaN,
// -0 vs +0 and all -inf rows for the ranking; sample with the same per-row draw u = rng(seed, row):
// greedy, temperature only, top-k (cutting through ties), top-p and both, on flat and peaked rows up to
// V3's vocabulary (129280). Rows with NaN or no finite logit give -1 on the device (the CPU rejects).
// Outputs poisoned with NaN / -123456. Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { argmax, sample, topk } from '../../lib/ops/sampling';
import { ARGMAX_GPU, SAMPLE_GPU, SAMPLE_OPTS_GPU, TOPK_GPU } from '../cases/sampling';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, expectSameBytes, poisonedLike } from './exact';
import { describeGpu, onEmulator } from './gpu';

/** Rows of normals (std), with ties, a few NaN / -0 / +0 / -inf when `specials`. */
function logits(rng: Rng, t: number, n: number, std: number, specials: boolean): Float32Array {
  const v = Float32Array.from(rng.normals(t * n, std));
  for (let i = 0; i < t; i++) {
    const row = v.subarray(i * n, (i + 1) * n);
    for (let q = 0; q < Math.min(3, n); q++) row[rng.int(0, n - 1)] = row[rng.int(0, n - 1)];  // ties
    if (rng.next() < 0.3) row.fill(Math.round(row[0]));  // a row of equal values
    if (specials && n > 4) {
      if (rng.next() < 0.3) row[rng.int(0, n - 1)] = NaN;
      row[rng.int(0, n - 1)] = -0;
      row[rng.int(0, n - 1)] = 0;
      row[rng.int(0, n - 1)] = -Infinity;
    }
  }
  return v;
}

describeGpu('argmax and topk (CUDA)', () => {
  test.each(FLOATS)('%s x: argmax equals the CPU backend (ties, NaN, signed zeros, -inf rows)', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [t, n] of ARGMAX_GPU(onEmulator)) {
      const v = logits(rng, t, n, 2, true);
      if (t === 3 && n === 5) { v.fill(-Infinity, 0, 5); v.set([0, -0, 0, -0, -1], 5); v.set([-0, 0, NaN, 1, NaN], 10); }
      const x = Tensor.fromFloats(v, [t, n], { dtype });
      const xg = x.to('cuda');
      await expectSameBytes(argmax(xg, { out: poisonedLike(xg, [t], 'i32') }), argmax(x), `argmax ${dtype} [${t}, ${n}]`);
    }
  }));

  test.each(FLOATS)('%s x: topk values and indices equal the CPU backend', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [t, n] of TOPK_GPU) {
      for (const k of new Set([1, 2, Math.min(8, n), n <= 300 ? n : 64].filter((c) => c <= n))) {
        const x = Tensor.fromFloats(logits(rng, t, n, 2, true), [t, n], { dtype });
        const xg = x.to('cuda');
        const out = { values: poisonedLike(xg, [t, k], 'f32'), indices: poisonedLike(xg, [t, k], 'i32') };
        const got = topk(xg, k, { out }), want = topk(x, k);
        await expectSameBytes(got.indices, want.indices, `topk indices ${dtype} [${t}, ${n}] k=${k}`);
        await expectSameBytes(got.values, want.values, `topk values ${dtype} [${t}, ${n}] k=${k}`);
      }
    }
  }));
});

describeGpu('sample (CUDA)', () => {
  test.each(SAMPLE_OPTS_GPU.map((o) => [JSON.stringify(o), o] as const))('%s: tokens equal the CPU backend', (_name, o) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [t, n] of SAMPLE_GPU(onEmulator)) {
      for (const std of [0.5, 4]) {
        const v = logits(rng, t, n, std, false);
        const x = Tensor.fromArray(v, [t, n]), xg = x.to('cuda');
        const s = rng.int(0, 2 ** 31);
        const want = sample(x, { seed: s, ...o });
        const got = sample(xg, { seed: s, ...o, out: poisonedLike(xg, [t], 'i32') });
        await expectSameBytes(got, want, `sample ${JSON.stringify(o)} [${t}, ${n}] std=${std} seed=${s}`);
      }
    }
  }));

  test('identical rows draw different tokens (the per-row u), as on the CPU', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 1000, t = 64;
    const row = Float32Array.from(rng.normals(n, 0.5));
    const v = new Float32Array(t * n);
    for (let i = 0; i < t; i++) v.set(row, i * n);
    const x = Tensor.fromArray(v, [t, n]);
    const got = sample(x.to('cuda'), { seed, temperature: 1 });
    await expectSameBytes(got, sample(x, { seed, temperature: 1 }), 'identical rows');
    expect(new Set(await got.toArray()).size).toBeGreaterThan(10);
  }));

  test('argmax flagInvalid equals the CPU: -1 for a NaN row, -2 without a finite maximum (+inf, all -inf)', async () => {
    const v = new Float32Array([1, 3, 3, 2, -Infinity, -Infinity, -Infinity, -Infinity, 1, NaN, 5, NaN, 0, Infinity, 0, -1, -Infinity, 2, -Infinity, 1]);
    for (const dt of ['f32', 'bf16', 'f16'] as const) {
      const x = Tensor.fromFloats(v, [5, 4], { dtype: dt }), xg = x.to('cuda');
      const want = Array.from(await argmax(x, { flagInvalid: true }).toArray());
      expect(want).toEqual([1, -2, -1, -2, 1]);
      expect(Array.from(await argmax(xg, { flagInvalid: true, out: poisonedLike(xg, [5], 'i32') }).toArray())).toEqual(want);
    }
  });

  test('a row with NaN or no finite logit gives -1 on the device; greedy rows still take the argmax', async () => {
    const v = new Float32Array([0, 1, 200, 3, NaN, 1, -Infinity, -Infinity, -Infinity, Infinity, 0, 1, 50, 4, 3]);
    const x = Tensor.fromArray(v, [5, 3]).to('cuda');
    expect(Array.from(await sample(x, { seed: 7, temperature: 1 }).toArray())).toEqual([2, -1, -1, -1, 0]);
    expect(Array.from(await sample(x, { seed: 7, temperature: 0 }).toArray())).toEqual([2, 1, 0, 0, 0]);
  });
});
