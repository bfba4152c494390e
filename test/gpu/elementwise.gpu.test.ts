// add, siluMul and cast on CUDA against the CPU backend: every dtype combination, odd sizes (1, 7,
// 129, 300, 7168, 100003), misaligned views (the scalar path of the vectorized kernels), outputs
// poisoned with NaN. add and cast do the same f32 math as the CPU: their bytes must be equal;
// siluMul's expf may differ by an ulp, so it is judged by tolerance. Skipped without a usable GPU.
import { DType, Tensor } from '../../lib';
import { siluMul } from '../../lib/ops/activation';
import { add } from '../../lib/ops/elementwise';
import { ELEMENTWISE_GPU, MISALIGNED_GPU } from '../cases/elementwise';
import { TOL, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, Float, expectSameBytes, poisonedLike, randomFloats } from './exact';
import { describeGpu, expectCudaMatchesCpu } from './gpu';

const SIZES = ELEMENTWISE_GPU;

describeGpu('add (CUDA)', () => {
  test.each(FLOATS)('%s a: every b and output dtype, bytes equal the CPU backend', (ad) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const n of SIZES) {
      for (const bd of FLOATS) {
        for (const od of FLOATS) {
          const a = randomFloats(rng, [n], ad, 10), b = randomFloats(rng, [n], bd);
          const want = add(a, b, { outDtype: od });
          const got = add(a.to('cuda'), b.to('cuda'), { outDtype: od, out: poisonedLike(a.to('cuda'), [n], od) });
          await expectSameBytes(got, want, `add ${ad}+${bd}->${od} n=${n}`);
        }
      }
    }
  }));

  test('misaligned views and 2-d shapes use the scalar path correctly', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const n of MISALIGNED_GPU) {
      const base = randomFloats(rng, [n + 3], 'bf16'), other = randomFloats(rng, [n + 1], 'f32');
      const [a, b] = [base.view(3, n), other.view(1, n)];  // offsets of 6 and 4 bytes
      const [ag, bg] = [base.to('cuda').view(3, n), other.to('cuda').view(1, n)];
      const outBase = poisonedLike(ag, [n + 1], 'bf16');
      await expectSameBytes(add(ag, bg, { out: outBase.view(1, n) }), add(a, b), `misaligned add n=${n}`);
    }
    const a = randomFloats(rng, [7, 129], 'f32'), b = randomFloats(rng, [7, 129], 'f32');
    await expectSameBytes(add(a.to('cuda'), b.to('cuda')), add(a, b), '2-d add');
  }));
});

describeGpu('siluMul (CUDA)', () => {
  test.each(FLOATS)('%s gate: every up and output dtype, odd sizes, huge negative gates', (gd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const n of SIZES) {
      for (const ud of FLOATS) {
        for (const od of FLOATS) {
          const gv = Float32Array.from(rng.normals(n, 4));
          if (n > 7) { gv[3] = -100; gv[5] = 95; gv[6] = -89; }
          const gate = Tensor.fromFloats(gv, [n], { dtype: gd }), up = randomFloats(rng, [n], ud);
          await expectCudaMatchesCpu({ gate, up },
            (i) => siluMul(i.gate as Tensor<Float>, i.up as Tensor<Float>, { outDtype: od, out: poisonedLike(i.gate, [n], od) }), TOL[od]);
        }
      }
    }
  }));
});

const ALL: DType[] = ['f32', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'u8'];
const isInt = (d: DType) => d === 'i32' || d === 'i64' || d === 'u8';
function make(rng: Rng, n: number, dtype: DType, values: Float64Array): Tensor {
  if (dtype === 'i32') return Tensor.fromArray(Int32Array.from(values, Math.trunc), [n]);
  if (dtype === 'i64') return Tensor.fromArray(BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), [n]);
  if (dtype === 'u8') return Tensor.fromArray(Uint8Array.from(values, Math.trunc), [n]);
  return Tensor.fromFloats(Float32Array.from(values), [n], { dtype });
}

describeGpu('cast (CUDA)', () => {
  test.each(ALL)('%s to every dtype: bytes equal the CPU backend (values in every target\'s range)', (from) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const n of SIZES) {
      for (const to of ALL) {
        // [0, 250): exact in every dtype's range (u8 included); fractions for the float sources.
        const v = rng.uniforms(n, 0, 250);
        const x = make(rng, n, from, v);
        const want = x.cast(to);
        const xg = x.to('cuda');
        await expectSameBytes(xg.cast(to), want, `cast ${from}->${to} n=${n}`);
      }
    }
  }));

  test('float to float: signs, NaN, inf, saturation, subnormals and rounding ties are bit-identical', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 4099;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = rng.normal() * 10 ** rng.int(-12, 6);
    v.set([NaN, -NaN, Infinity, -Infinity, 0, -0, 448, 464, -500, 65504, 65520, 1e-8, -6e-8, 2 ** -10 * 1.0625, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    for (const from of ['f32', 'bf16', 'f16', 'f8_e4m3'] as const) {
      const x = Tensor.fromFloats(v, [n], { dtype: from });
      for (const to of ALL.filter((d) => !isInt(d))) await expectSameBytes(x.to('cuda').cast(to), x.cast(to), `cast ${from}->${to}`);
    }
  }));

  test('negative integers and i64 beyond 2^31 where the target holds them', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const vals = Array.from({ length: 1000 }, () => rng.int(-2e9, 2e9));
    const big = Tensor.fromArray(BigInt64Array.from(vals.map((x) => BigInt(x) * 3n)), [1000]);
    const small = Tensor.fromArray(Int32Array.from(vals), [1000]);
    for (const [x, to] of [[big, 'f32'], [big, 'i64'], [small, 'i64'], [small, 'f32'], [small, 'bf16']] as [Tensor, DType][])
      await expectSameBytes(x.to('cuda').cast(to), x.cast(to), `cast ${x.dtype}->${to}`);
    const f = Tensor.fromFloats(Float32Array.from(vals, (x) => x / 7), [1000]);
    for (const to of ['i32', 'i64'] as const) await expectSameBytes(f.to('cuda').cast(to), f.cast(to), `cast f32->${to}`);
  }));
});
