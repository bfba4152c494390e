// The continuous-batching scheduler (lib/serve/scheduler.ts) on a random tiny checkpoint: greedy output of
// requests served together (prefill chunks and decodes in the same steps, more requests than maxBatch) equals
// each served alone and Model.generate; cancellation frees pages at once; a full queue refuses; stop strings.
import { OverloadedError } from '../../lib';
import { Model } from '../../lib/model/model';
import { FinishReason, SamplingParams, Scheduler } from '../../lib/serve/scheduler';
import { tinyModel } from './tiny';

let model: Model, cleanup: () => void;
beforeAll(async () => ({ model, cleanup } = await tinyModel()), 120000);
afterAll(() => cleanup?.());

interface Out { ids: number[]; text: string; reason: FinishReason | null }
function run(s: Scheduler, prompt: number[], params: SamplingParams): { done: Promise<Out>; cancel: () => void; out: Out } {
  const out: Out = { ids: [], text: '', reason: null };
  let cancel = () => {};
  const done = new Promise<Out>((resolve, reject) => {
    cancel = s.submit(prompt, params, {
      token: (id, text) => { out.ids.push(id); out.text += text; },
      finish: (reason, text) => { out.reason = reason; out.text += text; resolve(out); },
      error: reject,
    }).cancel;
  });
  return { done, cancel, out };
}

const prompt = (n: number, salt: number) => Array.from({ length: n }, (_, i) => 4 + ((i * 37 + salt * 101) % 1000));
const alone = async (ids: number[], maxNew: number) => {
  const out: number[] = [];
  for await (const t of model.generate(ids, { maxNewTokens: maxNew })) out.push(t.id);
  return out;
};

test('greedy output served in a batch equals the output served alone', async () => {
  const lens = [3, 40, 100, 7, 65, 1];
  const prompts = lens.map((n, i) => prompt(n, i));
  const steps: number[] = [];
  const s = new Scheduler(model, model.tokenizer, { maxBatch: 4, prefillChunk: 16, kvTokens: 64 * 16 }, { step: (rows) => steps.push(rows) });
  const batched = await Promise.all(prompts.map((p) => run(s, p, { maxTokens: 12, temperature: 0 }).done));
  expect(Math.max(...steps)).toBeGreaterThan(4);  // some steps held prompt chunks and decodes together
  for (let i = 0; i < prompts.length; i++) {
    const ref = await alone(prompts[i], 12);
    expect(batched[i].ids).toEqual(ref);
    const one = await run(s, prompts[i], { maxTokens: 12, temperature: 0 }).done;
    expect(one.ids).toEqual(ref);
    expect(one.text).toBe(model.tokenizer!.decode(ref));
    expect(one.reason).toBe(ref.length === 12 ? 'length' : 'stop');
  }
  await s.idle();
  expect(s.pagesFree).toBe(s.paged.numPages);
  s.dispose();
}, 120000);

test('seeded sampling equals Model.generate with the same seed', async () => {
  const s = new Scheduler(model, model.tokenizer, { kvTokens: 1024 });
  const p = prompt(9, 3);
  const [a, b] = await Promise.all([
    run(s, p, { maxTokens: 8, temperature: 0.9, topK: 50, topP: 0.9, seed: 42 }).done,
    run(s, prompt(30, 4), { maxTokens: 8, temperature: 0 }).done,
  ]);
  expect(b.ids.length).toBeGreaterThan(0);
  const ref: number[] = [];
  for await (const t of model.generate(p, { maxNewTokens: 8, temperature: 0.9, topK: 50, topP: 0.9, seed: 42 })) ref.push(t.id);
  expect(a.ids).toEqual(ref);
  s.dispose();
}, 60000);

test('a cancelled request frees its pages at once; a full queue refuses; stop strings cut the text', async () => {
  const s = new Scheduler(model, model.tokenizer, { maxBatch: 1, maxQueue: 1, kvTokens: 64 * 8 });
  let freedAtOnce = -1, n = 0;
  const long = new Promise<void>((resolve) => {
    const h = s.submit(prompt(70, 1), { maxTokens: 100, temperature: 0 }, {
      token: () => { if (++n === 3) { h.cancel(); freedAtOnce = s.pagesFree; resolve(); } },
      finish: () => resolve(), error: () => resolve(),
    });
  });
  const queued = run(s, prompt(5, 2), { maxTokens: 3, temperature: 0 });
  expect(() => s.submit(prompt(5, 3), { maxTokens: 3, temperature: 0 }, { token() {}, finish() {}, error() {} })).toThrow(OverloadedError);
  await long;
  expect(freedAtOnce).toBe(s.paged.numPages);  // inside the callback, before the next step: its 2 pages are back
  const q = await queued.done;
  expect(q.ids.length).toBeGreaterThan(0);
  // cancelled during a step: freed when that step ends, and nothing more is delivered
  const mid = run(s, prompt(8, 4), { maxTokens: 50, temperature: 0 });
  await new Promise((r) => setTimeout(r, 1));
  mid.cancel();
  const seen = mid.out.ids.length;
  await s.idle();
  expect(mid.out.ids.length).toBe(seen);
  expect(s.pagesFree).toBe(s.paged.numPages);
  // a stop string taken from the greedy text itself ends it just before
  const ref = await run(s, prompt(6, 9), { maxTokens: 10, temperature: 0 }).done;
  const stop = ref.text.slice(4, 7);
  if (stop.length === 3 && ref.text.indexOf(stop) === 4) {
    const cut = await run(s, prompt(6, 9), { maxTokens: 10, temperature: 0, stop: [stop] }).done;
    expect(cut.text).toBe(ref.text.slice(0, 4));
    expect(cut.reason).toBe('stop');
  }
  await s.idle();
  expect(s.pagesFree).toBe(s.paged.numPages);
  s.dispose();
}, 60000);
