// quantizeFp8 on CUDA against the CPU backend: the same codes and scales bit for bit (both implement
// the same integer rounding; cuda/e4m3.cuh), odd shapes, partial 1x128 groups, all input dtypes,
// ue8m0, NaN (both signs, payloads) and +-inf in some groups (the CPU's NaN bits), outputs poisoned before
// the call. Skipped without a usable GPU.
import { Tensor } from '../../lib';
import { quantizeFp8 } from '../../lib/ops/quant';
import { ACT_QUANT_GPU, ACT_QUANT_SPECIALS_GPU } from '../cases/quant';
import { poisoned, withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { describeGpu } from './gpu';
import { expectSameBits, specialsFor, withBits } from './nan_bits';

describeGpu('quantizeFp8 (CUDA)', () => {
  test.each(['f32', 'bf16', 'f16'] as const)('%s input: codes and scales equal the CPU backend bit for bit', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [m, k] of ACT_QUANT_GPU) {
      for (const ue8m0 of [false, true]) {
        // Groups of very different magnitudes, zeros (the 1e-4 floor) and subnormal-range codes.
        const v = rng.normals(m * k, 10 ** rng.int(-6, 3));
        for (let i = 0; i < v.length; i += 97) v[i] = 0;
        const x = Tensor.fromFloats(Float32Array.from(v), [m, k], { dtype });
        const xg = x.to('cuda');
        const kb = Math.ceil(k / 128);
        const out = { data: poisoned([m, k], 'f8_e4m3', 'cuda'), scale: poisoned([m, kb], 'f32', 'cuda') };
        const got = quantizeFp8(xg, { ue8m0, out });
        const ref = quantizeFp8(x, { ue8m0 });
        expect(got.data.device).toBe('cuda');
        const [gd, rd] = [Buffer.from(await got.data.bytes()), Buffer.from(await ref.data.bytes())];
        const [gs, rs] = [Buffer.from(await got.scale.bytes()), Buffer.from(await ref.scale.bytes())];
        if (!gs.equals(rs)) throw new Error(`scales differ for [${m}, ${k}] ue8m0=${ue8m0}`);
        if (!gd.equals(rd)) {
          const i = gd.findIndex((b, j) => b !== rd[j]);
          throw new Error(`codes differ for [${m}, ${k}] ue8m0=${ue8m0}: first at ${i}: ${gd[i]} vs ${rd[i]} (x = ${v[i]})`);
        }
        [x, xg, out.data, out.scale, ref.data, ref.scale].forEach((t) => t.dispose());
      }
    }
  }));

  test('a 3-d input keeps its leading dims; NaN in a group gives the CPU\'s NaN scale, bit for bit', async () => {
    const v = new Float64Array(2 * 3 * 130).map((_, i) => Math.sin(i));
    v[5] = NaN;
    const x = Tensor.fromFloats(Float32Array.from(v), [2, 3, 130]);
    const got = quantizeFp8(x.to('cuda'));
    expect(got.data.shape).toEqual([2, 3, 130]);
    expect(got.scale.shape).toEqual([2, 3, 2]);
    const ref = quantizeFp8(x);
    expect(Number.isNaN((await ref.scale.toFloat32Array())[0])).toBe(true);
    await expectSameBits(got.scale, ref.scale, 'scale');
    await expectSameBits(got.data, ref.data, 'codes');
  });

  // The CPU's NaN bits: a NaN group's scale is its largest-magnitude NaN, quieted; its codes 0x7f, or 0xff
  // for a negative NaN; a group holding +-inf has scale inf, the infinities become the default NaN 0xff
  // (inf / inf) and the rest +-0. Signalling NaNs, payloads and both signs, in some groups of every row.
  test.each(['f32', 'bf16', 'f16'] as const)('%s input with NaN (both signs, payloads) and +-inf in some groups: codes and scales bit for bit', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const [m, k] of ACT_QUANT_SPECIALS_GPU) {
      const kb = Math.ceil(k / 128);
      const bits = new Map<number, number>();
      for (let r = 0; r < m; r++)
        for (let g = 0; g < kb; g++) {
          const idx = Array.from({ length: Math.min(128, k - g * 128) }, (_, j) => r * k + g * 128 + j);
          specialsFor(rng, dtype, idx, (r * kb + g + seed) % 5, bits);
        }
      const x = await withBits(Float32Array.from(rng.normals(m * k, 3)), [m, k], dtype, bits);
      for (const ue8m0 of [false, true]) {
        const out = { data: poisoned([m, k], 'f8_e4m3', 'cuda'), scale: poisoned([m, kb], 'f32', 'cuda') };
        const got = quantizeFp8(x.to('cuda'), { ue8m0, out }), ref = quantizeFp8(x, { ue8m0 });
        await expectSameBits(got.scale, ref.scale, `scales [${m}, ${k}] ue8m0=${ue8m0}`);
        await expectSameBits(got.data, ref.data, `codes [${m}, ${k}] ue8m0=${ue8m0}`);
      }
    }
  }));
});
