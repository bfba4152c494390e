// Issue 18, item 5: the CPU thread pool never hangs. DSV3_NUM_THREADS is capped at 4 threads per core
// (100000 used to start ~32K threads and hang), malformed values fall back to the default, and when the
// system refuses threads (a process limit) the pool runs with the threads it could start and says so
// in backends().cpu.threadWarning. Each case runs in a child process with a time limit.
import { spawnSync } from 'child_process';
import { existsSync } from 'fs';
import { cpus } from 'os';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ADDON: string = process.env.DSV3_ADDON || require('bindings')({ bindings: 'dsv3', path: true });
const SCRIPT = `
const n = require(${JSON.stringify(ADDON)});
const cpu = n.backends().cpu;
const a = n.random('f32', [200, 300], 'cpu', { seed: 1 });
n.readFloat32(n.gemm(a, a, { outDtype: 'f32' })).then((v) => {
  const threads = Number(/Threads:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
  console.log(JSON.stringify({ ...cpu, ok: v.length === 40000 && v.every(Number.isFinite), processThreads: threads }));
});`;

interface Report { threads: number; requestedThreads?: number; threadWarning?: string; ok: boolean; processThreads: number }

function run(env: Record<string, string>, prefix: string[] = []): { status: number | null; report: Report | null; stderr: string } {
  const cmd = [...prefix, process.execPath, '-e', SCRIPT];
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, report: line.startsWith('{') ? JSON.parse(line) as Report : null, stderr: r.stderr };
}

const cores = cpus().length;

test('DSV3_NUM_THREADS=100000 is capped at 4 threads per core', () => {
  const r = run({ DSV3_NUM_THREADS: '100000' });
  expect(r.status).toBe(0);
  expect(r.report!.ok).toBe(true);
  expect(r.report!.requestedThreads).toBe(100000);
  expect(r.report!.threads).toBe(Math.min(100000, 4 * cores));
  expect(r.report!.processThreads).toBeLessThan(4 * cores + 64);
});

test.each(['abc', '-5', '0', '12abc', ''])('DSV3_NUM_THREADS=%j falls back to one thread per core', (v) => {
  const r = run({ DSV3_NUM_THREADS: v });
  expect(r.status).toBe(0);
  expect(r.report!.ok).toBe(true);
  expect(r.report!.threads).toBe(cores);
});

// A process limit needs a user it applies to: root ignores RLIMIT_NPROC, so the child runs as nobody.
const canLimit = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && existsSync('/usr/bin/prlimit');
(canLimit ? test : test.skip)('under a process limit the pool runs with the threads it could start', () => {
  const asNobody = ['/usr/bin/setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const base = run({ DSV3_NUM_THREADS: '1' }, asNobody);
  expect(base.status).toBe(0);
  const baseline = base.report!.processThreads;  // node's own threads + libuv + the CPU stream
  // Room for 3 pool workers of the 7 that 8 threads would need.
  const r = run({ DSV3_NUM_THREADS: '8' }, [...asNobody, '/usr/bin/prlimit', `--nproc=${baseline + 3}`]);
  expect(r.status).toBe(0);
  expect(r.report!.ok).toBe(true);
  expect(r.report!.threads).toBeGreaterThan(1);
  expect(r.report!.threads).toBeLessThan(8);
  expect(r.report!.threadWarning).toMatch(new RegExp(`could start only ${r.report!.threads} of 8 CPU threads \\(Resource temporarily unavailable\\)`));
  expect(r.stderr).toContain(r.report!.threadWarning);
});

// Worker threads that exit with CPU reads still queued: the reads finish during the worker's teardown (its
// environment waits for the CPU stream) and their hand-offs to a JS that no longer runs are dropped. The
// process used to die (SIGSEGV / abort) in most runs. Repeated, since the failure was a race.
test('workers exiting with CPU reads in flight do not crash the process', () => {
  const script = `
const { Worker } = require('worker_threads');
const code = \`const n = require(${JSON.stringify(ADDON)});
  const a = n.random('f32', [256, 256], 'cpu', { seed: 1, normal: true, a: 0, b: 1 });
  for (let i = 0; i < 40; i++) n.readFloat32(n.gemm(a, a, {}));
  process.exit(0);\`;
let exited = 0;
for (let k = 0; k < 4; k++) new Worker(code, { eval: true }).on('exit', () => { if (++exited === 4) console.log('all exited'); });`;
  for (let run = 0; run < 8; run++) {
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60000 });
    expect({ run, status: r.status, signal: r.signal, out: r.stdout.trim() }).toEqual({ run, status: 0, signal: null, out: 'all exited' });
  }
});
