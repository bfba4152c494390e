// The skinny (decode) GEMV path: m = 1..8 rows of A against weights streamed row by row (the AVX-512
// kernels stream 1, 2 or 4 weight rows at a time, by m and dtype; AVX2 one; AVX512_BF16, for bf16 and fp8
// operands, one on vdpbf16ps), checked element by element
// against the float64 references (test/reference/gemm.ts) for every m, fp8 / bf16 / f32 weights, K
// tails inside a step and inside a 128-block, N not a multiple of the row block, NaN in one weight
// row (only that output column is NaN), and batch invariance: a row's result is bit-identical whether it
// is multiplied alone or among up to skinny_max rows (8 on AVX-512, 4 on AVX2), as batched decode must
// give the tokens decode alone gives.
import { Tensor } from '../../lib';
import * as g from '../../lib/ops/gemm';
import { GEMV_BATCH_INVARIANCE, GEMV_CPU, GEMV_ISAS, GEMV_MAX_M, GEMV_NAN_ROW, TOL_GEMV_ELEMENTWISE } from '../cases/gemm';
import { expectWithinDotBound, withSeed } from '../helpers';
import * as ref from '../reference/gemm';
import { Rng } from '../reference/rng';

const kb = (k: number) => Math.ceil(k / 128);
const bits = new Uint32Array(1), bitsF = new Float32Array(bits.buffer);
const toBf16 = (x: number) => { bitsF[0] = x; bits[0] &= 0xffff0000; return bitsF[0]; };

/** |got - want| <= TOL_GEMV_ELEMENTWISE * sum_k |a b| per element. */
const expectElementwise = (got: Float32Array, want: Float64Array, mag: Float64Array, what: string): void =>
  expectWithinDotBound(got, want, mag, TOL_GEMV_ELEMENTWISE, what);
function withIsa<T>(isa: string, fn: () => T): T {
  const old = process.env.DSV3_CPU_ISA;
  process.env.DSV3_CPU_ISA = isa;
  try { return fn(); } finally { if (old === undefined) delete process.env.DSV3_CPU_ISA; else process.env.DSV3_CPU_ISA = old; }
}
const SHAPES = GEMV_CPU, ISAS = GEMV_ISAS;

describe('skinny GEMV (m <= 8)', () => {
  test.each(ISAS)('fp8 weights, m = 1..8, isa %s', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (let m = 1; m <= GEMV_MAX_M; m++) for (const [n, k] of SHAPES) {
      const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
      const abs = (d: ref.Fp8Data): ref.Fp8Data => ({ codes: d.codes.map((c) => c & 0x7f), scale: d.scale });
      const want = ref.fp8Gemm(a, b, m, n, k), mag = ref.fp8Gemm(abs(a), abs(b), m, n, k);
      const A = { data: Tensor.fromArray(a.codes, [m, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(a.scale, [m, kb(k)]) };
      const B = { data: Tensor.fromArray(b.codes, [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(b.scale, [kb(n), kb(k)]) };
      const out = withIsa(isa, () => g.fp8Gemm(A, B, { outDtype: 'f32' }));
      expectElementwise(await out.toFloat32Array(), want, mag, `${isa} fp8 m=${m} n=${n} k=${k}`);
      [A.data, A.scale, B.data, B.scale, out].forEach((t) => t.dispose());
    }
  }));

  test.each(ISAS.flatMap((isa) => [[isa, 'bf16'], [isa, 'f32']]))('%s, %s weights and activations, m = 1..8', (isa, dt) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const dtype = dt as 'bf16' | 'f32';
    const vals = (len: number) => rng.normals(len).map((x) => (dtype === 'bf16' ? toBf16(x) : Math.fround(x)));
    for (let m = 1; m <= GEMV_MAX_M; m++) for (const [n, k] of SHAPES) {
      const a = vals(m * k), b = vals(n * k);
      const want = ref.gemm(a, b, m, n, k), mag = ref.gemm(a.map(Math.abs), b.map(Math.abs), m, n, k);
      const A = Tensor.fromFloats(Float32Array.from(a), [m, k], { dtype }), B = Tensor.fromFloats(Float32Array.from(b), [n, k], { dtype });
      const out = withIsa(isa, () => g.gemm(A, B, { outDtype: 'f32' }));
      expectElementwise(await out.toFloat32Array(), want, mag, `${isa} ${dt} m=${m} n=${n} k=${k}`);
      [A, B, out].forEach((t) => t.dispose());
    }
  }));

  test.each(ISAS)('a row gives the same bits alone and in a batch of m = 2..8 (4 on AVX2) (isa %s)', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [n, k] = GEMV_BATCH_INVARIANCE;
    for (const dt of ['fp8', 'bf16', 'f32']) {
      // weights, then 8 activation rows; run(rows) multiplies the first `rows` of them
      let run: (rows: number) => Promise<Float32Array>;
      const dispose: Tensor[] = [];
      if (dt === 'fp8') {
        const a = ref.randomFp8(rng, 8, k, 8), b = ref.randomFp8(rng, n, k, kb(n));
        const B = { data: Tensor.fromArray(b.codes, [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(b.scale, [kb(n), kb(k)]) };
        dispose.push(B.data, B.scale);
        run = async (rows) => {
          const A = { data: Tensor.fromArray(a.codes.slice(0, rows * k), [rows, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(a.scale.slice(0, rows * kb(k)), [rows, kb(k)]) };
          const out = withIsa(isa, () => g.fp8Gemm(A, B, { outDtype: 'f32' }));
          const r = await out.toFloat32Array();
          [A.data, A.scale, out].forEach((t) => t.dispose());
          return r;
        };
      } else {
        const dtype = dt as 'bf16' | 'f32';
        const a = Float32Array.from(rng.normals(8 * k)), B = Tensor.fromFloats(Float32Array.from(rng.normals(n * k)), [n, k], { dtype });
        dispose.push(B);
        run = async (rows) => {
          const A = Tensor.fromFloats(a.slice(0, rows * k), [rows, k], { dtype });
          const out = withIsa(isa, () => g.gemm(A, B, { outDtype: 'f32' }));
          const r = await out.toFloat32Array();
          [A, out].forEach((t) => t.dispose());
          return r;
        };
      }
      const alone = await run(1);
      const skinnyMax = g.cpuGemmIsa({ cpuIsa: isa as g.GemmIsaName }).selected.startsWith('avx512') ? 8 : 4;  // m above: the packed kernels
      for (let m = 2; m <= skinnyMax; m++) {
        const got = (await run(m)).slice(0, n);
        for (let j = 0; j < n; j++) {
          if (!Object.is(got[j], alone[j])) throw new Error(`${isa} ${dt}: row 0 of m=${m}, column ${j}: ${got[j]} vs ${alone[j]} alone`);
        }
      }
      dispose.forEach((t) => t.dispose());
    }
  }));

  test.each(ISAS)('NaN in one weight row reaches only its output column (isa %s)', (isa) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const m of GEMV_NAN_ROW.ms) for (const dt of ['fp8', 'bf16', 'f32']) {
      const { n, k, bad } = GEMV_NAN_ROW;
      let out: Tensor;
      const dispose: Tensor[] = [];
      if (dt === 'fp8') {
        const a = ref.randomFp8(rng, m, k, m), b = ref.randomFp8(rng, n, k, kb(n));
        b.codes[bad * k + 257] = 0x7f;
        const A = { data: Tensor.fromArray(a.codes, [m, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(a.scale, [m, kb(k)]) };
        const B = { data: Tensor.fromArray(b.codes, [n, k], { dtype: 'f8_e4m3' }), scale: Tensor.fromArray(b.scale, [kb(n), kb(k)]) };
        out = withIsa(isa, () => g.fp8Gemm(A, B, { outDtype: 'f32' }));
        dispose.push(A.data, A.scale, B.data, B.scale);
      } else {
        const dtype = dt as 'bf16' | 'f32';
        const a = Float32Array.from(rng.normals(m * k)), b = Float32Array.from(rng.normals(n * k));
        b[bad * k + 5] = NaN;
        const A = Tensor.fromFloats(a, [m, k], { dtype }), B = Tensor.fromFloats(b, [n, k], { dtype });
        out = withIsa(isa, () => g.gemm(A, B, { outDtype: 'f32' }));
        dispose.push(A, B);
      }
      const got = await out.toFloat32Array();
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        const v = got[i * n + j];
        if (j === bad ? !Number.isNaN(v) : !Number.isFinite(v)) throw new Error(`${isa} ${dt} m=${m}: out[${i},${j}] = ${v}`);
      }
      [...dispose, out].forEach((t) => t.dispose());
    }
  }));
});
