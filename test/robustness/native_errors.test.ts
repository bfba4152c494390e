// Issue 18, item 3: an error inside a queued CPU op belongs to that op's outputs. Reading a tensor the
// failed op wrote rejects with that op's typed error, every time; tensors it did not write read normally;
// ops fed a failed output fail with the same error; a later successful write clears it. Concurrent
// generations each get their own outcome (a NaN-poisoned model's sample error never reaches the other).
import { join } from 'path';
import { ArgumentError, Tensor, ops, synchronize } from '../../lib';
import { GeneratedToken } from '../../lib/generate';
import { loadModel } from '../../lib/model/load';
import { Model } from '../../lib/model/model';

const BAD_ID = /embedding: id 99 .*outside \[0, 10\)/;

test('a failed op rejects only the reads of its outputs, every time', async () => {
  const table = Tensor.zeros([10, 4]);
  const bad = ops.embedding(table, Tensor.fromArray(Int32Array.from([99])));
  const other = Tensor.fromArray(Float32Array.from([1, 2, 3]));
  const sum = ops.add(other, other);
  // Unrelated tensors, created before and after the failed op, read normally.
  expect(Array.from(await other.toFloat32Array())).toEqual([1, 2, 3]);
  expect(Array.from(await sum.toFloat32Array())).toEqual([2, 4, 6]);
  // The failed op's output never reads back as if valid, however often it is read, as f32 or as bytes.
  for (let i = 0; i < 3; i++) {
    await expect(bad.toFloat32Array()).rejects.toThrow(ArgumentError);
    await expect(bad.toFloat32Array()).rejects.toThrow(BAD_ID);
    await expect(bad.bytes()).rejects.toThrow(BAD_ID);
  }
  // synchronize() is not blamed for it: the error was delivered to the tensor.
  await expect(synchronize()).resolves.toBeUndefined();
  expect(Array.from(await ops.add(sum, other).toFloat32Array())).toEqual([3, 6, 9]);
});

test('an op reading a failed output fails with the original error; a successful rewrite clears it', async () => {
  const table = Tensor.fromArray(Float32Array.from({ length: 40 }, (_, i) => i), [10, 4]);
  const out = Tensor.full([2, 4], -1);
  ops.embedding(table, Tensor.fromArray(Int32Array.from([1, 99])), { out });
  const downstream = ops.rmsNorm(ops.add(out, out), Tensor.full([4], 1));
  const ok = ops.embedding(table, Tensor.fromArray(Int32Array.from([2])));
  await expect(downstream.toFloat32Array()).rejects.toThrow(BAD_ID);
  await expect(out.toFloat32Array()).rejects.toThrow(BAD_ID);
  expect(Array.from(await ok.toFloat32Array())).toEqual([8, 9, 10, 11]);
  // The same buffer, written successfully, reads again.
  ops.embedding(table, Tensor.fromArray(Int32Array.from([3, 0])), { out });
  expect(Array.from(await out.toFloat32Array())).toEqual([12, 13, 14, 15, 0, 1, 2, 3]);
});

test('interleaved pipelines: each read gets its own pipeline\'s outcome', async () => {
  const table = Tensor.fromArray(Float32Array.from({ length: 40 }, (_, i) => i), [10, 4]);
  const run = async (id: number): Promise<number[]> => {
    let x = ops.embedding(table, Tensor.fromArray(Int32Array.from([id])));
    for (let i = 0; i < 5; i++) { await Promise.resolve(); x = ops.add(x, x); }
    return Array.from(await x.toFloat32Array());
  };
  const results = await Promise.allSettled([run(1), run(99), run(2), run(98), run(3)]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
  expect((results[0] as PromiseFulfilledResult<number[]>).value).toEqual([128, 160, 192, 224]);
  expect((results[2] as PromiseFulfilledResult<number[]>).value).toEqual([256, 288, 320, 352]);
  expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/id 99 /);
  expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/id 98 /);
  expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(ArgumentError);
});

describe('concurrent generations', () => {
  const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
  const PROMPT = [5, 17, 300, 42, 999, 7];
  let good: Model, poisoned: Model;
  beforeAll(async () => {
    good = await loadModel(DIR, { activations: 'f32' });
    poisoned = await loadModel(DIR, { activations: 'f32' });
    // NaN final-norm weight: every logit is NaN, so sampling fails inside its queued op.
    poisoned.norm.copyFrom(Tensor.full(poisoned.norm.shape, NaN));
  }, 120000);
  afterAll(() => { good?.dispose(); poisoned?.dispose(); });

  const collect = async (g: AsyncIterable<GeneratedToken>): Promise<number[]> => {
    const ids: number[] = [];
    for await (const t of g) ids.push(t.id);
    return ids;
  };

  test('a failing generation never hands its error to the other, nor reads a failed sample', async () => {
    const opts = { maxNewTokens: 4, temperature: 0.8, seed: 7 };
    const want = await collect(good.generate(PROMPT, opts));
    expect(want.length).toBe(4);
    await expect(collect(poisoned.generate(PROMPT, opts))).rejects.toThrow(/sample: row 0 of 'logits' contains NaN/);
    for (let run = 0; run < 8; run++) {
      const [a, b] = await Promise.allSettled([collect(good.generate(PROMPT, opts)), collect(poisoned.generate(PROMPT, opts))]);
      expect(a).toEqual({ status: 'fulfilled', value: want });
      expect(b.status).toBe('rejected');
      expect((b as PromiseRejectedResult).reason).toBeInstanceOf(ArgumentError);
      expect(String((b as PromiseRejectedResult).reason)).toMatch(/sample: row 0 of 'logits' contains NaN/);
    }
  }, 120000);
});

test('an op called from inside another op\'s argument parsing keeps the errors apart', async () => {
  const { native } = await import('../../lib/native');
  const table = Tensor.zeros([10, 4]);
  let inner: Tensor | null = null;
  // A getter on the options object runs JS (here another op) while embedding parses its arguments.
  const opts = { get outDtype() { inner = ops.add(table, table); return 'f32'; } };
  const bad = Tensor.fromHandle((native.embedding as (...a: unknown[]) => never)(table.handle, Tensor.fromArray(Int32Array.from([99])).handle, opts));
  await expect(bad.toFloat32Array()).rejects.toThrow(BAD_ID);
  expect(Array.from(await inner!.toFloat32Array())).toEqual(new Array(40).fill(0));
  await expect(synchronize()).resolves.toBeUndefined();
});
