// `npm run build:emu`: builds dsv3-emu (the PTX emulator behind a drop-in libcudart.so.13, cuda/emu) into
// build-emu/, then the addon with its CUDA backend linked against that runtime into build-emu/addon
// (DSV3_CUDA=emu). The normal build (build/Release, NVIDIA's static cudart) is not touched.
//   build-emu/lib/libcudart.so.13          the emulator's runtime
//   build-emu/tests/                       its unit tests (ctest --test-dir build-emu)
//   build-emu/addon/Release/dsv3.node      the addon on the emulator (DSV3_ADDON=... to use it)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build-emu');
const require = createRequire(import.meta.url);
const jobs = process.env.DSV3_EMU_JOBS ?? '2';

function run(cmd, args, env = process.env) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env });
  if (r.status !== 0) {
    console.error(`dsv3-emu build: '${cmd} ${args.join(' ')}' failed (${r.error?.message ?? `exit ${r.status}`})`);
    process.exit(1);
  }
}

run('cmake', ['-S', 'cuda/emu', '-B', out, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release']);
run('cmake', ['--build', out, '-j', jobs]);
if (process.argv.includes('--emulator-only')) process.exit(0);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
run(process.execPath, [cmakeJs, 'compile', '--out', path.join(out, 'addon')],
  { ...process.env, DSV3_CUDA: 'emu', DSV3_EMU_LIB_DIR: path.join(out, 'lib') });
console.log(`dsv3-emu: built ${path.join(out, 'lib', 'libcudart.so.13')} and ${path.join(out, 'addon', 'Release', 'dsv3.node')}`);
