// Fused MLA (issue 5): decode attention over the paged latent cache (mlaPagedAttention) and the whole
// attention block (mlaForward: fp8 GEMMs, epilogue, absorbed query, attention, W_UV, wo) at decode batch
// 1/32/128 x context 1K/8K/32K/128K, and a 4K-token prefill, on DeepSeek-V3 shapes (hidden 7168, q_lora 1536,
// kv_lora 512, 128 heads, nope 128, rope 64, v 128, bf16 cache and activations, fp8 projections).
// On the CPU backend (no GPU) the grid is reduced (16 heads, batch 1/4, context 1K/8K, prefill 256) and says so.
// Shapes: V3_MLA and MLA_BENCH in test/cases/mla.ts. Before timing, one decode batch (MLA_BENCH.check) is checked:
// on CUDA against the CPU backend (both kernels, the CUDA suite's tolerances), on the CPU against the float64
// reference (test/reference/mla_paged.ts, the CPU test's tolerance).
// Peer: bench/peers/mla.py (PyTorch: the same absorbed math with bmm for decode; the naive path with SDPA
// for prefill), run on CUDA only. Timing: the attention op on a GPU with CUDA events (bench/cuda_timing.mjs
// gpuTime, caches rotated past L2) when that helper is present; everything else (and the CPU) wall time around
// `await synchronize()`, median of the samples, several calls per sample for short ones. The layer rows
// include the host's per-step work (block table and slot uploads), as a real decode step does.
// Run: npx tsc -p tsconfig.build.json && node bench/mla.bench.mjs [context ...]   (contexts: a subset of the grid's;
// BENCH_JSON=path writes the rows)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cases, check, dist, fmt, machine, reference, root, table, writeJson } from './common.mjs';

const here = join(root, 'bench');
const { Tensor, synchronize, backends } = dist();
const { mlaPagedAttention } = dist('ops/mla');
const { quantizeWeightFp8 } = dist('ops/quant');
const { Linear } = dist('model/linear');
const { mlaForward } = dist('model/mla_fused');
const { PagedLatentCache } = dist('model/paged_cache');

const { MLA_BENCH, V3_MLA: V3, pagedInputs, pagedTolVsCpu, TOL_PAGED } = cases('mla');
const { expectClose } = cases('tolerance');
const { pagedAttention } = reference('mla_paged');
const { Rng } = reference('rng');

const gpu = backends().cuda.available;
const gpuTime = gpu && existsSync(join(here, 'cuda_timing.mjs')) ? (await import('./cuda_timing.mjs')).gpuTime : null;
const device = gpu ? 'cuda' : 'cpu';
const grid = gpu ? MLA_BENCH.gpu : MLA_BENCH.cpu;
const H = grid.heads, BATCHES = grid.batches, PREFILL = grid.prefill;
const only = process.argv.slice(2).map(Number);
for (const c of only) if (!grid.contexts.includes(c)) throw new Error(`context ${c} is not one of ${grid.contexts}`);
const CONTEXTS = only.length ? only : grid.contexts;
const act = 'bf16';
const cfg = {  // the fields PagedLatentCache and mlaForward read
  kvLoraRank: V3.r, qkRopeHeadDim: V3.p, numHeads: H, qkNopeHeadDim: V3.nope, vHeadDim: V3.v, numLayers: 1,
  softmaxScale: V3.scale, rmsNormEps: V3.eps,
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Median ms per call of fn (which enqueues work); reps calls per sample so short ops are not dominated by synchronize().
async function time(fn, samples = 7) {
  fn(); await synchronize();
  let t0 = performance.now();
  fn(); await synchronize();
  const once = Math.max(performance.now() - t0, 0.01);
  const reps = Math.max(1, Math.min(20, Math.round(10 / once)));
  const n = once * reps > 2000 ? 3 : samples;
  const xs = [];
  for (let s = 0; s < n; s++) {
    t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    await synchronize();
    xs.push((performance.now() - t0) / reps);
  }
  return median(xs);
}

function fp8Linear(out, inp, std) {
  const w = Tensor.randn([out, inp], { seed: out * 7 + inp, std });
  const q = quantizeWeightFp8(w);
  w.dispose();
  const l = new Linear(null, act, { weight: q.weight.to(device), scaleInv: q.scaleInv.to(device) });
  if (device !== 'cpu') { q.weight.dispose(); q.scaleInv.dispose(); }
  return l;
}

function weights() {
  const dense = (shape, std, seed) => Tensor.randn(shape, { seed, std }).cast(act).to(device);
  return {
    wqkvA: fp8Linear(V3.qLora + V3.r + V3.p, V3.hidden, 0.02),
    qNorm: Tensor.full([V3.qLora], 1, { device }), kvNorm: Tensor.full([V3.r], 1, { device }),
    wqB: fp8Linear(H * (V3.nope + V3.p), V3.qLora, 0.02),
    wUK: dense([H, V3.nope, V3.r], 0.05, 11), wUV: dense([H, V3.v, V3.r], 0.05, 12),
    wo: fp8Linear(V3.hidden, H * V3.v, 0.02),
  };
}

/** await fn() on the CUDA attention kernel `impl` (0 the f32 kernel, 1 tensor cores): no option of mlaPagedAttention,
 * DSV3_MLA_ATTN_IMPL (lib/env.ts, read at each call) is the internal switch. The CPU has one implementation. */
async function withImpl(impl, fn) {
  const name = 'DSV3_MLA_ATTN_IMPL', old = process.env[name];
  process.env[name] = String(impl);
  try { return await fn(); } finally { if (old === undefined) delete process.env[name]; else process.env[name] = old; }
}

// One decode batch (MLA_BENCH.check: shuffled pages, NaN outside the sequences) at the bench's heads, bf16 q and
// cache: on CUDA each kernel against the CPU backend, on the CPU against the float64 reference.
async function checkAttention() {
  const { sq, lens, qStd } = MLA_BENCH.check;
  const spec = { h: H, r: V3.r, p: V3.p, sq, lens };
  const rng = new Rng(1);
  const normals = async (n, std = 1) => {
    const t = Tensor.randn([n], { seed: rng.int(0, 2 ** 31), std });
    const v = await t.toFloat32Array();
    t.dispose();
    return v;
  };
  const x = await pagedInputs(rng, spec, normals, qStd);
  const inputs = (dev) => [
    Tensor.fromFloats(x.qLatent, x.shape.qLatent, { dtype: act }).to(dev), Tensor.fromFloats(x.qPe, x.shape.qPe, { dtype: act }).to(dev),
    Tensor.fromFloats(x.kvCache, x.shape.kvCache, { dtype: act }).to(dev), Tensor.fromArray(x.blockTable, x.shape.blockTable).to(dev),
    Tensor.fromArray(x.seqLens, x.shape.seqLens).to(dev),
  ];
  const run = (dev, impl = 0) => withImpl(impl, async () => {
    const r = mlaPagedAttention(...inputs(dev), { softmaxScale: x.scale });
    return [await r.out.toFloat32Array(), await r.lse.toFloat32Array()];
  });
  const [co, cl] = await run('cpu');
  const what = `mlaPagedAttention ${H} heads, keys ${lens}, bf16`;
  if (!gpu) {
    await check(`${what} on the CPU vs the float64 reference`, async () => {
      const [ql, qp, kv] = await Promise.all(inputs('cpu').slice(0, 3).map((t) => t.toFloat32Array()));  // the bf16 values
      const want = pagedAttention(ql, qp, kv, x.blockTable, x.seqLens, { b: x.b, sq, h: H, r: V3.r, p: V3.p, maxPages: x.maxPages, causal: true }, x.scale);
      expectClose(co, want.out, TOL_PAGED, `${what} out`);
      expectClose(cl, want.lse, TOL_PAGED, `${what} lse`);
    });
    return;
  }
  for (const impl of [0, 1]) {
    await check(`${what} on CUDA (impl ${impl}) vs the CPU backend`, async () => {
      const [go, gl] = await run('cuda', impl), tol = pagedTolVsCpu(impl, act);
      expectClose(go, co, tol.out, `${what} impl ${impl} out`);
      expectClose(gl, cl, tol.lse, `${what} impl ${impl} lse`);
    });
  }
}

// mlaPagedAttention alone: b sequences of ctx tokens (the new one included), pages in order.
async function attention(b, ctx, impl = 0) {
  const ppseq = Math.ceil(ctx / 64), pages = b * ppseq;
  // A constant cache (a device fill; up to 19 GB at b=128 x 128K): the kernels' time does not depend on the values.
  const bytes = b * ctx * (V3.r + V3.p) * 2;
  const rot = gpuTime ? Math.max(1, Math.min(16, Math.ceil((256 << 20) / bytes))) : 1;  // copies, so small caches are not served from L2
  const kvs = Array.from({ length: rot }, () => Tensor.full([pages, 64, V3.r + V3.p], 0.01, { dtype: act, device }));
  const bt = Tensor.fromArray(Int32Array.from({ length: pages }, (_, i) => i), [b, ppseq], { device });
  const lens = Tensor.full([b], ctx, { dtype: 'i32', device });
  const ql = Tensor.randn([b, 1, H, V3.r], { seed: 2, std: 0.05, dtype: act, device });
  const qp = Tensor.randn([b, 1, H, V3.p], { seed: 3, dtype: act, device });
  const out = { out: Tensor.empty([b, 1, H, V3.r], { device }), lse: Tensor.empty([b, H, 1], { device }) };
  const run = (i) => mlaPagedAttention(ql, qp, kvs[i % rot], bt, lens, { softmaxScale: V3.scale, out });
  const ms = await withImpl(impl, async () => (gpuTime ? (await gpuTime(run, { iters: 20 })).medianUs / 1000 : await time(() => run(0))));
  [...kvs, bt, lens, ql, qp, out.out, out.lse].forEach((t) => t.dispose());
  const flops = 2 * b * H * ctx * (2 * V3.r + V3.p);
  return { ms, gbs: bytes / ms / 1e6, tflops: flops / ms / 1e9 };
}

// mlaForward for one layer: decode (sq = 1) at context ctx, or a prefill of sq tokens on an empty cache.
async function layer(w, invFreq, b, ctx, sq) {
  const cache = new PagedLatentCache(cfg, b * (Math.ceil((ctx + sq) / 64) + 1), act, device, 1);
  const ids = Array.from({ length: b }, () => cache.addSequence());
  if (ctx > 0) cache.prepare(ids, ctx).dispose();  // the context: reserved (zero rows), never computed
  const x = Tensor.randn([b * sq, V3.hidden], { seed: 5, dtype: act, device });
  const ms = await time(() => {
    const step = cache.prepare(ids, sq);
    const y = mlaForward(x, w, cache, step, { layer: 0, softmaxScale: V3.scale, invFreq, eps: V3.eps });
    step.dispose(); y.dispose();
    for (const id of ids) cache.truncate(id, sq);
  }, 5);
  x.dispose(); cache.dispose();
  return { ms };
}

function peer(rows) {
  if (!gpu) return { note: 'torch peer runs on CUDA only' };
  const r = spawnSync('python3', [join(here, 'peers', 'mla.py'), JSON.stringify({ heads: H, batches: BATCHES, contexts: CONTEXTS, prefill: PREFILL })],
    { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.error || r.status !== 0) return { note: `torch peer skipped: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout);
}

async function main() {
  const dev = gpu ? backends().cuda.devices[0].name : 'cpu';
  console.log(`MLA (absorbed, paged latent cache) on ${device}${gpu ? `: ${dev}` : ''}; host ${machine()}`);
  if (!gpu) console.log(`note: no GPU, CPU backend with a reduced grid: ${H} heads (V3 has 128), batch ${BATCHES}, context ${CONTEXTS}, prefill ${PREFILL}`);
  await checkAttention();
  const rows = [];
  for (const b of BATCHES)
    for (const ctx of CONTEXTS) {
      rows.push({ kind: 'decode attention', peerKind: 'decode attention', b, ctx, ...(await attention(b, ctx)) });
      if (gpu) rows.push({ kind: 'decode attention tc', peerKind: 'decode attention', b, ctx, ...(await attention(b, ctx, 1)) });
    }
  const w = weights();
  const invFreq = Tensor.randn([V3.p / 2], { seed: 9, std: 0.01, device });
  let layerNote = null;
  try {
    for (const b of BATCHES)
      for (const ctx of CONTEXTS) rows.push({ kind: 'decode layer', b, ctx, ...(await layer(w, invFreq, b, ctx, 1)) });
    rows.push({ kind: 'prefill layer', b: 1, ctx: PREFILL, ...(await layer(w, invFreq, 1, 0, PREFILL)) });
  } catch (e) {
    layerNote = `mlaForward skipped: ${e.message}`;  // e.g. a CUDA GEMM kernel not merged yet
  }
  const p = peer(rows);
  const pm = new Map((p.results ?? []).map((r) => [`${r.kind}|${r.b}|${r.ctx}`, r.ms]));
  for (const r of rows) { r.torchMs = pm.get(`${r.peerKind ?? r.kind}|${r.b}|${r.ctx}`); r.ratio = r.torchMs ? r.torchMs / r.ms : undefined; }

  table(['what', 'batch', 'context', 'ms', 'cache GB/s', 'TFLOP/s', 'torch ms', 'torch/ours'],
    rows.map((r) => [r.kind, r.b, r.ctx, fmt(r.ms, 3), fmt(r.gbs, 1), fmt(r.tflops, 2), fmt(r.torchMs, 3), fmt(r.ratio, 2)]), [0]);
  console.log(`\ndecode attention: mlaPagedAttention on the f32 kernel (DSV3_MLA_ATTN_IMPL=0); tc: tensor cores (DSV3_MLA_ATTN_IMPL=1, mma.sync bf16).`);
  console.log(`cache GB/s: latent-cache bytes (576 bf16 per token) / time; TFLOP/s: 2*b*h*ctx*(2*512+64) / time (attention only).`);
  console.log(`layer = one MLA block (fp8 [wq_a; wkv_a], epilogue, wq_b, absorbed q, attention, W_UV, wo); prefill = ${PREFILL} tokens, absorbed path.`);
  const mha = V3.heads * (V3.nope + V3.p + V3.v);  // K and V of every head per token
  console.log(`cache per token per layer: ${(V3.r + V3.p) * 2} B latent (bf16) vs ${mha * 2} B multi-head K/V (${(mha / (V3.r + V3.p)).toFixed(1)}x)`);
  if (layerNote) console.log(`note: ${layerNote}`);
  console.log(`torch: ${p.note ?? `${p.torch} on ${p.device}`}`);
  writeJson('mla', { device: dev, heads: H, rows, peer: p });
}

main().catch((e) => { console.error(e); process.exit(1); });
