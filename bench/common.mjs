// Shared by the bench/*.bench.mjs scripts: the machine line, number formatting, aligned tables, the
// commit id, the BENCH_JSON output, and the op case tables of test/cases/ (the V3 shapes, tolerances)
// with the float64 references of test/reference/, so that each benchmark checks one case before it
// times anything. The case tables are TypeScript without runtime imports outside test/: they are
// transpiled here on load (typescript is a dev dependency, as tinybench is), nothing is built.
import { execSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'test');

/** The compiled package (dist/, from `npx tsc -p tsconfig.build.json`): `dist()` or `dist('ops/gemm')`. */
export const dist = (path = 'index') => require(join(root, 'dist', `${path}.js`));

// ---- the machine, the commit ----
/** The load average, as printed in the machine line. */
export const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
export const cpuModel = () => (os.cpus()[0]?.model ?? '?').trim();
/** "<cpus> x <model>, node <version>, load average <1 5 15 min>". */
export const machine = () => `${os.cpus().length} x ${cpuModel()}, node ${process.version}, load average ${load()}`;
/** HEAD of the checkout (undefined outside one); `short` gives the abbreviated id. */
export function commitId(short = false) {
  try {
    return execSync(`git rev-parse ${short ? '--short ' : ''}HEAD`, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch { return undefined; }
}

// ---- output ----
/** x with d decimals; '-' for undefined, null, NaN or infinities. */
export const fmt = (x, d = 1) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(d));

/** Prints an aligned table. `left`: column indices (or a predicate on the index) padded on the right. */
export function table(head, body, left = []) {
  const isLeft = typeof left === 'function' ? left : (i) => left.includes(i);
  const rows = body.map((r) => r.map(String));
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((b) => b[i].length)));
  const line = (cells) => cells.map((x, i) => (isLeft(i) ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ').trimEnd();
  console.log(`\n${line(head)}\n${w.map((n) => '-'.repeat(n)).join('  ')}`);
  for (const b of rows) console.log(line(b));
}

/** Prints a Markdown table (for pasting into bench/RESULTS.md). */
export function mdTable(head, body) {
  console.log(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  for (const r of body) console.log(`| ${r.map(String).join(' | ')} |`);
}

/** With BENCH_JSON=path, writes { bench, date, commit, node, cpu, cpus, ...fields } there. */
export function writeJson(bench, fields) {
  if (!process.env.BENCH_JSON) return;
  const head = { bench, date: new Date().toISOString(), commit: commitId(), node: process.version, cpu: cpuModel(), cpus: os.cpus().length };
  writeFileSync(process.env.BENCH_JSON, JSON.stringify({ ...head, ...fields }, null, 2));
}

// ---- the case tables and references of test/ ----
const loaded = new Map();
function loadTs(file) {
  const hit = loaded.get(file);
  if (hit) return hit.exports;
  const ts = require('typescript');
  const js = ts.transpileModule(readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }, fileName: file,
  }).outputText;
  const module = { exports: {} };
  loaded.set(file, module);
  const req = (spec) => {
    if (!spec.startsWith('.')) return require(spec);
    const p = resolve(dirname(file), spec.endsWith('.ts') ? spec : `${spec}.ts`);
    if (!p.startsWith(join(testDir, 'cases')) && !p.startsWith(join(testDir, 'reference'))) {
      throw new Error(`${file}: bench/common.mjs loads test/cases and test/reference only, not ${spec}`);
    }
    return loadTs(p);
  };
  new Function('exports', 'require', 'module', js)(module.exports, req, module);
  return module.exports;
}
/** test/cases/<op>.ts: the op's shapes and tolerances. */
export const cases = (op) => loadTs(join(testDir, 'cases', `${op}.ts`));
/** test/reference/<name>.ts: float64 references written from the math. */
export const reference = (name) => loadTs(join(testDir, 'reference', `${name}.ts`));

/** Runs the correctness check `fn` (it throws when the op is off) and prints what it checked. */
export async function check(what, fn) {
  await fn();
  console.log(`check: ${what}: ok`);
}
