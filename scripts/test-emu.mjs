// `npm run test:emu`: dsv3-emu's own tests, then every test/gpu suite on the emulated H200 (the addon of
// `npm run build:emu`, run under cuda/emu/bin/dsv3-emu so that any emulator report fails the run).
//   npm run test:emu                       everything
//   npm run test:emu -- --only gpu [jest filters...]   one part: unit | runtime | kernels | mutations | gpu
// The GPU suites run the kernels the addon picks on an H200 (DSV3_GEMM_KERNEL=auto: the TMA + wgmma FP8
// GEMMs), as a user's program would; set DSV3_GEMM_KERNEL=simple to run the reference GEMMs instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build-emu');
const emu = path.join(root, 'cuda', 'emu', 'bin', 'dsv3-emu');
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
const rest = onlyAt >= 0 ? [...args.slice(0, onlyAt), ...args.slice(onlyAt + 2)] : args;
const parts = ['unit', 'runtime', 'kernels', 'mutations', 'gpu'];
if (only && !parts.includes(only)) {
  console.error(`test:emu: --only takes one of ${parts.join(', ')}`);
  process.exit(2);
}
if (!existsSync(path.join(out, 'lib', 'libcudart.so.13'))) {
  console.error('test:emu: build the emulator first: npm run build:emu');
  process.exit(2);
}
const env = { ...process.env, DSV3_EMU_LIB: path.join(out, 'lib') };
const failed = [];
function step(name, cmd, argv, extraEnv = {}) {
  if (only && only !== name) return;
  console.log(`\n=== test:emu ${name}: ${cmd} ${argv.join(' ')} ===`);
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, env: { ...env, ...extraEnv } });
  console.log(`=== test:emu ${name}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s ===`);
  if (r.status !== 0) failed.push(name);
}

step('unit', 'ctest', ['--test-dir', out, '--output-on-failure']);
step('runtime', 'bash', ['cuda/emu/test/run-runtime-tests.sh']);
step('kernels', 'bash', ['cuda/emu/test/run-kernel-tests.sh', '--emu-lib', path.join(out, 'lib')]);
// The emulator's own validation: copies of cuda/fp8_gemm.cu with one planted bug each must fail on it.
step('mutations', 'bash', ['cuda/emu/test/run-mutation-tests.sh', '--emu-lib', path.join(out, 'lib')]);
const addon = path.join(out, 'addon', 'Release', 'dsv3.node');
if (!only || only === 'gpu') {
  if (!existsSync(addon)) {
    console.error(`test:emu: ${addon} is missing: npm run build:emu`);
    failed.push('gpu');
  } else {
    const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js');
    step('gpu', emu, [process.execPath, jest, '--config', 'jest.gpu.config.js', '--runInBand', '--testTimeout', '1800000', ...rest,
      '--reporters=default', `--reporters=${path.join(root, 'scripts', 'jest-progress-reporter.cjs')}`],
      { DSV3_ADDON: addon });
  }
}
if (failed.length) {
  console.error(`\ntest:emu: FAILED: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\ntest:emu: all parts passed');
