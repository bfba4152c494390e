// rope on CUDA against the CPU backend: V3's YaRN frequencies (rope_dim 64 inside a 192-wide head, and
// all-rope heads), fewer pairs than the head allows, i32 and i64 positions up to 163840, odd token and
// head counts, every input/output dtype, outputs poisoned with NaN. Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { rope, yarnInvFreq } from '../../lib/ops/rope';
import { ROPE_GPU, ROPE_GPU_MAX_POSITION, V3_YARN as V3 } from '../cases/rope';
import { TOL, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, Float, poisonedLike, randomFloats } from './exact';
import { describeGpu, expectCudaMatchesCpu } from './gpu';

describeGpu('rope (CUDA)', () => {
  test.each(FLOATS)('%s x: every output dtype, i32 and i64 positions, poisoned out', (xd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const v3 = yarnInvFreq(V3);
    for (const [t, h, d, pairs] of ROPE_GPU) {
      for (const pd of ['i32', 'i64'] as const) {
        for (const od of FLOATS) {
          const x = randomFloats(rng, [t, h, d], xd);
          const pos = Array.from({ length: t }, () => rng.int(0, ROPE_GPU_MAX_POSITION));
          const positions = pd === 'i32' ? Tensor.fromArray(Int32Array.from(pos), [t]) : Tensor.fromArray(BigInt64Array.from(pos.map(BigInt)), [t]);
          const f = pairs === 32 ? v3 : Float32Array.from({ length: pairs }, (_, i) => 10000 ** (-2 * i / (2 * pairs)));
          const invFreq = Tensor.fromArray(Float32Array.from(f), [pairs]);
          await expectCudaMatchesCpu({ x, positions, invFreq },
            (i) => rope(i.x as Tensor<Float>, i.positions as Tensor<'i32' | 'i64'>, i.invFreq as Tensor<'f32'>, { outDtype: od, out: poisonedLike(i.x, [t, h, d], od) }),
            TOL[od]);
        }
      }
    }
  }));
});
