// Batched steps over one shared paged latent cache (Model.forwardBatch) against each sequence run alone
// (Model.forward), the device-side pick (rows: 'last', pick) against the argmax of the full logits, and the
// weight-memory estimate loadModel checks a CUDA device against (estimateWeightBytes) against the bytes of the
// loaded model, on the tiny-v3 fixture.
import { join } from 'path';
import { ArgumentError, DeviceError, OutOfMemoryError } from '../../lib';
import { checkDeviceFits, loadModel, readConfig } from '../../lib/model/load';
import { estimateWeightBytes, residentBytes } from '../../lib/model/memory';
import { Model } from '../../lib/model/model';
import { Checkpoint } from '../../lib/weights/safetensors';
import { relErr } from '../helpers';
import { batchedVsAlone } from './batched';
import { withReads } from './reads';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
let model: Model;
beforeAll(async () => { model = await loadModel(DIR, { activations: 'f32' }); }, 120000);
afterAll(() => model?.dispose());

const argmaxRows = (x: Float32Array, v: number) => Array.from({ length: x.length / v }, (_, r) => {
  let b = 0;
  for (let i = 1; i < v; i++) if (x[r * v + i] > x[r * v + b]) b = i;
  return b;
});

test('batched decode of sequences of different lengths equals decoding each alone', async () => {
  const V = model.config.vocabSize;
  const lens = [5, 70, 130], steps = 4;
  const { worst, paged, seqs } = await batchedVsAlone(model, lens, steps, 7, { pick: {} }, (r) => {
    expect(r.logits.length).toBe(lens.length * V);
    expect(Array.from(r.tokens!)).toEqual(argmaxRows(r.logits, V));
  });
  expect(worst).toBeLessThan(1e-5);
  expect(seqs.map((c) => c.length)).toEqual(lens.map((n) => n + steps));
  // equal-length chunks of two sequences in one forward (sq 3), last rows only
  const r = await model.forwardBatch([{ cache: seqs[0], ids: [1, 2, 3] }, { cache: seqs[2], ids: [4, 5, 6] }], { rows: 'last' });
  expect(r.logits.length).toBe(2 * V);
  // bad batches: ragged, a sequence twice, a cache of another paged cache; nothing advances
  const other = model.createCache(64);
  await expect(model.forwardBatch([{ cache: seqs[0], ids: [1] }, { cache: seqs[1], ids: [1, 2] }])).rejects.toThrow(ArgumentError);
  await expect(model.forwardBatch([{ cache: seqs[0], ids: [1] }, { cache: seqs[0], ids: [2] }])).rejects.toThrow('appears twice');
  await expect(model.forwardBatch([{ cache: seqs[0], ids: [1] }, { cache: other, ids: [2] }])).rejects.toThrow('share one paged cache');
  await expect(model.forwardBatch([])).rejects.toThrow(ArgumentError);
  expect(seqs.map((c) => c.length)).toEqual([lens[0] + steps + 3, lens[1] + steps, lens[2] + steps + 3]);
  // a removed sequence frees its pages for another
  const free = paged.freePages;
  seqs[1].dispose();
  expect(paged.freePages).toBe(free + Math.ceil((lens[1] + steps) / 64));
  other.dispose(); paged.dispose();
}, 120000);

test('rows: last with pick returns the argmax of the last row; logits: false reads nothing back', async () => {
  const V = model.config.vocabSize, ids = [3, 14, 15, 92, 65, 35];
  const full = await model.forward(ids);
  const r = await model.forward(ids, { rows: 'last', logits: false, pick: {} });
  expect(r.logits.length).toBe(0);
  expect(r.tokens!.length).toBe(1);
  expect(r.tokens![0]).toBe(argmaxRows(full.logits.subarray((ids.length - 1) * V), V)[0]);
  const l = await model.forward(ids, { rows: 'last', normed: 'tensor' });
  expect(relErr(l.logits, full.logits.subarray((ids.length - 1) * V))).toBeLessThan(1e-6);
  expect(l.normedTensor!.shape).toEqual([ids.length, model.config.hiddenSize]);
  l.normedTensor!.dispose();
  await expect(model.forward(ids, { pick: { temperature: 1 } })).rejects.toThrow('needs a seed');
}, 60000);

test('a step reads back only what the caller asks for: the picked ids, or the logits', async () => {
  const paged = model.createPagedCache(256);
  const seqs = [model.createCache(128, paged), model.createCache(128, paged)];
  await model.forwardBatch(seqs.map((cache) => ({ cache, ids: [1, 2, 3, 4] })));
  model.resetExpertLoad();  // the load statistics are folded (read) every 64 MoE calls: not inside the counted steps
  const dec = await withReads(() => model.forwardBatch(seqs.map((cache, i) => ({ cache, ids: [7 + i] })), { logits: false, pick: {} }));
  // only the ids (argmax flags a NaN row with -1, so a greedy pick raises as sampling does without a second read)
  expect(dec.reads).toEqual([{ op: 'readBytes', dtype: 'i32', shape: [2] }]);
  const pre = await withReads(() => model.forwardBatch(seqs.map((cache) => ({ cache, ids: [5, 6, 7] })), { rows: 'last' }));
  expect(pre.reads).toEqual([{ op: 'readFloat32', dtype: 'f32', shape: [2, model.config.vocabSize] }]);
  paged.dispose();
}, 60000);

test.each(['f32', 'bf16', 'fp8'] as const)('the weight-memory estimate equals the loaded model\'s bytes (%s)', async (act) => {
  const cfg = readConfig(DIR), ck = Checkpoint.open(DIR);
  const est = estimateWeightBytes(cfg, ck, { activations: act, mtp: false });
  ck.close();
  const progress: number[][] = [];
  const m = act === 'f32' ? model : await loadModel(DIR, { activations: act, onProgress: (l, n, b) => progress.push([l, b.loaded, b.estimated]) });
  expect(residentBytes(m)).toBe(est.total);
  expect(est.total).toBe(est.fp8 + est.dense + est.f32);
  if (act === 'fp8') expect(est.fp8).toBeGreaterThan(0); else expect(est.fp8).toBe(0);
  if (m !== model) {
    expect(progress.map((p) => p[0])).toEqual([0, 1, 2, 3]);
    expect(progress.every((p) => p[2] === est.total && p[1] < est.total)).toBe(true);
    m.dispose();
  }
}, 60000);

test('loading on CUDA: an unusable device and a checkpoint that does not fit are refused before any upload', () => {
  const est = { total: 10 * 2 ** 30, fp8: 6 * 2 ** 30, dense: 3 * 2 ** 30, f32: 2 ** 30 };
  const dev = { index: 0, name: 'NVIDIA H200', computeCapability: '9.0', smCount: 132, totalMemory: 140 * 2 ** 30, freeMemory: 10.5 * 2 ** 30 };
  const cuda = { compiled: true, available: true, deviceCount: 1, devices: [dev] };
  expect(() => checkDeviceFits(est, 'fp8', 0.25 * 2 ** 30, cuda)).not.toThrow();
  expect(() => checkDeviceFits(est, 'fp8', 2 ** 30, cuda)).toThrow(OutOfMemoryError);
  expect(() => checkDeviceFits(est, 'bf16', 2 ** 30, cuda)).toThrow(
    "loadModel: the weights need 10.0 GiB on cuda:0 with activations 'bf16' (fp8 6.0 GiB, dense 3.0 GiB, f32 1.0 GiB) plus 1.0 GiB reserved "
    + "for activations and KV caches = 11.0 GiB, but NVIDIA H200 has 10.5 GiB free of 140.0 GiB; activations 'fp8' keeps FP8 weights in 1 byte");
  expect(() => checkDeviceFits(est, 'fp8', 0, { ...cuda, available: false, reason: 'no CUDA-capable device is detected' }))
    .toThrow("loadModel: device 'cuda' is not usable: no CUDA-capable device is detected");
  expect(() => checkDeviceFits(est, 'fp8', 0, { ...cuda, available: false })).toThrow(DeviceError);
});
