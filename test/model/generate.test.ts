// Model.generate on the tiny-v3 fixture ('f32', ids only: the fixture has no tokenizer): greedy decoding through
// the cache equals the argmax of a fresh full forward over the growing sequence, seeded sampling is
// reproducible, and maxNewTokens / stop ids / abort / eos end it. Mirrors DeepSeek-V3 generate.py generate().
import { join } from 'path';
import { ArgumentError, Tensor } from '../../lib';
import { AbortError, GeneratedToken, GenerateOptions, GenerateStats, Generation, MAX_DECODE_BATCH, stepSeed } from '../../lib/generate';
import { DecodeGraph } from '../../lib/model/decode_graph';
import { loadModel } from '../../lib/model/load';
import { Model } from '../../lib/model/model';
import { sample } from '../../lib/ops/sampling';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
const PROMPT = [5, 17, 300, 42, 999, 7];
let model: Model;

beforeAll(async () => { model = await loadModel(DIR, { activations: 'f32' }); }, 120000);
afterAll(() => model?.dispose());

async function collect(g: Generation): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of g) ids.push(t.id);
  return ids;
}

/** Index of the first maximum (argmax op semantics) of the last row. */
function lastArgmax(logits: Float32Array, vocab: number): { id: number; margin: number } {
  const row = logits.subarray(logits.length - vocab);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (row[i] > row[best]) best = i;
  let second = -Infinity;
  for (let i = 0; i < vocab; i++) if (i !== best && row[i] > second) second = row[i];
  return { id: best, margin: row[best] - second };
}

test('greedy equals the argmax of a fresh full forward over the growing sequence', async () => {
  const n = 8, vocab = model.config.vocabSize, eos = model.config.eosTokenId;
  const got = await collect(model.generate(PROMPT, { maxNewTokens: n }));
  const seq = PROMPT.slice(), ref: number[] = [];
  for (let k = 0; k < n; k++) {
    const { logits } = await model.forward(seq);
    const { id, margin } = lastArgmax(logits, vocab);
    expect(margin).toBeGreaterThan(1e-4); // not a near-tie that cache vs prefill rounding could flip
    if (id === eos) break;
    ref.push(id); seq.push(id);
  }
  expect(ref.length).toBeGreaterThan(0);
  expect(got).toEqual(ref);
  // deterministic
  expect(await collect(model.generate(PROMPT, { maxNewTokens: n }))).toEqual(got);
}, 120000);

test('greedy keeps its cache and captured decode step for the next generate, which decodes the same tokens', async () => {
  const run = async (prompt: number[], opts: GenerateOptions = {}) => {
    let stats: GenerateStats | undefined;
    const ids = await collect(model.generate(prompt, { maxNewTokens: 8, ...opts, onStats: (s) => { stats = s; } }));
    return { ids, how: stats!.decodeGraph };
  };
  const a = await run(PROMPT);
  expect(['captured', 'reused']).toContain(a.how);
  const kept = model.keptDecode!;
  expect(kept.cache.length).toBe(0);  // emptied for the next one
  const b = await run(PROMPT);
  expect(b).toEqual({ ids: a.ids, how: 'reused' });
  expect(model.keptDecode!.graph).toBe(kept.graph);
  // a longer one than the kept cache holds: a new cache and step, which are then kept; the tokens are those of the
  // eager decode forwards (a routing trace turns the step graph off)
  const long = Array.from({ length: kept.cache.maxLen }, (_, i) => PROMPT[i % PROMPT.length] + i);
  const c = await run(long);
  expect(c.how).toBe('captured');
  expect(c.ids).toEqual((await run(long, { trace: [] })).ids);
  expect(model.keptDecode!.graph).not.toBe(kept.graph);
  expect(await run(PROMPT)).toEqual({ ids: a.ids, how: 'reused' });  // the larger kept cache serves the short prompt
  // sampling and traces neither use nor replace it; an abort drops it
  const before = model.keptDecode!.graph;
  expect((await run(PROMPT, { temperature: 1, seed: 3 })).how).toBe('none');
  expect(model.keptDecode!.graph).toBe(before);
  const ac = new AbortController();
  await expect((async () => { for await (const _ of model.generate(PROMPT, { maxNewTokens: 8, signal: ac.signal })) ac.abort(); })()).rejects.toThrow(AbortError);
  expect(model.keptDecode).toBeNull();
  expect((await run(PROMPT)).how).toBe('captured');
}, 120000);

test('seeded sampling: reproducible, seed-dependent, and step s uses stepSeed(seed, s) on the last logits', async () => {
  const opts = { maxNewTokens: 6, temperature: 1, topP: 0.95 };
  const a = await collect(model.generate(PROMPT, { ...opts, seed: 1234 }));
  const b = await collect(model.generate(PROMPT, { ...opts, seed: 1234 }));
  const c = await collect(model.generate(PROMPT, { ...opts, seed: 98765 }));
  expect(a.length).toBe(6);
  expect(b).toEqual(a);
  expect(c).not.toEqual(a);
  // independent replay: full forward each step, sample the last row with the derived seed
  const seq = PROMPT.slice(), vocab = model.config.vocabSize;
  for (let s = 0; s < a.length; s++) {
    const { logits } = await model.forward(seq);
    const row = Tensor.fromArray(logits.slice(logits.length - vocab), [1, vocab]);
    const o = sample(row, { seed: stepSeed(1234, s), temperature: 1, topP: 0.95 });
    expect((await o.toArray())[0]).toBe(a[s]);
    o.dispose(); row.dispose();
    seq.push(a[s]);
  }
  // topK 1 sampling is greedy
  const greedy = await collect(model.generate(PROMPT, { maxNewTokens: 4 }));
  expect(await collect(model.generate(PROMPT, { maxNewTokens: 4, temperature: 0.7, topK: 1, seed: 5 }))).toEqual(greedy);
}, 120000);

test('maxNewTokens is respected, stats are reported', async () => {
  let stats: GenerateStats | undefined;
  const g = model.generate(PROMPT, { maxNewTokens: 3, onStats: (s) => { stats = s; } });
  const ids = await collect(g);
  expect(ids.length).toBe(3);
  expect(stats).toBeDefined();
  expect(stats!.promptTokens).toBe(PROMPT.length);
  expect(stats!.generatedTokens).toBe(3);
  expect(stats!.stopReason).toBe('length');
  expect(stats!.prefillMs).toBeGreaterThan(0);
  expect(stats!.decodeTokensPerS).toBeGreaterThan(0);
  expect(g.stats.generatedTokens).toBe(3);
  expect(await collect(model.generate(PROMPT, { maxNewTokens: 0 }))).toEqual([]);
  // leaving the loop early ends it as 'cancel' (and releases the cache through the generator's finally)
  const gc = model.generate(PROMPT, { maxNewTokens: 5 });
  for await (const t of gc) { expect(t.id).toBe(ids[0]); break; }
  expect(gc.stats).toMatchObject({ generatedTokens: 1, stopReason: 'cancel' });
  expect(() => gc[Symbol.asyncIterator]()).toThrow(ArgumentError);
  expect(() => model.generate(PROMPT, { maxNewTokens: -1 })).toThrow(ArgumentError);
  expect(() => model.generate(PROMPT, { maxNewTokens: 1.5 })).toThrow(ArgumentError);
}, 60000);

test('stop ids and eos end generation without yielding the stop token', async () => {
  const full = await collect(model.generate(PROMPT, { maxNewTokens: 6 }));
  const k = full.indexOf(full[2]);
  const g = model.generate(PROMPT, { maxNewTokens: 6, stop: [full[2]] });
  expect(await collect(g)).toEqual(full.slice(0, k));
  expect(g.stats.stopReason).toBe('stop');
  // the first greedy token declared eos through a config copy: nothing is generated
  const eosModel = Object.create(model, { config: { value: { ...model.config, eosTokenId: full[0] } } }) as Model;
  const ge = eosModel.generate(PROMPT, { maxNewTokens: 6 });
  expect(await collect(ge)).toEqual([]);
  expect(ge.stats.stopReason).toBe('eos');
  // ignoreEos (llama.cpp's --ignore-eos, for benchmarks): the same model runs to maxNewTokens
  const gi = eosModel.generate(PROMPT, { maxNewTokens: 6, ignoreEos: true });
  expect(await collect(gi)).toEqual(full);
  expect(gi.stats.stopReason).toBe('length');
  expect(() => model.generate(PROMPT, { ignoreEos: 1 as unknown as boolean })).toThrow(ArgumentError);
}, 60000);

test('CPU greedy decode queues steps in batches (multi-step) and gives the tokens of the op-by-op forward; a stop mid-batch ends there', async () => {
  const n = 40;
  const eager = await collect(model.generate(PROMPT, { maxNewTokens: n, ignoreEos: true, trace: [] }));  // a routing trace: no step graph, one forward per token
  const queue = jest.spyOn(DecodeGraph.prototype, 'queue');
  try {
    let stats: GenerateStats | undefined;
    const got = await collect(model.generate(PROMPT, { maxNewTokens: n, ignoreEos: true, onStats: (s) => { stats = s; } }));
    expect(got).toEqual(eager);
    const steps = queue.mock.calls.map((c) => c[1] ?? 1);
    expect(Math.max(...steps)).toBeGreaterThan(1);           // tiny's steps take well under DECODE_BATCH_MS
    expect(Math.max(...steps)).toBeLessThanOrEqual(MAX_DECODE_BATCH);
    expect(steps.reduce((a, b) => a + b, 0)).toBe(n - 1);      // the length limit: no step past the last token
    expect(stats!.decodeForwards).toBe(n - 1);
    queue.mockClear();
    const k = 23, stop = got[k];
    const first = got.indexOf(stop);
    const g = model.generate(PROMPT, { maxNewTokens: n, ignoreEos: true, stop: [stop] });
    expect(await collect(g)).toEqual(got.slice(0, first));
    expect(g.stats.stopReason).toBe('stop');
    expect(g.stats.decodeForwards).toBeLessThanOrEqual(first + 2 * MAX_DECODE_BATCH);  // at most two batches ahead
  } finally {
    queue.mockRestore();
  }
}, 120000);

test('abort: an aborted signal makes the iterator throw AbortError', async () => {
  const ac = new AbortController();
  const seen: GeneratedToken[] = [];
  const run = async () => {
    for await (const t of model.generate(PROMPT, { maxNewTokens: 10, signal: ac.signal })) {
      seen.push(t);
      if (seen.length === 2) ac.abort();
    }
  };
  await expect(run()).rejects.toThrow(AbortError);
  expect(seen.length).toBe(2);
  const pre = new AbortController();
  pre.abort();
  let stats: GenerateStats | undefined;
  await expect(collect(model.generate(PROMPT, { signal: pre.signal, onStats: (s) => { stats = s; } }))).rejects.toThrow('generate: aborted');
  expect(stats!.stopReason).toBe('abort');
  expect(stats!.generatedTokens).toBe(0);
}, 60000);

test('bad input: string prompt, messages and stop strings without a tokenizer; bad ids', () => {
  expect(() => model.generate('hello')).toThrow(ArgumentError);
  expect(() => model.generate('hello')).toThrow('generate: a string prompt needs a tokenizer (the checkpoint folder has no tokenizer.json); pass token ids');
  expect(() => model.generate([], { messages: [{ role: 'user', content: 'hi' }] })).toThrow(ArgumentError);
  expect(() => model.generate(PROMPT, { stop: ['x'] })).toThrow(ArgumentError);
  expect(() => model.generate([1, 2, 1024])).toThrow('generate: token id 1024 is outside [0, 1024)');
  expect(() => model.generate([])).toThrow(ArgumentError);
  expect(() => model.generate(PROMPT, { temperature: NaN })).toThrow(ArgumentError);
  expect(() => model.generate(new Array(256).fill(3))).toThrow(ArgumentError);
});
