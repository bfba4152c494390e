// Step graphs (lib/graph.ts) on the CPU, and the host side of CUDA graphs without a GPU: CPU capture and
// replay (nothing runs while capturing, replays rewrite the outputs, reads and waits refused while capturing,
// errors in a replay), the captured greedy decode step on the CPU against forward() (tokens and expert load),
// Tensor.copyFrom and write, CPU reads (many in flight; the event loop), typed errors of CUDA capture without a GPU, PagedLatentCache.prepareHost's fixed-width
// tables, and the bookkeeping of CUDA graph memory. CUDA replays themselves are in test/gpu/ (runtime, model).
import { spawnSync } from 'child_process';
import { join } from 'path';
import { ArgumentError, backends, collectingStatistics, DeviceError, DisposedError, DTypeError, Graph, isCapturing, ops, profile, ShapeError, synchronize, Tensor, withoutStatistics } from '../../lib';
import { RouteTrace } from '../../lib/model/moe';
import { DecodeGraph } from '../../lib/model/decode_graph';
import { loadModel } from '../../lib/model/load';
import { native } from '../../lib/native';

const cuda = backends().cuda;

test('copyFrom overwrites a tensor in place with checked dtype and size', async () => {
  const dst = Tensor.zeros([2, 3]);
  expect(dst.copyFrom(Tensor.fromFloats([1, 2, 3, 4, 5, 6], [6]))).toBe(dst);
  expect(Array.from(await dst.toFloat32Array())).toEqual([1, 2, 3, 4, 5, 6]);
  expect(() => dst.copyFrom(Tensor.zeros([6], { dtype: 'bf16' }) as unknown as Tensor<'f32'>)).toThrow(DTypeError);
  expect(() => dst.copyFrom(Tensor.zeros([5]))).toThrow(ShapeError);
  expect(() => dst.copyFrom(Tensor.zeros([5]))).toThrow(/as many elements as dst \[2,3\], got \[5\]/);
  const gone = Tensor.zeros([6]);
  gone.dispose();
  expect(() => dst.copyFrom(gone)).toThrow(DisposedError);
  expect(() => dst.copyFrom([1, 2] as unknown as Tensor<'f32'>)).toThrow(ArgumentError);
});

test('write overwrites a tensor with a typed array in stream order, copied at the call, with checked dtype and size', async () => {
  const t = Tensor.fromArray(Int32Array.from([1, 2, 3]));
  const first = t.toArray();
  const data = Int32Array.from([4, 5, 6]);
  expect(t.write(data)).toBe(t);  // queued after the first read
  data[0] = 99;                   // taken at the call: the write keeps 4
  const second = t.toArray();
  t.write(Int32Array.from([7, 8, 9]));
  expect(Array.from(await first)).toEqual([1, 2, 3]);
  expect(Array.from(await second)).toEqual([4, 5, 6]);
  expect(Array.from(await t.toArray())).toEqual([7, 8, 9]);
  const h = Tensor.zeros([2, 2], { dtype: 'bf16' });
  h.write(Uint16Array.from([0x3f80, 0x4000, 0x4040, 0x4080]));  // 1, 2, 3, 4 as bf16 bits
  expect(Array.from(await h.toFloat32Array())).toEqual([1, 2, 3, 4]);
  expect(() => t.write(Float32Array.from([1, 2, 3]) as unknown as Int32Array)).toThrow(DTypeError);
  expect(() => t.write(Float32Array.from([1, 2, 3]) as unknown as Int32Array)).toThrow('write: a i32 tensor takes a Int32Array, got Float32Array');
  expect(() => t.write(Int32Array.from([1, 2]))).toThrow(ShapeError);
  expect(() => t.write(Int32Array.from([1, 2]))).toThrow(/must hold 12 bytes for i32 \[3\], got 8/);
  expect(() => t.write([1, 2, 3] as unknown as Int32Array)).toThrow(DTypeError);
  h.dispose();
  t.dispose();
  expect(() => t.write(Int32Array.from([1, 2, 3]))).toThrow(DisposedError);
});

test('write cannot be recorded into a CPU graph (a replay would write the values of the capture)', async () => {
  const t = Tensor.zeros([3]);
  await expect(Graph.capture(() => { t.write(Float32Array.from([1, 2, 3])); }, 'cpu')).rejects.toThrow(ArgumentError);
  await expect(Graph.capture(() => { t.write(Float32Array.from([1, 2, 3])); }, 'cpu')).rejects.toThrow(/cannot be recorded into a CPU graph/);
  expect(isCapturing()).toBe(false);
  expect(Array.from(await t.toFloat32Array())).toEqual([0, 0, 0]);
  t.dispose();
});

test('many CPU reads in flight settle, each with its own data, in stream order', async () => {
  const t = Tensor.zeros([4]);
  const reads: Promise<Float32Array>[] = [];
  for (let i = 0; i < 200; i++) { t.write(Float32Array.from([i, i + 1, i + 2, i + 3])); reads.push(t.toFloat32Array()); }
  const got = await Promise.all(reads);
  got.forEach((v, i) => expect(Array.from(v)).toEqual([i, i + 1, i + 2, i + 3]));
  t.dispose();
});

test('a CPU read in flight keeps the process alive until it settles, and an idle addon does not', () => {
  // A child that only reads, on the bare addon: it must print both values (the event loop waited for the
  // reads) and then exit by itself (the addon's read hand-off does not hold the loop once they settled).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon: string = process.env.DSV3_ADDON || require('bindings')({ bindings: 'dsv3', path: true });
  const script = `const n = require(${JSON.stringify(addon)});
    const t = n.fromBytes('f32', [3], 'cpu', Float32Array.from([1, 2, 3]));
    n.readFloat32(t).then((v) => console.log(Array.from(v).join(',')));
    n.readFloat32(n.fromBytes('f32', [1], 'cpu', Float32Array.from([4]))).then((v) => console.log(v[0]));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n')).toEqual(['1,2,3', '4']);
});

test('a CPU read returns the data as of the call: work queued after it does not change what it returns', async () => {
  const t = Tensor.fromFloats([1, 2, 3], [3]);
  const first = t.toFloat32Array(), bytes = t.bytes();
  t.copyFrom(Tensor.fromFloats([4, 5, 6], [3]));  // queued after the reads
  const second = t.toArray();
  t.copyFrom(Tensor.fromFloats([7, 8, 9], [3]));
  expect(Array.from(await first)).toEqual([1, 2, 3]);
  expect(Array.from(new Float32Array((await bytes).buffer))).toEqual([1, 2, 3]);
  expect(Array.from(await second)).toEqual([4, 5, 6]);
  expect(Array.from(await t.toFloat32Array())).toEqual([7, 8, 9]);
  t.dispose();
});

// The host side of graph memory (cuda/runtime.h GraphMemoryBook, the decisions runtime.cu acts on), on any build.
test('graph memory: older memory freed during a capture lives as long as the graph; its outputs are freed with it', () => {
  const trace = (ev: string[]) => (native as unknown as { cudaGraphMemoryBookTrace(e: string[]): string[] }).cudaGraphMemoryBookTrace(ev);
  expect(trace([
    'alloc 1', 'free 1',             // no capture: freed at once
    'begin', 'alloc 2', 'alloc 3',
    'free 2',                        // allocated during the capture: a free node of the graph
    'free 4',                        // older memory: the replays use it, the graph keeps it
    'end',
    'free 3',                        // the graph's output: the graph frees it
    'free 5',                        // after the capture: freed at once
    'destroy 0 launched',            // the outputs and the older memory go with the graph
    'free 3',                        // no longer the graph's
  ])).toEqual([
    'free 1: now', 'free 2: now', 'free 4: retain', 'end 0: owned [3] retained [4]', 'free 3: ignore', 'free 5: now',
    'destroy 0 launched: free [3 4]', 'free 3: now',
  ]);
  // Never launched: its outputs never existed, the older memory is freed. No graph at all: freed at once.
  expect(trace(['begin', 'alloc 7', 'free 8', 'end', 'destroy 0'])).toEqual(['free 8: retain', 'end 0: owned [7] retained [8]', 'destroy 0: free [8]']);
  expect(trace(['begin', 'alloc 7', 'free 8', 'end', 'abandon 0', 'free 7', 'free 9']))
    .toEqual(['free 8: retain', 'end 0: owned [7] retained [8]', 'abandon 0: free [8]', 'free 7: ignore', 'free 9: now']);
  // Two captures: each graph keeps only what was freed during its own capture.
  expect(trace(['begin', 'free 10', 'end', 'begin', 'free 11', 'end', 'destroy 1 launched', 'destroy 0 launched']))
    .toEqual(['free 10: retain', 'end 0: owned [] retained [10]', 'free 11: retain', 'end 1: owned [] retained [11]',
      'destroy 1 launched: free [11]', 'destroy 0 launched: free [10]']);
  expect(() => trace(['begin', 'bogus 1'])).toThrow(ArgumentError);
});

(cuda.available ? describe.skip : describe)('without a usable GPU', () => {
  test('Graph.capture on cuda is a typed error and leaves no capture running', async () => {
    await expect(Graph.capture(() => undefined)).rejects.toThrow(DeviceError);
    expect(isCapturing()).toBe(false);
    await expect(Graph.capture(() => undefined, 'cuda:1')).rejects.toThrow(DeviceError);
  });
});

// Two sequences of the tiny-v3 fixture prefilled into one paged cache, with the greedy token after each prompt.
const PROMPTS = [[5, 9, 2, 7, 7, 1, 30], [4, 11]];
async function prefilled(model: Awaited<ReturnType<typeof loadModel>>) {
  const paged = model.createPagedCache(64 * 4);
  const caches = PROMPTS.map(() => model.createCache(64 * 2, paged));
  const first: number[] = [];
  for (let i = 0; i < PROMPTS.length; i++) first.push((await model.forward(PROMPTS[i], { cache: caches[i], rows: 'last', pick: {}, logits: false })).tokens![0]);
  return { paged, caches, first };
}

describe('CPU step graphs', () => {
  test('the capture records without running; each replay reruns the ops on the current inputs', async () => {
    const x = Tensor.fromFloats([1, 2, 3], [3]);
    const y0 = Tensor.full([3], -7);
    let y: Tensor<'f32'> | null = null;
    const g = await Graph.capture(() => {
      expect(isCapturing()).toBe(true);
      const t = ops.add(x, x);
      y = ops.add(t, x);
      t.dispose();
      y0.copyFrom(x);  // recorded: y0 keeps -7 until a replay
    }, 'cpu');
    expect(isCapturing()).toBe(false);
    expect(Array.from(await y0.toFloat32Array())).toEqual([-7, -7, -7]);
    g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([3, 6, 9]);
    expect(Array.from(await y0.toFloat32Array())).toEqual([1, 2, 3]);
    x.copyFrom(Tensor.fromFloats([10, -20, 0.5], [3]));
    g.replay(); g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([30, -60, 1.5]);
    // ops outside the capture run at once again
    expect(Array.from(await ops.add(x, x).toFloat32Array())).toEqual([20, -40, 1]);
    g.dispose();
    g.dispose();  // idempotent
    expect(() => g.replay()).toThrow(DisposedError);
    // the outputs stay readable after the graph is gone
    expect(Array.from(await y!.toFloat32Array())).toEqual([30, -60, 1.5]);
    x.dispose(); y!.dispose(); y0.dispose();
  });

  test('reads, waits and a second capture are refused while capturing; the capture ends with the error', async () => {
    const x = Tensor.fromFloats([1, 2], [2]);
    await expect(Graph.capture(async () => { await x.toFloat32Array(); }, 'cpu')).rejects.toThrow(/while a CPU graph is being captured/);
    expect(isCapturing()).toBe(false);
    await expect(Graph.capture(async () => { await synchronize('cpu'); }, 'cpu')).rejects.toThrow(ArgumentError);
    await expect(Graph.capture(async () => { await Graph.capture(() => undefined, 'cpu'); }, 'cpu')).rejects.toThrow(/already being captured/);
    await expect(Graph.capture(() => { ops.add(x, x).dispose(); throw new Error('stop'); }, 'cpu')).rejects.toThrow('stop');
    expect(isCapturing()).toBe(false);
    expect(Array.from(await x.toFloat32Array())).toEqual([1, 2]);  // reads work again
    await expect(Graph.capture(null as unknown as () => void, 'cpu')).rejects.toThrow(ArgumentError);
    x.dispose();
  });

  test('an op that fails in a replay fails its outputs (reading them raises its error); the next replay runs afresh', async () => {
    const table = Tensor.fromFloats([1, 2, 3, 4, 5, 6], [3, 2]);
    const ids = Tensor.fromArray(Int32Array.from([0, 2]), [2]);
    let rows: Tensor<'f32'> | null = null;
    const g = await Graph.capture(() => { rows = ops.embedding(table, ids); }, 'cpu');
    g.replay();
    expect(Array.from(await rows!.toFloat32Array())).toEqual([1, 2, 5, 6]);
    ids.copyFrom(Tensor.fromArray(Int32Array.from([0, 3]), [2]));  // id 3 is outside the table's 3 rows
    g.replay();
    await expect(rows!.toFloat32Array()).rejects.toThrow('embedding: id 3 at row 1 is outside [0, 3)');
    ids.copyFrom(Tensor.fromArray(Int32Array.from([1, 1]), [2]));  // the next replay runs afresh
    g.replay();
    expect(Array.from(await rows!.toFloat32Array())).toEqual([3, 4, 3, 4]);
    g.dispose(); rows!.dispose(); table.dispose(); ids.dispose();
  });

  test('profileCpu: per op, the tasks the stream ran (eager ops and graph replays) and their time', async () => {
    const x = Tensor.fromFloats(Array.from({ length: 4096 }, (_, i) => i), [4096]);
    let y: Tensor<'f32'> | null = null;
    const g = await Graph.capture(() => { const t = ops.add(x, x); y = ops.rmsNorm(t.reshape([1, 4096]), x, { eps: 1e-6 }); t.dispose(); }, 'cpu');
    const { result, ops: times, totalMs } = await profile.profileCpu(async () => {
      for (let i = 0; i < 3; i++) ops.add(x, x).dispose();  // 3 eager adds
      g.replay(); g.replay();                                  // 2 replays: 2 adds, 2 norms
      return 'done';
    });
    expect(result).toBe('done');
    const by = Object.fromEntries(times.map((o) => [o.op, o]));
    expect(Object.keys(by).sort()).toEqual(['add', 'rmsNorm']);
    expect(by.add.tasks).toBe(5);
    expect(by.rmsNorm.tasks).toBe(2);
    for (const o of times) expect(o.ms).toBeGreaterThan(0);
    expect(totalMs).toBeCloseTo(by.add.ms + by.rmsNorm.ms, 9);
    expect(times[0].ms).toBeGreaterThanOrEqual(times[1].ms);  // slowest first
    // off again: nothing more is recorded
    const again = await profile.profileCpu(() => 1);
    expect(again.ops).toEqual([]);
    g.dispose(); x.dispose(); y!.dispose();
  });

  test('Model.decodeGraph on the CPU: the tokens of forward() for a batch, and the same expert load', async () => {
    const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
    const prompts = PROMPTS;
    const steps = 6;
    const run = async (useGraph: boolean) => {
      const { paged, caches, first } = await prefilled(model);
      let next = first;
      const out: number[][] = [next];
      model.resetExpertLoad();
      const trace: RouteTrace[] = [];
      const g = useGraph ? await model.decodeGraph(caches) : null;
      for (let s = 0; s < steps; s++) {
        if (g) next = Array.from(await g.decode(next));
        else next = Array.from((await model.forwardBatch(caches.map((cache, i) => ({ cache, ids: [next[i]] })), { pick: {}, logits: false, trace })).tokens!);
        out.push(next);
      }
      const load = await model.expertLoad();
      expect(caches.map((c) => c.length)).toEqual(prompts.map((p) => p.length + steps));
      g?.dispose();
      paged.dispose();
      return { out, load, trace };
    };
    const eager = await run(false), graphed = await run(true);
    expect(graphed.out).toEqual(eager.out);
    // every replay counts: the loads equal those of the forwards, and the forwards' routing trace
    expect(graphed.load.map((l) => Array.from(l.tokens))).toEqual(eager.load.map((l) => Array.from(l.tokens)));
    expect(graphed.load[0].total).toBe(steps * prompts.length * model.config.numExpertsPerTok);
    const E = model.config.nRoutedExperts;
    for (const l of graphed.load) {
      const want = new Array(E).fill(0);
      for (const r of eager.trace.filter((x) => x.layer === l.layer)) for (const i of r.indices) want[i]++;
      expect(Array.from(l.tokens)).toEqual(want);
    }
    model.dispose();
  }, 120000);
});

test('DecodeGraph.queue on the CPU: steps queued ahead, one or several per call, fed their predecessor\'s picks on the device, give decode\'s tokens', async () => {
  const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
  const prompts = PROMPTS;
  const steps = 6;
  const run = async (mode: 'one' | 'ahead' | 'batches') => {
    const { paged, caches, first } = await prefilled(model);
    const g = await model.decodeGraph(caches);
    const out: number[][] = [first];
    if (mode === 'ahead') {  // every step queued before any is read; only the first gets its tokens from the host
      const queued = [await g.queue(first)];
      for (let s = 1; s < steps; s++) queued.push(await g.queue());
      expect(caches.map((c) => c.length)).toEqual(prompts.map((p) => p.length + steps));
      for (const q of queued) out.push(Array.from(await q.picks));
    } else if (mode === 'batches') {  // multi-step: 4 steps then 2, each call's picks step-major in one read
      const a = await g.queue(first, 4), b = await g.queue(undefined, 2);
      expect(caches.map((c) => c.length)).toEqual(prompts.map((p) => p.length + steps));
      for (const q of [a, b]) {
        const picks = Array.from(await q.picks);
        for (let s = 0; s < picks.length; s += prompts.length) out.push(picks.slice(s, s + prompts.length));
      }
    } else {
      let next = first;
      for (let s = 0; s < steps; s++) out.push(next = Array.from(await g.decode(next)));
    }
    g.dispose();
    paged.dispose();
    return out;
  };
  const one = await run('one'), ahead = await run('ahead'), batches = await run('batches');
  expect(ahead).toEqual(one);
  expect(batches).toEqual(one);
  expect(new Set(one.slice(1).map((r) => r.join())).size).toBeGreaterThan(1);  // the steps differ: each was fed its own input
  // a failed step gives its cache position back when its picks reject
  const paged = model.createPagedCache(64 * 2);
  const cache = model.createCache(64, paged);
  await model.forward([1, 2, 3], { cache, logits: false });
  const g = await model.decodeGraph([cache]);
  await expect(g.queue([model.config.vocabSize])).rejects.toThrow(ArgumentError);
  await expect(g.queue([1, 2])).rejects.toThrow(/1 tokens are needed/);
  for (const bad of [0, 1.5, DecodeGraph.MAX_STEPS + 1]) await expect(g.queue(undefined, bad)).rejects.toThrow(/steps must be an integer in \[1, 64\]/);
  await expect(g.queue(undefined, 62)).rejects.toThrow(/a sequence is full \(64 tokens\)/);  // 3 + 62 > 64: nothing reserved
  // a batch whose first id is bad is refused before any of its steps reserves a position
  await expect(g.queue([model.config.vocabSize], 3)).rejects.toThrow(ArgumentError);
  expect(cache.length).toBe(3);
  g.dispose();
  await expect(g.queue()).rejects.toThrow(/disposed/);
  paged.dispose();
  model.dispose();
}, 120000);

test('prepareHost: fixed table width, describe-only mode, and a width too small', async () => {
  const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
  const paged = model.createPagedCache(64 * 8);
  const a = model.createCache(64 * 4, paged), b = model.createCache(64 * 4, paged);
  await model.forward(Array.from({ length: 70 }, (_, i) => i % 50), { cache: a, logits: false });
  const peek = paged.prepareHost([a.seq, b.seq], 1, 4, false);
  expect(Array.from(peek.positions)).toEqual([70, 0]);
  expect(Array.from(peek.slots)).toEqual([-1, -1]);     // nothing would be written
  expect(Array.from(peek.seqLens)).toEqual([70, 0]);    // lengths unchanged
  expect(peek.blockTable.length).toBe(2 * 4);
  expect(a.length).toBe(70);
  const h = paged.prepareHost([a.seq, b.seq], 1, 4);
  expect(Array.from(h.positions)).toEqual([70, 0]);
  expect(Array.from(h.seqLens)).toEqual([71, 1]);
  expect(h.slots[0] % 64).toBe(70 % 64);
  expect(Array.from(h.blockTable.subarray(4, 8)).filter((p) => p >= 0).length).toBe(1);
  expect(() => paged.prepareHost([a.seq], 200, 4)).toThrow(/more than 4 pages/);
  paged.dispose(); model.dispose();
});

test('withoutStatistics: a forward inside it leaves the MoE expert load unchanged', async () => {
  const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
  const before = (await model.expertLoad()).reduce((a, l) => a + l.total, 0);
  expect(collectingStatistics()).toBe(true);
  await withoutStatistics(async () => {
    expect(collectingStatistics()).toBe(false);
    await model.forward([1, 2, 3], { logits: false });
  });
  expect(collectingStatistics()).toBe(true);
  expect((await model.expertLoad()).reduce((a, l) => a + l.total, 0)).toBe(before);
  await model.forward([1, 2, 3], { logits: false });
  expect((await model.expertLoad()).reduce((a, l) => a + l.total, 0)).toBeGreaterThan(before);
  model.dispose();
});
