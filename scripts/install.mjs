// `npm install` builds the addon with cmake-js. If the build fails while compiling the CUDA backend
// (for example an nvcc whose host compiler is unsupported), fall back to a CPU-only build with a clear
// warning instead of failing the install. DSV3_CUDA=on makes a CUDA failure fatal (CI uses the check
// in .ci/run instead). DSV3_SKIP_BUILD=1 skips the native build entirely.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

if (process.env.DSV3_SKIP_BUILD === '1') {
  console.log('dsv3: DSV3_SKIP_BUILD=1, not building the native addon');
  process.exit(0);
}
const require = createRequire(import.meta.url);
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const run = (args, env = process.env) => spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit', env }).status;

if (run(['compile']) === 0) process.exit(0);
const mode = (process.env.DSV3_CUDA ?? 'auto').toLowerCase();
if (mode === 'on' || mode === '1' || mode === 'off' || mode === '0') process.exit(1);
console.warn('\ndsv3: WARNING: the build with the CUDA backend failed (see above). Retrying with the CPU backend only.\n' +
  'dsv3: set DSV3_CUDA=on to make this an error, or fix nvcc / CUDACXX and run `npm run rebuild:native`.\n');
process.exit(run(['rebuild'], { ...process.env, DSV3_CUDA: 'off' }) === 0 ? 0 : 1);
