// The whole model on CUDA (issue 7): tiny-v3 (test/fixtures/tiny-v3) loaded on the device in 'f32' and 'fp8'
// modes, prefill 80 tokens + 8 decode steps against DeepSeek model.py's golden logits (tolerances of the CPU
// tests: test/model/fixture.test.ts, fixture_reduced.test.ts) and against the CPU backend on the same steps;
// batched decode of sequences of different lengths against decoding each alone; greedy generation (plain and
// MTP speculative) equal to the CPU's; only the picked ids come back from a decode step. Skipped without a GPU.
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { backends } from '../../lib';
import { loadModel, readConfig } from '../../lib/model/load';
import { estimateWeightBytes, residentBytes } from '../../lib/model/memory';
import { Model } from '../../lib/model/model';
import { Checkpoint, SafetensorsFile } from '../../lib/weights/safetensors';
import { writeRandomCheckpoint } from '../../lib/weights/random';
import { relErr } from '../helpers';
import { Rng } from '../reference/rng';
import { batchedVsAlone } from '../model/batched';
import { withReads } from '../model/reads';
import { describeGpu, emuSize } from './gpu';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');

/** Prefill + decode through the cache: logits [(T + S) * vocab]. */
async function run(model: Model, prompt: number[], dec: number[]): Promise<Float32Array> {
  const V = model.config.vocabSize, T = prompt.length;
  const cache = model.createCache(T + dec.length);
  const out = new Float32Array((T + dec.length) * V);
  out.set((await model.forward(prompt, { cache })).logits, 0);
  for (let s = 0; s < dec.length; s++) out.set((await model.forward([dec[s]], { cache })).logits, (T + s) * V);
  expect(cache.length).toBe(T + dec.length);
  cache.dispose();
  return out;
}

function absErr(got: Float32Array, ref: Float32Array): { max: number; mean: number } {
  let max = 0, sum = 0;
  for (let i = 0; i < ref.length; i++) { const e = Math.abs(got[i] - ref[i]); max = Math.max(max, e); sum += e; }
  return { max, mean: sum / ref.length };
}

describeGpu('the model on CUDA (tiny-v3)', () => {
  let exp: SafetensorsFile;
  let prompt: number[], dec: number[], golden: Float32Array;
  beforeAll(async () => {
    exp = SafetensorsFile.open(join(DIR, 'expected.safetensors'));
    const i64 = (name: string) => Array.from(new BigInt64Array(exp.bytes(name).slice().buffer), Number);
    prompt = i64('prompt_tokens'); dec = i64('decode_tokens');
    const pre = await exp.get<'f32'>('prefill_logits').toFloat32Array(), d = await exp.get<'f32'>('decode_logits').toFloat32Array();
    golden = new Float32Array(pre.length + d.length);
    golden.set(pre); golden.set(d, pre.length);
  });
  afterAll(() => exp?.close());

  // golden: f32 as fixture.test.ts (relative 1e-4 per row), fp8 as fixture_reduced.test.ts (max 2.0, mean 0.32 absolute);
  // vs the CPU backend: f32 1e-4 relative; fp8 2e-2 relative (an activation code can round the other way after a
  // different summation order, as in the MLA GPU test)
  test.each([['f32', 1e-4], ['fp8', 2e-2]] as const)('%s: loads on the device, matches model.py and the CPU backend', async (act, cpuTol) => {
    const free0 = backends().cuda.devices[0].freeMemory;
    const gpu = await loadModel(DIR, { activations: act, device: 'cuda' });
    expect(gpu.device).toBe('cuda');
    expect(gpu.embed.device).toBe('cuda');
    expect(gpu.layers.every((l) => l.attnNorm.device === 'cuda' && l.attn.w.wUK.device === 'cuda')).toBe(true);
    const ck = Checkpoint.open(DIR);
    expect(residentBytes(gpu)).toBe(estimateWeightBytes(readConfig(DIR), ck, { activations: act, mtp: false }).total);
    ck.close();
    // eslint-disable-next-line no-console
    console.log(`tiny-v3 ${act} on cuda: ${residentBytes(gpu)} weight bytes; device free memory ${free0} -> ${backends().cuda.devices[0].freeMemory}`);
    const cpu = await loadModel(DIR, { activations: act });
    const g = await run(gpu, prompt, dec), c = await run(cpu, prompt, dec);
    const V = gpu.config.vocabSize, rows = prompt.length + dec.length;
    if (act === 'f32') {
      let worst = 0;
      for (let r = 0; r < rows; r++) worst = Math.max(worst, relErr(g.subarray(r * V, (r + 1) * V), golden.subarray(r * V, (r + 1) * V)));
      expect(worst).toBeLessThan(1e-4);
    } else {
      const e = absErr(g, golden);
      expect(e.max).toBeLessThan(2.0);
      expect(e.mean).toBeLessThan(0.32);
    }
    const e = relErr(g, c);
    // eslint-disable-next-line no-console
    console.log(`tiny-v3 ${act}: cuda vs cpu logits relative error ${e}`);
    expect(e).toBeLessThan(cpuTol);
    gpu.dispose(); cpu.dispose();
  }, 300000);

  test.each(['f32', 'fp8'] as const)('%s: batched decode over one paged cache equals decoding each sequence alone; a step reads back only the ids', async (act) => {
    const model = await loadModel(DIR, { activations: act, device: 'cuda' });
    const lens = [1, 63, 64, 65, 150];
    const { worst, paged, seqs } = await batchedVsAlone(model, lens, 5, 11);
    // eslint-disable-next-line no-console
    console.log(`tiny-v3 ${act} on cuda: batched vs alone decode logits, worst relative error ${worst}`);
    expect(worst).toBeLessThan(act === 'f32' ? 1e-5 : 2e-2);
    model.resetExpertLoad();
    const step = await withReads(() => model.forwardBatch(seqs.map((cache) => ({ cache, ids: [3] })), { logits: false, pick: {} }));
    expect(step.reads).toEqual([{ op: 'readBytes', dtype: 'i32', shape: [lens.length] }]);
    paged.dispose(); model.dispose();
  }, 300000);

  test.each(['f32', 'fp8'] as const)('%s: a captured decode graph gives the same tokens as eager greedy batched decode', async (act) => {
    const model = await loadModel(DIR, { activations: act, device: 'cuda' });
    const V = model.config.vocabSize, rng = new Rng(12);
    // crosses page boundaries during the replays (64 and 128; on the emulator 12 steps still cross 64)
    const lens = [1, 63, 64, 130], steps = emuSize(70, 12);
    const prompts = lens.map((n) => Array.from({ length: n }, () => rng.int(0, V - 1)));
    const prefill = async (paged: ReturnType<Model['createPagedCache']>) => {
      const seqs = lens.map(() => model.createCache(256, paged));
      const first: number[] = [];
      for (let i = 0; i < lens.length; i++) first.push((await model.forward(prompts[i], { cache: seqs[i], rows: 'last', logits: false, pick: {} })).tokens![0]);
      return { seqs, first };
    };
    // eager: forwardBatch with the device-side argmax
    const pe = model.createPagedCache(2048);
    const e = await prefill(pe);
    model.resetExpertLoad();
    const eager: number[][] = [];
    let cur = e.first;
    for (let s = 0; s < steps; s++) {
      const r = await model.forwardBatch(e.seqs.map((cache, i) => ({ cache, ids: [cur[i]] })), { logits: false, pick: {} });
      cur = Array.from(r.tokens!);
      eager.push(cur);
    }
    // graph: the same steps replayed
    const pg = model.createPagedCache(2048);
    const eagerLoad = (await model.expertLoad()).map((l) => Array.from(l.tokens));
    const g = await prefill(pg);
    expect(g.first).toEqual(e.first);
    model.resetExpertLoad();
    const graph = await model.decodeGraph(g.seqs);
    cur = g.first;
    for (let s = 0; s < steps; s++) {
      cur = Array.from(await graph.decode(cur));
      expect(cur).toEqual(eager[s]);
    }
    expect(g.seqs.map((c) => c.length)).toEqual(lens.map((n) => n + steps));
    // every replay counts its expert load (the captured step adds into a sink), as the eager steps did
    expect((await model.expertLoad()).map((l) => Array.from(l.tokens))).toEqual(eagerLoad);
    graph.dispose();
    pe.dispose(); pg.dispose(); model.dispose();
  }, 300000);

  test('greedy generation on cuda equals the CPU (f32), plain and through forward picks', async () => {
    const gpu = await loadModel(DIR, { activations: 'f32', device: 'cuda' }), cpu = await loadModel(DIR, { activations: 'f32' });
    const collect = async (m: Model) => { const ids: number[] = []; for await (const t of m.generate([5, 17, 300, 42, 999, 7], { maxNewTokens: 12 })) ids.push(t.id); return ids; };
    expect(await collect(gpu)).toEqual(await collect(cpu));
    const sampled = async (m: Model) => { const ids: number[] = []; for await (const t of m.generate([5, 17, 300], { maxNewTokens: 8, temperature: 0.8, seed: 3 })) ids.push(t.id); return ids; };
    expect(await sampled(gpu)).toEqual(await sampled(cpu));
    gpu.dispose(); cpu.dispose();
  }, 300000);

  test('MTP speculative greedy on cuda (random tiny checkpoint with the MTP layer) equals plain greedy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dsv3-gpu-mtp-'));
    try {
      await writeRandomCheckpoint(dir, { preset: 'tiny', seed: 0 });
      const m = await loadModel(dir, { activations: 'fp8', device: 'cuda' });
      expect(m.mtp).not.toBeNull();
      const collect = async (spec: boolean) => { const ids: number[] = []; for await (const t of m.generate([5, 9, 2, 7], { maxNewTokens: 16, speculative: spec ? 'mtp' : null })) ids.push(t.id); return ids; };
      expect(await collect(true)).toEqual(await collect(false));
      m.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);
});
