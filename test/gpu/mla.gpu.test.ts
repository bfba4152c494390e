// The fused MLA CUDA kernels (cuda/mla.cu) against the CPU backend on the same inputs: paged decode
// attention (batches of different lengths, pages not full and shuffled, NaN in every cache row outside
// the sequences, odd head counts, s_q 1..4, split-KV forced and automatic, up to 128K tokens; both kernel
// variants: impl 0 simple f32, impl 1 tensor cores; a cache poisoned with NaN/inf where rows must not look
// and bad block-table entries), the down-projection epilogue (positions beyond YaRN's original 4096, padding slots), the absorbed query
// and the output projection. Outputs are NaN-poisoned on the device. Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { poisoned, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { mlaAbsorbQ, mlaDownEpilogue, mlaOutput, mlaPagedAttention } from '../../lib/ops/mla';
import { yarnInvFreq } from '../../lib/ops/rope';
import { A, make, normals, pagedCase, PagedSpec } from '../ops/mla_paged_cases';
import { PAGE } from '../reference/mla_paged';
import { describeGpu, emuSize, expectCudaMatchesCpu } from './gpu';
import { join } from 'path';
import { readConfig, ropeInvFreq } from '../../lib/model/load';
import { Act } from '../../lib/model/linear';
import { MlaFused } from '../../lib/model/mla_fused';
import { Loader } from '../../lib/model/loader';
import { planLoad } from '../../lib/model/plan';
import { PagedLatentCache } from '../../lib/model/paged_cache';
import { Checkpoint } from '../../lib/weights/safetensors';
import { relErr } from '../helpers';

const dev = (t: Tensor) => t.device as 'cpu' | 'cuda';
const V3_INV_FREQ = () => Tensor.fromArray(yarnInvFreq({ ropeTheta: 10000, ropeDim: 64, factor: 40, originalMaxPositionEmbeddings: 4096 }));

/** lse tolerance of the tensor-core kernel (impl 1) by q dtype: it rounds an f32 q to bf16 before Q K^T. */
const IMPL1_LSE_TOL: Record<A, number> = { bf16: 1e-4, f32: 2e-3 };

async function attn(spec: PagedSpec, qd: A, kd: A, seed: number, numSplits?: number, qStd = 1, impl = 0): Promise<void> {
  const c = await pagedCase(new Rng(seed), spec, qd, kd, qStd);
  const { h, r, sq } = spec;
  await expectCudaMatchesCpu(
    { qLatent: c.qLatent, qPe: c.qPe, kvCache: c.kvCache, blockTable: c.blockTable, seqLens: c.seqLens },
    (x) => {
      const out = poisoned([c.b, sq, h, r], 'f32', dev(x.qLatent)), lse = poisoned([c.b, h, sq], 'f32', dev(x.qLatent));
      return mlaPagedAttention(x.qLatent as Tensor<A>, x.qPe as Tensor<A>, x.kvCache as Tensor<A>, x.blockTable as Tensor<'i32'>,
        x.seqLens as Tensor<'i32'>, { softmaxScale: c.scale, causal: spec.causal ?? true, out: { out, lse }, numSplits, impl: x.qLatent.device === 'cuda' ? impl : 0 });
    },
    // impl 1 rounds P (and an f32 q) to bf16 for the tensor cores, as FlashMLA does: the scores of an f32 q
    // then carry bf16 rounding (lse seen at 5.4e-4 on the emulator, checked at 2e-3); a bf16 q is exact.
    impl === 1 ? { out: 1e-2, lse: IMPL1_LSE_TOL[qd] } : { out: 2e-5, lse: 2e-5 });
  c.dispose();
}

interface Poison {
  /** The newest `newestKeys` keys of each sequence get NaN and +-inf: only the last query tokens of a causal step see them. */
  newestKeys: number;
  /** Block-table entries made bad: -1, or one past the last page of the cache. */
  badPages?: { seq: number; page: number; id: 'negative' | 'past the end' }[];
}

/**
 * attn() on a cache where rows must not look: every row outside the sequences NaN, +inf or -inf (FlashMLA's
 * habit, with infinities), NaN/inf in the newest keys of each sequence (masked for the earlier query tokens of
 * a causal step with s_q > 1, but inside the CTA's key range), and bad block-table entries (the CPU twin gives
 * NaN for the rows that see such a page). The output must equal the CPU's, NaN positions included, and the
 * CPU's output must hold both NaN and finite rows (else the case would test nothing).
 */
async function attnPoisoned(spec: PagedSpec, kd: A, seed: number, poison: Poison, numSplits: number | undefined, impl: number): Promise<void> {
  const c = await pagedCase(new Rng(seed), spec, 'f32', kd);
  const { h, r, p, sq, lens } = spec, d = r + p;
  const cache = Float32Array.from(c.v.kvCache), bt = Int32Array.from(c.v.blockTable);
  const rowOf = (bi: number, j: number) => bt[bi * c.maxPages + Math.floor(j / PAGE)] * PAGE + (j % PAGE);
  const used = new Set<number>();
  lens.forEach((l, bi) => { for (let j = 0; j < l; j++) used.add(rowOf(bi, j)); });
  const specials = [NaN, Infinity, -Infinity];
  for (let row = 0; row < c.numPages * PAGE; row++) if (!used.has(row)) cache.fill(specials[row % 3], row * d, (row + 1) * d);
  lens.forEach((l, bi) => {
    for (let t = 1; t <= Math.min(poison.newestKeys, l); t++) {
      const at = rowOf(bi, l - t) * d;
      cache[at + (t % r)] = NaN;  // its score is NaN for every row that sees it
      cache[at + ((t + 1) % r)] = Infinity;
      cache[at + ((t + 2) % r)] = -Infinity;
      cache[at + r + (t % p)] = -Infinity;
    }
  });
  for (const b of poison.badPages ?? []) bt[b.seq * c.maxPages + b.page] = b.id === 'negative' ? -1 : c.numPages;
  const [kvCache] = await make(cache, [c.numPages, PAGE, d], kd);
  const blockTable = Tensor.fromArray(bt, [c.b, c.maxPages]);
  const run = (x: Record<string, Tensor>) => {
    const out = poisoned([c.b, sq, h, r], 'f32', dev(x.qLatent)), lse = poisoned([c.b, h, sq], 'f32', dev(x.qLatent));
    return mlaPagedAttention(x.qLatent as Tensor<A>, x.qPe as Tensor<A>, x.kvCache as Tensor<A>, x.blockTable as Tensor<'i32'>,
      x.seqLens as Tensor<'i32'>, { softmaxScale: c.scale, causal: true, out: { out, lse }, numSplits, impl: x.qLatent.device === 'cuda' ? impl : 0 });
  };
  const ref = await run({ qLatent: c.qLatent, qPe: c.qPe, kvCache, blockTable, seqLens: c.seqLens }).out.toFloat32Array();
  expect(ref.some((v) => Number.isNaN(v))).toBe(true);
  expect(ref.some((v) => Number.isFinite(v) && v !== 0)).toBe(true);
  await expectCudaMatchesCpu({ qLatent: c.qLatent, qPe: c.qPe, kvCache, blockTable, seqLens: c.seqLens }, run,
    impl === 1 ? { out: 1e-2, lse: IMPL1_LSE_TOL.f32 } : { out: 2e-5, lse: 2e-5 });
  c.dispose(); kvCache.dispose(); blockTable.dispose();
}

describeGpu('mla CUDA kernels', () => {
  const cases: [string, PagedSpec][] = [
    ['decode batch: empty, 1, 64, 65, 200 tokens, 5 heads', { h: 5, r: 512, p: 64, sq: 1, lens: [0, 1, 64, 65, 200] }],
    ['decode, 1 head, r=32, p=16', { h: 1, r: 32, p: 16, sq: 1, lens: [1000, 3] }],
    ['s_q=2, 3 heads, r=128', { h: 3, r: 128, p: 64, sq: 2, lens: [7, 130, 64] }],
    ['s_q=4 with sequences shorter than s_q, 3 heads', { h: 3, r: 64, p: 16, sq: 4, lens: [2, 100, 4] }],
    ['non-causal s_q=3, 5 heads', { h: 5, r: 128, p: 16, sq: 3, lens: [3, 77, 128], causal: false }],
    // On the emulator the V3 head count over shorter sequences (still several pages and CTA tiles).
    ['128 heads (V3), batch of 3', { h: 128, r: 512, p: 64, sq: 1, lens: emuSize([1, 300, 2049], [1, 65, 130]) }],
    ['17 heads x s_q 2 (rows across CTA groups)', { h: 17, r: 512, p: 64, sq: 2, lens: [65, 500] }],
  ];
  describe.each([['bf16', 'bf16'], ['f32', 'f32'], ['f32', 'bf16']] as [A, A][])('paged attention, q %s, cache %s', (qd, kd) => {
    test.each(cases)('%s (automatic splits)', (_n, spec) => withSeed((seed) => attn(spec, qd, kd, seed)));
    test.each(cases)('%s (1 split)', (_n, spec) => withSeed((seed) => attn(spec, qd, kd, seed, 1)));
    test.each(cases)('%s (7 splits)', (_n, spec) => withSeed((seed) => attn(spec, qd, kd, seed, 7)));
  });

  // impl 1 (tensor cores): bf16 cache, r a multiple of 64, r + p a multiple of 16.
  const tcCases = cases.filter(([, c]) => c.r % 64 === 0 && (c.r + c.p) % 16 === 0);
  describe.each([['bf16'], ['f32']] as [A][])('paged attention on tensor cores (impl 1), q %s, cache bf16', (qd) => {
    test.each(tcCases)('%s (automatic splits)', (_n, spec) => withSeed((seed) => attn(spec, qd, 'bf16', seed, undefined, 1, 1)));
    test.each(tcCases)('%s (1 split)', (_n, spec) => withSeed((seed) => attn(spec, qd, 'bf16', seed, 1, 1, 1)));
    test.each(tcCases)('%s (7 splits)', (_n, spec) => withSeed((seed) => attn(spec, qd, 'bf16', seed, 7, 1, 1)));
  });

  // Masked keys take no part in P V (0 * inf = NaN), and page ids are range-checked (NaN rows, as the CPU twin).
  const poisonCases: [string, PagedSpec, Poison][] = [
    ['NaN/inf in the newest keys, s_q=4, 3 heads (rows of 4 tokens in one CTA)', { h: 3, r: 64, p: 16, sq: 4, lens: [5, 70, 131, 64] }, { newestKeys: 2 }],
    ['NaN/inf in the newest key, s_q=2, 16 heads (32-row tensor-core CTAs)', { h: 16, r: 64, p: 16, sq: 2, lens: [66, 3] }, { newestKeys: 1 }],
    ['block-table entries -1 and past the end, s_q=4, 3 heads', { h: 3, r: 64, p: 16, sq: 4, lens: [66, 200, 10, 9] },
      { newestKeys: 0, badPages: [{ seq: 0, page: 1, id: 'negative' }, { seq: 1, page: 0, id: 'past the end' }, { seq: 2, page: 0, id: 'negative' }] }],
  ];
  describe.each([['f32', 0], ['bf16', 0], ['bf16', 1]] as [A, number][])('paged attention over a poisoned cache, cache %s, impl %i', (kd, impl) => {
    test.each(poisonCases)('%s (1 split)', (_n, spec, poison) => withSeed((seed) => attnPoisoned(spec, kd, seed, poison, 1, impl)));
    test.each(poisonCases)('%s (3 splits)', (_n, spec, poison) => withSeed((seed) => attnPoisoned(spec, kd, seed, poison, 3, impl)));
  });

  // On the emulator (about 1e8 thread-instructions/s) 128K tokens x 16 heads would take hours: the same
  // calls (automatic splits, 64 splits, tensor cores) over 8K-16K tokens.
  test('long contexts: 32K and 128K tokens, 16 heads, bf16, automatic and 64 splits', () => withSeed(async (seed) => {
    const [k32, k128, k70] = emuSize([32768, 131072, 70000], [8192, 16384, 4000]);
    await attn({ h: 16, r: 512, p: 64, sq: 1, lens: [k32, 5000] }, 'bf16', 'bf16', seed, undefined, 0.05);
    await attn({ h: 16, r: 512, p: 64, sq: 1, lens: [k128] }, 'bf16', 'bf16', seed + 1, undefined, 0.05);
    await attn({ h: 16, r: 512, p: 64, sq: 1, lens: [k128] }, 'bf16', 'bf16', seed + 2, 64, 0.05);
    await attn({ h: emuSize(128, 32), r: 512, p: 64, sq: 1, lens: [k128, k70] }, 'bf16', 'bf16', seed + 3, undefined, 0.05, 1);
  }), emuSize(600000, 1800000));

  test.each([['bf16', 'bf16'], ['f32', 'f32']] as [A, A][])('down epilogue, qkv %s, cache %s, positions beyond 4096, padding slots', (xd, kd) =>
    withSeed(async (seed) => {
      const rng = new Rng(seed);
      const t = 37, qLora = 1536, r = 512, p = 64, pages = 3;
      const [qkv] = await make(await normals(rng, t * (qLora + r + p), 3), [t, qLora + r + p], xd);
      const qNorm = Tensor.fromArray(Float32Array.from(rng.uniforms(qLora, 0.5, 1.5))), kvNorm = Tensor.fromArray(Float32Array.from(rng.uniforms(r, 0.5, 1.5)));
      const positions = Tensor.fromArray(Int32Array.from({ length: t }, (_, i) => [5, 4095, 4096, 70000, 163839][i % 5] + i));
      const slots = Int32Array.from({ length: t }, (_, i) => (i % 7 === 3 ? -1 : (i * 5) % (pages * 64)));
      await expectCudaMatchesCpu(
        { qkv, qNorm, kvNorm, positions, invFreq: V3_INV_FREQ(), kvCache: Tensor.full([pages, 64, r + p], NaN, { dtype: kd }), slots: Tensor.fromArray(slots) },
        (x) => {
          const out = poisoned([t, qLora], xd, dev(x.qkv));
          const cq = mlaDownEpilogue(x.qkv as Tensor<A>, x.qNorm as Tensor<'f32'>, x.kvNorm as Tensor<'f32'>, x.positions as Tensor<'i32'>,
            x.invFreq as Tensor<'f32'>, x.kvCache as Tensor<A>, x.slots as Tensor<'i32'>, { out });
          return { cq, cache: x.kvCache };
        },
        xd === 'bf16' ? { cq: 8e-3, cache: 8e-3 } : { cq: 1e-5, cache: 1e-5 });
    }));

  test.each([['bf16', 'bf16', 8e-3], ['f32', 'f32', 2e-5], ['f32', 'bf16', 2e-5]] as [A, A, number][])(
    'absorbed query and output projection, activations %s, weights %s, 5 and 128 heads', (xd, wd, tol) => withSeed(async (seed) => {
      const rng = new Rng(seed);
      // On the emulator one token at 128 heads (the kernel runs ~80 thread-instructions per MAC there).
      for (const [t, h] of emuSize([[7, 5], [130, 128], [1, 128]], [[7, 5], [1, 128]])) {
        const nope = 128, p = 64, r = 512, v = 128;
        const [q] = await make(await normals(rng, t * h * (nope + p)), [t, h, nope + p], xd);
        const [wUK] = await make(await normals(rng, h * nope * r, 0.05), [h, nope, r], wd);
        const [wUV] = await make(await normals(rng, h * v * r, 0.05), [h, v, r], wd);
        const [oLat] = await make(await normals(rng, t * h * r), [t, h, r], 'f32');
        const positions = Tensor.fromArray(Int32Array.from({ length: t }, (_, i) => 4000 + 97 * i));
        await expectCudaMatchesCpu({ q, wUK, positions, invFreq: V3_INV_FREQ() }, (x) => {
          const out = { qLatent: poisoned([t, h, r], xd, dev(x.q)), qPe: poisoned([t, h, p], xd, dev(x.q)) };
          return mlaAbsorbQ(x.q as Tensor<A>, x.wUK as Tensor<A>, x.positions as Tensor<'i32'>, x.invFreq as Tensor<'f32'>, { out });
        }, { qLatent: tol, qPe: tol });
        await expectCudaMatchesCpu({ oLat, wUV }, (x) =>
          mlaOutput(x.oLat as Tensor<A>, x.wUV as Tensor<A>, { outDtype: xd, out: poisoned([t, h * v], xd, dev(x.oLat)) }), tol);
      }
    }));

  // Needs the CUDA fp8Gemm / gemm / quantizeFp8 kernels (cuda/fp8_gemm.cu, the integrator's).
  test.each([['f32', false, 1e-4], ['bf16', true, 2e-2]] as [Act, boolean, number][])(
    'mlaForward on cuda equals the CPU backend (tiny-v3 layer 0, %s, fp8 %s): prefill, batched decode', (act, fp8, tol) => withSeed(async (seed) => {
      const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
      const cfg = readConfig(DIR), ckpt = Checkpoint.open(DIR);
      const run = async (device: 'cpu' | 'cuda') => {
        const fused = MlaFused.load(cfg, new Loader(planLoad(cfg, ckpt, { activations: fp8 ? 'fp8' : act, device, mtp: false }), ckpt), 'model.layers.0.self_attn.');
        const cache = new PagedLatentCache(cfg, 12, act, device, 1);
        const invFreq = Tensor.fromArray(ropeInvFreq(cfg), [cfg.qkRopeHeadDim / 2], { device });
        const ids = [cache.addSequence(), cache.addSequence(), cache.addSequence()];
        const outs: Float32Array[] = [];
        let s = seed;
        const step = async (group: number[], sq: number) => {
          const x = Tensor.randn([group.length * sq, cfg.hiddenSize], { seed: s++ }).cast(act).to(device);
          const st = cache.prepare(group, sq);
          outs.push(await fused.forward(x, cache, 0, st, invFreq).toFloat32Array());
          st.dispose();
        };
        await step([ids[0]], 100);
        await step([ids[1], ids[2]], 7);
        for (let k = 0; k < 3; k++) await step(ids, 1);
        fused.dispose(); cache.dispose();
        return outs;
      };
      const cpu = await run('cpu'), gpu = await run('cuda');
      cpu.forEach((c, i) => {
        const e = relErr(gpu[i], c);
        if (!(e <= tol)) throw new Error(`step ${i}: relative error vs the CPU backend ${e} > ${tol}`);
      });
    }));

  // Issue 18: seqLens past what the block table's row covers. The CPU refuses them (ArgumentError); on CUDA the
  // lengths are device data, so a row whose keys run past its block-table row is NaN (out and lse), never a read
  // of the next row's pages, while the other sequences of the batch are as on the CPU.
  describe.each([[0, 1], [0, 3], [1, 1], [1, 3]])('seqLens beyond the block table (impl %i, %i splits)', (impl, splits) => {
    test.each([['one token past', 129], ['64000000', 64000000]])('%s: NaN rows for that sequence only', (_n, over) => withSeed(async (seed) => {
      const spec: PagedSpec = { h: 16, r: 64, p: 16, sq: 1, lens: [128, 100] };
      const c = await pagedCase(new Rng(seed), spec, 'bf16', 'bf16');  // maxPages 3: 192 tokens covered
      const covered = c.maxPages * PAGE;
      const bad = over === 129 ? covered + 1 : over;
      const call = (lens: number[], device: 'cpu' | 'cuda') => {
        const t = (x: Tensor) => x.to(device);
        return mlaPagedAttention(t(c.qLatent) as Tensor<A>, t(c.qPe) as Tensor<A>, t(c.kvCache) as Tensor<A>, t(c.blockTable) as Tensor<'i32'>,
          Tensor.fromArray(Int32Array.from(lens)).to(device), { softmaxScale: c.scale, numSplits: splits, impl: device === 'cuda' ? impl : 0 });
      };
      const gpu = call([bad, 100], 'cuda'), ref = call([128, 100], 'cpu');
      const [o, l] = [await gpu.out.toFloat32Array(), await gpu.lse.toFloat32Array()];
      const [ro, rl] = [await ref.out.toFloat32Array(), await ref.lse.toFloat32Array()];
      const half = o.length / 2, lh = l.length / 2;
      expect(o.subarray(0, half).every(Number.isNaN)).toBe(true);
      expect(l.subarray(0, lh).every(Number.isNaN)).toBe(true);
      expect(relErr(o.subarray(half), ro.subarray(half))).toBeLessThan(impl === 1 ? 1e-2 : 1e-5);
      expect(relErr(l.subarray(lh), rl.subarray(lh))).toBeLessThan(1e-3);
      await expect(call([bad, 100], 'cpu').out.toFloat32Array()).rejects.toThrow(/'seqLens' element 0/);
      c.dispose();
    }));
  });
});
