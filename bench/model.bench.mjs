// End-to-end model throughput on CPU, measured as users run the model: model.generate() (greedy, ignoreEos so a
// fixed count is decoded) reports prefill tokens/s (one forward of the prompt over a fresh latent cache, logits of
// the last row only, the pick on the device) and decode tokens/s (the greedy step replayed as a CPU step graph:
// lib/model/decode_graph.ts) for random checkpoints of the 'tiny' and 'small' presets (lib/presets.ts; generated
// once into <tmpdir>/dsv3-bench-ckpt). For the same-run comparison with llama.cpp see bench/llama_cpp.bench.mjs.
// Run: npx tsc -p tsconfig.build.json && node bench/model.bench.mjs [preset ...]
// (BENCH_ACTIVATIONS=f32,bf16,fp8 picks the modes; BENCH_JSON=path writes the rows as JSON)
import os from 'node:os';
import { join } from 'node:path';
import { dist, fmt, load, machine, table, writeJson } from './common.mjs';

const { loadModel, profile } = dist();
const { ensureRandomCheckpoint } = dist('cli');

const presets = process.argv.slice(2).length ? process.argv.slice(2) : ['tiny', 'small'];
const activations = (process.env.BENCH_ACTIVATIONS ?? 'f32,fp8').split(',');
const CASES = { tiny: { promptLen: 64, decode: 32 }, small: { promptLen: 128, decode: 32 } };
const REPEATS = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(model, promptLen, decode) {
  const vocab = model.config.vocabSize;
  let s = 12345;
  const ids = Array.from({ length: promptLen }, () => { s = (s * 1103515245 + 12345) >>> 0; return s % vocab; });
  const run = async (maxNewTokens) => {
    let stats;
    for await (const _ of model.generate(ids, { maxNewTokens, temperature: 0, ignoreEos: true, onStats: (x) => { stats = x; } })) { /* drain */ }
    return stats;
  };
  await run(4);  // warm-up
  const pre = [], dec = [];
  for (let r = 0; r < REPEATS; r++) {
    const st = await run(decode + 1);  // the prefill yields the first token; `decode` steps follow
    if (st.decodeForwards !== decode) throw new Error(`expected ${decode} decode steps, got ${st.decodeForwards}`);
    pre.push(st.prefillMs);
    dec.push(st.decodeMs);
  }
  const p = median(pre), d = median(dec);
  // Per-step overhead: decode wall time minus the time the CPU stream spent inside ops (profile.profileCpu; the
  // decode's op time is a whole run's minus a prefill-only run's). It is JS, queueing and thread wake-ups.
  let overheadMs;
  if (model.device === 'cpu') {
    const all = await profile.profileCpu(() => run(decode + 1)), pf = await profile.profileCpu(() => run(1));
    overheadMs = all.result.decodeMs / decode - (all.totalMs - pf.totalMs) / decode;
  }
  return { prefillMs: p, decodeMsPerToken: d / decode, prefillTokS: promptLen / (p / 1e3), decodeTokS: decode / (d / 1e3), overheadMs };
}

async function main() {
  const loadBefore = load();
  const rows = [];
  for (const preset of presets) {
    const dir = join(os.tmpdir(), 'dsv3-bench-ckpt', `${preset}-seed0`);
    const t0 = performance.now();
    const { created } = await ensureRandomCheckpoint(dir, preset, 0, { out: () => {}, err: () => {}, progress: false });
    if (created) console.log(`generated the ${preset} checkpoint in ${((performance.now() - t0) / 1e3).toFixed(1)} s (${dir})`);
    const { promptLen, decode } = CASES[preset] ?? { promptLen: 64, decode: 16 };
    for (const act of activations) {
      const l0 = performance.now();
      const model = await loadModel(dir, { activations: act });
      const loadS = (performance.now() - l0) / 1e3;
      const r = await measure(model, promptLen, decode);
      rows.push({ preset, activations: act, promptLen, decode, loadS, ...r,
        kvBytesPerToken: model.kvCacheBytesPerToken(), mhaBytesPerToken: model.mhaCacheBytesPerToken() });
      model.dispose();
    }
  }
  table(['preset', 'act', 'prompt', 'prefill ms', 'prefill tok/s', 'decode', 'decode ms/tok', 'decode tok/s', 'overhead ms/tok', 'load s'],
    rows.map((r) => [r.preset, r.activations, r.promptLen, fmt(r.prefillMs), fmt(r.prefillTokS), r.decode, fmt(r.decodeMsPerToken, 2), fmt(r.decodeTokS), fmt(r.overheadMs, 3), fmt(r.loadS, 2)]), [0, 1]);
  console.log(`\nmedian of ${REPEATS} runs after a warm-up; ${machine()} (now; before the runs: ${loadBefore})`);
  writeJson('model', { loadavg: { before: loadBefore, after: load() }, rows });
}

main().catch((e) => { console.error(e); process.exit(1); });
