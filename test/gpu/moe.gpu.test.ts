// MoE router and dispatch on CUDA (cuda/moe.cu) vs the CPU backend: indices, permutations, gathers and
// combined outputs are compared bit for bit (the kernels repeat the CPU twins' f32 operations); router
// weights to 1e-6; siluMulQuant to 1e-6 (scales) / 1e-3 (codes), as glibc's expf misrounds ~0.1% of
// inputs by one ulp where the GPU's double exp does not (inputs where exp is exact, with NaN and +-inf, bit for
// bit). Outputs poisoned on the device. Skipped without a GPU.
import { Tensor, UnsupportedError } from '../../lib';
import { moeCombine, moeForward, moeGather, moePermute, moeRoute, siluMulQuant } from '../../lib/ops/moe';
import { quantizeFp8 } from '../../lib/ops/quant';
import { COMBINE_GPU, FORWARD_GPU, GATHER_GPU, PERMUTE_GPU, ROUTE_GPU, SILU_MUL_QUANT_GPU, SILU_MUL_QUANT_SPECIALS_GPU, TOL_FORWARD_VS_CPU,
  TOL_ROUTE_WEIGHTS_VS_CPU, TOL_SILU_MUL_QUANT_VS_CPU } from '../cases/moe';
import { poisoned, relErr, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { randomRoutes } from '../reference/moe_dispatch';
import { describeGpu, onEmulator } from './gpu';
import { specialsFor, withBits } from './nan_bits';

type Outs = Record<string, Tensor>;
const onCuda = (x: Record<string, Tensor>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, v.to('cuda')]));

/** Runs `run` on the CPU inputs and on CUDA copies; outputs named in `tol` are compared by relative error, the rest bit for bit. */
async function cudaVsCpu(inputs: Record<string, Tensor>, run: (x: Record<string, Tensor>, dev: 'cpu' | 'cuda') => Outs, tol: Record<string, number> = {}): Promise<void> {
  const want = run(inputs, 'cpu'), got = run(onCuda(inputs), 'cuda');
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    expect(g.device).toBe('cuda');
    expect([name, g.dtype, g.shape]).toEqual([name, w.dtype, w.shape]);
    if (name in tol) {
      const e = relErr(await g.toFloat32Array(), await w.toFloat32Array());
      if (!(e <= tol[name])) throw new Error(`output '${name}': relative error vs the CPU backend ${e} > ${tol[name]}`);
    } else {
      const [gb, wb] = [Buffer.from(await g.bytes()), Buffer.from(await w.bytes())];
      if (!gb.equals(wb)) {
        let first = 0;
        while (gb[first] === wb[first]) first++;
        throw new Error(`output '${name}' (${w.dtype} ${JSON.stringify(w.shape)}) differs from the CPU backend from byte ${first}`);
      }
    }
  }
}

describeGpu('MoE on CUDA', () => {
  test.each(ROUTE_GPU.map((c) => [c.name, c] as const))('moeRoute %s: indices exact, weights to 1e-6', (_n, c) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { t, e } = c, k = c.opts.topK;
    const inputs: Record<string, Tensor> = { logits: Tensor.fromArray(Float32Array.from(rng.normals(t * e)), [t, e]) };
    if (c.bias) inputs.bias = Tensor.fromArray(Float32Array.from(rng.normals(e, 0.1)));
    await cudaVsCpu(inputs, (x, dev) => {
      const out = { weights: poisoned([t, k], 'f32', dev), indices: poisoned([t, k], 'i32', dev) };
      const r = moeRoute(x.logits as Tensor<'f32'>, { ...c.opts, bias: x.bias as Tensor<'f32'> | undefined, out });
      return { weights: r.weights, indices: r.indices };
    }, { weights: TOL_ROUTE_WEIGHTS_VS_CPU });
  }));

  test('moeRoute ties: equal logits and tied groups go to the lower index on both backends', async () => {
    const flat = { logits: Tensor.full([4, 256], 0.25), bias: Tensor.zeros([256]) };
    await cudaVsCpu(flat, (x) => {
      const r = moeRoute(x.logits as Tensor<'f32'>, { topK: 8, nGroup: 8, topkGroup: 4, bias: x.bias as Tensor<'f32'>, routedScalingFactor: 2.5 });
      return { weights: r.weights, indices: r.indices };
    });
    // repeated values: pairs of equal logits, NaN first
    const v = Float32Array.from({ length: 64 }, (_, j) => (j === 40 ? NaN : Math.floor(j / 2) % 5));
    await cudaVsCpu({ logits: Tensor.fromArray(v, [1, 64]) }, (x) => {
      const r = moeRoute(x.logits as Tensor<'f32'>, { topK: 64, scoring: 'softmax' });
      return { weights: r.weights, indices: r.indices };
    }, { weights: TOL_ROUTE_WEIGHTS_VS_CPU });
  });

  test.each(PERMUTE_GPU.map((c) => [JSON.stringify(c), c] as const))('moePermute %s: every output exact', (_n, c) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const idx = Tensor.fromArray(randomRoutes(rng, c.t, c.k, c.e, 'pool' in c ? c.pool : undefined), [c.t, c.k]);
    await cudaVsCpu({ idx }, (x) => {
      const r = moePermute(x.idx as Tensor<'i32'>, { numExperts: c.e, layout: 'layout' in c ? c.layout : undefined,
        align: 'align' in c ? c.align : undefined, mMax: 'mMax' in c ? c.mMax : undefined });
      const o: Outs = { counts: r.counts, rowSlot: r.rowSlot, slotRow: r.slotRow };
      if (r.offsets) o.offsets = r.offsets;
      if (r.dropped) o.dropped = r.dropped;
      return o;
    });
  }));

  test.each(GATHER_GPU)('moeGather %s d=%i and its FP8 operand: exact', (dtype, d) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const t = 37, k = 8, e = 64;
    const idx = Tensor.fromArray(randomRoutes(rng, t, k, e), [t, k]);
    const x = Tensor.fromFloats(Float32Array.from(rng.normals(t * d)), [t, d], { dtype });
    await cudaVsCpu({ idx, x }, (a, dev) => {
      const p = moePermute(a.idx as Tensor<'i32'>, { numExperts: e, align: 32 });
      const rows = p.rowSlot.shape[0];
      const g = moeGather(a.x, p.rowSlot, { k, out: poisoned([rows, d], dtype, dev) });
      const q = moeGather(quantizeFp8(a.x as Tensor<'bf16'>), p.rowSlot, { k });
      return { g, qd: q.data, qs: q.scale };
    });
  }));

  test.each(SILU_MUL_QUANT_GPU)(
    'siluMulQuant %s rows=%i n=%i ue8m0=%s: codes and scales (fused and split)', (dtype, rows, n, ue8m0) => withSeed(async (seed) => {
      const rng = new Rng(seed);
      const gu = Tensor.fromFloats(Float32Array.from(rng.normals(rows * 2 * n, 3)), [rows, 2 * n], { dtype });
      const g = Tensor.fromFloats(Float32Array.from(rng.normals(rows * n, 3)), [rows, n], { dtype });
      const u = Tensor.fromFloats(Float32Array.from(rng.normals(rows * n)), [rows, n], { dtype });
      const kb = Math.ceil(n / 128);
      await cudaVsCpu({ gu, g, u }, (x, dev) => {
        const f = siluMulQuant(x.gu as Tensor<'bf16'>, { ue8m0, out: { data: poisoned([rows, n], 'f8_e4m3', dev), scale: poisoned([rows, kb], 'f32', dev) } });
        const s = siluMulQuant(x.g as Tensor<'bf16'>, x.u as Tensor<'bf16'>, { ue8m0 });
        return { fd: f.data, fs: f.scale, sd: s.data, ss: s.scale };
      }, { fd: TOL_SILU_MUL_QUANT_VS_CPU.codes, sd: TOL_SILU_MUL_QUANT_VS_CPU.codes, fs: TOL_SILU_MUL_QUANT_VS_CPU.scales, ss: TOL_SILU_MUL_QUANT_VS_CPU.scales });
    }));

  // Inputs whose silu(g) * u is exact on both backends (exp(-g) is 0, 1 or inf: no expf rounding), with NaN of
  // both signs and payloads and +-inf in gate and up: the codes and scales equal the CPU's bit for bit (a NaN
  // gate wins and keeps its bits, gate -inf gives the default NaN, then a NaN up wins; 0 * inf is NaN too).
  test.each(SILU_MUL_QUANT_SPECIALS_GPU)('siluMulQuant %s n=%i with NaN and +-inf in gate and up: bit for bit', (dtype, n) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const rows = 6, kb = Math.ceil(n / 128);
    const big = dtype === 'f16' ? 60000 : 1e30;  // finite in the input dtype; big * -big overflows h to -inf
    const gVals = [0, -0, 120, -120, big, -big, 200, 30000], uVals = [0, -0, 1, -2, 3.5, 0.25, -big];
    const bits = new Map<number, number>();
    const vals = new Float32Array(rows * 2 * n);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < 2 * n; j++) vals[r * 2 * n + j] = j < n ? gVals[rng.int(0, gVals.length - 1)] : uVals[rng.int(0, uVals.length - 1)];
    for (let r = 0; r < rows; r++)
      for (let g = 0; g < kb; g++)
        for (const half of [0, 1]) {  // gate or up of this group
          const idx = Array.from({ length: Math.min(128, n - g * 128) }, (_, j) => r * 2 * n + half * n + g * 128 + j);
          const mode = (r * kb + g + seed) % 5;  // gate mode m, up mode 2m % 5
          specialsFor(rng, dtype, idx, half ? (2 * mode) % 5 : mode, bits);
          if (mode === 0) vals[idx[0]] = half ? -big : big;  // a group without specials: h = -inf there, scale inf
        }
    const gu = await withBits(vals, [rows, 2 * n], dtype, bits);
    await cudaVsCpu({ gu }, (x, dev) => {
      const f = siluMulQuant(x.gu as Tensor<'bf16'>, { out: { data: poisoned([rows, n], 'f8_e4m3', dev), scale: poisoned([rows, kb], 'f32', dev) } });
      const e = siluMulQuant(x.gu as Tensor<'bf16'>, { ue8m0: true });
      return { fd: f.data, fs: f.scale, ed: e.data, es: e.scale };
    });
    const ref = siluMulQuant(gu as Tensor<'bf16'>);
    const sc = await ref.scale.toFloat32Array(), codes = Buffer.from(await ref.data.bytes());
    expect(sc.some((v) => Number.isNaN(v)) && sc.some((v) => v === Infinity) && codes.includes(0xff)).toBe(true);
  }));

  test.each(COMBINE_GPU(onEmulator))('moeCombine %o: exact, and identical bits on a rerun', (c) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { t, k, e, d, dtype } = c;
    const idx = Tensor.fromArray(randomRoutes(rng, t, k, e), [t, k]);
    const cpuPerm = moePermute(idx, { numExperts: e, layout: c.masked ? 'masked' : 'contiguous', align: c.masked ? 1 : 128 });
    const rows = cpuPerm.rowSlot.numel;
    const inputs = {
      slotRow: cpuPerm.slotRow,
      y: Tensor.fromFloats(Float32Array.from(rng.normals(rows * d)), [rows, d], { dtype }),
      w: Tensor.fromArray(Float32Array.from(rng.uniforms(t * k, 0, 2.5)), [t, k]),
      shared: Tensor.fromFloats(Float32Array.from(rng.normals(t * d)), [t, d], { dtype }),
      residual: Tensor.fromFloats(Float32Array.from(rng.normals(t * d, 3)), [t, d], { dtype }),
    };
    await cudaVsCpu(inputs, (x, dev) => {
      const run = (out?: Tensor) => moeCombine(x.y as Tensor<'bf16'>, x.slotRow as Tensor<'i32'>, x.w as Tensor<'f32'>,
        { shared: x.shared as Tensor<'bf16'>, residual: x.residual as Tensor<'bf16'>, out: out as Tensor<'bf16'> });
      return { out: run(poisoned([t, d], dtype, dev)), rerun: run(), f32: moeCombine<'f32'>(x.y as Tensor<'bf16'>, x.slotRow as Tensor<'i32'>, x.w as Tensor<'f32'>, { outDtype: 'f32' }) };
    });
  }));

  // Needs the CUDA grouped FP8 GEMM (cuda/fp8_gemm.cu) and the router GEMM: routing exact, output to bf16 tolerance.
  test.each(FORWARD_GPU(onEmulator).runs)('moeForward t=%i layout %s, FP8 experts (V3-like groups)', (t, layout) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const { d, e, n, k } = FORWARD_GPU(onEmulator);
    const codes = (len: number) => Uint8Array.from({ length: len }, () => { const c = rng.int(0, 255); return (c & 0x7f) === 0x7f ? c - 1 : c; });
    const stack = (rows: number, cols: number) => ({
      data: Tensor.fromArray(codes(e * rows * cols), [e, rows, cols], { dtype: 'f8_e4m3' }),
      scale: Tensor.fromArray(Float32Array.from(rng.uniforms(e * (rows / 128) * (cols / 128), 1e-3, 4e-3)), [e, rows / 128, cols / 128]),
    });
    const w = { w1: stack(n, d), w3: stack(n, d), w2: stack(d, n) };
    const inputs: Record<string, Tensor> = {
      // small multiples of 1/4 and 1/64: every router logit is exact in f32 whatever the GEMM's summation
      // order, so both backends route identically (ties included) and only the expert GEMMs may differ
      x: Tensor.fromFloats(Float32Array.from({ length: t * d }, () => rng.int(-2, 2) / 4), [t, d], { dtype: 'bf16' }),
      gate: Tensor.fromArray(Float32Array.from({ length: e * d }, () => rng.int(-3, 3) / 64), [e, d]),
      bias: Tensor.fromArray(Float32Array.from(rng.normals(e, 0.01))),
      shared: Tensor.fromFloats(Float32Array.from(rng.normals(t * d)), [t, d], { dtype: 'bf16' }),
      w1d: w.w1.data, w1s: w.w1.scale, w3d: w.w3.data, w3s: w.w3.scale, w2d: w.w2.data, w2s: w.w2.scale,
    };
    await cudaVsCpu(inputs, (x) => {
      const r = moeForward(x.x as Tensor<'bf16'>, x.gate as Tensor<'f32'>, {
        w1: { data: x.w1d as Tensor<'f8_e4m3'>, scale: x.w1s as Tensor<'f32'> },
        w3: { data: x.w3d as Tensor<'f8_e4m3'>, scale: x.w3s as Tensor<'f32'> },
        w2: { data: x.w2d as Tensor<'f8_e4m3'>, scale: x.w2s as Tensor<'f32'> },
      }, { topK: k, nGroup: 8, topkGroup: 4, routedScalingFactor: 2.5, bias: x.bias as Tensor<'f32'>, shared: x.shared as Tensor<'bf16'>, residual: x.x as Tensor<'bf16'>, layout });
      return { out: r.out, indices: r.indices, counts: r.counts, weights: r.weights };
    }, TOL_FORWARD_VS_CPU);
  }));

  // The kernels' limits (moe_route_supports / moe_permute_supports, next to the kernels in cuda/moe.cu): an
  // UnsupportedError that says why, raised at the call; the CPU twins have no such limits.
  test('more experts than the router and permutation kernels hold are an UnsupportedError naming the limit', async () => {
    const e = 8192, t = 2;
    const logits = Tensor.zeros([t, e], { dtype: 'f32', device: 'cuda' }) as Tensor<'f32'>;
    expect(() => moeRoute(logits, { topK: 2 })).toThrow(UnsupportedError);
    expect(() => moeRoute(logits, { topK: 2 })).toThrow(/8192 experts exceed the kernel's 48 KB of shared memory/);
    const indices = Tensor.fromArray(new Int32Array([0, 4095, 7, 8191]), [t, 2]);
    expect(() => moePermute(indices.to('cuda') as Tensor<'i32'>, { numExperts: e })).toThrow(UnsupportedError);
    expect(() => moePermute(indices.to('cuda') as Tensor<'i32'>, { numExperts: e })).toThrow(/at most \d+ experts .* got 8192/);
    const cpu = moePermute(indices as Tensor<'i32'>, { numExperts: e });  // the CPU twin runs it
    expect(Array.from(await cpu.counts.toArray()).reduce((a, b) => a + b, 0)).toBe(4);
    const fits = moePermute(Tensor.fromArray(new Int32Array([0, 2047, 7, 1]), [t, 2]).to('cuda') as Tensor<'i32'>, { numExperts: 2048 });
    expect(Array.from(await fits.counts.toArray()).reduce((a, b) => a + b, 0)).toBe(4);  // at the limit it runs
  });
});
