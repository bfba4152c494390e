// dsv3-emu mutation tests: the planted bugs. Each mutation is ONE bug planted by an exact text substitution
// (or, with `edits`, a few applied in order, to move a line) in a fresh copy of cuda/fp8_gemm.cu or
// cuda/sm90.cuh (read from the working tree at every run, never kept here); each old text must occur exactly once, else the mutation has rotted (the kernel changed) and this script fails
// loudly so that the substitution is updated, never silently skipped.
//   node mutations.mjs list                      one line per mutation: "name<TAB>file<TAB>what<TAB>gap"
//   node mutations.mjs apply NAME REPO OUTDIR    OUTDIR/cuda/{fp8_gemm.cu,sm90.cuh}: copies of REPO's, NAME
//                                                applied (NAME = baseline: unmodified copies)
// The runner compiles OUTDIR/cuda/fp8_gemm.cu with -I OUTDIR before -I REPO, so both copies win over the
// originals ("cuda/sm90.cuh" is looked up relative to the -I folders; OUTDIR/cuda/cuda/ does not exist).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const files = ['cuda/fp8_gemm.cu', 'cuda/sm90.cuh'];

// `gap`: a bug the emulator is known not to catch yet (the reason). The runner reports such a mutant as
// GAP instead of failing; once the emulator catches it, it says so and the note should go.

export const mutations = [
  {
    name: 'a-desc-sbo',
    file: 'cuda/sm90.cuh',
    what: 'smem matrix descriptor: stride byte offset 512 instead of 1024 (8-row groups of the swizzled tile)',
    old: '(uint64_t{1024 >> 4} << 32)',
    new: '(uint64_t{512 >> 4} << 32)',
  },
  {
    name: 'b-desc-swizzle',
    file: 'cuda/sm90.cuh',
    what: 'smem matrix descriptor: 64-byte swizzle (layout type 2) while the tensor maps write 128-byte swizzle',
    old: '(uint64_t{1} << 62)',
    new: '(uint64_t{2} << 62)',
  },
  {
    name: 'c-full-parity',
    file: 'cuda/fp8_gemm.cu',
    what: 'consumers wait on the "full" barrier with the parity flipped (phase ^ 1)',
    old: 'sm90::mbar_wait(&full[s], phase);',
    new: 'sm90::mbar_wait(&full[s], phase ^ 1);',
  },
  {
    name: 'c-empty-parity',
    file: 'cuda/fp8_gemm.cu',
    what: 'the producer waits on the "empty" barrier with the parity flipped (phase instead of phase ^ 1)',
    old: 'sm90::mbar_wait(&empty[s], phase ^ 1);',
    new: 'sm90::mbar_wait(&empty[s], phase);',
  },
  {
    name: 'd-expect-tx-short',
    file: 'cuda/fp8_gemm.cu',
    what: 'arrive.expect_tx announces one 128-byte row less than the stage\'s TMA loads bring',
    old: 'sm90::mbar_arrive_expect_tx(&full[s], C::kStageBytes);',
    new: 'sm90::mbar_arrive_expect_tx(&full[s], C::kStageBytes - 128);',
  },
  {
    name: 'd-expect-tx-long',
    file: 'cuda/fp8_gemm.cu',
    what: 'arrive.expect_tx announces one 128-byte row more than the stage\'s TMA loads bring',
    old: 'sm90::mbar_arrive_expect_tx(&full[s], C::kStageBytes);',
    new: 'sm90::mbar_arrive_expect_tx(&full[s], C::kStageBytes + 128);',
  },
  {
    name: 'e-no-wait-group',
    file: 'cuda/fp8_gemm.cu',
    what: 'consumers read the wgmma fragment without wgmma.wait_group (and release the stage while it may be read)',
    old: 'sm90::named_barrier_sync(1 + wg, 128);\n sm90::wgmma_wait<0>();',
    new: 'sm90::named_barrier_sync(1 + wg, 128);',
  },
  {
    name: 'e-no-wgmma-fence',
    file: 'cuda/fp8_gemm.cu',
    what: 'no wgmma.fence before the K block\'s first wgmma.mma_async (its accumulators were read by the threads)',
    old: 'sm90::mbar_wait(&full[s], phase);\n sm90::wgmma_fence();',
    new: 'sm90::mbar_wait(&full[s], phase);',
  },
  {
    name: 'e-wait-group-1',
    file: 'cuda/fp8_gemm.cu',
    what: 'wgmma.wait_group 1 instead of 0: the K block\'s group (the only one) may still be pending when its ' +
          'fragment is read',
    old: 'sm90::named_barrier_sync(1 + wg, 128);\n sm90::wgmma_wait<0>();',
    new: 'sm90::named_barrier_sync(1 + wg, 128);\n      sm90::wgmma_wait<1>();',
  },
  {
    name: 'e-wait-after-use',
    file: 'cuda/fp8_gemm.cu',
    what: 'the wgmma.wait_group moved after the fragment use (the accumulators are read, and the stage ' +
          'released, while the wgmmas may still run)',
    edits: [
      { old: 'sm90::named_barrier_sync(1 + wg, 128);\n sm90::wgmma_wait<0>();',
        new: 'sm90::named_barrier_sync(1 + wg, 128);' },
      { old: 'if (++s == C::kStages) { s = 0; phase ^= 1; }\n }\n\n const int row_w',
        new: 'sm90::wgmma_wait<0>();\n      if (++s == C::kStages) { s = 0; phase ^= 1; }\n    }\n\n    const int row_w' },
    ],
  },
  {
    name: 'f-missing-arrive',
    file: 'cuda/fp8_gemm.cu',
    what: 'one consumer warp (warp 5) never arrives on the "empty" barrier',
    old: 'if (lane == 0) sm90::mbar_arrive(&empty[s]);',
    new: 'if (lane == 0 && warp != 5) sm90::mbar_arrive(&empty[s]);',
  },
  {
    name: 'g-tma-box-rows',
    file: 'cuda/fp8_gemm.cu',
    what: 'host: the tensor maps\' box has 8 rows more than the tile (TMA writes past each stage\'s tile)',
    old: 'static_cast<cuuint32_t>(box_rows)}',
    new: 'static_cast<cuuint32_t>(box_rows + 8)}',
  },
];

function fail(msg) {
  console.error(`mutations.mjs: ${msg}`);
  process.exit(3);
}

// The old text as a pattern: its tokens literally, any whitespace between them.
function pattern(old) {
  const tokens = old.trim().split(/\s+/).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(tokens.join('\\s+'), 'g');
}

function apply(name, repo, outdir) {
  const m = name === 'baseline' ? null : mutations.find((x) => x.name === name);
  if (name !== 'baseline' && !m) fail(`no mutation named '${name}'`);
  mkdirSync(path.join(outdir, 'cuda'), { recursive: true });
  for (const f of files) {
    let text = readFileSync(path.join(repo, f), 'utf8');
    if (m && m.file === f) {
      for (const e of m.edits ?? [{ old: m.old, new: m.new }]) {
        const re = pattern(e.old);
        const n = [...text.matchAll(re)].length;
        if (n !== 1)
          fail(`mutation ${m.name}: its text occurs ${n} times in ${f} (must be exactly once; update the substitution ` +
               `in cuda/emu/test/mutations/mutations.mjs to the kernel's current code):\n${e.old}`);
        text = text.replace(re, () => e.new);
      }
    }
    writeFileSync(path.join(outdir, f), text);
  }
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'list') {
  for (const m of mutations) console.log(`${m.name}\t${m.file}\t${m.what}\t${m.gap ?? ''}`);
} else if (cmd === 'apply' && args.length === 3) {
  apply(args[0], path.resolve(args[1]), path.resolve(args[2]));
} else if (cmd !== undefined || process.argv[1]?.endsWith('mutations.mjs')) {
  fail('usage: node mutations.mjs list | apply NAME REPO OUTDIR');
}
