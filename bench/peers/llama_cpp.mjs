#!/usr/bin/env node
// Finds or builds llama.cpp's CPU binaries for bench/llama_cpp.bench.mjs, idempotently:
//   1. the npm package node-llama-cpp@3.22.1 installed OUTSIDE the repo (npm install --prefix
//      <peers>/node-llama-cpp --ignore-scripts: only its shipped llama.cpp source is used, a git bundle
//      at node_modules/node-llama-cpp/llama/gitRelease.bundle);
//   2. that bundle cloned to <peers>/llama.cpp;
//   3. cmake (Release, CPU only, GGML_NATIVE=ON, static libraries) into <peers>/llama.cpp-build, targets
//      llama-bench and llama, -j2 (DSV3_PEERS_JOBS changes it);
//   4. bench/peers/llama_logits.cpp compiled against that libllama into <peers>/bin/llama_logits.
// <peers> is $DSV3_PEERS_DIR or ~/.cache/dsv3-peers. Each step is skipped when its output is there.
// Run: node bench/peers/llama_cpp.mjs   (prints where the binaries are and llama.cpp's version)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const NODE_LLAMA_CPP_VERSION = '3.22.1';
export const peersDir = () => process.env.DSV3_PEERS_DIR ?? join(os.homedir(), '.cache', 'dsv3-peers');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.error || r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
  return r.stdout;
}
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

export function ensureLlamaCpp({ log = (s) => console.error(s) } = {}) {
  const root = peersDir();
  const jobs = process.env.DSV3_PEERS_JOBS ?? '2';
  mkdirSync(root, { recursive: true });

  // 1. node-llama-cpp (its llama.cpp source)
  const pkgDir = join(root, 'node-llama-cpp', 'node_modules', 'node-llama-cpp');
  const pkgJson = join(pkgDir, 'package.json');
  const installed = existsSync(pkgJson) ? JSON.parse(readFileSync(pkgJson, 'utf8')).version : null;
  if (installed !== NODE_LLAMA_CPP_VERSION) {
    log(`installing node-llama-cpp@${NODE_LLAMA_CPP_VERSION} into ${join(root, 'node-llama-cpp')} (found ${installed ?? 'none'})`);
    mkdirSync(join(root, 'node-llama-cpp'), { recursive: true });
    run('npm', ['install', '--prefix', join(root, 'node-llama-cpp'), '--ignore-scripts', '--no-audit', '--no-fund', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`]);
  }
  const bundle = join(pkgDir, 'llama', 'gitRelease.bundle');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: this node-llama-cpp does not ship llama.cpp's source`);
  const info = JSON.parse(readFileSync(join(pkgDir, 'llama', 'llama.cpp.info.json'), 'utf8'));
  const bundleHead = run('git', ['bundle', 'list-heads', bundle]).trim().split(/\s+/)[0];

  // 2. the source
  const src = join(root, 'llama.cpp');
  const srcHead = existsSync(join(src, '.git')) ? run('git', ['-C', src, 'rev-parse', 'HEAD']).trim() : null;
  if (srcHead !== bundleHead) {
    log(`cloning llama.cpp ${bundleHead.slice(0, 10)} from ${bundle} into ${src}`);
    run('rm', ['-rf', src]);
    run('git', ['clone', '-q', bundle, src]);
  }

  // 3. cmake: llama-bench and the static libllama
  const build = join(root, 'llama.cpp-build');
  const bench = join(build, 'bin', 'llama-bench');
  const libs = ['src/libllama.a', 'ggml/src/libggml.a', 'ggml/src/libggml-cpu.a', 'ggml/src/libggml-base.a'].map((p) => join(build, p));
  if (!existsSync(join(build, 'CMakeCache.txt'))) {
    log(`configuring ${build} (Release, CPU only, GGML_NATIVE=ON, static)`);
    run('cmake', ['-S', src, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DGGML_NATIVE=ON', '-DGGML_CUDA=OFF', '-DGGML_VULKAN=OFF',
      '-DGGML_METAL=OFF', '-DBUILD_SHARED_LIBS=OFF', '-DLLAMA_CURL=OFF', '-DLLAMA_OPENSSL=OFF', '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_SERVER=OFF']);
  }
  if (!existsSync(bench) || libs.some((l) => !existsSync(l))) {
    log(`building llama-bench and libllama with -j${jobs} (10-25 min on 2 cores)`);
    run('cmake', ['--build', build, '--target', 'llama-bench', 'llama', `-j${jobs}`]);
  }

  // 4. llama_logits
  const bin = join(root, 'bin');
  mkdirSync(bin, { recursive: true });
  const logitsSrc = join(here, 'llama_logits.cpp');
  const logits = join(bin, 'llama_logits');
  if (mtime(logits) < Math.max(mtime(logitsSrc), ...libs.map(mtime))) {
    log(`compiling ${logits}`);
    run('g++', ['-O2', '-std=c++17', logitsSrc, '-o', logits, '-I', join(src, 'include'), '-I', join(src, 'ggml', 'include'),
      ...libs, '-fopenmp', '-lpthread', '-ldl', '-lm']);
  }

  const commit = run('git', ['-C', src, 'log', '-1', '--format=%H %cs']).trim().split(' ');
  let ggmlVersion;
  try {
    const cm = readFileSync(join(src, 'ggml', 'CMakeLists.txt'), 'utf8');
    ggmlVersion = ['MAJOR', 'MINOR', 'PATCH'].map((p) => new RegExp(`set\\(GGML_VERSION_${p} (\\d+)\\)`).exec(cm)[1]).join('.');
  } catch { /* optional */ }
  return {
    peersDir: root, llamaBench: bench, llamaLogits: logits, source: src,
    nodeLlamaCpp: NODE_LLAMA_CPP_VERSION, release: info.tag, repo: info.llamaCppGithubRepo,
    commit: commit[0], commitDate: commit[1], ggmlVersion,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = ensureLlamaCpp();
    console.log(`llama.cpp from node-llama-cpp@${r.nodeLlamaCpp} (its llama.cpp.info.json: ${r.repo} ${r.release}), ` +
      `source commit ${r.commit} (${r.commitDate}, the package's squashed snapshot)${r.ggmlVersion ? `, ggml ${r.ggmlVersion}` : ''}`);
    console.log(`llama-bench:  ${r.llamaBench}`);
    console.log(`llama_logits: ${r.llamaLogits}`);
    console.log(JSON.stringify(r));
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
