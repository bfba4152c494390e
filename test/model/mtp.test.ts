// The MTP module and generate({ speculative: 'mtp' }) on the tiny-v3 fixture extended with an MTP layer
// (no fixture stores one): model.layers.3.* serves layer 2's decoder tensors, bf16 enorm/hnorm near 1, a seeded
// random eh_proj [256, 512], shared_head.norm = model.norm, shared_head.head = lm_head; config copy with
// num_nextn_predict_layers 1. Semantics: docs/v3-reference.md §7.
import { readFileSync } from 'fs';
import { join } from 'path';
import { ArgumentError, IoError, Tensor, UnsupportedError } from '../../lib';
import { parseConfig, ModelConfig } from '../../lib/config';
import { Generation, GenerateStats } from '../../lib/generate';
import { loadModelFrom } from '../../lib/model/load';
import { Model } from '../../lib/model/model';
import { CheckpointLike, expectedTensors, mtpTensors } from '../../lib/model/weights';
import { Checkpoint } from '../../lib/weights/safetensors';
import { expectClose } from '../helpers';
import { Rng } from '../reference/rng';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
const json = JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8'));
const cfg: ModelConfig = parseConfig({ ...json, num_nextn_predict_layers: 1 });
const L = cfg.numLayers, D = cfg.hiddenSize;
const PROMPTS = [[5, 17, 300, 42, 999, 7], [0, 1000], [3], [0, 11, 12, 13, 14, 15, 16, 200, 201, 202, 700]];

/**
 * The fixture plus a synthetic MTP layer L (see the header); withMtp false: no layer L. `damp` (the
 * "predictable" variant): every o_proj and down_proj scale_inv times damp, so each layer adds little to the
 * residual and the model is nearly a bigram model, logits ~ lm_head(norm(Emb(t))); with eh_proj = [I 0] and
 * enorm = 1 the MTP then computes nearly the same bigram of t_{i+1}, so drafts are often but not always right.
 */
class MtpCheckpoint implements CheckpointLike {
  readonly extra = new Map<string, Tensor>();
  constructor(readonly base: Checkpoint, seed: number, readonly withMtp = true, damp = 0) {
    const rng = new Rng(seed), p = `model.layers.${L}.`;
    const near1 = () => Tensor.fromFloats(Float32Array.from(rng.uniforms(D, 0.8, 1.2)), [D], { dtype: 'bf16' });
    if (damp === 0) {
      this.extra.set(`${p}enorm.weight`, near1());
      this.extra.set(`${p}hnorm.weight`, near1());
      this.extra.set(`${p}eh_proj.weight`, Tensor.fromFloats(Float32Array.from(rng.normals(D * 2 * D, 1 / Math.sqrt(2 * D))), [D, 2 * D], { dtype: 'bf16' }));
    } else {
      this.extra.set(`${p}enorm.weight`, Tensor.full([D], 1, { dtype: 'bf16' }));
      this.extra.set(`${p}hnorm.weight`, near1());
      const eh = new Float32Array(D * 2 * D);
      for (let i = 0; i < D; i++) eh[i * 2 * D + i] = 1;
      this.extra.set(`${p}eh_proj.weight`, Tensor.fromFloats(eh, [D, 2 * D], { dtype: 'bf16' }));
      for (const s of expectedTensors(cfg)) {
        if (!s.scale || !/(o_proj|down_proj)\.weight$/.test(s.name)) continue;
        const b = base.bytes(s.scale.name), f = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
        this.extra.set(s.scale.name, Tensor.fromFloats(f.map((v) => v * damp), s.scale.shape));
      }
    }
  }
  private map(name: string): string | null {
    const p = `model.layers.${L}.`;
    if (!name.startsWith(p)) return name;  // (a damped scale is found in `extra` under its own name)
    if (!this.withMtp) return null;
    const rest = name.slice(p.length);
    if (rest === 'shared_head.norm.weight') return 'model.norm.weight';
    if (rest === 'shared_head.head.weight') return 'lm_head.weight';
    if (this.extra.has(name)) return name;
    if (rest.startsWith('enorm') || rest.startsWith('hnorm') || rest.startsWith('eh_proj') || rest.startsWith('embed_tokens')) return null;
    return `model.layers.${L - 1}.${rest}`;
  }
  has(name: string): boolean { const m = this.map(name); return m !== null && (this.extra.has(m) || this.base.has(m)); }
  info(name: string) {
    const m = this.map(name)!;
    const t = this.extra.get(m);
    return t ? { name, dtype: t.dtype as string, shape: [...t.shape] } : { ...this.base.info(m), name };
  }
  get(name: string): Tensor { const m = this.map(name)!; return this.extra.get(m) ?? this.base.get(m); }
  dispose(): void { for (const t of this.extra.values()) t.dispose(); }
}

let base: Checkpoint, ckpt: MtpCheckpoint, model: Model;
beforeAll(async () => {
  base = Checkpoint.open(DIR);
  ckpt = new MtpCheckpoint(base, 1234);
  model = await loadModelFrom(cfg, ckpt, { activations: 'f32' });
}, 120000);
afterAll(() => { model?.dispose(); ckpt?.dispose(); base?.close(); });

async function run(g: Generation): Promise<{ ids: number[]; stats: GenerateStats; ms: number }> {
  const ids: number[] = [], t0 = performance.now();
  for await (const t of g) ids.push(t.id);
  return { ids, stats: { ...g.stats }, ms: performance.now() - t0 };
}

test('loads the MTP layer: its inventory, a MoE decoder block, own cache slot', () => {
  expect(model.mtp).not.toBeNull();
  expect(model.mtpMissing).toBeNull();
  const specs = mtpTensors(cfg);
  expect(specs.map((s) => s.name)).toEqual(expect.arrayContaining([`model.layers.${L}.eh_proj.weight`, `model.layers.${L}.mlp.gate.weight`, `model.layers.${L}.shared_head.head.weight`]));
  expect(specs.find((s) => s.name.endsWith('eh_proj.weight'))).toMatchObject({ shape: [D, 2 * D], dtype: 'bf16' });
  expect(model.mtp!.block.layer).toBe(L);
  expect(model.mtp!.block.cacheLayer).toBe(0);
  expect(model.mtp!.createCache(8).layers).toBe(1);
});

test('forward({ normed }) returns model.norm of the last hidden, logits unchanged', async () => {
  const ids = PROMPTS[0];
  const a = await model.forward(ids), b = await model.forward(ids, { normed: true, hidden: true });
  expect(b.logits).toEqual(a.logits);
  expect(b.normed!.length).toBe(ids.length * D);
  const last = b.hidden![L - 1], w = await model.norm.toFloat32Array(), ref = new Float64Array(ids.length * D);
  for (let i = 0; i < ids.length; i++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += last[i * D + j] ** 2;
    const inv = 1 / Math.sqrt(ss / D + cfg.rmsNormEps);
    for (let j = 0; j < D; j++) ref[i * D + j] = last[i * D + j] * inv * w[j];
  }
  expectClose(b.normed!, ref, 1e-5, 'normed');
});

/** Float64 RMSNorm of row-major rows [n, D] with weight w. */
function rmsRows(x: ArrayLike<number>, w: ArrayLike<number>, n: number): Float64Array {
  const y = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < D; j++) ss += x[i * D + j] ** 2;
    const inv = 1 / Math.sqrt(ss / D + cfg.rmsNormEps);
    for (let j = 0; j < D; j++) y[i * D + j] = x[i * D + j] * inv * w[j];
  }
  return y;
}

test('MTP logits equal eh_proj([enorm(emb); hnorm(h)]) -> decoder layer -> shared head, computed by hand', async () => {
  const mtp = model.mtp!, ids = PROMPTS[3], n = ids.length - 1;
  const { normed } = await model.forward(ids, { normed: true });
  const h = normed!.subarray(0, n * D), next = ids.slice(1);
  const cache = mtp.createCache(32);
  const got = await mtp.forward(h, next, cache);
  expect(cache.length).toBe(n);
  expect(got.length).toBe(n * cfg.vocabSize);
  // By hand: the input u in float64 (embedding half first), the block through its own op path, the head in float64.
  const emb = await model.embed.toFloat32Array(), W = await mtp.ehProj.weight!.toFloat32Array();
  const e = new Float64Array(n * D);
  for (let i = 0; i < n; i++) e.set(emb.subarray(next[i] * D, (next[i] + 1) * D), i * D);
  const en = rmsRows(e, await mtp.enorm.toFloat32Array(), n), hn = rmsRows(h, await mtp.hnorm.toFloat32Array(), n);
  const u = (swap: boolean) => {
    const out = new Float32Array(n * D);
    for (let i = 0; i < n; i++) for (let o = 0; o < D; o++) {
      let s = 0;
      const a = swap ? hn : en, b = swap ? en : hn;
      for (let j = 0; j < D; j++) s += W[o * 2 * D + j] * a[i * D + j] + W[o * 2 * D + D + j] * b[i * D + j];
      out[i * D + o] = s;
    }
    return out;
  };
  const headOf = async (uu: Float32Array) => {
    const c2 = mtp.createCache(32), step = c2.prepare(n), x = Tensor.fromFloats(uu, [n, D]);
    const y = await mtp.block.forward(x, c2.paged, step);
    const yv = await y.toFloat32Array();
    y.dispose(); x.dispose(); step.dispose(); c2.dispose();
    const yn = rmsRows(yv, await mtp.headNorm.toFloat32Array(), n), H = await mtp.head.toFloat32Array(), V = cfg.vocabSize;
    const lg = new Float64Array(n * V);
    for (let i = 0; i < n; i++) for (let v = 0; v < V; v++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += yn[i * D + j] * H[v * D + j];
      lg[i * V + v] = s;
    }
    return lg;
  };
  expectClose(got, await headOf(u(false)), 1e-4, 'mtp logits');
  // The order matters: [hnorm(h); enorm(e)] gives other logits (so the check above can fail).
  const swapped = await headOf(u(true));
  expect(() => expectClose(got, swapped, 1e-2, 'swapped')).toThrow();
  cache.dispose();
}, 60000);

test('MTP through its cache in pieces equals one forward over all positions (deterministic)', async () => {
  const mtp = model.mtp!, ids = PROMPTS[3], n = ids.length - 1, V = cfg.vocabSize;
  const { normed } = await model.forward(ids, { normed: true });
  const next = ids.slice(1);
  const c1 = mtp.createCache(32), c2 = mtp.createCache(32);
  const all = await mtp.forward(normed!.subarray(0, n * D), next, c1);
  const again = await mtp.forward(normed!.subarray(0, n * D), next, c2);
  expect(again).toEqual(all);
  c2.reset();
  const pieces: Float32Array[] = [];
  for (const [a, b] of [[0, 4], [4, 5], [5, 7], [7, n]]) pieces.push(await mtp.forward(normed!.subarray(a * D, b * D), next.slice(a, b), c2));
  expect(c2.length).toBe(n);
  const joined = new Float32Array(n * V);
  let off = 0;
  for (const p of pieces) { joined.set(p, off); off += p.length; }
  expectClose(joined, all, 1e-5, 'pieces');
  c1.dispose(); c2.dispose();
}, 60000);

test('greedy generate with speculative mtp equals plain greedy; reports acceptance and timing', async () => {
  let drafts = 0, accepted = 0, plainMs = 0, specMs = 0, plainFwd = 0, specFwd = 0;
  for (const prompt of PROMPTS) {
    const plain = await run(model.generate(prompt, { maxNewTokens: 32 }));
    const spec = await run(model.generate(prompt, { maxNewTokens: 32, speculative: 'mtp' }));
    expect(spec.ids).toEqual(plain.ids);
    expect(spec.stats.stopReason).toBe(plain.stats.stopReason);
    expect(spec.stats.generatedTokens).toBe(plain.ids.length);
    expect(spec.stats.draftAccepted!).toBeLessThanOrEqual(spec.stats.draftTotal!);
    drafts += spec.stats.draftTotal!; accepted += spec.stats.draftAccepted!;
    plainMs += plain.ms; specMs += spec.ms; plainFwd += plain.stats.decodeForwards; specFwd += spec.stats.decodeForwards;
  }
  expect(drafts).toBeGreaterThan(0);
  console.log(`mtp (f32, random MTP weights): acceptance ${accepted}/${drafts} = ${(accepted / drafts).toFixed(3)}; ` +
    `main decode forwards ${specFwd} vs ${plainFwd}; wall ${specMs.toFixed(0)} ms vs ${plainMs.toFixed(0)} ms (speedup ${(plainMs / specMs).toFixed(2)}x)`);
}, 120000);

test('a predictable model: drafts accepted and rejected, output still equal to plain greedy, fewer main forwards', async () => {
  const dck = new MtpCheckpoint(base, 7, true, 0.05);
  const m = await loadModelFrom(cfg, dck, { activations: 'f32' });
  try {
    let drafts = 0, accepted = 0, plainMs = 0, specMs = 0, plainFwd = 0, specFwd = 0;
    for (const prompt of PROMPTS) {
      const plain = await run(m.generate(prompt, { maxNewTokens: 40 }));
      const spec = await run(m.generate(prompt, { maxNewTokens: 40, speculative: 'mtp' }));
      expect(spec.ids).toEqual(plain.ids);
      drafts += spec.stats.draftTotal!; accepted += spec.stats.draftAccepted!;
      plainMs += plain.ms; specMs += spec.ms; plainFwd += plain.stats.decodeForwards; specFwd += spec.stats.decodeForwards;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(drafts);
    expect(specFwd).toBeLessThan(plainFwd);
    console.log(`mtp (f32, damped "bigram" model): acceptance ${accepted}/${drafts} = ${(accepted / drafts).toFixed(3)}; ` +
      `main decode forwards ${specFwd} vs ${plainFwd}; wall ${specMs.toFixed(0)} ms vs ${plainMs.toFixed(0)} ms (speedup ${(plainMs / specMs).toFixed(2)}x)`);
  } finally {
    m.dispose(); dck.dispose();
  }
}, 120000);

test.each(['bf16', 'fp8'] as const)('%s activations: speculative output equals plain greedy (predictable model)', async (act) => {
  const dck = new MtpCheckpoint(base, 7, true, 0.05);
  const m = await loadModelFrom(cfg, dck, { activations: act });
  try {
    let drafts = 0, accepted = 0;
    for (const prompt of PROMPTS.slice(0, 3)) {
      const plain = await run(m.generate(prompt, { maxNewTokens: 24 }));
      const spec = await run(m.generate(prompt, { maxNewTokens: 24, speculative: 'mtp' }));
      expect(spec.ids).toEqual(plain.ids);
      drafts += spec.stats.draftTotal!; accepted += spec.stats.draftAccepted!;
    }
    expect(accepted).toBeGreaterThan(0);
    console.log(`mtp (${act}, damped model): acceptance ${accepted}/${drafts}`);
  } finally {
    m.dispose(); dck.dispose();
  }
}, 120000);

test('speculative mtp honours stop ids, maxNewTokens and a short cache the same way as plain greedy', async () => {
  const prompt = PROMPTS[0];
  const plain = await run(model.generate(prompt, { maxNewTokens: 12 }));
  for (const n of [0, 1, 2, 3, 7]) {
    const s = await run(model.generate(prompt, { maxNewTokens: n, speculative: 'mtp' }));
    expect(s.ids).toEqual(plain.ids.slice(0, n));
  }
  const stopId = plain.ids[5];
  const a = await run(model.generate(prompt, { maxNewTokens: 12, stop: [stopId] }));
  const b = await run(model.generate(prompt, { maxNewTokens: 12, stop: [stopId], speculative: 'mtp' }));
  expect(b.ids).toEqual(a.ids);
  expect(b.stats.stopReason).toBe('stop');
});

test('errors: sampling with speculation, an unknown method', () => {
  expect(() => model.generate([1, 2], { speculative: 'mtp', temperature: 0.7 })).toThrow(UnsupportedError);
  expect(() => model.generate([1, 2], { speculative: 'eagle' as 'mtp' })).toThrow(ArgumentError);
});

test('num_nextn_predict_layers 1 without layer L: loads without MTP; speculative mtp -> UnsupportedError', async () => {
  const bare = new MtpCheckpoint(base, 1, false);
  const m = await loadModelFrom(cfg, bare, { activations: 'f32' });
  try {
    expect(m.mtp).toBeNull();
    expect(m.mtpMissing).toContain(`model.layers.${L}.*`);
    expect(() => m.generate([1, 2], { speculative: 'mtp' })).toThrow(UnsupportedError);
    expect(() => m.generate([1, 2], { speculative: 'mtp' })).toThrow(`generate: speculative 'mtp' needs the MTP module, which this model lacks: the checkpoint has no MTP layer (model.layers.${L}.*) although num_nextn_predict_layers = 1`);
    // A partial MTP layer is an error (all missing names listed), not a silent skip.
    const partial: CheckpointLike = { has: (nm) => !nm.endsWith('hnorm.weight') && ckpt.has(nm), info: (nm) => ckpt.info(nm), get: (nm) => ckpt.get(nm) };
    await expect(loadModelFrom(cfg, partial, { activations: 'f32' })).rejects.toThrow(IoError);
    await expect(loadModelFrom(cfg, partial, { activations: 'f32' })).rejects.toThrow(`checkpoint: 1 tensor(s) missing: model.layers.${L}.hnorm.weight`);
    const eh = `model.layers.${L}.eh_proj.weight`;
    const wrong: CheckpointLike = { has: (nm) => ckpt.has(nm), info: (nm) => (nm === eh ? { name: nm, dtype: 'bf16', shape: [D, D] } : ckpt.info(nm)), get: (nm) => ckpt.get(nm) };
    await expect(loadModelFrom(cfg, wrong, { activations: 'f32' })).rejects.toThrow(`checkpoint: 1 tensor(s) with a wrong shape or dtype: ${eh}: expected bf16 [${D}, ${2 * D}], got bf16 [${D}, ${D}]`);
    // mtp: false skips a present layer.
    const off = await loadModelFrom(cfg, ckpt, { activations: 'f32', mtp: false });
    expect(off.mtp).toBeNull();
    expect(off.mtpMissing).toContain('mtp: false');
    off.dispose();
  } finally {
    m.dispose(); bare.dispose();
  }
}, 120000);
