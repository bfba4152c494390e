// The model API with malformed or hostile input (issue 18 item 10): positions past max_position_embeddings,
// createCache without a length, bad stop / seed / topP / topK, NaN weights under greedy decoding and sampling,
// and an abort during a prefill. Each case asserts the typed error (lib/errors.ts) or the exact behaviour.
import { join } from 'path';
import { AbortError, ArgumentError, Tensor } from '../../lib';
import { loadModel } from '../../lib/model/load';
import { DEFAULT_CACHE_LENGTH, Model } from '../../lib/model/model';
import { SequenceCache } from '../../lib/model/paged_cache';
import type { GenerateStats } from '../../lib/generate';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');  // vocab 1024, 3 layers, max_position_embeddings 256
let model: Model;
beforeAll(async () => { model = await loadModel(DIR, { activations: 'f32' }); }, 120000);
afterAll(() => model?.dispose());

/** An AbortSignal-shaped object that reads as aborted from its n-th read on (deterministic: no timers). */
function abortAfter(n: number): { signal: AbortSignal; reads: () => number } {
  let reads = 0;
  const signal = { get aborted() { reads++; return reads >= n; } } as unknown as AbortSignal;
  return { signal, reads: () => reads };
}

test('createCache: past max_position_embeddings is an ArgumentError; without a length, min(max positions, 4096)', () => {
  expect(() => model.createCache(257)).toThrow(ArgumentError);
  expect(() => model.createCache(257)).toThrow(/maxLen 257 exceeds max_position_embeddings 256/);
  expect(() => SequenceCache.create(model.config, 257, 'f32')).toThrow(ArgumentError);  // what mtp.createCache uses
  const paged = model.createPagedCache(512);
  expect(() => model.createCache(300, paged)).toThrow(/exceeds max_position_embeddings 256/);
  paged.dispose();
  for (const bad of [0, -1, 1.5, NaN]) expect(() => model.createCache(bad)).toThrow(ArgumentError);
  const c = model.createCache();
  expect(c.maxLen).toBe(Math.min(256, DEFAULT_CACHE_LENGTH));
  c.dispose();
});

test('forward: more tokens than max_position_embeddings is an ArgumentError, with or without a cache', async () => {
  const ids = Array.from({ length: 257 }, (_, i) => i % 1024);
  await expect(model.forward(ids)).rejects.toThrow(ArgumentError);
  await expect(model.forward(ids)).rejects.toThrow(/257 tokens exceed max_position_embeddings 256/);
  // a sequence of a shared paged cache larger than max positions: the position check still holds
  const paged = model.createPagedCache(512);
  const seq = SequenceCache.in(paged);
  expect(seq.maxLen).toBe(512);
  await expect(model.forward(ids, { cache: seq })).rejects.toThrow(/exceed max_position_embeddings 256/);
  expect(seq.length).toBe(0);
  seq.dispose(); paged.dispose();
  for (const bad of [[-1], [1024], [1.5], [NaN]]) await expect(model.forward(bad)).rejects.toThrow(ArgumentError);
  await expect(model.forward([])).rejects.toThrow(ArgumentError);
});

test('generate: bad stop, seed, topP, topK, temperature, maxNewTokens are ArgumentErrors at the call, before any forward', () => {
  const bad: Record<string, unknown>[] = [
    { stop: [''] }, { stop: [1024] }, { stop: [-1] }, { stop: [1.5] }, { stop: 'x' }, { stop: [null] },
    { seed: 1.5 }, { seed: 'abc' }, { seed: NaN }, { seed: 2 ** 60 },
    { temperature: 1, topP: 0 }, { temperature: 1, topP: 1.5 }, { temperature: 1, topK: -1 }, { temperature: 1, topK: 2.5 },
    { temperature: NaN }, { temperature: '1' }, { maxNewTokens: -1 }, { maxNewTokens: 1.5 }, { signal: 'x' },
  ];
  for (const opts of bad) expect(() => model.generate([0, 5], opts)).toThrow(ArgumentError);
  expect(() => model.generate([0, 1024])).toThrow(/token id 1024 is outside \[0, 1024\)/);
  expect(() => model.generate([])).toThrow(ArgumentError);
  expect(() => model.generate(Array(256).fill(3))).toThrow(/leaves no room under max_position_embeddings 256/);
  // the good forms of the same options are accepted
  expect(() => model.generate([0, 5], { stop: [7], seed: 3n, topP: 1, topK: 0, temperature: 1 })).not.toThrow();
  expect(() => model.generate([0, 5], { seed: -4 })).not.toThrow();
});

test('NaN weights: greedy decoding and sampling raise the same typed error (greedy emitted token 0 forever)', async () => {
  const cfg = model.config;
  const nanHead = Tensor.full([cfg.vocabSize, cfg.hiddenSize], NaN);
  const bad = new Model(cfg, model.embed, model.layers, model.norm, nanHead, 'f32');
  const run = async (temperature: number): Promise<unknown> => {
    try {
      for await (const t of bad.generate([0, 5, 6], { maxNewTokens: 4, temperature, seed: 1 })) void t;
    } catch (e) { return e; }
    return null;
  };
  const greedy = await run(0), sampled = await run(1);
  expect(greedy).toBeInstanceOf(ArgumentError);
  expect(sampled).toBeInstanceOf(ArgumentError);
  expect((greedy as Error).message).toMatch(/row 0 of 'logits' contains NaN/);
  expect((sampled as Error).message).toMatch(/row 0 of 'logits' contains NaN/);
  // forward with a greedy pick raises it too, with one read (argmax flags the row); so does a ragged step (the
  // server's) and the MTP-free batched decode; without a pick the NaN logits are returned as they are
  await expect(bad.forward([0, 5], { pick: {} })).rejects.toThrow(/argmax: row 0 of 'logits' contains NaN/);
  const paged = bad.createPagedCache(256);
  const seqs = [bad.createCache(64, paged), bad.createCache(64, paged)];
  await expect(bad.forwardRagged([{ cache: seqs[0], ids: [1, 2], pick: {} }, { cache: seqs[1], ids: [3], pick: null }]))
    .rejects.toThrow(/argmax: row 0 of 'logits' contains NaN/);
  await expect(bad.forwardBatch(seqs.map((cache) => ({ cache, ids: [4] })), { logits: false, pick: {} })).rejects.toThrow(ArgumentError);
  seqs.forEach((c) => c.dispose()); paged.dispose();
  const { logits } = await bad.forward([0, 5]);
  expect(Number.isNaN(logits[0])).toBe(true);
  nanHead.dispose();  // the other weights belong to `model`
});

test('abort during a prefill: forward checks the signal before every layer; the cache is unchanged', async () => {
  const cache = model.createCache(64);
  await model.forward([0, 1, 2], { cache });
  const a = abortAfter(3);  // reads 1 (entry) and 2 (layer 0) pass, the read before layer 1 aborts
  await expect(model.forward(Array.from({ length: 40 }, (_, i) => i + 3), { cache, signal: a.signal })).rejects.toThrow(AbortError);
  expect(a.reads()).toBe(3);
  expect(cache.length).toBe(3);
  // the cache still works: same logits as a fresh run of the same 4 tokens
  const r = await model.forward([9], { cache });
  const ref = await model.forward([0, 1, 2, 9]);
  expect(Array.from(r.logits)).toEqual(Array.from(ref.logits.subarray(3 * 1024)));
  cache.dispose();
});

test('abort during generate\'s prefill: AbortError, stopReason abort, nothing yielded', async () => {
  let stats: GenerateStats | null = null;
  const got: number[] = [];
  const a = abortAfter(4);
  const run = async () => { for await (const t of model.generate(Array.from({ length: 30 }, (_, i) => i + 2), { maxNewTokens: 5, signal: a.signal, onStats: (s) => { stats = s; } })) got.push(t.id); };
  await expect(run()).rejects.toThrow(AbortError);
  expect(got).toEqual([]);
  expect(stats!.stopReason).toBe('abort');
  expect(stats!.generatedTokens).toBe(0);
});

test('an eos_token_id outside the vocabulary is rejected by the config', async () => {
  const { parseConfig } = await import('../../lib/config');
  const base = JSON.parse(require('fs').readFileSync(join(DIR, 'config.json'), 'utf8'));
  expect(() => parseConfig({ ...base, eos_token_id: 1024 })).toThrow(ArgumentError);
  expect(() => parseConfig({ ...base, eos_token_id: -1 })).toThrow(/eos_token_id' must be a token id in \[0, 1024\)/);
  expect(() => parseConfig({ ...base, bos_token_id: 1.5 })).toThrow(ArgumentError);
  expect(() => parseConfig({ ...base, eos_token_id: [1, 5000] })).toThrow(ArgumentError);
  expect(parseConfig({ ...base, eos_token_id: [1] }).eosTokenId).toBe(1);
  expect(parseConfig({ ...base, eos_token_id: null }).eosTokenId).toBeNull();
});

test('stop strings: found across token boundaries, ending generation after the completing token', async () => {
  const { loadTokenizer } = await import('../../lib/tokenizer');
  const tokenizer = loadTokenizer(join(__dirname, '..', 'fixtures', 'tokenizer'))!;
  const texts: string[] = [];
  for await (const t of model.generate([0, 263, 5], { maxNewTokens: 40, tokenizer })) texts.push(t.text!);
  const all = texts.join('');
  // every 2- and 3-character string of the output (spanning token boundaries or not) as a stop string
  const cases = new Set<string>();
  for (let i = 0; i + 3 <= all.length; i += 3) { cases.add(all.slice(i, i + 2)); cases.add(all.slice(i, i + 3)); }
  expect(cases.size).toBeGreaterThan(3);
  for (const stop of [...cases].slice(0, 12)) {
    let want = 0;
    while (!texts.slice(0, want).join('').includes(stop)) want++;
    const got: string[] = [];
    const g = model.generate([0, 263, 5], { maxNewTokens: 40, tokenizer, stop: ['never-appears', stop] });
    for await (const t of g) got.push(t.text!);
    expect([stop, got.length, g.stats.stopReason]).toEqual([stop, want, 'stop']);
  }
});
