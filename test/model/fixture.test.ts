// The forward pass against DeepSeek's own model.py outputs on the tiny-v3 fixture ('f32' mode):
// prefill logits / hidden states / routing, then decode steps through the latent cache.
// Fixture: test/fixtures/tiny-v3/cases.md.
import { join } from 'path';
import { AbortError, ArgumentError, backends, DeviceError, DisposedError, IoError, Tensor } from '../../lib';
import { loadModel, ropeInvFreq } from '../../lib/model/load';
import { Model } from '../../lib/model/model';
import { RouteTrace } from '../../lib/model/stats';
import { SafetensorsFile } from '../../lib/weights/safetensors';
import { relErr } from '../helpers';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
const TOL = 1e-4;

let model: Model;
let exp: SafetensorsFile;
const i64 = (name: string) => Array.from(new BigInt64Array(exp.bytes(name).slice().buffer), Number);
const f64 = (name: string) => new Float64Array(exp.bytes(name).slice().buffer);
const f32 = (name: string) => exp.get<'f32'>(name).toFloat32Array();
const i32 = async (name: string) => new Int32Array((await exp.get<'i32'>(name).toArray()).slice().buffer);
const rows = (a: Float32Array, from: number, n: number, w: number) => a.subarray(from * w, (from + n) * w);
const measured: Record<string, number> = {};

beforeAll(async () => {
  model = await loadModel(DIR, { activations: 'f32' });
  exp = SafetensorsFile.open(join(DIR, 'expected.safetensors'));
}, 120000);
afterAll(() => {
  exp?.close();
  // eslint-disable-next-line no-console
  console.log('tiny-v3 f32 relative errors:', JSON.stringify(measured, null, 1));
});

test('config: YaRN inverse frequencies and softmax scale equal model.py\'s', () => {
  const ref = f64('rope_inv_freq');
  const got = ropeInvFreq(model.config);
  expect(got.length).toBe(ref.length);
  for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i] - ref[i]) / ref[i]).toBeLessThan(1e-6);
  expect(Math.abs(model.config.softmaxScale - f64('attn_softmax_scale')[0])).toBeLessThan(1e-15);
});

test('prefill (80 tokens, one forward) then 8 decode steps match model.py', async () => {
  const cfg = model.config, V = cfg.vocabSize, D = cfg.hiddenSize, K = cfg.numExpertsPerTok;
  const prompt = i64('prompt_tokens'), dec = i64('decode_tokens');
  const T = prompt.length, S = dec.length;
  const moeLayers = Array.from(await i32('moe_layers'));
  const cache = model.createCache(T + S);
  const trace: RouteTrace[] = [];
  const pre = await model.forward(prompt, { cache, hidden: true, trace });
  expect(cache.length).toBe(T);

  const refLogits = await f32('prefill_logits');
  let worst = 0;
  for (let t = 0; t < T; t++) worst = Math.max(worst, relErr(rows(pre.logits, t, 1, V), rows(refLogits, t, 1, V)));
  measured.prefillLogitsWorstRow = worst;
  measured.prefillLogitsAll = relErr(pre.logits, refLogits);
  expect(worst).toBeLessThan(TOL);
  const refHidden = await f32('prefill_hidden');
  for (let l = 0; l < cfg.numLayers; l++) {
    const e = relErr(pre.hidden![l], rows(refHidden, l * T, T, D));
    measured[`prefillHidden${l}`] = e;
    expect(e).toBeLessThan(TOL);
  }
  // Routing: sets per (layer, token), weights in the matching expert order.
  const refIds = await i32('prefill_expert_ids'), refW = await f32('prefill_expert_weights');
  expect(trace.map((r) => r.layer)).toEqual(moeLayers);
  let wErr = 0;
  for (let m = 0; m < moeLayers.length; m++) {
    for (let t = 0; t < T; t++) {
      const got = Array.from(trace[m].indices.subarray(t * K, (t + 1) * K));
      const ref = Array.from(refIds.subarray((m * T + t) * K, (m * T + t + 1) * K));
      expect([...got].sort((a, b) => a - b)).toEqual([...ref].sort((a, b) => a - b));
      for (let k = 0; k < K; k++) wErr = Math.max(wErr, Math.abs(trace[m].weights[t * K + got.indexOf(ref[k])] - refW[(m * T + t) * K + k]));
    }
  }
  measured.prefillRouteWeightMaxAbs = wErr;
  expect(wErr).toBeLessThan(1e-4);

  const refDec = await f32('decode_logits'), refDecHidden = await f32('decode_hidden'), refDecIds = await i32('decode_expert_ids');
  let worstDec = 0, worstDecHidden = 0;
  for (let s = 0; s < S; s++) {
    const tr: RouteTrace[] = [];
    const r = await model.forward([dec[s]], { cache, hidden: true, trace: tr });
    expect(cache.length).toBe(T + s + 1);
    worstDec = Math.max(worstDec, relErr(r.logits, rows(refDec, s, 1, V)));
    for (let l = 0; l < cfg.numLayers; l++) worstDecHidden = Math.max(worstDecHidden, relErr(r.hidden![l], rows(refDecHidden, l * S + s, 1, D)));
    for (let m = 0; m < moeLayers.length; m++) {
      const ref = Array.from(refDecIds.subarray((m * S + s) * K, (m * S + s + 1) * K)).sort((a, b) => a - b);
      expect(Array.from(tr[m].indices).sort((a, b) => a - b)).toEqual(ref);
    }
  }
  measured.decodeLogitsWorstStep = worstDec;
  measured.decodeHiddenWorst = worstDecHidden;
  expect(worstDec).toBeLessThan(TOL);
  expect(worstDecHidden).toBeLessThan(TOL);
}, 120000);

test('decode logits equal the full 88-token prefill at the same positions; stateless = cached', async () => {
  const prompt = i64('prompt_tokens'), dec = i64('decode_tokens');
  const V = model.config.vocabSize, T = prompt.length;
  const all = await model.forward([...prompt, ...dec]);
  const cache = model.createCache();
  await model.forward(prompt, { cache });
  let worst = 0;
  for (let s = 0; s < dec.length; s++) {
    const r = await model.forward([dec[s]], { cache });
    worst = Math.max(worst, relErr(r.logits, rows(all.logits, T + s, 1, V)));
  }
  measured.decodeVsFullPrefill = worst;
  expect(worst).toBeLessThan(1e-5);
  const refDec = await f32('decode_logits');
  measured.fullPrefillVsDecodeRef = relErr(rows(all.logits, T, dec.length, V), refDec);
  expect(measured.fullPrefillVsDecodeRef).toBeLessThan(TOL);
}, 120000);

test('chunked prefill (50 + 30 tokens through the cache) matches the one-shot prefill reference', async () => {
  const prompt = i64('prompt_tokens'), V = model.config.vocabSize;
  const cache = model.createCache(100);
  const a = await model.forward(prompt.slice(0, 50), { cache });
  const b = await model.forward(prompt.slice(50), { cache });
  expect(cache.length).toBe(80);
  const ref = await f32('prefill_logits');
  measured.chunkedPrefill = Math.max(relErr(a.logits, rows(ref, 0, 50, V)), relErr(b.logits, rows(ref, 50, 30, V)));
  expect(measured.chunkedPrefill).toBeLessThan(TOL);
  await expect(model.forward(prompt.slice(0, 21), { cache })).rejects.toThrow('exceed the cache size 100');
  await expect(model.forward([1024])).rejects.toThrow('outside [0, 1024)');
}, 120000);

test('negative control: a decode token at the wrong position gives different logits', async () => {
  const prompt = i64('prompt_tokens'), dec = i64('decode_tokens');
  const cache = model.createCache();
  await model.forward([...prompt, dec[0]], { cache });  // one extra token shifts the next position by 1
  const r = await model.forward([dec[0]], { cache });
  const e = relErr(r.logits, rows(await f32('decode_logits'), 0, 1, model.config.vocabSize));
  expect(e).toBeGreaterThan(1e-2);
}, 120000);

test('cache sizes', () => {
  const c = model.config;
  expect(model.kvCacheBytesPerToken()).toBe(3 * (128 + 16) * 4);
  expect(model.mhaCacheBytesPerToken()).toBe(3 * 4 * (32 + 16 + 32) * 4);
  expect(c.numLayers).toBe(3);
  expect(Tensor).toBeDefined();
});

test('loadModel: progress per layer, bad options, a folder without a checkpoint, dispose', async () => {
  const calls: number[][] = [];
  const m = await loadModel(DIR, { onProgress: (a, b) => calls.push([a, b]) });
  expect(calls).toEqual([[0, 3], [1, 3], [2, 3], [3, 3]]);
  expect(m.precision).toBe('fp8');  // the default for an FP8 checkpoint
  await expect(loadModel(DIR, { activations: 'f16' as never })).rejects.toThrow(ArgumentError);
  await expect(loadModel(join(DIR, '..'))).rejects.toThrow(IoError);
  if (!backends().cuda.available) await expect(loadModel(DIR, { device: 'cuda' })).rejects.toThrow(DeviceError);
  const ac = new AbortController();
  await expect(loadModel(DIR, { signal: ac.signal, onProgress: (l) => { if (l === 1) ac.abort(); } })).rejects.toThrow(AbortError);
  await expect(m.forward([1, 2], { cache: m.createCache(4) })).resolves.toBeDefined();
  m.dispose();
  await expect(m.forward([1, 2])).rejects.toThrow(DisposedError);
}, 120000);
