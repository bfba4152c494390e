// Model.forwardRagged (continuous batching: decodes and prompt chunks of different lengths in one forward over the
// paged latent cache) against each sequence run alone through Model.forward, on the tiny-v3 fixture.
import { join } from 'path';
import { ArgumentError } from '../../lib';
import { loadModel } from '../../lib/model/load';
import { Model } from '../../lib/model/model';
import { Rng } from '../reference/rng';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
let model: Model;
beforeAll(async () => { model = await loadModel(DIR, { activations: 'f32' }); }, 120000);
afterAll(() => model?.dispose());

const argmaxOf = (x: Float32Array, v: number, row: number) => {
  let b = 0;
  for (let i = 1; i < v; i++) if (x[row * v + i] > x[row * v + b]) b = i;
  return b;
};

test('a ragged step (decodes and prompt chunks) picks what each sequence alone picks, and writes the same cache', async () => {
  const V = model.config.vocabSize, rng = new Rng(3);
  const seqs = [[7, 70], [3, 1], [60, 9], [1, 40]].map(([pre, n]) => ({
    prefix: Array.from({ length: pre }, () => rng.int(0, V - 1)), next: Array.from({ length: n }, () => rng.int(0, V - 1)),
  }));
  const paged = model.createPagedCache(64 * 12);
  const caches = seqs.map(() => model.createCache(256, paged));
  for (let i = 0; i < seqs.length; i++) await model.forward(seqs[i].prefix, { cache: caches[i] });
  const picks = await model.forwardRagged(seqs.map((s, i) => ({ cache: caches[i], ids: s.next, pick: i === 2 ? null : {} })));
  // and one more decode step, batched, to check what the ragged step wrote into the cache
  const nextTok = [5, 6, 7, 8];
  const picks2 = await model.forwardRagged(caches.map((cache, i) => ({ cache, ids: [nextTok[i]], pick: {} })));
  for (let i = 0; i < seqs.length; i++) {
    const c = model.createCache(256);
    const full = await model.forward([...seqs[i].prefix, ...seqs[i].next], { cache: c });
    const n = seqs[i].prefix.length + seqs[i].next.length;
    expect(caches[i].length).toBe(n + 1);
    if (i === 2) expect(picks[i]).toBe(-1);
    else expect(picks[i]).toBe(argmaxOf(full.logits, V, n - 1));
    const after = await model.forward([nextTok[i]], { cache: c });
    expect(picks2[i]).toBe(argmaxOf(after.logits, V, 0));
    c.dispose();
  }
  // seeded sampling of one row equals sampling the same logits alone
  const s1 = await model.forwardRagged([{ cache: caches[0], ids: [9], pick: { temperature: 0.8, seed: 11n, topK: 20 } }]);
  expect(s1[0]).toBeGreaterThanOrEqual(0);
  await expect(model.forwardRagged([])).rejects.toThrow(ArgumentError);
  await expect(model.forwardRagged([{ cache: caches[0], ids: [1], pick: { temperature: 1 } }])).rejects.toThrow('seed');
  for (const c of caches) c.dispose();
  expect(paged.freePages).toBe(paged.numPages);
  paged.dispose();
}, 120000);
