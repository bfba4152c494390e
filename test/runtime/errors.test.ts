// The typed error classes: exported, thrown by native code as the same classes, with readable messages.
import * as dsv3 from '../../lib';
import { Tensor, ops } from '../../lib';

describe('typed errors', () => {
  test('every class is a DsError and an Error with its own name', () => {
    for (const C of [dsv3.DTypeError, dsv3.ShapeError, dsv3.DeviceError, dsv3.DisposedError, dsv3.ArgumentError,
      dsv3.CudaError, dsv3.OutOfMemoryError, dsv3.UnsupportedError, dsv3.IoError, dsv3.AbortError]) {
      const e = new C('x');
      expect(e).toBeInstanceOf(dsv3.DsError);
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe(C.name);
    }
  });

  test('native code throws the registered classes', () => {
    let err: unknown;
    try { ops.add(Tensor.zeros([2]), Tensor.zeros([3])); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(dsv3.ShapeError);
    expect((err as Error).name).toBe('ShapeError');
    expect((err as Error).message).toBe("add: argument 'b' must have shape [2], got [3]");
  });

  test('creation arguments are checked', () => {
    expect(() => Tensor.zeros([2, -1])).toThrow(dsv3.ShapeError);
    expect(() => Tensor.zeros([2.5])).toThrow(dsv3.ShapeError);
    expect(() => Tensor.zeros([2], { dtype: 'f64' as never })).toThrow(dsv3.DTypeError);
    expect(() => Tensor.randn([2], { dtype: 'i32' as never })).toThrow(dsv3.DTypeError);
    expect(() => Tensor.randn([2], { seed: 'x' as never })).toThrow(dsv3.ArgumentError);
    expect(() => ops.add(Tensor.zeros([2]), Tensor.zeros([2]), 5 as never)).toThrow(dsv3.ArgumentError);
  });

  test('a huge allocation is an OutOfMemoryError, not a crash', () => {
    expect(() => Tensor.empty([2 ** 26, 2 ** 26])).toThrow(dsv3.OutOfMemoryError);
  });
});
