// dsv3-emu's speed (the PTX emulator, cuda/emu): thread-instructions per second of emulated kernel time,
// measured by the emulator's own counters (`dsv3-emu --stats`), for
//   scalar_loop   registers only (integer + f32 loop): the interpreter's dispatch rate
//   sgemm_tiled   global + shared memory and __syncthreads: checked memory paths, with and without the
//                 shared-memory race detector
// Method: each program is built with nvcc (-gencode arch=compute_90a,code=[sm_90a,compute_90a]
// -cudart shared) and run 3 times; the median rate is reported. The emulator runs a kernel on one host
// thread, so the rate is per core. Needs nvcc and `npm run build:emu`; skips with a message otherwise.
// Run: node bench/emu.bench.mjs   (BENCH_JSON=path writes the rows as JSON)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const lib = join(root, 'build-emu', 'lib', 'libcudart.so.13');
const emu = join(root, 'cuda', 'emu', 'bin', 'dsv3-emu');
const nvcc = spawnSync('nvcc', ['--version']).status === 0 ? 'nvcc' : null;
if (!existsSync(lib) || !nvcc) {
  console.log(`emu bench: skipped (${!nvcc ? 'nvcc not found' : 'build the emulator first: npm run build:emu'})`);
  process.exit(0);
}
const out = join(os.tmpdir(), 'dsv3-emu-bench');
mkdirSync(out, { recursive: true });
const build = (name) => {
  const exe = join(out, name);
  execFileSync(nvcc, ['-O3', '-gencode', 'arch=compute_90a,code=[sm_90a,compute_90a]', '-cudart', 'shared',
    join(root, 'cuda', 'emu', 'bench', `${name}.cu`), '-o', exe], { stdio: 'inherit' });
  return exe;
};
const CASES = [
  { name: 'scalar_loop', args: ['64', '2000'], flags: [], what: '64 x 256 threads x 2000 iterations, registers only' },
  { name: 'sgemm_tiled', args: ['256'], flags: [], what: 'n = 256, 32x32 tiles, race detector on' },
  { name: 'sgemm_tiled', args: ['256'], flags: ['--no-racecheck'], what: 'n = 256, 32x32 tiles, race detector off' },
];
const STATS = /dsv3-emu: (\d+) kernels launched, (\d+) thread-instructions \((\d+) warp-instructions\) in ([\d.]+) s of kernel time/;
const rows = [];
const exes = {};
for (const c of CASES) {
  exes[c.name] ??= build(c.name);
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const r = spawnSync(emu, ['--stats', ...c.flags, exes[c.name], ...c.args], { encoding: 'utf8', env: { ...process.env, DSV3_EMU_LIB: lib } });
    const m = STATS.exec(r.stderr + r.stdout);
    if (r.status !== 0 || !m) { console.error(r.stdout, r.stderr); process.exit(1); }
    runs.push({ threadInstr: Number(m[2]), warpInstr: Number(m[3]), seconds: Number(m[4]) });
  }
  runs.sort((a, b) => a.threadInstr / a.seconds - b.threadInstr / b.seconds);
  const med = runs[1];
  rows.push({ case: `${c.name} ${c.flags.join(' ')}`.trim(), what: c.what, threadInstructions: med.threadInstr,
    activeLanesPerWarpInstr: +(med.threadInstr / med.warpInstr).toFixed(1), seconds: med.seconds,
    threadInstrPerSec: Math.round(med.threadInstr / med.seconds) });
}
console.log(`dsv3-emu speed, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0].model}, median of 3 (target: 2e7 thread-instructions/s per core)`);
console.log('| case | what | thread-instructions | lanes / warp-instr | kernel s | thread-instr/s |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.case} | ${r.what} | ${r.threadInstructions.toExponential(3)} | ${r.activeLanesPerWarpInstr} | ${r.seconds.toFixed(3)} | ${r.threadInstrPerSec.toExponential(2)} |`);
if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(rows, null, 2));
