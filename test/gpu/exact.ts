// Helpers of the op GPU suites (norm, rope, elementwise, embedding, sampling, shape_ops, weight_quant):
// random tensors of any dtype, NaN-poisoned outputs on a given device, and byte-for-byte comparison
// of a CUDA result with the CPU backend's (for ops whose math is identical on both backends). Tolerances:
// TOL in test/cases/tolerance.ts.
import { DType, Tensor } from '../../lib';
import { poisoned } from '../helpers';
import { Rng } from '../reference/rng';

export type Float = 'f32' | 'bf16' | 'f16';
export const FLOATS: Float[] = ['f32', 'bf16', 'f16'];

/** Normal values (std) rounded to a float dtype. */
export function randomFloats<D extends Float>(rng: Rng, shape: number[], dtype: D, std = 1): Tensor<D> {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromFloats(Float32Array.from(rng.normals(n, std)), shape, { dtype });
}

/** `out` for a call on `like`'s device, full of NaN (integers: -123456). */
export function poisonedLike<D extends DType>(like: Tensor, shape: readonly number[], dtype: D): Tensor<D> {
  return poisoned(shape, dtype, like.device);
}

/** The CUDA tensor's bytes equal the CPU tensor's; the message names the first differing element. */
export async function expectSameBytes(got: Tensor, want: Tensor, what: string): Promise<void> {
  expect(got.device).toBe('cuda');
  expect(want.device).toBe('cpu');
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  const [g, w] = [Buffer.from(await got.bytes()), Buffer.from(await want.bytes())];
  if (g.equals(w)) return;
  const size = g.length / Math.max(1, got.numel);
  const i = g.findIndex((b, j) => b !== w[j]);
  const [gf, wf] = [await got.toFloat32Array(), await want.toFloat32Array()];
  const e = Math.floor(i / size);
  throw new Error(`${what}: bytes differ from the CPU backend; first at element ${e}: ${gf[e]} vs ${wf[e]}`);
}
