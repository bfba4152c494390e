// Same-run benchmark against llama.cpp on CPU (issue 17), llama-bench style: the engine is timed in a fresh
// process per round, not through a JS wrapper. On the same random checkpoint (tiny / small presets,
// <tmpdir>/dsv3-bench-ckpt/<preset>-seed0), converted by bench/peers/gguf.mjs, three precision pairs:
//   dsv3 activations 'f32' vs GGUF F32, 'bf16' vs BF16, 'fp8' (FP8 weights, fp8Gemm) vs Q8_0.
// Each round runs, in alternating order:
//   - ours: a child node process (DSV3_NUM_THREADS=2) loads the model, does a warm-up generate, then
//     model.generate(prompt of 128 ids, { maxNewTokens: 33, temperature: 0, ignoreEos: true, onStats }):
//     prefill tok/s = 128 / time of the prompt forward, decode tok/s = 32 / time of the 32 decode forwards
//     (at KV depth 128..159);
//   - llama.cpp: llama-bench -m <gguf> -p 128 -n 32 -d 0,128 -t 2 -r 1 -o json (its own warm-up run):
//     pp128 at depth 0 is compared with our prefill, tg32 at depth 128 with our decode (tg32 at depth 0,
//     llama-bench's default, is printed too).
// Medians and min/max over BENCH_ROUNDS rounds (default 12). Before any timing, bench/peers/llama_cpp_check.mjs
// compares llama.cpp's logits with ours (f32): a pair whose conversion does not match is not reported (the
// reason is printed). Also printed: weight bytes touched per decoded token (the attention, dense and shared
// weights, top-k of the routed experts, one embedding row, lm_head), the GB/s that makes at the decode rate,
// and the machine's read bandwidth measured in the same run (bench/peers/read_bandwidth.py); the decode's read
// floor (bench/decode_floor.c: the time to just read a token's bytes, dense part and fresh random experts); the prefill's
// weight FLOP rate of both engines against the f32 FMA ceiling of the same run (bench/fmapeak.c).
//
// Run: npx tsc -p tsconfig.build.json && node bench/llama_cpp.bench.mjs [preset ...]   (default: small tiny)
// BENCH_ROUNDS=n, BENCH_PAIRS=f32,bf16,fp8 (a subset), BENCH_LLAMA_ARGS='...' (more llama-bench options, e.g.
// '-fa 0' or '--poll 0'), BENCH_JSON=path writes everything as JSON.
// llama.cpp is found or built by bench/peers/llama_cpp.mjs (node-llama-cpp@3.22.1's llama.cpp source, in
// ~/.cache/dsv3-peers; the first build takes 10-25 minutes on 2 cores).
import { execSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitId, dist, load, machine, root, table, writeJson } from './common.mjs';

const here = join(root, 'bench');
const THREADS = 2, PROMPT = 128, DECODE = 32;
const PAIRS = { f32: 'f32', bf16: 'bf16', fp8: 'q8_0' }; // our activations -> GGUF type
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const stats = (xs) => (xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, all: xs } : null);

// ---------- child: one fresh process, one measured generate ----------
async function child([dir, act, promptLen, decode]) {
  const { loadModel } = dist();
  const { promptIds } = await import('./peers/llama_cpp_check.mjs');
  const model = await loadModel(dir, { activations: act });
  const ids = promptIds(model.config.vocabSize, Number(promptLen), 777);
  const gen = async () => {
    let s;
    for await (const _ of model.generate(ids, { maxNewTokens: Number(decode) + 1, temperature: 0, ignoreEos: true, onStats: (x) => { s = x; } })) { /* drain */ }
    return s;
  };
  await gen(); // warm-up
  const s = await gen();
  model.dispose();
  process.stdout.write(`${JSON.stringify({ prefillTokS: s.prefillTokensPerS, decodeTokS: s.decodeTokensPerS, prefillMs: s.prefillMs, decodeMs: s.decodeMs, decodeForwards: s.decodeForwards, generated: s.generatedTokens })}\n`);
}

function runOurs(dir, act) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, act, String(PROMPT), String(DECODE)],
    { encoding: 'utf8', env: { ...process.env, DSV3_NUM_THREADS: String(THREADS) }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`dsv3 child failed (${r.status}): ${(r.stderr || '').trim().split('\n').slice(-5).join('\n')}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  if (res.decodeForwards !== DECODE) throw new Error(`dsv3 child decoded ${res.decodeForwards} forwards, expected ${DECODE}`);
  return res;
}

function runLlamaBench(bin, gguf) {
  const extra = (process.env.BENCH_LLAMA_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = ['-m', gguf, '-p', String(PROMPT), '-n', String(DECODE), '-d', `0,${PROMPT}`, '-t', String(THREADS), '-r', '1', ...extra, '-o', 'json'];
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`llama-bench failed (${r.status}): ${(r.stderr || '').trim().split('\n').slice(-5).join('\n')}`);
  const rows = JSON.parse(r.stdout);
  const pick = (p, n, d) => rows.find((x) => x.n_prompt === p && x.n_gen === n && x.n_depth === d);
  const pp = pick(PROMPT, 0, 0), tgDeep = pick(0, DECODE, PROMPT), tg0 = pick(0, DECODE, 0);
  if (!pp || !tgDeep || !tg0) throw new Error(`llama-bench output without pp${PROMPT}/tg${DECODE} rows: ${r.stdout.slice(0, 400)}`);
  return { prefillTokS: pp.avg_ts, decodeTokS: tgDeep.avg_ts, decodeD0TokS: tg0.avg_ts, args: args.join(' '), info: pp };
}

// ---------- weight bytes touched per decoded token ----------
function safetensorsHeaders(dir) {
  const idx = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  const out = new Map();
  for (const f of new Set(Object.values(idx.weight_map))) {
    const fd = openSync(join(dir, f), 'r');
    const lb = Buffer.alloc(8); readSync(fd, lb, 0, 8, 0);
    const hb = Buffer.alloc(Number(lb.readBigUInt64LE(0))); readSync(fd, hb, 0, hb.length, 8);
    closeSync(fd);
    for (const [k, v] of Object.entries(JSON.parse(hb.toString('utf8')))) if (k !== '__metadata__') out.set(k, v);
  }
  return out;
}
function ggufTensors(path) { // name, ne, type of every tensor (GGUF v3 header)
  const fd = openSync(path, 'r');
  const size = 1 << 24, buf = Buffer.alloc(size);
  const n = readSync(fd, buf, 0, size, 0);
  closeSync(fd);
  let p = 8;
  const u32 = () => { const v = buf.readUInt32LE(p); p += 4; return v; };
  const u64 = () => { const v = Number(buf.readBigUInt64LE(p)); p += 8; return v; };
  const str = () => { const l = u64(); const s = buf.toString('utf8', p, p + l); p += l; return s; };
  const nT = u64(), nKv = u64();
  const sizes = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const skip = (t) => { if (t === 8) str(); else if (t === 9) { const et = u32(), cnt = u64(); for (let i = 0; i < cnt; i++) skip(et); } else p += sizes[t]; };
  for (let i = 0; i < nKv; i++) { str(); skip(u32()); }
  const ts = [];
  for (let i = 0; i < nT; i++) { const name = str(); const nd = u32(); const ne = Array.from({ length: nd }, u64); const type = u32(); u64(); ts.push({ name, ne, type }); }
  if (p > n) throw new Error(`${path}: header larger than ${size} bytes`);
  return ts;
}
const GGML_BYTES = { 0: 4, 1: 2, 30: 2, 8: 34 / 32 };
function activeBytesGguf(path, cfg) {
  let b = 0;
  for (const t of ggufTensors(path)) {
    const elems = t.ne.reduce((x, y) => x * y, 1), bytes = elems * GGML_BYTES[t.type];
    if (t.name === 'token_embd.weight') b += bytes / cfg.vocab_size;
    else if (t.name.includes('_exps.')) b += bytes * cfg.num_experts_per_tok / cfg.n_routed_experts;
    else b += bytes;
  }
  return b;
}
// Ours: 'f32' holds every weight in f32, 'bf16' in bf16 (norms and the router bias in f32), 'fp8' keeps the fp8
// weights in 1 byte plus their f32 128x128 block scales and the bf16 ones (embedding, lm_head, router) in bf16.
// Split as the decode floor reads them: `dense` (every token: attention, dense and shared weights, one embedding
// row, lm_head) and `expert` (one routed expert of one MoE layer); a token touches dense + moeLayers x top-k x expert.
function activeSplitOurs(dir, cfg, act) {
  let dense = 0, routed = 0;
  for (const [name, t] of safetensorsHeaders(dir)) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= cfg.num_hidden_layers) continue; // MTP
    if (name.endsWith('weight_scale_inv') && act !== 'fp8') continue;
    const elems = t.shape.reduce((x, y) => x * y, 1);
    const small = t.shape.length <= 1;
    const per = act === 'f32' ? 4 : act === 'bf16' ? (small ? 4 : 2) : t.dtype === 'F8_E4M3' ? 1 : t.dtype === 'F32' ? 4 : 2;
    const bytes = elems * per;
    if (name === 'model.embed_tokens.weight') dense += bytes / cfg.vocab_size;
    else if (/\.mlp\.experts\.\d+\./.test(name)) routed += bytes;
    else dense += bytes;
  }
  const moeLayers = cfg.num_hidden_layers - cfg.first_k_dense_replace;
  const expert = routed / (moeLayers * cfg.n_routed_experts);
  return { dense, expert, moeLayers, total: dense + moeLayers * cfg.num_experts_per_tok * expert };
}

// What the dsv3 rows measured: dist/ and the addon as they are (in a shared checkout, possibly built from
// uncommitted work), with their build times and the modified tracked files.
function builtFrom() {
  const t = (p) => { try { return statSync(resolve(root, p)).mtime.toISOString(); } catch { return null; } };
  const head = commitId(true) ?? null;
  let dirty = [];
  try {
    dirty = execSync('git status --porcelain --untracked-files=no', { cwd: here, stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter(Boolean).map((l) => l.slice(3));
  } catch { /* not a checkout */ }
  const addonPath = process.env.DSV3_ADDON || 'build/Release/dsv3.node';  // what the children load
  const r = { head, dirty, dist: t('dist/index.js'), addonPath, addon: t(addonPath) };
  r.describe = `dist/ built ${r.dist}, addon ${addonPath} built ${r.addon}; checkout at ${head}` +
    (dirty.length ? ` with ${dirty.length} modified tracked files (${dirty.slice(0, 8).join(', ')}${dirty.length > 8 ? ', ...' : ''})` : ', clean');
  return r;
}

// Memory read bandwidth of this machine in this run (bench/peers/read_bandwidth.py: numpy sums of 1 GiB on
// THREADS threads, best of 5; a lower bound where numpy's summation is not purely bandwidth-bound).
function readBandwidth() {
  const r = spawnSync('python3', [join(here, 'peers', 'read_bandwidth.py'), String(THREADS), '1024', '5'], { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || '').trim().split('\n').pop() };
  return JSON.parse(r.stdout);
}

// A C measuring tool of bench/ (fmapeak.c, decode_floor.c), compiled here with cc -O3 -march=native once per process
// and run with `args`: its one JSON line, or { error }.
const toolExes = new Map();
process.on('exit', () => { for (const exe of toolExes.values()) if (typeof exe === 'string') try { unlinkSync(exe); } catch { /* gone */ } });
function runTool(file, args) {
  if (!toolExes.has(file)) {
    const exe = join(os.tmpdir(), `dsv3-${file.replace(/\.c$/, '')}-${process.pid}`);
    const cc = spawnSync('cc', ['-O3', '-march=native', '-pthread', join(here, file), '-o', exe], { encoding: 'utf8' });
    toolExes.set(file, cc.status === 0 ? exe : { error: `cc failed: ${(cc.stderr || cc.error?.message || '').trim().split('\n').pop()}` });
  }
  const exe = toolExes.get(file);
  if (typeof exe !== 'string') return exe;
  const r = spawnSync(exe, args.map(String), { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || '').trim() };
  return JSON.parse(r.stdout);
}

// The f32 FMA ceiling of THREADS threads in this run (bench/fmapeak.c).
const fmaPeak = () => runTool('fmapeak.c', [THREADS]);

// The read floor of our decode step in this run (bench/decode_floor.c): the time THREADS threads take just to read
// the bytes a token touches (the dense part every token, fresh random top-k experts per MoE layer), i.e. the decode
// rate of an engine bound by memory alone on this machine.
function decodeFloor(split, cfg) {
  const tokens = Math.max(40, Math.min(400, Math.round(3e10 / split.total)));  // about 30 GB read
  const o = runTool('decode_floor.c', [THREADS, split.dense, split.expert, split.moeLayers, cfg.n_routed_experts, cfg.num_experts_per_tok, tokens]);
  return o.error ? o : { ...o, tokS: 1000 / o.msPerToken };
}

// FLOPs of a prefill of `tokens` tokens counted on the weights alone: 2 per weight a token touches (attention,
// dense and shared weights, its top-k routed experts), lm_head for the last row only; attention scores not counted.
function prefillWeightFlops(dir, cfg, tokens) {
  const lmHead = cfg.vocab_size * cfg.hidden_size;
  const perToken = activeSplitOurs(dir, cfg, 'f32').total / 4 - lmHead - cfg.hidden_size;  // less lm_head and the embedding row
  return 2 * perToken * tokens + 2 * lmHead;
}

// ---------- main ----------
async function main() {
  const { ensureLlamaCpp } = await import('./peers/llama_cpp.mjs');
  const { ensureCheckpoint, ensureGguf, checkConversion } = await import('./peers/llama_cpp_check.mjs');
  const named = process.argv.slice(2);
  // A CPU benchmark: on a machine with a usable GPU (npm run bench there is for the CUDA kernels) it runs only
  // when presets are named or DSV3_BENCH_CPU=1, like bench/run.mjs's CPU-only list.
  if (named.length === 0 && process.env.DSV3_BENCH_CPU !== '1' && dist().backends().cuda.available) {
    console.log('llama_cpp.bench: GPU present: skipped (a CPU benchmark; DSV3_BENCH_CPU=1 or naming a preset runs it)');
    return;
  }
  const presets = named.length ? named : ['small', 'tiny'];
  const rounds = Number(process.env.BENCH_ROUNDS ?? 12);
  const pairs = (process.env.BENCH_PAIRS ?? 'f32,bf16,fp8').split(',');
  for (const p of pairs) if (!(p in PAIRS)) throw new Error(`BENCH_PAIRS: ${p} is not one of ${Object.keys(PAIRS)}`);
  const loadBefore = load();
  const llama = ensureLlamaCpp({ log: (s) => console.log(s) });
  console.log(`llama.cpp: node-llama-cpp@${llama.nodeLlamaCpp} (${llama.repo} ${llama.release}), source ${llama.commit.slice(0, 10)} ${llama.commitDate}; ${llama.llamaBench}`);
  console.log(`${machine()}; ${THREADS} threads both; prompt ${PROMPT}, decode ${DECODE}; ${rounds} rounds`);

  const bw = readBandwidth();
  console.log(bw.error ? `read bandwidth: not measured (${bw.error})` : `read bandwidth (numpy sum of 1 GiB, ${bw.threads} threads, best of 5): ${(bw.bytes_per_s / 1e9).toFixed(1)} GB/s`);
  const peak = fmaPeak();
  console.log(peak.error ? `FMA ceiling: not measured (${peak.error})` : `FMA ceiling (bench/fmapeak.c, ${peak.isa}, ${peak.threads} threads, best of 10): ${peak.gflops.toFixed(0)} GFLOP/s f32`);
  const checks = [], rows = [];
  let llamaInfo = null;
  for (const preset of presets) {
    const dir = await ensureCheckpoint(preset);
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const res = await checkConversion({ preset, dir, precisions: pairs.map((p) => PAIRS[p]), llama, log: (s) => console.log(s) });
    checks.push(...res);
    const f32Ok = res.find((r) => r.precision === 'f32')?.ok ?? true;
    const ppFlops = prefillWeightFlops(dir, cfg, PROMPT);
    for (const act of pairs) {
      const ggufType = PAIRS[act];
      const chk = res.find((r) => r.precision === ggufType);
      if (!chk.ok || !f32Ok) {
        const why = !chk.ok ? chk.why : 'the F32 conversion does not match ours, so no conversion is trusted';
        console.log(`NOT REPORTED: ${preset} dsv3 ${act} vs llama.cpp ${ggufType.toUpperCase()}: ${why}`);
        rows.push({ preset, act, ggufType, refused: why });
        continue;
      }
      const gguf = ensureGguf(dir, preset, ggufType);
      const split = activeSplitOurs(dir, cfg, act);
      const ours = [], theirs = [], loads = [];
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['ours', 'llama'] : ['llama', 'ours'];
        for (const who of order) {
          if (who === 'ours') ours.push(runOurs(dir, act));
          else { const t = runLlamaBench(llama.llamaBench, gguf); llamaInfo ??= t.info; theirs.push(t); }
        }
        loads.push(os.loadavg()[0]);
        process.stdout.write(`\r${preset} ${act}/${ggufType}: round ${r + 1}/${rounds} (load ${os.loadavg()[0].toFixed(2)})   `);
      }
      process.stdout.write('\n');
      const row = {
        preset, act, ggufType, rounds,
        ours: { prefill: stats(ours.map((x) => x.prefillTokS)), decode: stats(ours.map((x) => x.decodeTokS)) },
        llama: { prefill: stats(theirs.map((x) => x.prefillTokS)), decode: stats(theirs.map((x) => x.decodeTokS)), decodeDepth0: stats(theirs.map((x) => x.decodeD0TokS)) },
        llamaBenchArgs: theirs[0].args.replace(gguf, '<gguf>'),
        activeBytesPerToken: { ours: split.total, llama: activeBytesGguf(gguf, cfg) },
        decodeFloor: decodeFloor(split, cfg),
        prefillWeightFlops: ppFlops,
        loadavg1m: stats(loads), check: { maxRelErr: chk.maxRelErr, medianRelErr: chk.medianRelErr, argmaxAgree: chk.argmaxAgree, greedyAgree: chk.greedyAgree, steps: chk.steps },
      };
      row.prefillRatio = row.ours.prefill.median / row.llama.prefill.median;
      row.decodeRatio = row.ours.decode.median / row.llama.decode.median;
      rows.push(row);
    }
  }

  const f = (x, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x.toFixed(d));
  const mm = (s) => `${f(s.median)} [${f(s.min)}-${f(s.max)}]`;
  console.log(`\ntokens/s, median [min-max] of ${rounds} interleaved rounds; ratio = dsv3 / llama.cpp (medians)`);
  const gflops = (r, who) => r.prefillWeightFlops * r[who].prefill.median / PROMPT / 1e9;
  table(['preset', 'dsv3 vs llama.cpp', 'prefill dsv3', 'prefill llama.cpp', 'ratio', 'decode dsv3', 'decode llama.cpp (d128)', 'ratio', 'llama tg d0', 'MB/tok dsv3', 'MB/tok llama', 'GB/s dsv3', 'GB/s llama', 'floor tok/s', 'dsv3 / floor', 'llama / floor', 'pp GFLOP/s dsv3', 'pp GFLOP/s llama'],
    rows.filter((r) => !r.refused).map((r) => [r.preset, `${r.act} vs ${r.ggufType.toUpperCase()}`, mm(r.ours.prefill), mm(r.llama.prefill), f(r.prefillRatio, 2), mm(r.ours.decode), mm(r.llama.decode), f(r.decodeRatio, 2),
      f(r.llama.decodeDepth0.median), f(r.activeBytesPerToken.ours / 1e6, 1), f(r.activeBytesPerToken.llama / 1e6, 1),
      f(r.activeBytesPerToken.ours * r.ours.decode.median / 1e9, 1), f(r.activeBytesPerToken.llama * r.llama.decode.median / 1e9, 1),
      f(r.decodeFloor.tokS), f(r.ours.decode.median / r.decodeFloor.tokS, 2), f(r.llama.decode.median / r.decodeFloor.tokS, 2),
      f(gflops(r, 'ours')), f(gflops(r, 'llama'))]), [0, 1]);
  for (const r of rows.filter((x) => x.refused)) console.log(`${r.preset} ${r.act} vs ${r.ggufType.toUpperCase()}: not reported: ${r.refused}`);
  console.log(`\nMB/tok: weight bytes touched per decoded token; GB/s: that times the median decode rate` +
    (bw.error ? '.' : ` (read bandwidth measured in this run: ${(bw.bytes_per_s / 1e9).toFixed(1)} GB/s; the weights of a small model partly sit in the last-level cache).`));
  console.log('floor tok/s: the decode rate of an engine bound by memory alone: bench/decode_floor.c reads (sums) our decode step\'s ' +
    'bytes on the same threads, the dense part every token and fresh random top-k experts per MoE layer (median after a warm-up); ' +
    'x / floor: the median decode rate against it (llama.cpp\'s bytes per token differ slightly from ours, see MB/tok)' +
    rows.filter((r) => !r.refused && r.decodeFloor.error).map((r) => `; ${r.preset} ${r.act}: floor not measured (${r.decodeFloor.error})`).join('') + '.');
  console.log(`pp GFLOP/s: 2 x the weights each prompt token touches x 128 tokens (lm_head once, attention scores not counted) at the median prefill rate` +
    (peak.error ? '.' : ` (f32 FMA ceiling measured in this run: ${peak.gflops.toFixed(0)} GFLOP/s on ${peak.threads} threads).`));
  console.log(`logits check (prompt of 16 ids, ours f32 vs llama.cpp): ${checks.map((c) => `${c.preset} ${c.precision.toUpperCase()} ${c.ok ? 'ok' : 'FAILED'} rel. error max ${c.maxRelErr?.toExponential(1) ?? '-'} median ${c.medianRelErr?.toExponential(1) ?? '-'} argmax ${c.argmaxAgree ?? '-'}/${c.positions ?? '-'} greedy ${c.greedyAgree ?? '-'}/${c.steps ?? '-'}`).join('; ')}`);
  if (llamaInfo) console.log(`llama-bench: build ${llamaInfo.build_commit} (${llamaInfo.build_number}), backends ${llamaInfo.backends}, flash_attn ${llamaInfo.flash_attn}, type_k ${llamaInfo.type_k}, n_batch ${llamaInfo.n_batch}, n_ubatch ${llamaInfo.n_ubatch}, load_mode ${llamaInfo.load_mode}, poll ${llamaInfo.poll}; cpu ${llamaInfo.cpu_info}`);
  console.log(`load average before: ${loadBefore}, after: ${load()}`);
  const built = builtFrom();
  console.log(`dsv3 measured: ${built.describe}`);

  writeJson('llama_cpp', {
      dsv3Build: built, readBandwidth: bw, fmaPeak: peak, threads: THREADS, promptLen: PROMPT, decode: DECODE, rounds, loadavg: { before: loadBefore, after: load() },
      llamaCpp: { ...llama, llamaBenchBuild: llamaInfo && { build_commit: llamaInfo.build_commit, build_number: llamaInfo.build_number, flash_attn: llamaInfo.flash_attn, poll: llamaInfo.poll, type_k: llamaInfo.type_k, n_batch: llamaInfo.n_batch, n_ubatch: llamaInfo.n_ubatch, cpu_info: llamaInfo.cpu_info } },
      checks: checks.map(({ oursGreedy, llamaGreedy, ...c }) => c), rows,
  });
}

if (process.argv[2] === '--child') child(process.argv.slice(3)).catch((e) => { console.error(e); process.exit(1); });
else main().catch((e) => { console.error(e); process.exit(1); });
