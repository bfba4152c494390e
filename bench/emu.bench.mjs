// dsv3-emu's speed (the PTX emulator, cuda/emu): thread-instructions per second of emulated kernel time,
// measured by the emulator's own counters (`dsv3-emu --stats`), for
//   scalar_loop   registers only (integer + f32 loop): the interpreter's dispatch rate
//   sgemm_tiled   global + shared memory and __syncthreads: checked memory paths, with and without the
//                 shared-memory race detector
// Method: each program is built with nvcc (-gencode arch=compute_90a,code=[sm_90a,compute_90a]
// -cudart shared) and run 3 times; the median rate is reported. The emulator runs a kernel on one host
// thread, so the rate is per core. Needs nvcc and `npm run build:emu`; skips with a message otherwise.
//   fp8_gemm      the FP8 GEMM (TMA + mbarriers + wgmma): dense 256 x 512 x 1024, and grouped at V3 decode
//                 routing with the CTAs launched against those that did work
// Run: node bench/emu.bench.mjs   (BENCH_JSON=path writes the rows as JSON)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { machine, mdTable, root, writeJson } from './common.mjs';

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
// The project's FP8 GEMM (cuda/fp8_gemm.cu: TMA + mbarrier ring + wgmma) through its host entry points
// (cuda/emu/bench/fp8_gemm_grid.cu, linked with cuda/runtime.cu and the working tree's fp8_gemm.cu):
//   dense 256 x 512 x 1024 (split-K: 8 tiles for 132 SMs), the second call (the first loads the module);
//   grouped at V3 decode routing: 8 tokens x top-8 of 256 experts, n = 2048 (moe_intermediate_size),
//   k = 512 (V3's 7168 does not change the grid): the CTAs launched against the CTAs that had work.
// The rate and the CTA counts come from the emulator's per-kernel counters (`--stats`), the wall time
// from the program. One run each (the dense one is about 10 s, the grouped one about 30 s).
{
  const F = ['-std=c++17', '-gencode', 'arch=compute_90a,code=compute_90a', '-cudart', 'shared', '-O3', '--expt-relaxed-constexpr',
    '-lineinfo', '-DDSV3_WITH_CUDA=1', '-DDSV3_CUDA_ARCHS_STR="90a"', '-DDSV3_CUDA_EMU=1', `-I${root}`];
  const objs = ['cuda/emu/bench/fp8_gemm_grid.cu', 'cuda/runtime.cu', 'cuda/fp8_gemm.cu'].map((src, i) => {
    const o = join(out, `grid${i}.o`);
    execFileSync(nvcc, [...F, '-c', join(root, src), '-o', o], { stdio: 'inherit' });
    return o;
  });
  const exe = join(out, 'fp8_gemm_grid');
  execFileSync(nvcc, ['-gencode', 'arch=compute_90a,code=compute_90a', '-cudart', 'shared', ...objs, '-o', exe], { stdio: 'inherit' });
  const grid = (args) => {
    const r = spawnSync(emu, ['--stats', exe, ...args], { encoding: 'utf8', env: { ...process.env, DSV3_EMU_LIB: lib.replace(/\/libcudart\.so\.13$/, '') } });
    const line = (r.stderr.split('\n').find((l) => l.includes('fp8_gemm_wgmma_kernel')) ?? '').replace(/^dsv3-emu stats:\s*/, '').trim().split(/\s+/);
    if (r.status !== 0 || line.length < 6) { console.error(r.stdout, r.stderr); process.exit(1); }
    const [launches, ctas, withWork, instr, secs] = line.map(Number);
    const walls = [...r.stdout.matchAll(/([\d.]+) s wall/g)].map((m) => Number(m[1]));
    return { launches, ctas, withWork, instr, secs, wall: walls[walls.length - 1], text: r.stdout.trim().split('\n').pop() };
  };
  const d = grid(['dense', '256', '512', '1024']);
  rows.push({ case: 'fp8_gemm wgmma dense 256x512x1024', what: `${d.ctas / d.launches} CTAs (split-K), second call ${d.wall.toFixed(2)} s wall`,
    threadInstructions: d.instr / d.launches, activeLanesPerWarpInstr: NaN, seconds: d.secs / d.launches, threadInstrPerSec: Math.round(d.instr / d.secs), wallSeconds: d.wall });
  const g = grid(['moe', '256', '2048', '512', '8', '8']);
  rows.push({ case: 'fp8_gemm wgmma grouped, V3 decode routing', what: `${g.text.replace(/^fp8_gemm_grid: moe /, '')}; ${g.ctas} CTAs launched, ${g.withWork} with work`,
    threadInstructions: g.instr, activeLanesPerWarpInstr: NaN, seconds: g.secs, threadInstrPerSec: Math.round(g.instr / g.secs), wallSeconds: g.wall, ctas: g.ctas, ctasWithWork: g.withWork });
}
console.log(`dsv3-emu speed, ${new Date().toISOString().slice(0, 10)}, ${machine()}, median of 3 (target: 2e7 thread-instructions/s per core)`);
mdTable(['case', 'what', 'thread-instructions', 'lanes / warp-instr', 'kernel s', 'thread-instr/s'],
  rows.map((r) => [r.case, r.what, r.threadInstructions.toExponential(3), Number.isNaN(r.activeLanesPerWarpInstr) ? '-' : r.activeLanesPerWarpInstr,
    r.seconds.toFixed(3), r.threadInstrPerSec.toExponential(2)]));
writeJson('emu', { rows });
