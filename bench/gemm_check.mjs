// The correctness check of the GEMM benchmarks (gemm.bench.mjs, fp8_gemm.bench.mjs), run once before
// timing: on the CPU, the op against the float64 reference of test/reference/gemm.ts with the CPU
// test's tolerance; on CUDA, against the CPU backend on the same inputs with the GPU suite's tolerance.
import { cases, check, dist, reference } from './common.mjs';

const { Tensor } = dist();
const g = dist('ops/gemm');
const ref = reference('gemm');
const { Rng } = reference('rng');
const { expectClose, TOL_BF16_OUT } = cases('tolerance');
const { gemmF32Tol, TOL_FP8_VS_CPU } = cases('gemm');

const kb = (k) => Math.ceil(k / 128);
const bits = new Uint32Array(1), bitsF = new Float32Array(bits.buffer);
const toBf16 = (x) => { bitsF[0] = x; bits[0] &= 0xffff0000; return bitsF[0]; };

/** fp8Gemm (bf16 out) on one [m, k] x [n, k] case, on `device`. */
export async function checkFp8Gemm({ m, n, k }, device = 'cpu') {
  const rng = new Rng(1);
  const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
  const op = (dev) => ({
    data: Tensor.fromArray(a.codes, [m, k], { dtype: 'f8_e4m3', device: dev }), scale: Tensor.fromArray(a.scale, [m, kb(k)], { device: dev }),
  });
  const A = op('cpu');
  const B = { data: Tensor.fromArray(b.codes, [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(b.scale, [kb(n), kb(k)]) };
  const what = `fp8Gemm ${m}x${n}x${k} bf16 out on ${device}`;
  await check(device === 'cpu' ? `${what} vs the float64 reference` : `${what} vs the CPU backend`, async () => {
    const cpu = await g.fp8Gemm(A, B).toFloat32Array();
    if (device === 'cpu') return expectClose(cpu, ref.fp8Gemm(a, b, m, n, k), TOL_BF16_OUT, what);
    const Bd = { data: B.data.to(device), scale: B.scale.to(device) };
    return expectClose(await g.fp8Gemm(op(device), Bd).toFloat32Array(), cpu, TOL_FP8_VS_CPU, what);
  });
}

/** gemm with `dtype` operands and out on one [m, k] x [n, k] case, on the CPU against the reference. */
export async function checkGemm({ m, n, k }, dtype) {
  const rng = new Rng(2);
  const round = dtype === 'bf16' ? toBf16 : Math.fround;
  const av = rng.normals(m * k).map(round), bv = rng.normals(n * k).map(round);
  const a = Tensor.fromFloats(Float32Array.from(av), [m, k], { dtype }), b = Tensor.fromFloats(Float32Array.from(bv), [n, k], { dtype });
  const what = `gemm ${dtype} ${m}x${n}x${k}`;
  await check(`${what} vs the float64 reference`, async () => {
    const want = ref.gemm(av, bv, m, n, k);
    const tol = dtype === 'bf16' ? TOL_BF16_OUT : gemmF32Tol(av, bv, want, m, n, k);
    expectClose(await g.gemm(a, b).toFloat32Array(), want, tol, what);
  });
}
