// The host side of CUDA graphs and of the captured decode step, without a GPU: Tensor.copyFrom, typed
// errors from CudaGraph and Model.decodeGraph, and PagedLatentCache.prepareHost's fixed-width tables and
// describe-only mode, and the bookkeeping of graph memory. The captured replays themselves are in test/gpu/
// (runtime and model suites).
import { join } from 'path';
import { ArgumentError, backends, collectingStatistics, CudaGraph, DeviceError, DisposedError, DTypeError, isCapturing, ShapeError, Tensor, UnsupportedError, withoutStatistics } from '../../lib';
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
  test('CudaGraph.capture is a typed error and leaves no capture running', async () => {
    await expect(CudaGraph.capture(() => undefined)).rejects.toThrow(DeviceError);
    expect(isCapturing()).toBe(false);
    await expect(CudaGraph.capture(() => undefined, 'cpu')).rejects.toThrow(DeviceError);
  });
  test('Model.decodeGraph refuses a model on the CPU', async () => {
    const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
    const c = model.createCache(16);
    await expect(model.decodeGraph([c])).rejects.toThrow(UnsupportedError);
    c.dispose(); model.dispose();
  });
});

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
