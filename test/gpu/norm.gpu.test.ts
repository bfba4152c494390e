// rmsNorm and softmax on CUDA against the CPU backend: every input/weight/output dtype, odd row
// lengths (1, 7, 129, 300, 7168), 3-d inputs, outputs poisoned with NaN, softmax rows with -inf, NaN
// and all -inf. Tolerances by output dtype (summation order differs from the CPU's; one rounding).
// Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { rmsNorm, softmax } from '../../lib/ops/norm';
import { NORM_GPU, SOFTMAX_GPU } from '../cases/norm';
import { TOL, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, Float, poisonedLike, randomFloats } from './exact';
import { describeGpu, expectCudaMatchesCpu } from './gpu';

describeGpu('rmsNorm (CUDA)', () => {
  test.each(FLOATS)('%s x: every weight and output dtype, odd shapes, poisoned out', (xd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const shape of NORM_GPU) {
      const d = shape[shape.length - 1];
      for (const wd of FLOATS) {
        for (const od of FLOATS) {
          const x = randomFloats(rng, shape, xd, 10 ** rng.int(-2, 2));
          const w = randomFloats(rng, [d], wd);
          const eps = [1e-6, 1e-2][rng.int(0, 1)];
          await expectCudaMatchesCpu({ x, w }, (i) => rmsNorm(i.x as Tensor<Float>, i.w as Tensor<Float>, { eps, outDtype: od, out: poisonedLike(i.x, shape, od) }), TOL[od]);
        }
      }
    }
  }));

  test('an all-zero row gives zeros (eps keeps it finite) as on the CPU', async () => {
    const x = Tensor.zeros([3, 129]);
    const w = Tensor.fromFloats(Float32Array.from({ length: 129 }, (_, i) => i), [129]);
    await expectCudaMatchesCpu({ x, w }, (i) => rmsNorm(i.x as Tensor<Float>, i.w as Tensor<Float>), 0);
  });
});

describeGpu('softmax (CUDA)', () => {
  test.each(FLOATS)('%s x: every output dtype, odd shapes, poisoned out', (xd) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const shape of SOFTMAX_GPU) {
      for (const od of FLOATS) {
        const x = randomFloats(rng, shape, xd, 10 ** rng.int(-1, 1));
        await expectCudaMatchesCpu({ x }, (i) => softmax(i.x as Tensor<Float>, { outDtype: od, out: poisonedLike(i.x, shape, od) }), TOL[od]);
      }
    }
  }));

  test('-inf entries, a NaN row and an all -inf row behave as on the CPU', async () => {
    const n = 300;
    const v = new Float32Array(4 * n).map((_, i) => Math.sin(i));
    v[3] = -Infinity; v[n + 10] = -Infinity;
    v[2 * n + 5] = NaN;
    for (let j = 0; j < n; j++) v[3 * n + j] = -Infinity;
    const x = Tensor.fromArray(v, [4, n]);
    await expectCudaMatchesCpu({ x }, (i) => softmax(i.x as Tensor<Float>, { out: poisonedLike(i.x, [4, n], 'f32') }), TOL.f32);
  });
});
