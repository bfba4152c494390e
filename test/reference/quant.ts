// Float64 references of the FP8 quantization ops, written from DeepSeek-V3 inference/kernel.py
// (act_quant, weight_dequant) and the checkpoint format (README_WEIGHTS.md): amax per group/block,
// clamped to >= 1e-4, scale = amax / 448 in fp32, codes = e4m3(fp32(x / scale)). The only fp32
// steps are the ones kernel.py performs in fp32 (the scale, the quotient, the dequant product);
// each is modelled as the exact float64 result rounded once with Math.fround.
import { e4m3Decode, e4m3Encode } from './codec';

const AMAX_FLOOR = Math.fround(1e-4);  // kernel.py: tl.maximum(amax, 1e-4) on an fp32 amax
const E4M3_MAX = 448;

/** fp32(max(amax, 1e-4) / 448); ue8m0: the smallest power of two >= that. */
export function scaleOf(amax: number, ue8m0 = false): number {
  const s = Math.fround(Math.max(amax, AMAX_FLOOR) / E4M3_MAX);
  if (!ue8m0) return s;
  let e = Math.round(Math.log2(s));
  while (2 ** e < s) e++;
  while (2 ** (e - 1) >= s) e--;
  return 2 ** e;
}

/** Codes of x / s; quotient 'f32' models kernel.py's fp32 division, 'f64' the exact quotient. */
function encode(x: number, s: number, quotient: 'f32' | 'f64'): number {
  const q = x / s;
  return e4m3Encode(quotient === 'f32' ? Math.fround(q) : q);
}

/** act_quant over x [m, k] (row-major): codes [m, k], scale [m, ceil(k/128)] per 1x128 group (last one partial). */
export function actQuant(x: ArrayLike<number>, m: number, k: number, opts: { ue8m0?: boolean; quotient?: 'f32' | 'f64' } = {}): { codes: Uint8Array; scale: Float64Array } {
  const g = Math.ceil(k / 128);
  const codes = new Uint8Array(m * k), scale = new Float64Array(m * g);
  for (let r = 0; r < m; r++) {
    for (let gi = 0; gi < g; gi++) {
      const j0 = gi * 128, j1 = Math.min(k, j0 + 128);
      let amax = 0;
      for (let j = j0; j < j1; j++) amax = Math.max(amax, Math.abs(x[r * k + j]));
      const s = scaleOf(amax, opts.ue8m0);
      scale[r * g + gi] = s;
      for (let j = j0; j < j1; j++) codes[r * k + j] = encode(x[r * k + j], s, opts.quotient ?? 'f32');
    }
  }
  return { codes, scale };
}

/** The checkpoint's block quantization of w [n, k]: codes [n, k], scaleInv [ceil(n/128), ceil(k/128)]. */
export function weightQuant(w: ArrayLike<number>, n: number, k: number): { codes: Uint8Array; scaleInv: Float64Array } {
  const nb = Math.ceil(n / 128), kb = Math.ceil(k / 128);
  const codes = new Uint8Array(n * k), scaleInv = new Float64Array(nb * kb);
  for (let bi = 0; bi < nb; bi++) {
    for (let bj = 0; bj < kb; bj++) {
      const i1 = Math.min(n, bi * 128 + 128), j1 = Math.min(k, bj * 128 + 128);
      let amax = 0;
      for (let i = bi * 128; i < i1; i++) for (let j = bj * 128; j < j1; j++) amax = Math.max(amax, Math.abs(w[i * k + j]));
      const s = scaleOf(amax);
      scaleInv[bi * kb + bj] = s;
      for (let i = bi * 128; i < i1; i++) for (let j = bj * 128; j < j1; j++) codes[i * k + j] = encode(w[i * k + j], s, 'f32');
    }
  }
  return { codes, scaleInv };
}

/** weight_dequant: fp32(e4m3(codes[i, j]) * scaleInv[i/128, j/128]), then `round` (identity for f32 out). */
export function weightDequant(codes: ArrayLike<number>, scaleInv: ArrayLike<number>, n: number, k: number, round: (x: number) => number = (x) => x): Float64Array {
  const kb = Math.ceil(k / 128);
  const decode = Float64Array.from({ length: 256 }, (_, c) => e4m3Decode(c));
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      out[i * k + j] = round(Math.fround(decode[codes[i * k + j]] * scaleInv[Math.floor(i / 128) * kb + Math.floor(j / 128)]));
    }
  }
  return out;
}
