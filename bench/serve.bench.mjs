// Serving benchmark in the manner of vLLM's benchmarks/benchmark_serving.py: an OpenAI-compatible server on
// 127.0.0.1 (lib/serve, continuous batching) and streaming clients at a fixed concurrency, each sending
// /v1/completions requests of random prompt ids and a fixed max_tokens. Reports requests/s, output tokens/s, time
// to first token and inter-token latency (p50, p99) per concurrency. Random `small` checkpoint (cached in
// <tmpdir>/dsv3-bench-ckpt), CPU. Run: npm run build && node bench/serve.bench.mjs
// (BENCH_PRESET, BENCH_ACTIVATIONS (default fp8), BENCH_CONCURRENCY (default 1,8,32), BENCH_PROMPT (64),
// BENCH_OUTPUT (32), BENCH_JSON=path writes the rows as JSON)
import os from 'node:os';
import { join } from 'node:path';
import { commitId, dist, load, machine, mdTable, writeJson } from './common.mjs';

const { loadModel } = dist();
const { ensureRandomCheckpoint } = dist('cli');
const { createServer } = dist('serve/server');

const preset = process.env.BENCH_PRESET ?? 'small';
const activations = process.env.BENCH_ACTIVATIONS ?? 'fp8';
const levels = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map(Number);
const promptLen = Number(process.env.BENCH_PROMPT ?? 64), outLen = Number(process.env.BENCH_OUTPUT ?? 32);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN; };

/** One streamed request: the arrival time of every chunk that carries text. */
async function request(url, ids) {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: preset, prompt: ids, max_tokens: outLen, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const times = [];
  let buf = '', tokens = 0, text = '';
  const dec = new TextDecoder();
  for await (const part of r.body) {
    buf += dec.decode(part, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i); buf = buf.slice(i + 2);
      if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
      const o = JSON.parse(ev.slice(6));
      if (o.usage) tokens = o.usage.completion_tokens;
      if (o.choices?.[0]?.text) { times.push(performance.now()); text += o.choices[0].text; }
    }
  }
  return { t0, times, tokens, text, ids };
}

let last = [];
async function level(url, vocab, c) {
  const n = Math.max(8, 2 * c);
  let seed = 777 + c, next = 0;
  const prompt = () => Array.from({ length: promptLen }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return 2 + (seed % (vocab - 2)); });
  const prompts = Array.from({ length: n }, prompt);
  const out = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c }, async () => { while (next < n) out.push(await request(url, prompts[next++])); }));
  const secs = (performance.now() - t0) / 1e3;
  const ttft = out.filter((r) => r.times.length).map((r) => r.times[0] - r.t0);
  const itl = out.flatMap((r) => r.times.slice(1).map((t, i) => t - r.times[i]));
  const tokens = out.reduce((a, r) => a + r.tokens, 0);
  last = out;
  return { concurrency: c, requests: n, seconds: secs, reqPerS: n / secs, outTokPerS: tokens / secs, outputTokens: tokens,
    ttftP50: pct(ttft, 50), ttftP99: pct(ttft, 99), itlP50: pct(itl, 50), itlP99: pct(itl, 99) };
}

const dir = join(os.tmpdir(), 'dsv3-bench-ckpt', `${preset}-seed0`);
await ensureRandomCheckpoint(dir, preset, 0, { out: () => {}, err: () => {}, progress: false });
const model = await loadModel(dir, { activations });
const srv = createServer(model, model.tokenizer, { modelName: preset, maxBatch: 32, maxQueue: 1024, kvTokens: 64 * 64 * 8, prefillChunk: 64 });
const url = await srv.app.listen({ host: '127.0.0.1', port: 0 });
const load0 = load();
console.log(`serve bench: ${preset} ${activations}, prompt ${promptLen} ids, max_tokens ${outLen} (greedy), commit ${commitId(true)}, ${machine()}`);
await level(url, model.config.vocabSize, 2);  // warm-up
const rows = [];
for (const c of levels) rows.push(await level(url, model.config.vocabSize, c));
const f = (x, d = 1) => x.toFixed(d);
mdTable(['concurrency', 'requests', 's', 'req/s', 'output tok/s', 'TTFT p50 ms', 'TTFT p99 ms', 'ITL p50 ms', 'ITL p99 ms'],
  rows.map((r) => [r.concurrency, r.requests, f(r.seconds, 2), f(r.reqPerS, 2), f(r.outTokPerS), f(r.ttftP50), f(r.ttftP99), f(r.itlP50), f(r.itlP99)]));
// the content check: a few requests of the last level against the same prompt generated alone (greedy). Exact in
// f32; with bf16/fp8 activations a row's GEMM result depends on how many rows share the step (the CPU GEMM
// switches kernels with M, ~1e-5 apart), which bf16/fp8 rounding can grow into another greedy token: counted only.
let same = 0;
const sample = last.slice(0, 4);
for (const r of sample) {
  const ids = [];
  for await (const t of model.generate(r.ids, { maxNewTokens: outLen })) ids.push(t.id);
  if (model.tokenizer.decode(ids) === r.text) same++;
  else if (activations === 'f32') throw new Error(`serve bench: a batched output differs from the same prompt served alone (${JSON.stringify(r.text)})`);
}
console.log(`content: ${same} of ${sample.length} outputs of the last level equal greedy Model.generate alone (${activations})`);
console.log(`load average after: ${load()}; steps ${srv.scheduler.steps}`);
await srv.close();
model.dispose();
writeJson('serve', { preset, activations, promptLen, outLen, load: load0, rows, contentSame: same, contentChecked: sample.length });
