// The execution model (DESIGN.md): ops return at once and run on the CPU stream's worker thread, so
// the event loop keeps turning during a long GEMM; reading data waits; disposing inputs of queued work
// is safe because the work holds its own references to the storage.
import { Tensor, ops } from '../../lib';
import { Rng, freshSeed } from '../reference/rng';

describe('execution model', () => {
  test('timers fire while a large GEMM runs; the op call itself returns before the work is done', async () => {
    const n = 1536;
    const a = Tensor.randn([n, n], { seed: 1 });
    const b = Tensor.randn([n, n], { seed: 2 });
    await a.toFloat32Array();  // inputs ready: only the GEMMs below are queued
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 1);
    // ~7 GFLOP per GEMM; queue several so the stream is busy for a long while
    const outs = [0, 1, 2, 3].map(() => ops.gemm(a, b, { outDtype: 'f32' }));
    const ticksAtReturn = ticks;
    const last = await outs[outs.length - 1].toFloat32Array();
    clearInterval(timer);
    expect(ticksAtReturn).toBe(0);  // enqueueing did not yield to the event loop...
    expect(ticks).toBeGreaterThan(3);  // ...and the loop kept turning while the GEMMs ran
    expect(last.length).toBe(n * n);
    expect(Number.isFinite(last[12345])).toBe(true);
  });

  test('disposing inputs and outputs of queued work is safe', async () => {
    const rng = new Rng(freshSeed());
    const m = 64, k = 300, n = 70;
    const av = Float32Array.from(rng.normals(m * k)), bv = Float32Array.from(rng.normals(n * k));
    const a = Tensor.fromArray(av, [m, k]), b = Tensor.fromArray(bv, [n, k]);
    const y = ops.gemm(a, b, { outDtype: 'f32' });
    const z = ops.add(y, y);
    a.dispose(); b.dispose(); y.dispose();
    const got = await z.toFloat32Array();
    let e = 0;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += av[5 * k + i] * bv[j * k + i];
      e = Math.max(e, Math.abs(got[5 * n + j] - 2 * s) / (1 + Math.abs(2 * s)));
    }
    expect(e).toBeLessThan(1e-4);
  });

  test('an error inside queued work rejects the next read, and the stream keeps working', async () => {
    const table = Tensor.randn([10, 4], { seed: 3 });
    const bad = ops.embedding(table, Tensor.fromArray(Int32Array.from([1, 99])));
    await expect(bad.toFloat32Array()).rejects.toThrow(/outside \[0, 10\)/);
    const ok = ops.embedding(table, Tensor.fromArray(Int32Array.from([2])));
    expect((await ok.toFloat32Array()).length).toBe(4);
  });
});
