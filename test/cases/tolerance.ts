// Tolerances and the closeness check shared by the CPU tests (against the float64 references in
// test/reference/), the GPU suites (against the CPU backend) and the benchmarks' correctness check.
// Plain data and functions, no imports: bench/common.mjs loads the case tables without a build.

export type FloatDtype = 'f32' | 'bf16' | 'f16';

/** Relative tolerance by output dtype: one rounding of the output apart at most (DESIGN.md). Used
 * against the float64 reference on the CPU, and against the CPU backend on CUDA. */
export const TOL: Record<FloatDtype, number> = { f32: 1e-5, bf16: 1e-2, f16: 2e-3 };

/** A bf16 output against the float64 reference: relative error within one bf16 rounding of each
 * output (2^-9), with margin. */
export const TOL_BF16_OUT = 4e-3;

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

/**
 * Throws unless every |out[i] - ref[i]| <= tol * mag[i], where mag[i] is the same dot product over |a| and |b|:
 * the bound of an f32 dot's rounding error whatever the cancellation (a result near zero of large terms fails
 * any tolerance relative to itself). NaN never passes.
 */
export function expectWithinDotBound(out: ArrayLike<number>, ref: ArrayLike<number>, mag: ArrayLike<number>, tol: number, what = ''): void {
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(out[i] - ref[i]), bound = tol * mag[i] + 1e-30;
    if (!(err <= bound)) throw new Error(`${what}: element ${i}: got ${out[i]}, want ${ref[i]} (bound ${bound})`);
  }
}

/** Throws unless relErr(out, ref) <= tol; the message names the worst element. */
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
