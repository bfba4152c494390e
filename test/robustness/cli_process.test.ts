// The dsv3 command as a process (issue 18 item 9): a reader that closes the pipe early (`dsv3 ... | head`) ends the
// command quietly instead of crashing with an EPIPE stack trace, and `dsv3` without arguments exits non-zero. The
// child runs lib/cli.ts through a transpile-only hook (ts_register.js), so it tests these sources, not dist/.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const TINY = join(__dirname, '..', 'fixtures', 'tiny-v3');
const ARGS = ['-r', './test/robustness/ts_register.js', 'lib/cli.ts'];

/** Runs the CLI with its stdout pipe closed by the reader before the first byte arrives. */
function withClosedStdout(argv: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ARGS, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

test('generate into a closed pipe: exit 0, no stack trace', async () => {
  const r = await withClosedStdout(['generate', TINY, '--ids', '0,5,9', '--max-new-tokens', '40', '--activations', 'f32']);
  expect(r).toEqual({ code: 0, signal: null, stderr: '' });
}, 60000);

test('no arguments: the help on stderr and exit status 1', () => {
  const r = spawnSync(process.execPath, ARGS, { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^Usage: dsv3 /);
}, 60000);
