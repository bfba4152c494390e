// The whole model on one CUDA device at TRUE DeepSeek-V3 layer dimensions (hidden 7168, 128 heads, MLA ranks
// 1536/512, 256 routed experts of 2048 + 1 shared, top 8 of 8 groups/4, vocab 129280, FP8 128x128 weights):
// a random checkpoint of BENCH_LAYERS layers (default 4: 1 dense + 3 MoE, ~35 GB on disk, generated once by
// lib/weights/random.ts into $BENCH_CKPT_DIR or <tmpdir>/dsv3-bench-ckpt), loaded with device 'cuda'. Measures
// prefill of 4096 tokens, decode at batch 1 / 32 / 128 with 4096 tokens of context per sequence (one paged latent
// cache; the context is reserved without being computed: attention cost does not depend on the cached values),
// the GPU time of every layer (CUDA events between layers, the step queued behind a spin kernel so launch gaps
// do not count: bench/cuda_timing.mjs's method) and the wall time of whole steps (what a caller sees, launches
// included), device memory; then extrapolates to V3's 61 layers (3 dense + 58 MoE) and prints it as such.
// Without a usable GPU it prints why and exits 0 (bench/model.bench.mjs measures the CPU).
// Run: npx tsc -p tsconfig.build.json && node bench/model_gpu.bench.mjs
// (BENCH_LAYERS, BENCH_ACTIVATIONS=fp8|bf16, BENCH_BATCHES=1,32,128, BENCH_CONTEXT=4096, BENCH_PREFILL=4096, BENCH_JSON=path)
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { hasGpu, gpu } from './cuda_timing.mjs';
import { dist, machine, table, writeJson } from './common.mjs';

const { loadModel, backends, synchronize, profile, Tensor, residentBytes, SequenceCache } = dist();
const { writeRandomCheckpoint } = dist('weights/random');
const { blockBytes } = dist('model/memory');

const LAYERS = Number(process.env.BENCH_LAYERS ?? 4);
const ACT = process.env.BENCH_ACTIVATIONS ?? 'fp8';
const BATCHES = (process.env.BENCH_BATCHES ?? '1,32,128').split(',').map(Number);
const CONTEXT = Number(process.env.BENCH_CONTEXT ?? 4096);
const PREFILL = Number(process.env.BENCH_PREFILL ?? 4096);
const V3_LAYERS = 61, V3_DENSE = 3;
const GiB = 2 ** 30;

/** DeepSeek-V3's config.json (the released model's values) with `layers` layers, the first dense, no MTP layer. */
function v3Config(layers) {
  return {
    architectures: ['DeepseekV3ForCausalLM'], model_type: 'deepseek_v3',
    vocab_size: 129280, hidden_size: 7168, intermediate_size: 18432, moe_intermediate_size: 2048,
    num_hidden_layers: layers, first_k_dense_replace: 1, moe_layer_freq: 1,
    n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8, n_group: 8, topk_group: 4,
    routed_scaling_factor: 2.5, scoring_func: 'sigmoid', topk_method: 'noaux_tc', norm_topk_prob: true,
    q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
    num_attention_heads: 128, num_key_value_heads: 128, max_position_embeddings: 163840,
    rope_theta: 10000, rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 1.0, mscale_all_dim: 1.0 },
    rms_norm_eps: 1e-6, tie_word_embeddings: false, num_nextn_predict_layers: 0, bos_token_id: 0, eos_token_id: 1,
    hidden_act: 'silu', attention_bias: false, attention_dropout: 0.0, torch_dtype: 'bfloat16', use_cache: true,
    quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] },
  };
}

async function ensureCheckpoint(layers) {
  const dir = process.env.BENCH_CKPT_DIR ?? join(os.tmpdir(), 'dsv3-bench-ckpt', `v3-${layers}L-seed0`);
  const done = join(dir, '.complete');
  if (existsSync(done) && readFileSync(done, 'utf8') === `v3 ${layers}`) return dir;
  console.log(`writing a random V3-dimension checkpoint with ${layers} layers to ${dir} (once; ~${(layers - 1) * 11.4 + 4.2} GB) ...`);
  const t0 = performance.now();
  let last = 0;
  await writeRandomCheckpoint(dir, { config: v3Config(layers), seed: 0, shardBytes: 2 * GiB, onProgress: (w, total) => {
    if (w - last > 4 * GiB || w === total) { last = w; console.log(`  ${(w / GiB).toFixed(1)} / ${(total / GiB).toFixed(1)} GiB`); }
  } });
  writeFileSync(done, `v3 ${layers}`);
  console.log(`  done in ${((performance.now() - t0) / 1e3).toFixed(0)} s`);
  return dir;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const freeMem = () => backends().cuda.devices[0].freeMemory;
function randomIds(n, vocab, seed) {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % vocab; });
}

/**
 * GPU time of one step split by part: the model's step (model.layerByLayer: Transformer.step one layer at a time;
 * embedding, every layer, final norm on the last rows, lm_head, argmax) enqueued behind a spin kernel, with an
 * event between parts. The step's inputs (block table, slots, ids) are uploaded before the spin: a pageable upload would wait for it. The sequences
 * advance by sq; the caller truncates them. Returns ms per part: { embed, layers: [...], head, total }.
 */
async function gpuSplit(model, seqs, sq, spinUs) {
  const paged = seqs[0].paged, b = seqs.length, vocab = model.config.vocabSize;
  const ids = Int32Array.from(randomIds(b * sq, vocab, 7));
  const step = paged.prepare(seqs.map((s) => s.seq), sq);
  const idT = Tensor.fromArray(ids, [b * sq], { device: 'cuda' });
  const lastIdx = Tensor.fromArray(Int32Array.from({ length: b }, (_, i) => i * sq + sq - 1), [b], { device: 'cuda' });
  await synchronize('cuda');
  profile.cudaSpin(spinUs, 'cuda');
  const ev = [profile.cudaEvent('cuda')];
  // the model's step one layer at a time (it yields after the embedding, after each layer; then the head runs)
  const layers = model.layerByLayer(idT, paged, step, { rows: sq > 1 ? lastIdx : 'all', pick: {} });
  let out;
  for (let s = layers.next(); ; s = layers.next()) {
    ev.push(profile.cudaEvent('cuda'));
    if (s.done) { out = s.value; break; }
  }
  await synchronize('cuda');
  const ms = (i) => profile.cudaElapsedMs(ev[i], ev[i + 1]);
  const r = { embed: ms(0), layers: model.layers.map((_, l) => ms(l + 1)), head: ms(ev.length - 2), total: profile.cudaElapsedMs(ev[0], ev[ev.length - 1]) };
  for (const t of [out.logits, out.tokens, idT, lastIdx]) t.dispose();
  step.dispose();
  return r;
}

/** Wall ms of model.forwardBatch for the sequences (sq new tokens each; only the picked ids come back), then truncated back. */
async function wallStep(model, seqs, sq) {
  const items = seqs.map((cache, i) => ({ cache, ids: randomIds(sq, model.config.vocabSize, 11 + i) }));
  const t0 = performance.now();
  await model.forwardBatch(items, { rows: 'last', logits: false, pick: {} });
  const ms = performance.now() - t0;
  for (const s of seqs) s.truncate(sq);
  return ms;
}

/** Median over `reps` of the GPU split and of the wall time of one step; the sequences end where they started. */
async function measure(model, seqs, sq, reps) {
  model.resetExpertLoad();  // no statistics fold (a read) inside the timed steps
  const w0 = performance.now();
  await wallStep(model, seqs, sq);  // warm-up: allocator, kernels
  const hostMs = performance.now() - w0;
  const spinUs = Math.min(5e6, 2000 + 2000 * hostMs);
  const splits = [], walls = [];
  for (let r = 0; r < reps; r++) {
    splits.push(await gpuSplit(model, seqs, sq, spinUs));
    for (const s of seqs) s.truncate(sq);
    walls.push(await wallStep(model, seqs, sq));
  }
  const L = model.layers.length;
  return {
    wallMs: median(walls), gpuMs: median(splits.map((s) => s.total)), embedMs: median(splits.map((s) => s.embed)), headMs: median(splits.map((s) => s.head)),
    layerMs: Array.from({ length: L }, (_, l) => median(splits.map((s) => s.layers[l]))),
  };
}

/** Wall ms of one greedy step replayed from a captured CUDA graph (Model.decodeGraph; median of 10), sequences restored after. */
async function graphDecode(model, seqs) {
  try {
    const g = await model.decodeGraph(seqs);
    const toks = seqs.map((_, i) => (7 * i + 1) % model.config.vocabSize);
    await g.decode(toks);
    const ts = [];
    for (let r = 0; r < 10; r++) { const t0 = performance.now(); await g.decode(toks); ts.push(performance.now() - t0); }
    g.dispose();
    for (const s of seqs) s.truncate(11);
    return { graphWallMs: median(ts) };
  } catch (e) {
    console.log(`decode graph failed: ${e.message}`);
    return { graphWallMs: NaN, graphError: e.message };
  }
}

/** 61-layer figures from the measured parts: embedding + head + 3 x the dense layer + 58 x the mean MoE layer. */
function extrapolate(m) {
  const dense = m.layerMs[0], moe = m.layerMs.slice(1), moeMean = moe.reduce((a, b) => a + b, 0) / Math.max(1, moe.length);
  const gpu61 = m.embedMs + m.headMs + V3_DENSE * dense + (V3_LAYERS - V3_DENSE) * moeMean;
  // host-side time not hidden behind the GPU in the measured step, assumed to grow with the layer count
  const hostPerLayer = Math.max(0, m.wallMs - m.gpuMs) / m.layerMs.length;
  return { denseMs: dense, moeMs: moeMean, gpu61, wall61: gpu61 + hostPerLayer * V3_LAYERS };
}

async function main() {
  if (!hasGpu) {
    console.log(`model_gpu: no usable CUDA device (${gpu.reason ?? 'none'}): skipped; bench/model.bench.mjs measures the CPU`);
    return;
  }
  const dir = await ensureCheckpoint(LAYERS);
  const dev = backends().cuda.devices[0];
  const free0 = freeMem();
  const t0 = performance.now();
  const model = await loadModel(dir, { device: 'cuda', activations: ACT, onProgress: (l, n, b) => {
    if (l > 0) console.log(`  loaded layer ${l}/${n}: ${(b.loaded / GiB).toFixed(2)} of ~${(b.estimated / GiB).toFixed(2)} GiB`);
  } });
  await synchronize('cuda');
  const loadS = (performance.now() - t0) / 1e3;
  const weights = residentBytes(model), free1 = freeMem();
  const cfg = model.config;
  const layerBytes = model.layers.map((l) => blockBytes(l));
  const moeBytes = layerBytes.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, layerBytes.length - 1);
  const weights61 = weights - layerBytes.reduce((a, b) => a + b, 0) + V3_DENSE * layerBytes[0] + (V3_LAYERS - V3_DENSE) * moeBytes;
  const kvPerToken = LAYERS * (cfg.kvLoraRank + cfg.qkRopeHeadDim) * (ACT === 'f32' ? 4 : 2);
  console.log(`\n${dev.name}, ${LAYERS} layers (1 dense + ${LAYERS - 1} MoE) at V3 dimensions, activations ${ACT}; loaded in ${loadS.toFixed(1)} s; host ${machine()}`);
  console.log(`weights ${(weights / GiB).toFixed(2)} GiB (dense layer ${(layerBytes[0] / GiB).toFixed(2)}, MoE layer ${(moeBytes / GiB).toFixed(2)}); device free ${(free0 / GiB).toFixed(1)} -> ${(free1 / GiB).toFixed(1)} GiB`);
  console.log(`EXTRAPOLATED to 61 layers: weights ${(weights61 / GiB).toFixed(0)} GiB (${weights61 > dev.totalMemory ? 'does NOT fit' : 'fits'} one ${(dev.totalMemory / GiB).toFixed(0)} GiB device); latent KV cache ${V3_LAYERS * 1152} B/token`);

  const rows = [];
  const report = (name, tokens, m, extra = {}) => {
    const x = extrapolate(m);
    rows.push({ name, tokens, ...m, ...x, ...extra });
  };
  // prefill: one sequence, PREFILL tokens in one forward, logits of the last row only
  {
    const paged = model.createPagedCache(PREFILL + 64);
    const seq = model.createCache(PREFILL + 64, paged);
    const m = await measure(model, [seq], PREFILL, 3);
    report(`prefill ${PREFILL}`, PREFILL, m, { freeAfter: freeMem() });
    paged.dispose();
  }
  // decode: B sequences with CONTEXT tokens each (reserved, not computed), one new token per sequence per step
  for (const B of BATCHES) {
    const paged = model.createPagedCache(B * (CONTEXT + 64));
    const seqs = Array.from({ length: B }, () => SequenceCache.in(paged, CONTEXT + 64));
    paged.prepare(seqs.map((s) => s.seq), CONTEXT).dispose();
    const m = await measure(model, seqs, 1, 10);
    const g = await graphDecode(model, seqs);
    report(`decode b=${B} ctx ${CONTEXT}`, B, m, { kvGiB: (B * (CONTEXT + 1) * kvPerToken) / GiB, freeAfter: freeMem(), ...g });
    paged.dispose();
  }

  const f = (x, d = 2) => x.toFixed(d);
  const g = (x, d = 2) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));
  table(['case', 'wall ms', 'GPU ms', 'graph wall ms', 'tok/s (wall)', 'tok/s (graph)', 'tok/s (GPU)', 'dense layer ms', 'MoE layer ms', 'embed+head ms', '61L GPU ms', '61L wall ms', '61L tok/s (wall)'],
    rows.map((r) => [r.name, f(r.wallMs), f(r.gpuMs), g(r.graphWallMs), f(r.tokens / (r.wallMs / 1e3), 0), g(r.tokens / (r.graphWallMs / 1e3), 0),
      f(r.tokens / (r.gpuMs / 1e3), 0), f(r.denseMs, 3), f(r.moeMs, 3), f(r.embedMs + r.headMs, 3), f(r.gpu61, 1), f(r.wall61, 1), f(r.tokens / (r.wall61 / 1e3), 0)]), [0]);
  console.log(`\nmeasured: ${LAYERS} layers; the '61L' columns are EXTRAPOLATED (embedding + lm_head + 3 x dense + 58 x mean MoE layer GPU time, `
    + 'plus the measured host time per layer that the GPU did not hide); per-layer times are CUDA events between layers with the step queued '
    + 'behind a spin kernel; wall = Model.forwardBatch with only the picked ids read back (median; prefill 3 runs, decode 10).');
  console.log('decode context is reserved in the paged cache without being computed (zeros): the attention reads the same bytes either way.');
  for (const r of rows) if (r.kvGiB !== undefined) console.log(`  ${r.name}: KV cache ${f(r.kvGiB)} GiB for ${LAYERS} layers (61 layers: ${f(r.kvGiB * V3_LAYERS / LAYERS)} GiB); device free after ${f(r.freeAfter / GiB, 1)} GiB`);
  writeJson('model_gpu', { device: dev.name, layers: LAYERS, activations: ACT, loadS, weights, weights61, free0, free1, rows });
  model.dispose();
}

main().catch((e) => { console.error(e); process.exit(1); });
