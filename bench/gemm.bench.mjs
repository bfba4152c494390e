// CPU GEMMs (fp8Gemm with bf16 out, gemm bf16, gemm f32) against numpy float32 a @ b.T on the same
// shapes (bench/peers/numpy_matmul.py, run in the same process tree right after ours): median ms,
// GFLOP/s, GB/s of weights for M <= 32, and ours / numpy. Every ISA path at the 2048^3 target.
// Run: npx tsc -p tsconfig.build.json && node bench/gemm.bench.mjs [MxNxK ...]   (only those shapes;
// BENCH_JSON=path writes the rows as JSON). Shapes: GEMM_BENCH in test/cases/gemm.ts; each op is first
// checked against the float64 reference on the smallest of them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { cases, dist, fmt, load, machine, root, table, writeJson } from './common.mjs';
import { checkFp8Gemm, checkGemm } from './gemm_check.mjs';
import { randomE4m3Codes } from './inputs.mjs';

const { Tensor, synchronize } = dist();
const g = dist('ops/gemm');

// (M, N, K): the issue's target, then DeepSeek-V3 projections (DeepGEMM's shape list) at decode-ish M.
const SHAPES = cases('gemm').GEMM_BENCH;
const OPS = [
  { op: 'fp8Gemm', weightBytes: 1 },
  { op: 'gemm bf16', weightBytes: 2 },
  { op: 'gemm f32', weightBytes: 4 },
];

function makeCase({ m, n, k }) {
  const kb = Math.ceil(k / 128), nb = Math.ceil(n / 128);
  const a8 = { data: Tensor.fromArray(randomE4m3Codes(m * k), [m, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([m, kb], 1 / 64) };
  const b8 = { data: Tensor.fromArray(randomE4m3Codes(n * k), [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([nb, kb], 1 / 64) };
  const a32 = Tensor.randn([m, k], { seed: 1 }), b32 = Tensor.randn([n, k], { seed: 2 });
  const a16 = a32.cast('bf16'), b16 = b32.cast('bf16');
  const o16 = Tensor.empty([m, n], { dtype: 'bf16' }), o32 = Tensor.empty([m, n]);
  return {
    run: {
      fp8Gemm: (cpuIsa) => g.fp8Gemm(a8, b8, { out: o16, cpuIsa }),
      'gemm bf16': (cpuIsa) => g.gemm(a16, b16, { out: o16, cpuIsa }),
      'gemm f32': (cpuIsa) => g.gemm(a32, b32, { out: o32, cpuIsa }),
    },
    dispose: () => [a8.data, a8.scale, b8.data, b8.scale, a32, b32, a16, b16, o16, o32].forEach((t) => t.dispose()),
  };
}

// Median ms per call. Each sample runs `reps` calls back to back and waits once, so the read-back
// latency of synchronize() (~0.1 ms) does not dominate the small shapes.
async function timeOp(fn, flops) {
  const t0 = performance.now();
  fn(); await synchronize();
  const once = Math.max(performance.now() - t0, 0.01);
  const reps = Math.max(1, Math.min(50, Math.round(20 / once)));
  const slow = once * reps > 1000;  // the generic path at 2048^3: a few samples only
  const bench = new Bench({ iterations: slow ? 3 : 7, time: slow ? 0 : 400, warmupIterations: 1, warmupTime: 0 });
  bench.add('op', async () => { for (let r = 0; r < reps; r++) fn(); await synchronize(); });
  await bench.run();
  const res = bench.tasks[0].result;
  if (!res || !res.latency) throw new Error(`benchmark failed: ${res?.error ?? res?.state}`);
  const ms = res.latency.p50 / reps;
  return { ms, gflops: flops / ms / 1e6, samples: res.latency.samplesCount ?? undefined, reps };
}

// OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, set in some of our environments for older OpenBLAS builds, force a
// current numpy onto slower kernels (Haswell on an AVX-512 CPU): they are unset for the peer's process only
// (never in tests or CI); the peer reports the kernel OpenBLAS then runs (blas.corename).
const PEER_UNSET = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];
function numpyPeer(shapes) {
  const env = { ...process.env };
  const unset = PEER_UNSET.filter((k) => k in env).map((k) => `${k}=${env[k]}`);
  for (const k of PEER_UNSET) delete env[k];
  if (unset.length) console.log(`numpy peer: running without ${unset.join(', ')}`);
  const r = spawnSync('python3', [join(root, 'bench', 'peers', 'numpy_matmul.py'), JSON.stringify(shapes.map((s) => [s.m, s.n, s.k]))],
    { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop();
    console.log(`\nnote: numpy peer skipped (python3 with numpy is needed): ${why}`);
    return null;
  }
  const out = JSON.parse(r.stdout);
  out.unsetEnv = unset;
  return out;
}

async function main() {
  const isaInfo = g.cpuGemmIsa();
  const loadBefore = load();
  console.log(`CPU GEMMs vs numpy; ${machine()}; kernels ${isaInfo.selected} (supported ${isaInfo.supported})`);
  const only = process.argv.slice(2);
  const shapes = SHAPES.filter((s) => only.length === 0 || only.includes(`${s.m}x${s.n}x${s.k}`));
  const smallest = SHAPES.reduce((a, b) => (b.m * b.n * b.k < a.m * a.n * a.k ? b : a));
  await checkFp8Gemm(smallest);
  await checkGemm(smallest, 'bf16');
  await checkGemm(smallest, 'f32');
  const rows = [];
  for (const s of shapes) {
    const c = makeCase(s);
    const flops = 2 * s.m * s.n * s.k;
    for (const { op, weightBytes } of OPS) {
      for (const isa of s.isas ?? [undefined]) {
        const t = await timeOp(() => c.run[op](isa), flops);
        const gbs = s.m <= 32 ? (weightBytes * s.n * s.k) / t.ms / 1e6 : undefined;
        rows.push({ m: s.m, n: s.n, k: s.k, what: s.what, op, isa: isa ?? isaInfo.selected, ms: t.ms, gflops: t.gflops, weightsGBs: gbs, samples: t.samples, reps: t.reps });
      }
    }
    c.dispose();
  }
  const loadMid = load();
  const peer = numpyPeer(shapes);
  const np = new Map((peer?.results ?? []).map((r) => [`${r.m}x${r.n}x${r.k}`, r]));
  for (const r of rows) {
    const p = np.get(`${r.m}x${r.n}x${r.k}`);
    r.numpyMs = p?.median_ms; r.numpyGflops = p?.gflops; r.ratio = p ? r.gflops / p.gflops : undefined;
  }

  table(['M', 'N', 'K', 'op', 'isa', 'ms', 'GFLOP/s', 'GB/s W', 'numpy ms', 'numpy GFLOP/s', 'ours/numpy'],
    rows.map((r) => [r.m, r.n, r.k, r.op, r.isa, fmt(r.ms, 3), fmt(r.gflops), fmt(r.weightsGBs), fmt(r.numpyMs, 3), fmt(r.numpyGflops), fmt(r.ratio, 2)]), [3, 4]);
  console.log(`\nGB/s W: weight bytes read per second (fp8 1 B, bf16 2 B, f32 4 B per element; numpy f32) for M <= 32.`);
  const blasName = (b) => (Array.isArray(b) ? b.map((x) => `${x.internal_api ?? x.prefix} ${x.version} ${x.architecture ?? ''} ${x.num_threads ?? ''} threads`).join(', ')
    : `${b?.name ?? ''} ${b?.version ?? ''} ${b?.corename ? `kernels ${b.corename}` : ''}`);
  console.log(`numpy: ${peer ? `${peer.numpy}, ${blasName(peer.blas)}`.trim() : 'skipped'}; ` +
    `load average after ours: ${loadMid}, after numpy: ${load()}`);

  writeJson('gemm', {
    isa: isaInfo, loadavg: { before: loadBefore, afterOurs: loadMid, afterNumpy: load() },
    numpy: peer ? { version: peer.numpy, blas: peer.blas, unsetEnv: peer.unsetEnv } : null, rows,
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
