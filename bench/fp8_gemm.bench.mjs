// fp8Gemm on DeepSeek-V3's GEMM shapes (DeepGEMM's list): (N, K) in (2112,7168) fused q_a + kv_a,
// (576,7168) kv_a, (24576,1536) q_b, (32768,512) kv_b, (7168,16384) o_proj, (4096,7168) / (7168,2048)
// MoE up / down, at M = 1, 64, 128, 4096 tokens.
// On a GPU: GPU time from CUDA events (bench/cuda_timing.mjs), median of 50 calls after warm-up, inputs
// rotated past L2; prints us, TFLOP/s, GB/s (A + B + C bytes), the fraction of the ceilings measured in
// the same run (device copy bandwidth, FP8 wgmma rate), and PyTorch's figures on the same shapes from
// bench/peers/fp8_gemm.py when python3 with torch is present (our time / theirs).
// Without a GPU: the CPU backend on the M <= 64 shapes (tinybench, wall time after synchronize).
// Run: npx tsc -p tsconfig.build.json && node bench/fp8_gemm.bench.mjs [MxNxK ...]; BENCH_JSON=path for JSON.
// Shapes: FP8_GEMM_BENCH in test/cases/gemm.ts; the first is checked (CUDA against the CPU backend; the
// CPU against the float64 reference) before anything is timed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { cases, dist, fmt, machine, root, table, writeJson } from './common.mjs';
import { checkFp8Gemm } from './gemm_check.mjs';
import { randomE4m3Codes } from './inputs.mjs';
import { copyBandwidth, fp8Peak, gpu, gpuTime, hasGpu, rotations } from './cuda_timing.mjs';

const { Tensor, synchronize } = dist();
const { fp8Gemm } = dist('ops/gemm');

const only = process.argv.slice(2);
const ALL = cases('gemm').FP8_GEMM_BENCH(hasGpu);
const SHAPES = ALL.filter((s) => only.length === 0 || only.includes(`${s.m}x${s.n}x${s.k}`));

const bytesOf = ({ m, n, k }) => m * k + n * k + 2 * m * n + 4 * (m * Math.ceil(k / 128) + Math.ceil(n / 128) * Math.ceil(k / 128));

function torchPeer(shapes) {
  const spec = shapes.map((s) => `${s.m},${s.n},${s.k}`).join(';');
  const r = spawnSync('python3', [join(root, 'bench', 'peers', 'fp8_gemm.py'), '--json', '--shapes', spec], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 200000 });
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop();
    console.log(`\nnote: PyTorch peer skipped (python3 with torch and a GPU are needed): ${why}`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function benchGpu() {
  const dev = gpu.devices[0];
  console.log(`fp8Gemm on ${dev.name} (sm_${dev.computeCapability.replace('.', '')}, ${dev.smCount} SMs); host ${machine()}`);
  await checkFp8Gemm(SHAPES[0] ?? ALL[0], 'cuda');
  const copy = await copyBandwidth();
  const peak = await fp8Peak().catch((e) => ({ TFLOPs: NaN, error: e.message }));
  console.log(`ceilings measured now: device copy ${fmt(copy.GBs, 0)} GB/s (read + write), FP8 wgmma loop ${fmt(peak.TFLOPs, 0)} TFLOP/s` +
    (peak.error ? ` (unavailable: ${peak.error})` : ''));
  const rows = [];
  for (const s of SHAPES) {
    const { m, n, k } = s;
    const kb = Math.ceil(k / 128), nb = Math.ceil(n / 128);
    const rot = rotations(m * k + n * k);
    const a0 = Tensor.fromArray(randomE4m3Codes(m * k, 7 + m), [m, k], { dtype: 'f8_e4m3', device: 'cuda' });
    const b0 = Tensor.fromArray(randomE4m3Codes(n * k, 11 + n + k), [n, k], { dtype: 'f8_e4m3', device: 'cuda' });
    const sets = Array.from({ length: rot }, (_, i) => ({
      a: { data: i ? a0.to('cuda') : a0, scale: Tensor.full([m, kb], 1 / 64, { device: 'cuda' }) },
      b: { data: i ? b0.to('cuda') : b0, scale: Tensor.full([nb, kb], 1 / 64, { device: 'cuda' }) },
    }));
    const out = Tensor.empty([m, n], { dtype: 'bf16', device: 'cuda' });
    const t = await gpuTime((i) => fp8Gemm(sets[i % rot].a, sets[i % rot].b, { out }));
    const tflops = (2 * m * n * k) / t.medianUs / 1e6, gbs = bytesOf(s) / t.medianUs / 1e3;
    rows.push({ ...s, us: t.medianUs, minUs: t.minUs, TFLOPs: tflops, GBs: gbs, ofCopy: gbs / copy.GBs, ofPeak: tflops / peak.TFLOPs,
      hostUs: t.hostUsPerCall, rotations: rot });
    for (const x of sets) [x.a.data, x.a.scale, x.b.data, x.b.scale].forEach((q) => q.dispose());
    out.dispose();
  }
  await synchronize('cuda');
  const peer = torchPeer(SHAPES);
  const key = (r) => `${r.m}x${r.n}x${r.k}`;
  const pm = new Map((peer?.rows ?? []).map((r) => [key(r), r]));
  for (const r of rows) {
    const p = pm.get(key(r));
    r.peer = p ?? null;
    const best = p?.scaled_mm_blockwise ?? null;
    r.vsBlockwise = best ? best.us / r.us : undefined;
    r.vsBf16 = p?.bf16_matmul ? p.bf16_matmul.us / r.us : undefined;
  }
  table(['M', 'N', 'K', 'us', 'TFLOP/s', 'GB/s', '% copy', '% FP8 peak', 'torch blockwise us', 'x blockwise', 'torch bf16 us', 'x bf16'],
    rows.map((r) => [r.m, r.n, r.k, fmt(r.us, 1), fmt(r.TFLOPs), fmt(r.GBs, 0), fmt(100 * r.ofCopy, 0), fmt(100 * r.ofPeak, 0),
      fmt(r.peer?.scaled_mm_blockwise?.us, 1), fmt(r.vsBlockwise, 2), fmt(r.peer?.bf16_matmul?.us, 1), fmt(r.vsBf16, 2)]));
  console.log('\nGB/s counts A + B + C + scales once; x = torch time / our time (> 1: we are faster).');
  if (peer) {
    console.log(`peer: PyTorch ${peer.torch} (CUDA ${peer.cuda}) on ${peer.device}`);
    for (const [k, v] of Object.entries(peer.notes ?? {})) console.log(`peer note: ${k} unavailable: ${v}`);
  }
  return { device: dev, ceilings: { copyGBs: copy.GBs, fp8TFLOPs: peak.TFLOPs }, rows, peer: peer ? { torch: peer.torch, cuda: peer.cuda, notes: peer.notes } : null };
}

async function benchCpu() {
  console.log(`fp8Gemm on the CPU backend (no usable GPU: ${gpu.reason ?? 'none'}); ${machine()}`);
  await checkFp8Gemm(SHAPES[0] ?? ALL[0]);
  const rows = [];
  for (const s of SHAPES) {
    const { m, n, k } = s;
    const kb = Math.ceil(k / 128), nb = Math.ceil(n / 128);
    const a = { data: Tensor.fromArray(randomE4m3Codes(m * k, 7), [m, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([m, kb], 1 / 64) };
    const b = { data: Tensor.fromArray(randomE4m3Codes(n * k, 11), [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([nb, kb], 1 / 64) };
    const out = Tensor.empty([m, n], { dtype: 'bf16' });
    const bench = new Bench({ iterations: 5, time: 300, warmupIterations: 1, warmupTime: 0 });
    bench.add('op', async () => { fp8Gemm(a, b, { out }); await synchronize(); });
    await bench.run();
    const ms = bench.tasks[0].result.latency.p50;
    rows.push({ ...s, us: ms * 1000, TFLOPs: (2 * m * n * k) / ms / 1e9, GBs: bytesOf(s) / ms / 1e6 });
    [a.data, a.scale, b.data, b.scale, out].forEach((t) => t.dispose());
  }
  table(['M', 'N', 'K', 'us', 'GFLOP/s', 'GB/s'], rows.map((r) => [r.m, r.n, r.k, fmt(r.us, 0), fmt(r.TFLOPs * 1000), fmt(r.GBs, 1)]));
  console.log('\nCPU-only: wall time per call including the stream round trip; the CPU GEMM comparison with numpy is bench/gemm.bench.mjs.');
  return { device: 'cpu', rows };
}

const result = hasGpu ? await benchGpu() : await benchCpu();
writeJson('fp8_gemm', result);
