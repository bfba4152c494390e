// quantizeWeightFp8 and dequantizeWeightFp8 on CUDA against the CPU backend, bit for bit: every input
// dtype, odd shapes with partial 128x128 blocks, blocks of very different magnitudes and all-zero
// blocks (the 1e-4 floor), NaN (both signs, payloads) and +-inf blocks and scales with the CPU's NaN bits,
// f32 and bf16 dequantized outputs; outputs poisoned.
// Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { dequantizeWeightFp8, quantizeWeightFp8 } from '../../lib/ops/quant';
import { WEIGHT_QUANT_GPU, WEIGHT_QUANT_NAN_BLOCK_GPU, WEIGHT_QUANT_SPECIALS_GPU } from '../cases/quant';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { FLOATS, expectSameBytes, poisonedLike } from './exact';
import { describeGpu } from './gpu';
import { expectSameBits, INF_BITS, NAN_BITS, specialsFor, withBits } from './nan_bits';

describeGpu('quantizeWeightFp8 / dequantizeWeightFp8 (CUDA)', () => {
  test.each(FLOATS)('%s weights: codes, scales and dequantized values equal the CPU backend', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [n, k] of WEIGHT_QUANT_GPU) {
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

  test('a NaN in a block makes its scale the CPU\'s NaN, bit for bit; other blocks are unchanged', async () => {
    const [n, k] = WEIGHT_QUANT_NAN_BLOCK_GPU;
    const v = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i));
    v[5] = NaN;
    const w = Tensor.fromFloats(v, [n, k]);
    const got = quantizeWeightFp8(w.to('cuda')), want = quantizeWeightFp8(w);
    expect(Number.isNaN((await want.scaleInv.toFloat32Array())[0])).toBe(true);
    await expectSameBits(got.scaleInv, want.scaleInv, 'scaleInv');
    await expectSameBits(got.weight, want.weight, 'weight');
  });

  // NaN of both signs and payloads (signalling ones too) and +-inf in some 128x128 blocks: scales, codes and
  // the dequantized f32 / bf16 values carry the CPU's NaN bits (NaN scale: every value is that NaN; inf scale:
  // 0 * inf and inf / inf are the default NaN 0xffc00000).
  test.each(FLOATS)('%s weights with NaN (both signs, payloads) and +-inf in some blocks: every output bit for bit', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [n, k] = WEIGHT_QUANT_SPECIALS_GPU, nb = Math.ceil(n / 128), kb = Math.ceil(k / 128);
    const bits = new Map<number, number>();
    for (let bi = 0; bi < nb; bi++)
      for (let bj = 0; bj < kb; bj++) {
        const idx: number[] = [];
        for (let i = bi * 128; i < Math.min(n, bi * 128 + 128); i++) for (let j = bj * 128; j < Math.min(k, bj * 128 + 128); j++) idx.push(i * k + j);
        specialsFor(rng, dtype, idx, (bi * kb + bj + seed) % 5, bits);
      }
    const w = await withBits(Float32Array.from(rng.normals(n * k)), [n, k], dtype, bits), wg = w.to('cuda');
    const out = { weight: poisonedLike(wg, [n, k], 'f8_e4m3'), scaleInv: poisonedLike(wg, [nb, kb], 'f32') };
    const got = quantizeWeightFp8(wg, { out }), want = quantizeWeightFp8(w);
    await expectSameBits(got.scaleInv, want.scaleInv, `scaleInv ${dtype}`);
    await expectSameBits(got.weight, want.weight, `weight ${dtype}`);
    for (const od of ['f32', 'bf16'] as const) {
      const d = dequantizeWeightFp8(got.weight, got.scaleInv, { outDtype: od, out: poisonedLike(wg, [n, k], od) });
      await expectSameBits(d, dequantizeWeightFp8(want.weight, want.scaleInv, { outDtype: od }), `dequantize ${dtype} -> ${od}`);
    }
  }));

  test('dequantize: every code against NaN scales (both signs, payloads), +-inf, +-0 and finite scales, bit for bit', async () => {
    const [n, k] = [256, 128 * 12];  // 2 x 12 blocks; every block holds all 256 codes
    const codes = Uint8Array.from({ length: n * k }, (_, i) => (i * 7 + Math.floor(i / k)) % 256);
    const scales = [...NAN_BITS.f32, ...INF_BITS.f32, 0x00000000, 0x80000000, 0x3c000000, 0x7f7fffff, 0x00000001, 0xbf800000];
    expect(scales.length).toBe(2 * 8);
    const sb = new Uint32Array(2 * 12);
    sb.set(scales.slice(0, 12)); sb.set(scales.slice(4, 16), 12);
    const w = Tensor.fromArray(codes, [n, k], { dtype: 'f8_e4m3' }), s = Tensor.fromArray(new Float32Array(sb.buffer), [2, 12]);
    const [wg, sg] = [w.to('cuda'), s.to('cuda')];
    for (const od of ['f32', 'bf16'] as const) {
      const got = dequantizeWeightFp8(wg, sg, { outDtype: od, out: poisonedLike(wg, [n, k], od) });
      await expectSameBits(got, dequantizeWeightFp8(w, s, { outDtype: od }), `dequantize -> ${od}`);
    }
  });
});
