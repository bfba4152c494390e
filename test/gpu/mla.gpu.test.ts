// The fused MLA CUDA kernels (cuda/mla_attn.cu, mla_proj.cu) against the CPU backend on the same inputs, cases
// of test/cases/mla.ts: paged decode
// attention (batches of different lengths, pages not full and shuffled, NaN in every cache row outside
// the sequences, odd head counts, s_q 1..4, split-KV forced and automatic, up to 128K tokens; both kernel
// variants: impl 0 simple f32, impl 1 tensor cores; a cache poisoned with NaN/inf where rows must not look
// and bad block-table entries), the down-projection epilogue (positions beyond YaRN's original 4096, padding slots), the absorbed query
// and the output projection. Outputs are NaN-poisoned on the device. Skipped without a usable GPU.
import { Tensor, UnsupportedError } from '../../lib';
import { poisoned, relErr, withEnv, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { mlaAbsorbQ, mlaDownEpilogue, mlaOutput, mlaPagedAttention } from '../../lib/ops/mla';
import { yarnInvFreq } from '../../lib/ops/rope';
import { A, BEYOND_GPU, DOWN_GPU, FORWARD_GPU, LONG_GPU, LONG_GPU_TIMEOUT_MS, PAGED_DTYPES, PAGED_GPU, PAGED_GPU_SPLITS, PAGED_TC_Q,
  pagedTolVsCpu, PagedSpec, Poison, POISON_GPU, POISON_GPU_RUNS, POISON_GPU_SPLITS, PROJ_GPU, PROJ_GPU_DTYPES, tensorCoreFits,
  TOL_BEYOND_VS_CPU, TOL_DOWN_VS_CPU, yarnOf } from '../cases/mla';
import { make, normals, pagedCase } from '../ops/mla_paged_cases';
import { PAGE } from '../reference/mla_paged';
import { describeGpu, expectCudaMatchesCpu, onEmulator } from './gpu';
import { join } from 'path';
import { readConfig, ropeInvFreq } from '../../lib/model/load';
import { MlaFused } from '../../lib/model/mla_fused';
import { Loader } from '../../lib/model/loader';
import { planLoad } from '../../lib/model/plan';
import { PagedLatentCache } from '../../lib/model/paged_cache';
import { Checkpoint } from '../../lib/weights/safetensors';

const dev = (t: Tensor) => t.device as 'cpu' | 'cuda';
const V3_INV_FREQ = () => Tensor.fromArray(yarnInvFreq(yarnOf(64)));
/** fn() on the attention kernel `impl` when on CUDA: the variant is no option of mlaPagedAttention;
 * DSV3_MLA_ATTN_IMPL (lib/env.ts) is the internal switch (the CPU has one implementation). */
const onImpl = <T>(device: string, impl: number, fn: () => T): T => withEnv('DSV3_MLA_ATTN_IMPL', device === 'cuda' ? String(impl) : undefined, fn);

async function attn(spec: PagedSpec, qd: A, kd: A, seed: number, numSplits?: number, qStd = 1, impl = 0): Promise<void> {
  const c = await pagedCase(new Rng(seed), spec, qd, kd, qStd);
  const { h, r, sq } = spec;
  await expectCudaMatchesCpu(
    { qLatent: c.qLatent, qPe: c.qPe, kvCache: c.kvCache, blockTable: c.blockTable, seqLens: c.seqLens },
    (x) => {
      const out = poisoned([c.b, sq, h, r], 'f32', dev(x.qLatent)), lse = poisoned([c.b, h, sq], 'f32', dev(x.qLatent));
      return onImpl(x.qLatent.device, impl, () => mlaPagedAttention(x.qLatent as Tensor<A>, x.qPe as Tensor<A>, x.kvCache as Tensor<A>,
        x.blockTable as Tensor<'i32'>, x.seqLens as Tensor<'i32'>, { softmaxScale: c.scale, causal: spec.causal ?? true, out: { out, lse }, numSplits }));
    },
    pagedTolVsCpu(impl, qd));
  c.dispose();
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
    return onImpl(x.qLatent.device, impl, () => mlaPagedAttention(x.qLatent as Tensor<A>, x.qPe as Tensor<A>, x.kvCache as Tensor<A>,
      x.blockTable as Tensor<'i32'>, x.seqLens as Tensor<'i32'>, { softmaxScale: c.scale, causal: true, out: { out, lse }, numSplits }));
  };
  const ref = await run({ qLatent: c.qLatent, qPe: c.qPe, kvCache, blockTable, seqLens: c.seqLens }).out.toFloat32Array();
  expect(ref.some((v) => Number.isNaN(v))).toBe(true);
  expect(ref.some((v) => Number.isFinite(v) && v !== 0)).toBe(true);
  await expectCudaMatchesCpu({ qLatent: c.qLatent, qPe: c.qPe, kvCache, blockTable, seqLens: c.seqLens }, run,
    pagedTolVsCpu(impl, 'f32'));
  c.dispose(); kvCache.dispose(); blockTable.dispose();
}

describeGpu('mla CUDA kernels', () => {
  const cases = PAGED_GPU(onEmulator);
  describe.each(PAGED_DTYPES)('paged attention, q %s, cache %s', (qd, kd) => {
    describe.each(PAGED_GPU_SPLITS)('%s', (_s, splits) => {
      test.each(cases)('%s', (_n, spec) => withSeed((seed) => attn(spec, qd, kd, seed, splits)));
    });
  });

  describe.each(PAGED_TC_Q)('paged attention on tensor cores (impl 1), q %s, cache bf16', (qd) => {
    describe.each(PAGED_GPU_SPLITS)('%s', (_s, splits) => {
      test.each(cases.filter(([, c]) => tensorCoreFits(c)))('%s', (_n, spec) => withSeed((seed) => attn(spec, qd, 'bf16', seed, splits, 1, 1)));
    });
  });

  // Masked keys take no part in P V (0 * inf = NaN), and page ids are range-checked (NaN rows, as the CPU twin).
  describe.each(POISON_GPU_RUNS)('paged attention over a poisoned cache, cache %s, impl %i', (kd, impl) => {
    describe.each(POISON_GPU_SPLITS)('%s', (_s, splits) => {
      test.each(POISON_GPU)('%s', (_n, spec, poison) => withSeed((seed) => attnPoisoned(spec, kd, seed, poison, splits, impl)));
    });
  });

  // On the emulator (about 1e8 thread-instructions/s) 128K tokens x 16 heads would take hours: the same
  // calls (automatic splits, 64 splits, tensor cores) over 8K-16K tokens.
  test('long contexts: 32K and 128K tokens, 16 heads, bf16, automatic and 64 splits', () => withSeed(async (seed) => {
    for (const [i, run] of LONG_GPU(onEmulator).entries()) await attn(run.spec, 'bf16', 'bf16', seed + i, run.splits, 0.05, run.impl);
  }), LONG_GPU_TIMEOUT_MS(onEmulator));

  test.each(DOWN_GPU.dtypes)('down epilogue, qkv %s, cache %s, positions beyond 4096, padding slots', (xd, kd) =>
    withSeed(async (seed) => {
      const rng = new Rng(seed);
      const { t, qLora, r, p, pages } = DOWN_GPU;
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
        { cq: TOL_DOWN_VS_CPU[xd], cache: TOL_DOWN_VS_CPU[xd] });
    }));

  test.each(PROJ_GPU_DTYPES)(
    'absorbed query and output projection, activations %s, weights %s, 5 and 128 heads', (xd, wd, tol) => withSeed(async (seed) => {
      const rng = new Rng(seed);
      const { nope, p, r, v, runs } = PROJ_GPU(onEmulator);
      for (const [t, h] of runs) {
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
  test.each(FORWARD_GPU)(
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
  describe.each(BEYOND_GPU.runs)('seqLens beyond the block table (impl %i, %i splits)', (impl, splits) => {
    test.each(BEYOND_GPU.lens)('%s: NaN rows for that sequence only', (_n, over) => withSeed(async (seed) => {
      const spec = BEYOND_GPU.spec, [len0, len1] = spec.lens;
      const c = await pagedCase(new Rng(seed), spec, 'bf16', 'bf16');  // maxPages 3: 192 tokens covered
      const covered = c.maxPages * PAGE;
      const bad = over === 129 ? covered + 1 : over;
      const call = (lens: number[], device: 'cpu' | 'cuda') => {
        const t = (x: Tensor) => x.to(device);
        return onImpl(device, impl, () => mlaPagedAttention(t(c.qLatent) as Tensor<A>, t(c.qPe) as Tensor<A>, t(c.kvCache) as Tensor<A>,
          t(c.blockTable) as Tensor<'i32'>, Tensor.fromArray(Int32Array.from(lens)).to(device), { softmaxScale: c.scale, numSplits: splits }));
      };
      const gpu = call([bad, len1], 'cuda'), ref = call([len0, len1], 'cpu');
      const [o, l] = [await gpu.out.toFloat32Array(), await gpu.lse.toFloat32Array()];
      const [ro, rl] = [await ref.out.toFloat32Array(), await ref.lse.toFloat32Array()];
      const half = o.length / 2, lh = l.length / 2;
      expect(o.subarray(0, half).every(Number.isNaN)).toBe(true);
      expect(l.subarray(0, lh).every(Number.isNaN)).toBe(true);
      expect(relErr(o.subarray(half), ro.subarray(half))).toBeLessThan(TOL_BEYOND_VS_CPU.out[impl]);
      expect(relErr(l.subarray(lh), rl.subarray(lh))).toBeLessThan(TOL_BEYOND_VS_CPU.lse);
      await expect(call([bad, len1], 'cpu').out.toFloat32Array()).rejects.toThrow(/'seqLens' element 0/);
      c.dispose();
    }));
  });

  // The kernels' limits (mla_paged_attention_supports, next to the kernel in cuda/mla_attn.cu): an UnsupportedError
  // that says why, raised at the call; the CPU twin has no such limits and runs the same call.
  test('unsupported shapes and kernel variants are an UnsupportedError naming the limit', async () => {
    const call = (device: 'cpu' | 'cuda', r: number, p: number, kd: A) => {
      const z = (shape: number[], dtype: A | 'i32') => Tensor.zeros(shape, { dtype, device });
      const seqLens = Tensor.fromArray(new Int32Array([3]), [1]).to(device);
      return mlaPagedAttention(z([1, 1, 2, r], 'f32') as Tensor<A>, z([1, 1, 2, p], 'f32') as Tensor<A>, z([1, PAGE, r + p], kd) as Tensor<A>,
        z([1, 1], 'i32') as Tensor<'i32'>, seqLens as Tensor<'i32'>, { softmaxScale: 0.1 });
    };
    expect(() => call('cuda', 48, 8, 'f32')).toThrow(UnsupportedError);
    expect(() => call('cuda', 48, 8, 'f32')).toThrow(/r must be a multiple of 32 up to 512 .* got r = 48, p = 8/);
    expect(() => onImpl('cuda', 1, () => call('cuda', 64, 16, 'f32'))).toThrow(/impl 1 \(tensor cores\) needs a bf16 kvCache/);
    expect(() => onImpl('cuda', 1, () => call('cuda', 64, 16, 'f32'))).toThrow(UnsupportedError);
    const cpu = call('cpu', 48, 8, 'f32');  // the CPU twin runs it: zeros in, zeros out
    expect(Array.from(await cpu.out.toFloat32Array()).every((v) => v === 0)).toBe(true);
    const ok = onImpl('cuda', 1, () => call('cuda', 64, 16, 'bf16'));  // a supported call still runs
    expect(Array.from(await ok.out.toFloat32Array()).every((v) => v === 0)).toBe(true);
  });
});
