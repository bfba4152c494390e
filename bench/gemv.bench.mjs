// Decode GEMVs (M = 1, 4, 8 rows of A against a weight matrix B [n, k]) on the CPU: GB/s of weight
// bytes streamed, for the `small` preset's decode shapes and DeepSeek-V3's, with fp8 (e4m3 128x128
// block scales, fp8 activations with per-128 scales: ops.fp8Gemm), bf16 and f32 weights, against the
// machine's read bandwidth (bench/membw.c, compiled here with cc). "hot": the same weights every call
// (cache-resident when they fit); "cold" (V3 shapes): rotates over copies of B totalling >= 512 MB, so
// the weights come from DRAM as in a real decode.
//
// Before / after in one run: list several addons (label=path); every round runs each addon once, in
// turn, as a child process (DSV3_ADDON=path), and the table shows the median over rounds per addon.
//   node bench/gemv.bench.mjs [--rounds 3] [--set small|v3|all] [--m 1,4,8] [--dtypes fp8,bf16,f32]
//        [--isa avx512,avx2] [--modes hot,cold] [--cold bytes] [--no-membw] [label=path/to/dsv3.node ...]
// Without addon arguments: the default addon (build/Release/dsv3.node, or DSV3_ADDON).
// Shapes: GEMV_BENCH_SMALL / GEMV_BENCH_V3 in test/cases/gemm.ts; each child checks its first shape against
// the float64 reference (every dtype it times) before timing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cases, dist, load, machine, mdTable, root, writeJson } from './common.mjs';
import { randomE4m3Codes } from './inputs.mjs';

const here = join(root, 'bench');
const { GEMV_BENCH_SMALL, GEMV_BENCH_V3 } = cases('gemm');
const SMALL = GEMV_BENCH_SMALL.map((s) => [s.what, s.n, s.k]);
const V3 = GEMV_BENCH_V3.map((s) => [s.what, s.n, s.k]);
const BYTES = { fp8: 1, bf16: 2, f32: 4 };

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args.splice(i, 2)[1] : def; };
const flag = (name) => { const i = args.indexOf(`--${name}`); if (i >= 0) args.splice(i, 1); return i >= 0; };

if (flag('child')) await child();
else await parent();

async function parent() {
  const rounds = Number(opt('rounds', '3'));
  const passOn = ['set', 'm', 'dtypes', 'isa', 'cold', 'modes'].flatMap((n) => { const v = opt(n, null); return v === null ? [] : [`--${n}`, v]; });
  const noMembw = flag('no-membw');
  const addons = args.length ? args.map((a) => { const i = a.indexOf('='); return i > 0 ? [a.slice(0, i), a.slice(i + 1)] : [a, a]; })
    : [['default', process.env.DSV3_ADDON ?? '']];
  for (const [, p] of addons) if (p && !existsSync(p)) throw new Error(`no addon at ${p}`);
  console.log(`# gemv bench: ${machine()}`);
  if (!noMembw) membw();
  const results = new Map();  // key -> label -> [GB/s per round]
  const order = [];
  for (let r = 0; r < rounds; r++) {
    for (const [label, path] of addons) {
      const env = { ...process.env };
      if (path) env.DSV3_ADDON = path;
      const c = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...passOn], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
      if (c.status !== 0) throw new Error(`child for ${label} failed: ${c.stderr}`);
      for (const line of c.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const row = JSON.parse(line);
        const key = `${row.set}|${row.name}|${row.n}x${row.k}|${row.dtype}|M=${row.m}|${row.isa}|${row.mode}`;
        if (!results.has(key)) { results.set(key, new Map()); order.push([key, row]); }
        const per = results.get(key);
        if (!per.has(label)) per.set(label, []);
        per.get(label).push(row.gbps);
      }
    }
    console.error(`round ${r + 1}/${rounds} done, load ${os.loadavg()[0].toFixed(2)}`);
  }
  const labels = addons.map(([l]) => l);
  const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[(s.length - 1) >> 1] : NaN; };
  console.log(`\nGB/s of weight bytes (median of ${rounds} interleaved rounds; each round's value is the median of 7 samples)`);
  const rows = order.map(([key, row]) => ({ ...row, gbps: labels.map((l) => med(results.get(key).get(l) ?? [])) }));
  mdTable(['set', 'weight', 'n x k', 'dtype', 'M', 'isa', 'mode', ...labels, ...labels.slice(1).map((l) => `${l}/${labels[0]}`)],
    rows.map((r) => [r.set, r.name, `${r.n}x${r.k}`, r.dtype, r.m, r.isa, r.mode, ...r.gbps.map((x) => x.toFixed(1)), ...r.gbps.slice(1).map((x) => (x / r.gbps[0]).toFixed(2))]));
  console.log(`load after: ${load()}`);
  writeJson('gemv', { rounds, addons: Object.fromEntries(addons), rows: rows.map(({ ms, ...r }) => ({ ...r, gbps: Object.fromEntries(labels.map((l, i) => [l, r.gbps[i]])) })) });
}

function membw() {
  const exe = join(os.tmpdir(), `dsv3-membw-${process.pid}`);
  const cc = spawnSync('cc', ['-O2', '-march=native', '-pthread', join(here, 'membw.c'), '-o', exe], { encoding: 'utf8' });
  if (cc.status !== 0) { console.log(`membw: skipped (cc failed: ${cc.stderr || cc.error})`); return; }
  const r = spawnSync(exe, [], { encoding: 'utf8' });
  console.log('read bandwidth (bench/membw.c, best of 5):');
  for (const line of r.stdout.trim().split('\n')) {
    const { bytes, threads, gbps } = JSON.parse(line);
    console.log(`  ${(bytes / 2 ** 20).toFixed(0).padStart(5)} MiB, ${threads} thread(s): ${gbps.toFixed(1)} GB/s`);
  }
}

async function child() {
  const { Tensor, synchronize } = dist();
  const g = dist('ops/gemm');
  const set = opt('set', 'all');
  const ms = opt('m', '1,4,8').split(',').map(Number);
  const dtypes = opt('dtypes', 'fp8,bf16,f32').split(',');
  const isas = opt('isa', 'avx512').split(',');
  const coldBytes = Number(opt('cold', String(512 << 20)));
  const modesWanted = opt('modes', 'hot,cold').split(',');
  const shapes = [...(set !== 'v3' ? SMALL.map((s) => ['small', ...s]) : []), ...(set !== 'small' ? V3.map((s) => ['v3', ...s]) : [])];
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[(s.length - 1) >> 1]; };
  if (shapes.length) {
    const { checkFp8Gemm, checkGemm } = await import('./gemm_check.mjs');
    const [, , n, k] = shapes[0];
    for (const dtype of dtypes) await (dtype === 'fp8' ? checkFp8Gemm({ m: ms[0], n, k }) : checkGemm({ m: ms[0], n, k }, dtype));
  }

  // Host values made once per shape and dtype (the copies of a cold run share them; each tensor has its own memory).
  let host = null;
  function weights(dtype, n, k) {
    const key = `${dtype} ${n} ${k}`;
    if (host?.key !== key) {
      let v;
      if (dtype === 'fp8') v = randomE4m3Codes(n * k, (n * 7919 + k) >>> 0);
      else { v = new Float32Array(n * k); for (let i = 0; i < v.length; i++) v[i] = ((i * 0.6180339887) % 1) - 0.5; }
      host = { key, v };
    }
    if (dtype === 'fp8') {
      return { data: Tensor.fromArray(host.v, [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([Math.ceil(n / 128), Math.ceil(k / 128)], 1 / 64) };
    }
    return Tensor.fromFloats(host.v, [n, k], { dtype: dtype === 'bf16' ? 'bf16' : 'f32' });
  }
  const dispose = (w) => (w.data ? [w.data, w.scale] : [w]).forEach((t) => t.dispose());

  for (const [setName, name, n, k] of shapes) {
    for (const dtype of dtypes) {
      const bytes = n * k * BYTES[dtype];
      const modes = (setName === 'v3' ? ['hot', 'cold'] : ['hot']).filter((x) => modesWanted.includes(x));
      for (const mode of modes) {
        const copies = mode === 'cold' ? Math.max(2, Math.ceil(coldBytes / bytes)) : 1;
        const ws = Array.from({ length: copies }, () => weights(dtype, n, k));
        for (const m of ms) {
          const kb = Math.ceil(k / 128);
          const a = dtype === 'fp8'
            ? { data: Tensor.fromArray(randomE4m3Codes(m * k, 12345), [m, k], { dtype: 'f8_e4m3' }), scale: Tensor.full([m, kb], 1 / 64) }
            : Tensor.randn([m, k], { seed: 7, dtype: dtype === 'bf16' ? 'bf16' : 'f32' });
          const out = Tensor.empty([m, n], { dtype: dtype === 'f32' ? 'f32' : 'bf16' });
          for (const isa of isas) {
            let w = 0;
            const call = () => {
              const b = ws[w]; w = (w + 1) % copies;
              if (dtype === 'fp8') g.fp8Gemm(a, b, { out, cpuIsa: isa });
              else g.gemm(a, b, { out, cpuIsa: isa });
            };
            const t0 = performance.now();
            for (let i = 0; i < 2 * copies; i++) call();
            await synchronize();
            const once = Math.max((performance.now() - t0) / (2 * copies), 0.002);
            const reps = Math.max(copies, Math.ceil(15 / once));
            const samples = [];
            for (let s = 0; s < 7; s++) {
              const t = performance.now();
              for (let i = 0; i < reps; i++) call();
              await synchronize();
              samples.push((performance.now() - t) / reps);
            }
            const msPer = median(samples);
            console.log(JSON.stringify({ set: setName, name, n, k, dtype, m, isa, mode, ms: msPer, gbps: bytes / msPer / 1e6 }));
          }
          (a.data ? [a.data, a.scale] : [a]).forEach((t) => t.dispose());
          out.dispose();
        }
        ws.forEach(dispose);
      }
    }
  }
}
