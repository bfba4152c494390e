// Issue 18, item 4: mlaPagedAttention with seqLens beyond what the block table covers. On the CPU the
// lengths are host data when the op runs: an ArgumentError naming seqLens on the outputs, never a read past
// the block table's row (a crash for [64000000], another sequence's pages for a small overrun).
import { ArgumentError, Tensor } from '../../lib';
import { mlaPagedAttention } from '../../lib/ops/mla';

const H = 2, R = 32, P = 8, D = R + P, PAGE = 64;

function inputs(lens: number[], maxPages: number) {
  const b = lens.length, numPages = b * maxPages;
  // Sequence i owns pages [i * maxPages, (i + 1) * maxPages): an overrun of row 0 would read row 1's pages.
  const bt = Int32Array.from({ length: b * maxPages }, (_, i) => i);
  return {
    ql: Tensor.randn([b, 1, H, R], { seed: 1 }), qp: Tensor.randn([b, 1, H, P], { seed: 2 }),
    kv: Tensor.randn([numPages, PAGE, D], { seed: 3 }), bt: Tensor.fromArray(bt, [b, maxPages]),
    sl: Tensor.fromArray(Int32Array.from(lens), [b]),
  };
}

async function attend(lens: number[], maxPages: number) {
  const x = inputs(lens, maxPages);
  return mlaPagedAttention(x.ql, x.qp, x.kv, x.bt, x.sl, { softmaxScale: 1 / Math.sqrt(D) });
}

test.each([
  ['far beyond (64000000)', [64000000], 1, /'seqLens' element 0 = 64000000 is outside \[0, 64\]/],
  ['one token past the row (into the next sequence\'s pages)', [65, 10], 1, /'seqLens' element 0 = 65 is outside \[0, 64\]/],
  ['the second sequence, past two pages', [3, 129], 2, /'seqLens' element 1 = 129 is outside \[0, 128\]/],
  ['negative', [-1], 1, /'seqLens' element 0 = -1 is outside/],
])('seqLens %s: ArgumentError on both outputs', async (_name, lens, maxPages, msg) => {
  const { out, lse } = await attend(lens as number[], maxPages as number);
  await expect(out.toFloat32Array()).rejects.toThrow(ArgumentError);
  await expect(out.toFloat32Array()).rejects.toThrow(msg as RegExp);
  await expect(lse.toFloat32Array()).rejects.toThrow(msg as RegExp);
});

test('lengths up to exactly what the block table covers still attend normally', async () => {
  const { out, lse } = await attend([64, 128, 0], 2);
  const o = await out.toFloat32Array(), l = await lse.toFloat32Array();
  expect(o.slice(0, 2 * 2 * R).every(Number.isFinite)).toBe(true);
  expect(l.slice(0, 4).every(Number.isFinite)).toBe(true);
  expect(l[4]).toBe(-Infinity); // the empty sequence: no key
});
