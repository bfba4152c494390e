// Test helpers: comparisons with tolerances by dtype, NaN-poisoned outputs, fresh seeds.
import { DType, Tensor } from '../lib';
import { freshSeed } from './reference/rng';

/** Relative error ||out - ref|| / ||ref|| in float64. NaN/inf positions must match exactly. */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) throw new Error(`length mismatch: ${out.length} vs ${ref.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < ref.length; i++) {
    const o = out[i], r = ref[i];
    if (!Number.isFinite(r) || !Number.isFinite(o)) {
      const same = Object.is(o, r) || (Number.isNaN(o) && Number.isNaN(r));
      if (!same) return Infinity;  // NaN never passes unless the reference has NaN there too
      continue;
    }
    num += (o - r) ** 2;
    den += r * r;
  }
  if (den === 0) return Math.sqrt(num);
  return Math.sqrt(num / den);
}

/** Default relative tolerances by output dtype (DESIGN.md). */
export const TOL: Record<'f32' | 'bf16' | 'f16', number> = { f32: 1e-5, bf16: 1e-2, f16: 2e-3 };

export function expectClose(out: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what = ''): void {
  const e = relErr(out, ref);
  if (!(e <= tol)) {
    let worst = 0, wi = -1;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(out[i] - ref[i]);
      if (!(d <= worst)) { worst = d; wi = i; }
    }
    throw new Error(`${what}: relative error ${e} > ${tol}; worst at ${wi}: got ${out[wi]}, expected ${ref[wi]}`);
  }
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
