// rope on CUDA against the CPU backend: V3's YaRN frequencies (rope_dim 64 inside a 192-wide head, and
// all-rope heads), fewer pairs than the head allows, i32 and i64 positions up to 163840, odd token and
// head counts, every input/output dtype, outputs poisoned with NaN. Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { rope, yarnInvFreq } from '../../lib/ops/rope';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, Float, TOL_VS_CPU, poisonedLike, randomFloats } from './exact';
import { describeGpu, expectCudaMatchesCpu } from './gpu';

const V3 = { ropeTheta: 10000, ropeDim: 64, factor: 40, originalMaxPositionEmbeddings: 4096, betaFast: 32, betaSlow: 1 };

describeGpu('rope (CUDA)', () => {
  // [t, h, d, pairs]
  const CASES: [number, number, number, number][] = [[1, 1, 2, 1], [7, 1, 64, 32], [1, 128, 192, 32], [33, 7, 192, 32], [5, 3, 7, 2], [300, 1, 64, 32]];
  test.each(FLOATS)('%s x: every output dtype, i32 and i64 positions, poisoned out', (xd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const v3 = yarnInvFreq(V3);
    for (const [t, h, d, pairs] of CASES) {
      for (const pd of ['i32', 'i64'] as const) {
        for (const od of FLOATS) {
          const x = randomFloats(rng, [t, h, d], xd);
          const pos = Array.from({ length: t }, () => rng.int(0, 163840));
          const positions = pd === 'i32' ? Tensor.fromArray(Int32Array.from(pos), [t]) : Tensor.fromArray(BigInt64Array.from(pos.map(BigInt)), [t]);
          const f = pairs === 32 ? v3 : Float32Array.from({ length: pairs }, (_, i) => 10000 ** (-2 * i / (2 * pairs)));
          const invFreq = Tensor.fromArray(Float32Array.from(f), [pairs]);
          await expectCudaMatchesCpu({ x, positions, invFreq },
            (i) => rope(i.x as Tensor<Float>, i.positions as Tensor<'i32' | 'i64'>, i.invFreq as Tensor<'f32'>, { outDtype: od, out: poisonedLike(i.x, [t, h, d], od) }),
            TOL_VS_CPU[od]);
        }
      }
    }
  }));
});
