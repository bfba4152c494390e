// Test helpers: comparisons with tolerances by dtype (test/cases/tolerance.ts), NaN-poisoned outputs, fresh seeds.
import { DType, Tensor } from '../lib';
import { expectClose } from './cases/tolerance';
import { freshSeed } from './reference/rng';

export { TOL, TOL_BF16_OUT, relErr, expectClose, expectWithinDotBound } from './cases/tolerance';

/** The tensor `got` has `want`'s dtype and shape, and its values are within relative error tol of want's
 * (NaN/inf positions must match): a CUDA result against the CPU backend's, or two CPU paths. */
export async function expectTensorClose(got: Tensor, want: Tensor, tol: number, what: string): Promise<void> {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  expectClose(await got.toFloat32Array(), await want.toFloat32Array(), tol, `${what} (vs ${want.device})`);
}

/** A tensor full of NaN (f8: 0x7f) to pass as `out`, so unwritten outputs fail loudly. */
export function poisoned<D extends DType>(shape: readonly number[], dtype: D, device: 'cpu' | 'cuda' = 'cpu'): Tensor<D> {
  if (dtype === 'i32' || dtype === 'i64' || dtype === 'u8') return Tensor.full(shape, -123456, { dtype, device });
  return Tensor.full(shape, NaN, { dtype, device });
}

/** Runs fn with a fresh seed; on failure the error names the seed so the case can be replayed. */
export async function withSeed(fn: (seed: number) => Promise<void> | void, seed = freshSeed()): Promise<void> {
  try {
    await fn(seed);
  } catch (e) {
    if (e instanceof Error) e.message = `[seed ${seed}] ${e.message}`;
    throw e;
  }
}

export function toF32(a: ArrayLike<number>): Float32Array { return Float32Array.from(a); }

/** fn() with the environment variable `name` set to `value` (unset when undefined), restored after: lib/env.ts
 * reads the DSV3_* switches at each call. */
export function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const old = process.env[name];
  if (value === undefined) delete process.env[name]; else process.env[name] = value;
  try { return fn(); } finally { if (old === undefined) delete process.env[name]; else process.env[name] = old; }
}
