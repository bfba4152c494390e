// The weight arena (lib/model/arena.ts): small CPU weights copied into shared huge-page slabs as views that hold
// the values, own their memory (the slab lives while any view does), and leave big tensors alone; and the native
// placeIn it stands on, which refuses what would write outside the slab.
import { DTypeError, ShapeError, Tensor } from '../../lib';
import { native } from '../../lib/native';
import { WeightArena } from '../../lib/model/arena';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';

describe('WeightArena', () => {
  test('placed tensors keep dtype, shape and values; the source is disposed; 2 MiB and more stay as they are', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const arena = new WeightArena();
    const cases: [number[], 'f32' | 'bf16' | 'f8_e4m3'][] = [[[3, 5], 'f32'], [[7], 'bf16'], [[129, 33], 'f8_e4m3'], [[1, 1], 'f32'], [[256, 1000], 'bf16']];
    const placed: { t: Tensor; want: Float32Array }[] = [];
    for (const [shape, dtype] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const src = Tensor.fromFloats(Float32Array.from(rng.normals(n)), shape, { dtype });
      const want = await src.toFloat32Array();
      const t = arena.place(src);
      expect(src.disposed).toBe(true);
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual(shape);
      placed.push({ t, want });
    }
    const big = Tensor.zeros([1024, 1024], { dtype: 'bf16' });  // exactly 2 MiB: its own (huge-page) mapping
    expect(arena.place(big)).toBe(big);
    arena.release();  // the views keep their slab
    for (const { t, want } of placed) expect(Array.from(await t.toFloat32Array())).toEqual(Array.from(want));
    placed.forEach(({ t }) => t.dispose());
    big.dispose();
  }));

  test('a tensor that does not fit the slab starts a new one; earlier views are untouched', async () => {
    const arena = new WeightArena();
    const parts: Tensor[] = [];
    for (let i = 0; i < 10; i++) parts.push(arena.place(Tensor.full([1900 * 1024 / 4], i, { dtype: 'f32' })));  // 10 x 1.9 MB > 16 MiB
    arena.release();
    for (let i = 0; i < 10; i++) {
      const v = await parts[i].toFloat32Array();
      expect(v[0]).toBe(i);
      expect(v[v.length - 1]).toBe(i);
    }
    parts.forEach((t) => t.dispose());
  });

  test('placeIn refuses a misaligned or overflowing offset and a slab that is not 1-D u8', () => {
    const slab = Tensor.empty<'u8'>([4096], { dtype: 'u8' }), src = Tensor.zeros([16], { dtype: 'f32' });
    expect(() => native.placeIn(slab.handle, 32, src.handle)).toThrow(ShapeError);
    expect(() => native.placeIn(slab.handle, 4096, src.handle)).toThrow(ShapeError);  // no room past the end
    expect(() => native.placeIn(slab.handle, -64, src.handle)).toThrow(ShapeError);
    expect(() => native.placeIn(src.handle, 0, slab.handle)).toThrow(DTypeError);
    const v = Tensor.fromHandle<'f32'>(native.placeIn(slab.handle, 4096 - 64, src.handle));  // the last 64 bytes: fits
    expect(v.shape).toEqual([16]);
    [v, slab, src].forEach((t) => t.dispose());
  });
});
