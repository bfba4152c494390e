// The routed MoE layer (ops/moe.ts moeForward: router -> permute -> FP8 grouped GEMMs -> siluMulQuant ->
// combine), whole and step by step, at DeepSeek-V3 dims (7168 -> 2048 per expert, 256 experts, top 8,
// groups 8/4) for 1..4096 tokens on CUDA; on the CPU at reduced dims (said in the output), since V3's
// 11 GB of FP8 expert weights and ~1 TFLOP per 4096 tokens do not fit a CPU run. Peer: bench/peers/moe.py.
// Timing: on CUDA, GPU time from CUDA events (bench/cuda_timing.mjs: median of 20 calls queued behind a
// spin kernel); on the CPU, wall time around `await synchronize()` (median of the samples; each sample
// runs `reps` calls back to back). The experts are stacked as the model loads FP8 checkpoints: w13 =
// [w1; w3] per expert for the fused gate/up GEMM (groupedGemmSiluMul*), w2.
// Dims: MOE_BENCH in test/cases/moe.ts. On CUDA, moeForward at the first token count is first checked against
// the CPU backend (routing exact, output within the GPU suite's tolerance); on the CPU the backend is the reference.
// Run: npx tsc -p tsconfig.build.json && node bench/moe.bench.mjs [tokens ...]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cases, check, dist, fmt, machine, root, table, writeJson } from './common.mjs';

const { Tensor, synchronize, backends } = dist();
const { gpuTime } = await import('./cuda_timing.mjs');
const m = dist('ops/moe');
const { gemm } = dist('ops/gemm');

const device = backends().cuda.available ? 'cuda' : 'cpu';
const { MOE_BENCH, TOL_FORWARD_VS_CPU } = cases('moe');
const { expectClose } = cases('tolerance');
const dims = device === 'cuda' ? MOE_BENCH.v3 : MOE_BENCH.cpu;
const only = process.argv.slice(2).map(Number);
const tokensList = only.length ? only : dims.tokens;

async function time(fn, budgetMs = 1500) {
  if (device === 'cuda') return (await gpuTime(() => fn(), { iters: 20, warmup: 2 })).medianUs / 1000;
  fn(); await synchronize(device);  // warm-up (pool, page faults)
  let t0 = performance.now();
  fn(); await synchronize(device);
  const once = Math.max(performance.now() - t0, 0.005);
  const reps = Math.max(1, Math.min(50, Math.round(10 / once)));
  const samples = [];
  const end = performance.now() + budgetMs;
  do {
    t0 = performance.now();
    for (let r = 0; r < reps; r++) fn();
    await synchronize(device);
    samples.push((performance.now() - t0) / reps);
  } while (performance.now() < end && samples.length < 15 || samples.length < 3);
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/** Disposes every tensor in a (possibly nested) result. */
function drop(x) {
  if (!x) return;
  if (x instanceof Tensor) x.dispose();
  else if (typeof x === 'object') for (const v of Object.values(x)) drop(v);
}

function fp8Stack(e, n, k, seed) {
  return {
    data: Tensor.randn([e, n, k], { dtype: 'f8_e4m3', device, seed }),
    scale: Tensor.full([e, Math.ceil(n / 128), Math.ceil(k / 128)], 1 / 64, { device }),
  };
}

async function main() {
  const { d, inter, e, k, nGroup, topkGroup } = dims;
  console.log(`MoE layer on ${device}${device === 'cpu' ? ' at REDUCED dims' : ` (${backends().cuda.devices[0]?.name})`}: ` +
    `d ${d} -> ${inter} per expert, ${e} experts, top ${k}, groups ${nGroup}/${topkGroup}, FP8 experts, bf16 activations; ` +
    `timing: ${device === 'cuda' ? 'CUDA events' : 'synchronize() wall time'}; host ${machine()}`);
  const experts = { w13: fp8Stack(e, 2 * inter, d, 1), w2: fp8Stack(e, d, inter, 3) };
  const gate = Tensor.randn([e, d], { dtype: 'bf16', device, seed: 4, std: 0.02 });  // bf16 router weight, as model.py
  const bias = Tensor.randn([e], { device, seed: 5, std: 0.01 });
  const route = { topK: k, nGroup, topkGroup, routedScalingFactor: 2.5, bias };
  if (device === 'cuda') {
    const t = tokensList[0];
    await check(`moeForward t=${t} on CUDA vs the CPU backend`, async () => {
      const x = Tensor.randn([t, d], { dtype: 'bf16', device, seed: 6 + t });
      const run = (dev) => {
        const on = (v) => (dev === device ? v : v.to(dev));
        const ex = Object.fromEntries(Object.entries(experts).map(([n, w]) => [n, { data: on(w.data), scale: on(w.scale) }]));
        return m.moeForward(on(x), on(gate), ex, { ...route, bias: on(bias), residual: on(x) });
      };
      const [got, want] = [run(device), run('cpu')];
      const [gi, wi] = [await got.indices.toArray(), await want.indices.toArray()];
      if (gi.some((v, i) => v !== wi[i])) throw new Error('moeForward: CUDA routing differs from the CPU backend');
      expectClose(await got.out.toFloat32Array(), await want.out.toFloat32Array(), TOL_FORWARD_VS_CPU.out, 'moeForward out');
      drop([x, got, want]);
    });
  }
  const rows = [];
  for (const t of tokensList) {
    const x = Tensor.randn([t, d], { dtype: 'bf16', device, seed: 6 + t });
    const shared = Tensor.randn([t, d], { dtype: 'bf16', device, seed: 7 });
    const layout = t <= m.MOE_MASKED_MAX_TOKENS ? 'masked' : 'contiguous';
    // the steps, on fixed intermediates
    const logits = gemm(x, gate, { outDtype: 'f32' });
    const r = m.moeRoute(logits, route);
    const perm = m.moePermute(r.indices, layout === 'masked' ? { numExperts: e, layout } : { numExperts: e });
    const y = m.moeExperts(x, perm, k, experts);
    const counts = await perm.counts.toArray();
    const active = counts.filter((c) => c > 0).length;
    const steps = {
      'router gemm': () => drop(gemm(x, gate, { outDtype: 'f32' })),
      moeRoute: () => drop(m.moeRoute(logits, route)),
      moePermute: () => drop(m.moePermute(r.indices, layout === 'masked' ? { numExperts: e, layout } : { numExperts: e })),
      'experts (quantize, gather, gate/up GEMM + SiLU + quantize, down GEMM)': () => drop(m.moeExperts(x, perm, k, experts)),
      moeCombine: () => drop(m.moeCombine(y, perm.slotRow, r.weights, { shared, residual: x })),
      moeForward: () => drop(m.moeForward(x, gate, experts, { ...route, shared, residual: x, layout })),
    };
    const flops = 3 * 2 * t * k * d * inter;
    const weightBytes = active * 3 * inter * d;  // fp8 bytes of the experts this batch touches
    for (const [step, fn] of Object.entries(steps)) {
      const ms = await time(fn);
      const row = { tokens: t, layout, step, ms };
      if (step.startsWith('experts') || step === 'moeForward') {
        row.tflops = flops / ms / 1e9;
        row.weightsGBs = weightBytes / ms / 1e6;
        row.activeExperts = active;
      }
      rows.push(row);
    }
    drop([x, shared, logits, r, perm, y]);
  }
  drop([experts, gate, bias]);

  table(['tokens', 'layout', 'step', 'ms', 'TFLOP/s', 'GB/s W', 'experts'],
    rows.map((r) => [r.tokens, r.layout, r.step, fmt(r.ms, 3), fmt(r.tflops, 2), fmt(r.weightsGBs, 0), r.activeExperts ?? '-']), [1, 2]);
  console.log('\nTFLOP/s: the three expert GEMMs (3 * 2 * t * k * d * inter) over the step time; GB/s W: FP8 weight bytes of the experts in use.');
  if (device === 'cpu') console.log(`note: CPU run at reduced dims (d ${d}, inter ${inter}); V3 dims (7168 -> 2048) run on CUDA only.`);
  else {  // the PyTorch peer on the same GPU, same dims and token counts
    console.log('\npeer: bench/peers/moe.py');
    const p = spawnSync('python3', [join(root, 'bench', 'peers', 'moe.py'), ...tokensList.map(String)], { stdio: 'inherit' });
    if (p.error || p.status !== 0) console.log(`note: PyTorch peer failed or skipped (${p.error?.message ?? `exit ${p.status}`})`);
  }

  writeJson('moe', { device, dims, rows });
}

main().catch((err) => { console.error(err); process.exit(1); });
