// The CUDA GEMMs against the CPU backend (same quantized inputs): fp8Gemm with both CUDA kernels
// (the simple reference and, on sm_90, TMA + wgmma including split-K), grouped FP8 GEMMs in the
// contiguous and masked layouts (empty experts, one expert with every row, counts off the tile),
// NaN / inf intermediates of the GLU epilogue bit for bit, and f32 / bf16 gemm. Fresh seeds, odd M, N
// and K with partial 128-blocks, outputs poisoned with NaN. Cases: test/cases/gemm.ts, grouped_gemm.ts.
// Skipped without a usable GPU.
import { Tensor, UnsupportedError, DeviceError } from '../../lib';
import { fp8Gemm, gemm, groupedGemmContiguous, groupedGemmMasked, groupedGemmSiluMulContiguous, groupedGemmSiluMulMasked, Fp8Operand } from '../../lib/ops/gemm';
import { e4m3Decode } from '../reference/codec';
import { quantizeFp8, quantizeWeightFp8 } from '../../lib/ops/quant';
import { FP8_GEMM_GPU, FP8_GEMM_GPU_ODD_K, FP8_GEMM_GPU_SPLIT_K, FP8_GEMM_GPU_TINY, GEMM_GPU, GEMM_GPU_DTYPES, TOL_FP8_VS_CPU as TOL_FP8, TOL_GEMM_VS_CPU } from '../cases/gemm';
import { COUNTS_GPU, CONTIGUOUS_GPU, GLU_COUNTS_GPU, GLU_GPU, MANY_TILES_GPU, MASKED_GPU, MASKED_GPU_TINY, TOL_GLU } from '../cases/grouped_gemm';
import { poisoned, relErr, withEnv, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { describeGpu, expectCudaClose as compare, onEmulator, wgmmaRuns } from './gpu';

const sm90 = wgmmaRuns;
const KERNELS = sm90 ? (['simple', 'wgmma'] as const) : (['simple'] as const);
/** fn() on the CUDA GEMM kernel `kernel`: the kernel is no option of the ops; DSV3_GEMM_KERNEL (lib/env.ts) is the internal switch. */
const withKernel = <T>(kernel: string, fn: () => T): T => withEnv('DSV3_GEMM_KERNEL', kernel, fn);

function activation(rng: Rng, rows: number, k: number): Fp8Operand {
  const x = Tensor.fromFloats(Float32Array.from(rng.normals(rows * k)), [rows, k]);
  const q = quantizeFp8(x);
  x.dispose();
  return q;
}
function weight(rng: Rng, n: number, k: number, std = 0.05): Fp8Operand {
  const w = Tensor.fromFloats(Float32Array.from(rng.normals(n * k, std)), [n, k]);
  const q = quantizeWeightFp8(w);
  w.dispose();
  return { data: q.weight, scale: q.scaleInv };
}
const toCuda = (o: Fp8Operand): Fp8Operand => ({ data: o.data.to('cuda'), scale: o.scale.to('cuda') });

describeGpu('fp8Gemm (CUDA)', () => {
  test.each(KERNELS)('kernel %s matches the CPU backend on odd and V3 shapes (bf16 and f32 out)', (kernel) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const { m, n, k } of FP8_GEMM_GPU(onEmulator)) {
      const a = activation(rng, m, k), b = weight(rng, n, k);
      const ag = toCuda(a), bg = toCuda(b);
      for (const outDtype of ['bf16', 'f32'] as const) {
        const out = poisoned([m, n], outDtype, 'cuda');
        const got = withKernel(kernel, () => fp8Gemm(ag, bg, { outDtype, out }));
        const ref = fp8Gemm(a, b, { outDtype });
        await compare(got, ref, TOL_FP8, `${kernel} [${m}x${n}x${k}] ${outDtype}`);
        ref.dispose(); out.dispose();
      }
      [a.data, a.scale, b.data, b.scale, ag.data, ag.scale, bg.data, bg.scale].forEach((t) => t.dispose());
    }
  }));

  test('auto picks a kernel that runs K not a multiple of 16 (simple) and gives the same answer', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { m, n, k } = FP8_GEMM_GPU_ODD_K;
    const a = activation(rng, m, k), b = weight(rng, n, k);
    const got = fp8Gemm(toCuda(a), toCuda(b), { outDtype: 'f32' });
    await compare(got, fp8Gemm(a, b, { outDtype: 'f32' }), TOL_FP8, `auto [${m}x${n}x${k}]`);
    if (sm90) expect(() => withKernel('wgmma', () => fp8Gemm(toCuda(a), toCuda(b)))).toThrow(UnsupportedError);
  }));

  test('split-K results are deterministic: repeated calls give identical bits', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { m, n, k } = FP8_GEMM_GPU_SPLIT_K(onEmulator);
    const a = toCuda(activation(rng, m, k)), b = toCuda(weight(rng, n, k));
    const first = Buffer.from(await fp8Gemm(a, b, { outDtype: 'f32' }).bytes());
    for (let i = 0; i < 5; i++) expect(Buffer.from(await fp8Gemm(a, b, { outDtype: 'f32' }).bytes()).equals(first)).toBe(true);
  }));

  test('mixed devices and bad kernel names (DSV3_GEMM_KERNEL) are typed errors', () => {
    const rng = new Rng(1);
    const a = activation(rng, 2, 128), b = weight(rng, 128, 128);
    expect(() => fp8Gemm(toCuda(a), b)).toThrow(DeviceError);
    expect(() => withKernel('fast', () => fp8Gemm(toCuda(a), toCuda(b)))).toThrow(/kernel/);
  });
});

describeGpu('grouped FP8 GEMM (CUDA)', () => {
  test.each(KERNELS)('contiguous layout, kernel %s', (kernel) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const counts of COUNTS_GPU) {
      const g = counts.length, { n, k } = CONTIGUOUS_GPU;
      const offs = [0];
      for (const c of counts) offs.push(offs[offs.length - 1] + c);
      const rows = Math.max(1, offs[g]);
      const a = activation(rng, rows, k);
      // n = 320 is not a multiple of 128: each expert is quantized on its own, with a partial last block.
      const per = Array.from({ length: g }, () => weight(rng, n, k));
      const bd = Tensor.fromArray(concatBytes(await Promise.all(per.map((p) => p.data.bytes()))), [g, n, k], { dtype: 'f8_e4m3' });
      const bs = Tensor.fromFloats(concatF32(await Promise.all(per.map((p) => p.scale.toFloat32Array()))), [g, Math.ceil(n / 128), k / 128]);
      const offsets = Tensor.fromArray(Int32Array.from(offs));
      const ref = groupedGemmContiguous({ data: a.data, scale: a.scale }, { data: bd, scale: bs }, offsets, { out: poisoned([rows, n], 'bf16') });
      const got = withKernel(kernel, () => groupedGemmContiguous(toCuda(a), { data: bd.to('cuda'), scale: bs.to('cuda') }, offsets.to('cuda'),
        { out: poisoned([rows, n], 'bf16', 'cuda') }));
      await compare(got, ref, TOL_FP8, `contiguous ${kernel} counts [${counts}]`);
    }
  }));

  test.each(KERNELS)('masked layout, kernel %s', (kernel) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const counts of COUNTS_GPU) {
      const g = counts.length, mMax = Math.max(1, ...counts) + MASKED_GPU.mMaxPad, { n, k } = MASKED_GPU;
      const a = activation(rng, g * mMax, k);
      const ad = a.data.reshape([g, mMax, k]), as = a.scale.reshape([g, mMax, k / 128]);
      const w = weight(rng, g * n, k);  // n = 256: 128-blocks never straddle experts
      const bd = w.data.reshape([g, n, k]), bs = w.scale.reshape([g, n / 128, k / 128]);
      const cnt = Tensor.fromArray(Int32Array.from(counts));
      const ref = groupedGemmMasked({ data: ad, scale: as }, { data: bd, scale: bs }, cnt, { out: poisoned([g, mMax, n], 'f32'), outDtype: 'f32' });
      for (const expectedM of MASKED_GPU.expectedM) {
        const got = withKernel(kernel, () => groupedGemmMasked({ data: ad.to('cuda'), scale: as.to('cuda') }, { data: bd.to('cuda'), scale: bs.to('cuda') },
          cnt.to('cuda'), { out: poisoned([g, mMax, n], 'f32', 'cuda'), outDtype: 'f32', expectedM }));
        await compare(got, ref, TOL_FP8, `masked ${kernel} counts [${counts}] expectedM ${expectedM}`);
      }
    }
  }));
});

// Decoded values of an FP8 result {data [rows, n], scale [rows, n/128]} (NaN where a row was left poisoned).
async function decodeFp8(o: Fp8Operand): Promise<Float64Array> {
  const codes = await o.data.bytes(), sc = await o.scale.toFloat32Array();
  const n = o.data.shape[o.data.ndim - 1], out = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = e4m3Decode(codes[i]) * sc[Math.floor(i / n) * (n / 128) + Math.floor((i % n) / 128)];
  return out;
}

// More tiles than SMs: MANY_TILES_GPU in test/cases/grouped_gemm.ts.
(sm90 ? describe : describe.skip)('grouped FP8 GEMMs (CUDA, wgmma): more tiles than SMs', () => {
  const { experts: G, k: K, n: N } = MANY_TILES_GPU;
  const counts = (rng: Rng): number[] => Array.from({ length: G }, () => (rng.next() < MANY_TILES_GPU.emptyShare ? 0 : rng.int(1, MANY_TILES_GPU.maxRows)));
  const stack = async (rng: Rng, rows: number): Promise<Fp8Operand> => {  // G experts of [rows, K], each quantized on its own
    const per = Array.from({ length: G }, () => weight(rng, rows, K));
    return {
      data: Tensor.fromArray(concatBytes(await Promise.all(per.map((p) => p.data.bytes()))), [G, rows, K], { dtype: 'f8_e4m3' }),
      scale: Tensor.fromFloats(concatF32(await Promise.all(per.map((p) => p.scale.toFloat32Array()))), [G, Math.ceil(rows / 128), K / 128]),
    };
  };

  test('contiguous and masked layouts', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const c = counts(rng), offs = [0];
    for (const x of c) offs.push(offs[offs.length - 1] + x);
    const rows = offs[G], n = N;
    const a = activation(rng, rows, K), w = await stack(rng, n);
    const offsets = Tensor.fromArray(Int32Array.from(offs));
    const ref = groupedGemmContiguous(a, w, offsets, { out: poisoned([rows, n], 'f32'), outDtype: 'f32' });
    const got = withKernel('wgmma', () => groupedGemmContiguous(toCuda(a), toCuda(w), offsets.to('cuda'), { out: poisoned([rows, n], 'f32', 'cuda'), outDtype: 'f32' }));
    await compare(got, ref, TOL_FP8, `contiguous, ${G} experts, counts [${c}]`);

    const mMax = MANY_TILES_GPU.mMax, nm = N;
    const am = activation(rng, G * mMax, K), wm = await stack(rng, nm);
    const amd = { data: am.data.reshape([G, mMax, K]), scale: am.scale.reshape([G, mMax, K / 128]) };
    const cnt = Tensor.fromArray(Int32Array.from(c));
    const refM = groupedGemmMasked(amd, wm, cnt, { out: poisoned([G, mMax, nm], 'f32'), outDtype: 'f32' });
    const gotM = withKernel('wgmma', () => groupedGemmMasked(toCuda(amd), toCuda(wm), cnt.to('cuda'), { out: poisoned([G, mMax, nm], 'f32', 'cuda'), outDtype: 'f32', expectedM: MANY_TILES_GPU.expectedM }));
    await compare(gotM, refM, TOL_FP8, `masked, ${G} experts, counts [${c}]`);
  }));

  test('the fused gate/up GEMM with SiLU-multiply (contiguous)', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const c = counts(rng), offs = [0];
    for (const x of c) offs.push(offs[offs.length - 1] + x);
    const rows = offs[G], n = N;
    const a = activation(rng, rows, K), w = await stack(rng, 2 * n);  // [w1; w3] per expert
    const offsets = Tensor.fromArray(Int32Array.from(offs));
    const out = () => ({ data: poisoned([rows, n], 'f8_e4m3'), scale: poisoned([rows, n / 128], 'f32') });
    const ref = groupedGemmSiluMulContiguous(a, w, offsets, { out: out() });
    const o = out();
    const got = withKernel('wgmma', () => groupedGemmSiluMulContiguous(toCuda(a), toCuda(w), offsets.to('cuda'), { out: { data: o.data.to('cuda'), scale: o.scale.to('cuda') } }));
    const e = relErr(await decodeFp8(got), await decodeFp8(ref));
    if (!(e <= TOL_GLU)) throw new Error(`GLU contiguous, ${G} experts, counts [${c}]: relative error ${e}`);
  }));
});

describeGpu('groupedGemmSiluMul (CUDA): gate/up GEMM with SiLU-multiply and FP8 re-quantization fused', () => {
  // Compared decoded, at TOL_GLU (test/cases/grouped_gemm.ts).
  const w13 = async (rng: Rng, gN: number, n: number, k: number): Promise<Fp8Operand> => {
    const per = Array.from({ length: gN }, () => weight(rng, 2 * n, k));  // [w1; w3] of one expert, quantized together (n % 128 == 0)
    return {
      data: Tensor.fromArray(concatBytes(await Promise.all(per.map((p) => p.data.bytes()))), [gN, 2 * n, k], { dtype: 'f8_e4m3' }),
      scale: Tensor.fromFloats(concatF32(await Promise.all(per.map((p) => p.scale.toFloat32Array()))), [gN, (2 * n) / 128, Math.ceil(k / 128)]),
    };
  };

  test.each(KERNELS)('contiguous and masked layouts, kernel %s', (kernel) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const counts of GLU_COUNTS_GPU) {
      const gN = counts.length, { n, k } = GLU_GPU;
      const w = await w13(rng, gN, n, k), wg = toCuda(w);
      // contiguous, with one row of no expert at each end
      const offs = [1];
      for (const c of counts) offs.push(offs[offs.length - 1] + c);
      const rows = offs[gN] + 1;
      const a = activation(rng, rows, k);
      const outC = () => ({ data: poisoned([rows, n], 'f8_e4m3'), scale: poisoned([rows, n / 128], 'f32') });
      const ref = groupedGemmSiluMulContiguous(a, w, Tensor.fromArray(Int32Array.from(offs)), { out: outC() });
      const o = outC();
      const got = withKernel(kernel, () => groupedGemmSiluMulContiguous(toCuda(a), wg, Tensor.fromArray(Int32Array.from(offs), [gN + 1], { device: 'cuda' }),
        { out: { data: o.data.to('cuda'), scale: o.scale.to('cuda') } }));
      const e1 = relErr(await decodeFp8(got), await decodeFp8(ref));
      if (!(e1 <= TOL_GLU)) throw new Error(`contiguous ${kernel} counts [${counts}]: relative error ${e1}`);
      // masked
      const mMax = Math.max(1, ...counts) + GLU_GPU.mMaxPad;
      const am = activation(rng, gN * mMax, k);
      const amd = { data: am.data.reshape([gN, mMax, k]), scale: am.scale.reshape([gN, mMax, k / 128]) };
      const cnt = Tensor.fromArray(Int32Array.from(counts));
      const outM = () => ({ data: poisoned([gN, mMax, n], 'f8_e4m3'), scale: poisoned([gN, mMax, n / 128], 'f32') });
      const refM = groupedGemmSiluMulMasked(amd, w, cnt, { out: outM() });
      for (const expectedM of GLU_GPU.expectedM) {
        const om = outM();
        const gotM = withKernel(kernel, () => groupedGemmSiluMulMasked(toCuda(amd), wg, cnt.to('cuda'), { expectedM, out: { data: om.data.to('cuda'), scale: om.scale.to('cuda') } }));
        const e2 = relErr(await decodeFp8(gotM), await decodeFp8(refM));
        if (!(e2 <= TOL_GLU)) throw new Error(`masked ${kernel} counts [${counts}] expectedM ${expectedM}: relative error ${e2}`);
      }
    }
  }));
});

describeGpu('groupedGemmSiluMul (CUDA): NaN and inf intermediates carry the CPU\'s bits', () => {
  // Exact infinities from the GEMM (every product of a row overflows, all of one sign), so both backends
  // agree on gate and up: row 1 has gate +inf and -inf (silu(-inf) = -inf / inf, the CPU's default NaN) and
  // up +-inf, so its h holds NaN and +-inf (NaN scale); row 2 has gate +inf only (h = +-inf, scale inf,
  // codes inf / inf = the default NaN). Their codes and scales must be the CPU's bytes; row 0 is ordinary.
  test.each(KERNELS)('kernel %s', async (kernel) => {
    const n = 128, k = 128, rows = 3;
    const wc = new Uint8Array(2 * n * k);
    for (let i = 0; i < 2 * n; i++)
      for (let j = 0; j < k; j++) {
        const neg = i < n ? i >= 64 && j < 64 : i % 2 === 1;  // gate rows 64..127: -1 on the first half of k
        wc[i * k + j] = neg ? 0xb8 : 0x38;  // e4m3 -1 / +1
      }
    const w: Fp8Operand = { data: Tensor.fromArray(wc, [1, 2 * n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats(new Float32Array(2).fill(1), [1, 2, 1]) };
    const ac = new Uint8Array(rows * k);
    for (let j = 0; j < k; j++) { ac[j] = 0x38; ac[k + j] = j < 64 ? 0x7e : 0; ac[2 * k + j] = j < 64 ? 0 : 0x7e; }  // 448 on one half
    const a: Fp8Operand = { data: Tensor.fromArray(ac, [rows, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromFloats([0.01, 3e38, 3e38], [rows, 1]) };
    const offs = Tensor.fromArray(Int32Array.from([0, rows]));
    const out = () => ({ data: poisoned([rows, n], 'f8_e4m3'), scale: poisoned([rows, 1], 'f32') });
    const ref = groupedGemmSiluMulContiguous(a, w, offs, { out: out() });
    const o = out();
    const got = withKernel(kernel, () => groupedGemmSiluMulContiguous(toCuda(a), toCuda(w), offs.to('cuda'), { out: { data: o.data.to('cuda'), scale: o.scale.to('cuda') } }));
    const [rs, gs] = [new Uint32Array((await ref.scale.toFloat32Array()).buffer), new Uint32Array((await got.scale.toFloat32Array()).buffer)];
    expect([rs[1], rs[2]]).toEqual([0x7fc00000, 0x7f800000]);  // the premise: a NaN and an inf group on the CPU
    expect([gs[1], gs[2]].map((u) => u.toString(16))).toEqual([rs[1], rs[2]].map((u) => u.toString(16)));
    const [rd, gd] = [Buffer.from(await ref.data.bytes()), Buffer.from(await got.data.bytes())];
    expect(Array.from(gd.subarray(k, 3 * k))).toEqual(Array.from(rd.subarray(k, 3 * k)));
  });
});

describeGpu('gemm f32 / bf16 (CUDA)', () => {
  test.each(GEMM_GPU_DTYPES)('%s operands, %s out', (dt, outDtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const tol = TOL_GEMM_VS_CPU[outDtype];
    // 'simple': the reference kernel.
    for (const { m, n, k } of GEMM_GPU(onEmulator)) {
      const a = Tensor.fromFloats(Float32Array.from(rng.normals(m * k)), [m, k], { dtype: dt });
      const b = Tensor.fromFloats(Float32Array.from(rng.normals(n * k)), [n, k], { dtype: dt });
      const ref = gemm(a, b, { outDtype });
      for (const kernel of ['auto', 'simple'] as const) {
        const got = withKernel(kernel, () => gemm(a.to('cuda'), b.to('cuda'), { outDtype, out: poisoned([m, n], outDtype, 'cuda') }));
        await compare(got, ref, tol, `gemm ${dt} ${kernel} [${m}x${n}x${k}]`);
      }
    }
  }));
});

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function concatF32(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// A few seconds of work in total, for running under compute-sanitizer (memcheck, racecheck, synccheck):
//   compute-sanitizer --tool memcheck node node_modules/.bin/jest --config jest.gpu.config.js -t 'sanitizer-small'
describeGpu('sanitizer-small cases', () => {
  test.each(KERNELS)('fp8Gemm and the grouped GEMMs on tiny shapes, kernel %s', (kernel) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const { m, n, k } of FP8_GEMM_GPU_TINY) {
      const a = activation(rng, m, k), b = weight(rng, n, k);
      await compare(withKernel(kernel, () => fp8Gemm(toCuda(a), toCuda(b), { outDtype: 'f32' })), fp8Gemm(a, b, { outDtype: 'f32' }), TOL_FP8, `small ${m}x${n}x${k}`);
    }
    const { experts: g, mMax, n, k, counts } = MASKED_GPU_TINY;  // n, k: one 128-block each
    const a = activation(rng, g * mMax, k), w = weight(rng, g * n, k);
    const ad = a.data.reshape([g, mMax, k]), as = a.scale.reshape([g, mMax, 1]), bd = w.data.reshape([g, n, k]), bs = w.scale.reshape([g, 1, 1]);
    const cnt = Tensor.fromArray(Int32Array.from(counts));
    const ref = groupedGemmMasked({ data: ad, scale: as }, { data: bd, scale: bs }, cnt, { out: poisoned([g, mMax, n], 'f32'), outDtype: 'f32' });
    const got = withKernel(kernel, () => groupedGemmMasked({ data: ad.to('cuda'), scale: as.to('cuda') }, { data: bd.to('cuda'), scale: bs.to('cuda') }, cnt.to('cuda'),
      { out: poisoned([g, mMax, n], 'f32', 'cuda'), outDtype: 'f32' }));
    await compare(got, ref, TOL_FP8, 'small masked');
  }));
});
