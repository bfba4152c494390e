// Float64 references of the GEMMs (all NT: out = a @ b^T), written from the math, not the C++:
// fp8Gemm follows DeepSeek's inference/kernel.py fp8_gemm recipe, per 128-wide K block
// out[i,j] += (sum_{k in kb} a[i,k] b[j,k]) * a_scale[i,kb] * b_scale[j/128,kb], from decoded e4m3 codes.
import { e4m3Decode, e4m3Encode } from './codec';
import { Rng } from './rng';

export const BLOCK = 128;
const E4M3 = Float64Array.from({ length: 256 }, (_, c) => e4m3Decode(c));

/** FP8 test operand: codes [rows, k] row-major and f32 scales (row-major, shape given by the caller). */
export interface Fp8Data { codes: Uint8Array; scale: Float32Array }

/**
 * Random e4m3 codes of N(0, 1) * 2^u, u uniform in -10..6 (subnormal codes, zeros and the whole normal
 * range, rarely the saturated 448), and block scales exp(N(0, 1)) with scaleRows x ceil(k/128)
 * entries: log-normal, so a scale read from the wrong block or a transposed scale changes the result.
 */
export function randomFp8(rng: Rng, rows: number, k: number, scaleRows: number): Fp8Data {
  const codes = new Uint8Array(rows * k);
  for (let i = 0; i < codes.length; i++) codes[i] = e4m3Encode(rng.normal() * 2 ** rng.int(-10, 6));
  const scale = new Float32Array(scaleRows * Math.ceil(k / BLOCK));
  for (let i = 0; i < scale.length; i++) scale[i] = Math.exp(rng.normal()) / 256;
  return { codes, scale };
}

/** fp8Gemm: a codes [m,k] with aScale [m,kb]; b codes [n,k] with bScale [ceil(n/128),kb] -> [m,n]. */
export function fp8Gemm(a: Fp8Data, b: Fp8Data, m: number, n: number, k: number): Float64Array {
  const kb = Math.ceil(k / BLOCK);
  const av = Float64Array.from(a.codes, (c) => E4M3[c]), bv = Float64Array.from(b.codes, (c) => E4M3[c]);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let blk = 0; blk < kb; blk++) {
        let dot = 0;
        const end = Math.min(k, (blk + 1) * BLOCK);
        for (let x = blk * BLOCK, ai = i * k + x, bi = j * k + x; x < end; x++, ai++, bi++) dot += av[ai] * bv[bi];
        acc += dot * a.scale[i * kb + blk] * b.scale[Math.floor(j / BLOCK) * kb + blk];
      }
      out[i * n + j] = acc;
    }
  }
  return out;
}

/** gemm: a [m,k] @ b [n,k]^T -> [m,n]. */
export function gemm(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let x = 0; x < k; x++) acc += a[i * k + x] * b[j * k + x];
      out[i * n + j] = acc;
    }
  }
  return out;
}

/** Row range [r0, r1) of a row-major [rows, cols] array. */
export function rows<T extends { subarray(b: number, e: number): T }>(x: T, cols: number, r0: number, r1: number): T {
  return x.subarray(r0 * cols, r1 * cols);
}

/**
 * Grouped GEMM over row ranges: rows [start[e], start[e] + count[e]) of a [*, k] use expert e's
 * product `expert(e, rowsOfA)`; every other row of the [totalRows, n] result is NaN (not written).
 */
export function grouped(totalRows: number, n: number, start: number[], count: number[],
  expert: (e: number, r0: number, r1: number) => Float64Array): Float64Array {
  const out = new Float64Array(totalRows * n).fill(NaN);
  for (let e = 0; e < start.length; e++) {
    if (count[e] === 0) continue;
    out.set(expert(e, start[e], start[e] + count[e]), start[e] * n);
  }
  return out;
}
