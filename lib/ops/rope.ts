// Rotary embedding with YaRN (DeepSeek-V3 model.py precompute_freqs_cis / apply_rotary_emb, and the
// MLA softmax scale of its MLA.__init__). yarnInvFreq and mlaSoftmaxScale are plain TypeScript in
// float64; the rotation runs in native/cpu/rope.cc. Reference: research/v3-reference.md §3-4.
import { ArgumentError } from '../errors';
import { Tensor } from '../tensor';
import { lazyOp, needObject, OutOptions, result } from './util';

type F = 'f32' | 'bf16' | 'f16';
const nativeRope = lazyOp('rope');

/**
 * x [t, h, d], positions [t], invFreq [n] f32 -> [t, h, d]: the last 2n elements of each head vector
 * rotated in interleaved pairs, out[2i] = x[2i]cos - x[2i+1]sin, out[2i+1] = x[2i]sin + x[2i+1]cos,
 * angle = f32(pos * invFreq[i]) as DeepSeek computes it (cos/sin of that angle in double); the
 * first d - 2n elements are copied (q [t, h, 192] = 128 nope + 64 rope works directly).
 */
export function rope<D extends F, O extends F = D>(x: Tensor<D>, positions: Tensor<'i32' | 'i64'>, invFreq: Tensor<'f32'>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeRope(x, positions, invFreq, opts), opts);
}

export interface YarnParams {
  /** Base of the frequencies (rope_theta), e.g. 10000. */
  ropeTheta: number;
  /** Rotated dims per head (qk_rope_head_dim), even, e.g. 64. */
  ropeDim: number;
  /** rope_scaling.factor, e.g. 40; undefined or 1 gives plain RoPE. */
  factor?: number;
  /** rope_scaling.original_max_position_embeddings, e.g. 4096 (required when factor > 1). */
  originalMaxPositionEmbeddings?: number;
  /** rope_scaling.beta_fast (default 32). */
  betaFast?: number;
  /** rope_scaling.beta_slow (default 1). */
  betaSlow?: number;
}

function positive(name: string, v: number | undefined, fn: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ArgumentError(`${fn}: ${name} must be a finite number > 0, got ${v}`);
  return v;
}

/**
 * The ropeDim/2 inverse frequencies theta_i = ropeTheta^(-2i/ropeDim), YaRN-corrected when factor > 1:
 * theta'_i = theta_i/factor * (1 - smooth_i) + theta_i * smooth_i, smooth = 1 - ramp between the
 * correction dims of betaFast and betaSlow (floor/ceil, clamped to [0, ropeDim-1]). Float64, returned as f32.
 * (DeepSeek's model.py applies YaRN only when max_seq_len > original_seq_len: pass factor undefined otherwise.)
 */
export function yarnInvFreq(p: YarnParams): Float32Array {
  const fn = 'yarnInvFreq';
  needObject(fn, 'p', p);
  const base = positive('ropeTheta', p.ropeTheta, fn);
  const dim = p.ropeDim;
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) throw new ArgumentError(`${fn}: ropeDim must be a positive even integer, got ${dim}`);
  const factor = p.factor ?? 1;
  if (!Number.isFinite(factor) || factor < 1) throw new ArgumentError(`${fn}: factor must be a finite number >= 1, got ${p.factor}`);
  const half = dim / 2;
  const theta = new Float64Array(half);
  for (let i = 0; i < half; i++) theta[i] = 1 / base ** ((2 * i) / dim);
  if (factor === 1) return Float32Array.from(theta);

  const orig = positive('originalMaxPositionEmbeddings', p.originalMaxPositionEmbeddings, fn);
  const betaFast = positive('betaFast', p.betaFast ?? 32, fn), betaSlow = positive('betaSlow', p.betaSlow ?? 1, fn);
  // The dim index at which a wavelength fits `rotations` times into the original context.
  const corrDim = (rotations: number) => (dim * Math.log(orig / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(Math.floor(corrDim(betaFast)), 0);
  let high = Math.min(Math.ceil(corrDim(betaSlow)), dim - 1);
  if (low === high) high += 0.001;  // avoids a division by zero in the ramp
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
    const smooth = 1 - ramp;
    out[i] = (theta[i] / factor) * (1 - smooth) + theta[i] * smooth;
  }
  return out;
}

/**
 * The MLA attention softmax scale qkHeadDim^-0.5 * mscale^2, mscale = 0.1 * mscaleAllDim * ln(factor) + 1
 * when factor > 1 and mscaleAllDim != 0, else 1 (full V3: 192, 40, 1 -> 0.1352337789).
 */
export function mlaSoftmaxScale(p: { qkHeadDim: number; factor?: number; mscaleAllDim?: number }): number {
  const fn = 'mlaSoftmaxScale';
  needObject(fn, 'p', p);
  const d = positive('qkHeadDim', p.qkHeadDim, fn);
  const factor = p.factor ?? 1, mscaleAllDim = p.mscaleAllDim ?? 0;
  if (!Number.isFinite(factor) || factor <= 0) throw new ArgumentError(`${fn}: factor must be a finite number > 0, got ${p.factor}`);
  if (!Number.isFinite(mscaleAllDim)) throw new ArgumentError(`${fn}: mscaleAllDim must be finite, got ${p.mscaleAllDim}`);
  const mscale = factor > 1 && mscaleAllDim !== 0 ? 0.1 * mscaleAllDim * Math.log(factor) + 1 : 1;
  return d ** -0.5 * mscale * mscale;
}
