#!/usr/bin/env node
// `npm run dev:cuda -- [options] [PROGRAM...] [-- ARGS...]`: the kernel sandbox (docs/kernel-sandbox.md).
// Builds each cuda/dev/<op>.cu into a standalone program, linked with every cuda/*.cu launcher and the CPU
// backend (native/cpu/*.cc, the reference twin), and runs it: on the GPU when `nvidia-smi -L` finds one,
// else on the emulated H200 (cuda/emu/bin/dsv3-emu). No addon build, no jest. ARGS go to every program
// (e.g. `-- --version 1 --reps 20`; each program's --help lists them).
//   --emu / --gpu     where to run (default: the GPU if there is one, else the emulator)
//   --emu-lib DIR     the emulator's libcudart.so.13 folder (default $DSV3_EMU_LIB, else build-emu/lib)
//   --build DIR       objects and programs (default $DEV_CUDA_BUILD, else /tmp/dsv3-dev-cuda); cached by a
//                     hash of each source, the headers of cuda/ and native/, the flags and the compilers
//   --no-run          build only
//   PROGRAM           names of cuda/dev/*.cu (e.g. fp8_gemm); none = all
// Emulator builds carry PTX only (code=compute_90a: the emulator reads PTX, ptxas is skipped); GPU builds
// carry sm_90a code and the PTX. Both link the shared cudart (-cudart shared), as dsv3-emu requires.
// $DEV_CUDA_JOBS compiles at a time (default 2); $NVCC, $CXX choose the compilers.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n');

let mode = null, build = process.env.DEV_CUDA_BUILD || path.join(os.tmpdir(), 'dsv3-dev-cuda'), run = true;
let emuLib = process.env.DSV3_EMU_LIB || path.join(root, 'build-emu', 'lib');
const names = [], args = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--') { args.push(...argv.slice(i + 1)); break; }
  if (a === '--emu' || a === '--gpu') mode = a.slice(2);
  else if (a === '--emu-lib') emuLib = argv[++i];
  else if (a === '--build') build = argv[++i];
  else if (a === '--no-run') run = false;
  else if (a === '-h' || a === '--help') { console.log(usage); process.exit(0); }
  else if (a.startsWith('-')) { console.error(`dev-cuda: unknown option ${a} (see --help)`); process.exit(2); }
  else names.push(a.replace(/\.cu$/, ''));
}

const which = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
const nvcc = process.env.NVCC || which('nvcc') || '/usr/local/cuda/bin/nvcc';
const cxx = process.env.CXX || which('g++') || which('c++');
if (!existsSync(nvcc)) { console.error('dev-cuda: nvcc not found (set NVCC)'); process.exit(2); }
if (!mode) mode = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' }).status === 0 ? 'gpu' : 'emu';
const emuBin = path.join(root, 'cuda', 'emu', 'bin', 'dsv3-emu');
if (mode === 'emu' && run && !existsSync(path.join(emuLib, 'libcudart.so.13'))) {
  console.error(`dev-cuda: no libcudart.so.13 in ${emuLib} (npm run build:emu, or --emu-lib DIR)`);
  process.exit(2);
}

// The flags of the project's CMakeLists.txt (cuda/*.cu with DSV3_CUDA_ARCHS=90a; native/ -O3, x86-64-v3).
const code = mode === 'emu' ? 'code=compute_90a' : 'code=[sm_90a,compute_90a]';
const cudaFlags = ['-std=c++17', '-gencode', `arch=compute_90a,${code}`, '-cudart', 'shared', '-O3', '--expt-relaxed-constexpr',
  '-lineinfo', '-DDSV3_WITH_CUDA=1', '-DDSV3_CUDA_ARCHS_STR="90a"', ...(mode === 'emu' ? ['-DDSV3_CUDA_EMU=1'] : []), `-I${root}`];
const avx2 = process.arch === 'x64' && /\bavx2\b/.test(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '');
const cxxFlags = ['-std=c++17', '-O3', '-fexceptions', '-fno-math-errno', '-fPIC', ...(avx2 ? ['-march=x86-64-v3'] : []), `-I${root}`];

const list = (dir, ext) => readdirSync(path.join(root, dir)).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f));
const read = (files) => files.map((f) => readFileSync(path.join(root, f), 'utf8')).join('\n');
const version = (c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).stdout;
// What an object's key covers besides its source: the headers it may include (CPU objects: native/ only;
// CUDA objects: cuda/ too; programs: cuda/dev/*.h too), the compilers and the mode.
const nativeHeaders = read([...list('native', '.h'), ...list('native/cpu', '.h')]);
const cudaHeaders = read([...list('cuda', '.h'), ...list('cuda', '.cuh')]);
const devHeaders = read(list('cuda/dev', '.h'));
const keyBase = createHash('sha256').update(nativeHeaders).update(version(nvcc)).update(version(cxx)).update(mode).digest('hex');

const programs = list('cuda/dev', '.cu').map((f) => path.basename(f, '.cu')).filter((n) => names.length === 0 || names.includes(n));
const unknown = names.filter((n) => !programs.includes(n));
if (unknown.length) { console.error(`dev-cuda: no cuda/dev/${unknown.join('.cu, cuda/dev/')}.cu`); process.exit(2); }
if (programs.length === 0) { console.error('dev-cuda: no program in cuda/dev/'); process.exit(2); }

const objDir = path.join(build, mode, 'obj'), binDir = path.join(build, mode, 'bin');
mkdirSync(objDir, { recursive: true });
mkdirSync(binDir, { recursive: true });

// Every launcher and the CPU backend (the bindings and the N-API side are left out).
const library = [...list('cuda', '.cu'), ...list('native/cpu', '.cc'), 'native/dtype.cc', 'native/fault.cc'];
function job(src) {
  const isCuda = src.endsWith('.cu');
  const flags = isCuda ? cudaFlags : cxxFlags;
  const key = createHash('sha256').update(keyBase).update(flags.join(' ')).update(isCuda ? cudaHeaders : '')
    .update(src.startsWith('cuda/dev/') ? devHeaders : '').update(readFileSync(path.join(root, src))).digest('hex').slice(0, 16);
  const stem = src.replace(/[/.]/g, '_');
  const obj = path.join(objDir, `${stem}-${key}.o`);
  return { src, obj, stem, cmd: isCuda ? nvcc : cxx, argv: [...flags, '-c', path.join(root, src), '-o', `${obj}.tmp`] };
}
const jobs = [...library, ...programs.map((p) => `cuda/dev/${p}.cu`)].map(job);

async function compileAll() {
  const todo = jobs.filter((j) => !existsSync(j.obj));
  const width = Number(process.env.DEV_CUDA_JOBS) || 2;
  let failed = 0;
  const one = (j) => new Promise((resolve) => {
    const t0 = Date.now();
    const p = spawn('nice', [j.cmd, ...j.argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    p.stdout.on('data', (d) => { log += d; });
    p.stderr.on('data', (d) => { log += d; });
    p.on('close', (rc) => {
      if (rc === 0) {
        for (const f of readdirSync(objDir)) if (f.startsWith(`${j.stem}-`) && f.endsWith('.o')) rmSync(path.join(objDir, f));  // older versions
        renameSync(`${j.obj}.tmp`, j.obj);
        console.log(`dev-cuda: compiled ${j.src} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      } else {
        rmSync(`${j.obj}.tmp`, { force: true });
        console.error(`dev-cuda: ${j.src} does not compile:\n${log.split('\n').slice(0, 40).join('\n')}`);
        failed++;
      }
      resolve();
    });
  });
  const queue = [...todo];
  await Promise.all(Array.from({ length: Math.min(width, queue.length) }, async () => {
    while (queue.length) await one(queue.shift());
  }));
  return failed === 0;
}

function link(program) {
  const objs = jobs.filter((j) => library.includes(j.src) || j.src === `cuda/dev/${program}.cu`).map((j) => j.obj);
  const exe = path.join(binDir, program);
  const r = spawnSync(nvcc, ['-gencode', `arch=compute_90a,${code}`, '-cudart', 'shared', ...objs, '-o', exe, '-lpthread'], { encoding: 'utf8' });
  if (r.status !== 0) { console.error(`dev-cuda: ${program} does not link:\n${r.stdout}${r.stderr}`); return null; }
  return exe;
}

if (!(await compileAll())) process.exit(1);
let failures = 0;
for (const program of programs) {
  const exe = link(program);
  if (!exe) { failures++; continue; }
  if (!run) { console.log(`dev-cuda: built ${exe}`); continue; }
  const where = mode === 'emu' ? 'the emulated H200 (dsv3-emu: timings are NOT GPU timings)' : 'the GPU';
  console.log(`\n=== ${program} on ${where} ===`);
  const r = mode === 'emu'
    ? spawnSync(emuBin, [exe, ...args], { stdio: 'inherit', env: { ...process.env, DSV3_EMU_LIB: path.resolve(emuLib) } })
    : spawnSync(exe, args, { stdio: 'inherit' });
  if (r.status !== 0) { console.error(`dev-cuda: ${program} FAILED (exit ${r.status ?? r.signal})`); failures++; }
}
writeFileSync(path.join(build, mode, 'last-run.txt'), `${new Date().toISOString()} ${programs.join(' ')} failures=${failures}\n`);
if (failures) process.exit(1);
