// narrow: CPU backend vs the reference (test/reference/shape.ts); exact (a pure copy).
import { Tensor, ShapeError, DTypeError, DisposedError, ArgumentError } from '../../lib';
import * as sh from '../../lib/ops/shape';
import { NARROW_CPU } from '../cases/shape';
import { poisoned, withSeed } from '../helpers';
import * as ref from '../reference/shape';
import { Rng } from '../reference/rng';

describe('narrow', () => {
  test.each(NARROW_CPU)('f32 rows %i, n %i, start %i, len %i is exact', (rows, n, start, len) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(rows * n));
    const out = poisoned([rows, len], 'f32');
    const r = sh.narrow(Tensor.fromArray(x, [rows, n]), start, len, { out });
    expect(r).toBe(out);
    expect(Array.from(await r.toFloat32Array())).toEqual(Array.from(ref.narrow(x, rows, n, start, len)));
  }));

  test('3-D keeps the leading dims; bf16 and i32', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const x = Float32Array.from(rng.normals(5 * 4 * 48));
    const t = sh.narrow(Tensor.fromArray(x, [5, 4, 48]), 32, 16);
    expect(t.shape).toEqual([5, 4, 16]);
    expect(Array.from(await t.toFloat32Array())).toEqual(Array.from(ref.narrow(x, 20, 48, 32, 16)));
    const b = Tensor.fromFloats(x, [20, 48], { dtype: 'bf16' });
    const tb = sh.narrow(b, 3, 40);
    expect(tb.dtype).toBe('bf16');
    expect(Array.from(await tb.toArray())).toEqual(Array.from(ref.narrow(await b.toArray(), 20, 48, 3, 40)));
    const ints = Int32Array.from({ length: 12 }, (_, i) => i * 5 - 7);
    expect(Array.from(await sh.narrow(Tensor.fromArray(ints, [3, 4]), 1, 2).toArray())).toEqual(Array.from(ref.narrow(ints, 3, 4, 1, 2)));
  }));

  test('bad input gives typed errors', () => {
    const x = Tensor.zeros([2, 8]);
    expect(() => sh.narrow(x, 4, 5)).toThrow(ArgumentError);
    expect(() => sh.narrow(x, -1, 2)).toThrow(ArgumentError);
    expect(() => sh.narrow(x, 1.5, 2)).toThrow(ArgumentError);
    expect(() => sh.narrow(x, 'a' as never, 2)).toThrow(ArgumentError);
    expect(() => sh.narrow(x, 4, 5)).toThrow("narrow: argument 'start' and 'length' must be integers with 0 <= start, 0 <= length, start + length <= 8, got start 4, length 5");
    expect(() => sh.narrow(x, 0, 4, { out: Tensor.zeros([2, 5]) })).toThrow(ShapeError);
    expect(() => sh.narrow(x, 0, 4, { out: Tensor.zeros([2, 4], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => sh.narrow(x, 0, 4, { out: Tensor.zeros([4, 4]).view(1, 2) })).not.toThrow();
    expect(() => sh.narrow(x, 0, 8, { out: x })).toThrow("narrow: argument 'out' must not share memory with 'x'");
    const d = Tensor.zeros([2, 2]);
    d.dispose();
    expect(() => sh.narrow(d, 0, 1)).toThrow(DisposedError);
  });
});
