// Tensor construction and views with malformed input (issue 18: outside probes on every entry point). Each case
// asserts the typed error class (lib/errors.ts); sizes that overflow are an OutOfMemoryError before any allocation.
import { ArgumentError, DeviceError, DisposedError, DTypeError, OutOfMemoryError, ShapeError, Tensor } from '../../lib';

test.each([
  ['fromArray(null)', () => Tensor.fromArray(null as never), ArgumentError],
  ['fromArray(a plain array)', () => Tensor.fromArray([1, 2] as never), ArgumentError],
  ['fromArray: shape holds fewer elements', () => Tensor.fromArray(new Float32Array(4), [3]), ShapeError],
  ['fromArray: negative dim', () => Tensor.fromArray(new Float32Array(4), [-4]), ShapeError],
  ['fromArray: fractional dim', () => Tensor.fromArray(new Float32Array(4), [2.5, 2]), ShapeError],
  ['fromArray: Float32Array as i32', () => Tensor.fromArray(new Float32Array(2), [2], { dtype: 'i32' as never }), DTypeError],
  ['zeros: size overflows', () => Tensor.zeros([2 ** 40, 2 ** 20]), OutOfMemoryError],
  ['zeros([NaN])', () => Tensor.zeros([NaN]), ShapeError],
  ['zeros("abc")', () => Tensor.zeros('abc' as never), ShapeError],
  ['full with a string value', () => Tensor.full([2], 'x' as never), ArgumentError],
  ['randn with a string seed', () => Tensor.randn([2], { seed: 'x' as never }), ArgumentError],
  ['reshape to another size', () => Tensor.zeros([4]).reshape([3]), ShapeError],
  ['reshape with two -1', () => Tensor.zeros([4]).reshape([-1, -1]), ShapeError],
  ['view past the end', () => Tensor.zeros([4, 2]).view(3, 5), ShapeError],
  ['to an unknown device', () => Tensor.zeros([4]).to('tpu' as never), DeviceError],
  ['cast to an unknown dtype', () => Tensor.zeros([4]).cast('f64' as never), DTypeError],
  ['fromFloats with an unknown dtype', () => Tensor.fromFloats([1, 2], [2], { dtype: 'x' as never }), DTypeError],
] as [string, () => unknown, new (...a: never[]) => Error][])('%s', (_label, f, cls) => {
  expect(f).toThrow(cls);
});

test('a disposed tensor: every use is a DisposedError', async () => {
  const t = Tensor.zeros([2, 2]);
  t.dispose();
  t.dispose();  // twice is fine
  for (const use of [() => t.reshape([4]), () => t.view(0, 1), () => t.cast('bf16'), () => t.to('cpu'), () => t.toFloat32Array(), () => t.bytes()]) {
    let err: unknown = null;
    try { await use(); } catch (e) { err = e; }  // the reads throw at the call (not a rejected promise)
    expect(err).toBeInstanceOf(DisposedError);
  }
});
