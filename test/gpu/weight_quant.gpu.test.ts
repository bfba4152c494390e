// quantizeWeightFp8 and dequantizeWeightFp8 on CUDA against the CPU backend, bit for bit: every input
// dtype, odd shapes with partial 128x128 blocks, blocks of very different magnitudes and all-zero
// blocks (the 1e-4 floor), a NaN block, f32 and bf16 dequantized outputs; outputs poisoned.
// Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { dequantizeWeightFp8, quantizeWeightFp8 } from '../../lib/ops/quant';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, expectSameBytes, poisonedLike } from './exact';
import { describeGpu } from './gpu';

const SHAPES: [number, number][] = [[1, 1], [7, 129], [129, 300], [300, 129], [256, 7168], [130, 1]];

describeGpu('quantizeWeightFp8 / dequantizeWeightFp8 (CUDA)', () => {
  test.each(FLOATS)('%s weights: codes, scales and dequantized values equal the CPU backend', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [n, k] of SHAPES) {
      const v = new Float32Array(n * k);
      const kb = Math.ceil(k / 128), nb = Math.ceil(n / 128);
      const mag = Array.from({ length: nb * kb }, () => (rng.next() < 0.15 ? 0 : 10 ** rng.int(-8, 3)));
      for (let i = 0; i < n; i++)
        for (let j = 0; j < k; j++) v[i * k + j] = rng.normal() * mag[Math.floor(i / 128) * kb + Math.floor(j / 128)];
      const w = Tensor.fromFloats(v, [n, k], { dtype }), wg = w.to('cuda');
      const out = { weight: poisonedLike(wg, [n, k], 'f8_e4m3'), scaleInv: poisonedLike(wg, [nb, kb], 'f32') };
      const got = quantizeWeightFp8(wg, { out }), want = quantizeWeightFp8(w);
      await expectSameBytes(got.scaleInv, want.scaleInv, `scaleInv ${dtype} [${n}, ${k}]`);
      await expectSameBytes(got.weight, want.weight, `weight ${dtype} [${n}, ${k}]`);
      for (const od of ['f32', 'bf16'] as const) {
        const d = dequantizeWeightFp8(got.weight, got.scaleInv, { outDtype: od, out: poisonedLike(wg, [n, k], od) });
        await expectSameBytes(d, dequantizeWeightFp8(want.weight, want.scaleInv, { outDtype: od }), `dequantize ${dtype} -> ${od} [${n}, ${k}]`);
      }
    }
  }));

  test('a NaN in a block makes its scale NaN on the device as on the CPU; other blocks are unchanged', async () => {
    const [n, k] = [130, 260];
    const v = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i));
    v[5] = NaN;
    const w = Tensor.fromFloats(v, [n, k]);
    const got = quantizeWeightFp8(w.to('cuda')), want = quantizeWeightFp8(w);
    const [gs, ws] = [await got.scaleInv.toFloat32Array(), await want.scaleInv.toFloat32Array()];
    expect(Number.isNaN(gs[0]) && Number.isNaN(ws[0])).toBe(true);
    expect(Array.from(gs.slice(1))).toEqual(Array.from(ws.slice(1)));
    const [gw, ww] = [await got.weight.bytes(), await want.weight.bytes()];
    for (let i = 0; i < n; i++)
      for (let j = 128; j < k; j++) expect(gw[i * k + j]).toBe(ww[i * k + j]);
  });
});
