// `npm run bench`: runs every bench/*.bench.mjs in its own process, in order, against the compiled
// package in dist/ (built by `npm install`'s prepare step, or `npm run build`). Each script prints its
// own table; when BENCH_JSON is set, their JSON outputs are merged into that file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, '..', 'dist', 'index.js'))) {
  console.error('bench: dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const only = process.argv.slice(2);
// CPU-only benchmarks are skipped on a machine with a usable GPU (its time is for the CUDA kernels)
// unless named on the command line or DSV3_BENCH_CPU=1.
const CPU_ONLY = ['gemm.bench.mjs', 'model.bench.mjs', 'serve.bench.mjs', 'llama_cpp.bench.mjs', 'gemv.bench.mjs'];
// Long benchmarks that run only when asked for (named on the command line, or their variable set to 1).
const OPT_IN = {
  'model_gpu.bench.mjs': ['DSV3_BENCH_MODEL', 'writes a ~35 GB V3-dimension checkpoint first'],
  'llama_cpp.bench.mjs': ['DSV3_BENCH_LLAMA', 'builds llama.cpp on first use: 10-25 min'],
};
const { backends } = createRequire(import.meta.url)(join(here, '..', 'dist', 'index.js'));
const skipCpu = backends().cuda.available && process.env.DSV3_BENCH_CPU !== '1' && only.length === 0;
const scripts = readdirSync(here).filter((f) => f.endsWith('.bench.mjs') && (only.length === 0 || only.some((o) => f.includes(o))))
  .filter((f) => !(skipCpu && CPU_ONLY.includes(f)))
  .filter((f) => only.length > 0 || !(f in OPT_IN) || process.env[OPT_IN[f][0]] === '1').sort();
if (skipCpu) console.log(`bench: GPU present: skipping the CPU-only ${CPU_ONLY.join(', ')} (DSV3_BENCH_CPU=1 runs them)`);
for (const [f, [v, why]] of Object.entries(OPT_IN)) {
  if (only.length === 0 && process.env[v] !== '1') console.log(`bench: skipping ${f} (${why}): ${v}=1 or \`npm run bench ${f.replace('.bench.mjs', '')}\` runs it`);
}
const tmp = mkdtempSync(join(tmpdir(), 'dsv3-bench-'));
const merged = { date: new Date().toISOString(), results: {} };
let failed = 0;
for (const s of scripts) {
  console.log(`\n### ${s}`);
  const part = join(tmp, `${s}.json`);
  const r = spawnSync(process.execPath, [join(here, s)], { stdio: 'inherit', env: { ...process.env, BENCH_JSON: part } });
  if (r.status !== 0) { failed++; console.error(`bench: ${s} exited ${r.status}`); continue; }
  if (existsSync(part)) merged.results[s] = JSON.parse(readFileSync(part, 'utf8'));
}
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(merged, null, 2));
process.exit(failed ? 1 : 0);
