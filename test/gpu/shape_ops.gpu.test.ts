// transpose01 and narrow on CUDA against the CPU backend: byte copies of every dtype, inner rows of
// odd byte counts (so every copy unit from 16 bytes down to 1 is used), 2-d to 4-d shapes, misaligned
// starts, and narrow into a view (the MoE expert-stacking use). Outputs poisoned. Skipped without a GPU.
import { DType, Tensor } from '../../lib';
import { narrow, transpose01 } from '../../lib/ops/shape';
import { NARROW_GPU, TRANSPOSE_GPU } from '../cases/shape';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { expectSameBytes, poisonedLike } from './exact';
import { describeGpu } from './gpu';

const DTYPES: DType[] = ['f32', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'u8'];
const SIZE: Record<DType, number> = { f32: 4, bf16: 2, f16: 2, f8_e4m3: 1, i32: 4, i64: 8, u8: 1 };

/** Random bytes (NaN patterns included) as a tensor of any dtype. */
function random(rng: Rng, shape: number[], dtype: DType): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const bytes = new Uint8Array(n * SIZE[dtype]);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
  const b = bytes.buffer;
  switch (dtype) {
    case 'f32': return Tensor.fromArray(new Float32Array(b), shape);
    case 'i32': return Tensor.fromArray(new Int32Array(b), shape);
    case 'i64': return Tensor.fromArray(new BigInt64Array(b), shape);
    case 'bf16': case 'f16': return Tensor.fromArray(new Uint16Array(b), shape, { dtype });
    default: return Tensor.fromArray(bytes, shape, { dtype: dtype as 'u8' | 'f8_e4m3' });
  }
}

describeGpu('transpose01 (CUDA)', () => {
  test.each(DTYPES)('%s: bytes equal the CPU backend', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const shape of TRANSPOSE_GPU) {
      const x = random(rng, shape, dtype), xg = x.to('cuda');
      const oshape = [shape[1], shape[0], ...shape.slice(2)];
      await expectSameBytes(transpose01(xg, { out: poisonedLike(xg, oshape, dtype) }), transpose01(x), `transpose01 ${dtype} [${shape}]`);
    }
  }));
});

describeGpu('narrow (CUDA)', () => {
  test.each(DTYPES)('%s: bytes equal the CPU backend, every start and length class', (dtype) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    for (const shape of NARROW_GPU) {
      const n = shape[shape.length - 1];
      const x = random(rng, shape, dtype), xg = x.to('cuda');
      for (const [start, len] of [[0, n], [0, 1], [n - 1, 1], [rng.int(0, n - 1), 0], [1, n - 1], [Math.floor(n / 3), Math.floor(n / 2)], [rng.int(0, n - 1), 1]]) {
        if (start + len > n) continue;
        const oshape = [...shape.slice(0, -1), len];
        await expectSameBytes(narrow(xg, start, len, { out: poisonedLike(xg, oshape, dtype) }), narrow(x, start, len), `narrow ${dtype} [${shape}] ${start}+${len}`);
      }
    }
  }));

  test('narrow into a row block of a stacked tensor (lib/model/experts.ts) leaves the other blocks alone', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const [e, n, k] = [3, 7, 129];
    const src = random(rng, [n, k], 'bf16');
    const dst = poisonedLike(src.to('cuda'), [e, n, k], 'bf16');
    narrow(src.to('cuda'), 0, k, { out: dst.view(1, 1).reshape([n, k]) });
    const got = await dst.toFloat32Array(), want = await src.toFloat32Array();
    expect(got.subarray(0, n * k).every(Number.isNaN)).toBe(true);
    expect(got.subarray(2 * n * k).every(Number.isNaN)).toBe(true);
    const mid = got.subarray(n * k, 2 * n * k);
    expect(mid.every((v, i) => Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i])))).toBe(true);
  }));
});
