// Float64 references of RoPE on interleaved pairs (DeepSeek apply_rotary_emb) and of the YaRN
// inverse frequencies written the way HF transformers' _compute_yarn_parameters phrases them
// (extrapolation factor, interpolation blend), independently of lib/ops/rope.ts
// (research/v3-reference.md §4).

/**
 * x [t, h, d] rotated on its last 2*invFreq.length dims at angle(pos, f). angle defaults to DeepSeek's
 * f32 product of positions and f32 inverse frequencies; pass (p, f) => p * f for exact f64 angles.
 */
export function rope(x: ArrayLike<number>, t: number, h: number, d: number, positions: ArrayLike<number | bigint>,
  invFreq: ArrayLike<number>, angle: (pos: number, f: number) => number = (p, f) => Math.fround(Math.fround(p) * Math.fround(f))): Float64Array {
  const half = invFreq.length, start = d - 2 * half;
  const r = Float64Array.from(x);
  for (let i = 0; i < t; i++) {
    const pos = Number(positions[i]);
    for (let k = 0; k < half; k++) {
      const a = angle(pos, invFreq[k]), c = Math.cos(a), s = Math.sin(a);
      for (let hh = 0; hh < h; hh++) {
        const o = (i * h + hh) * d + start + 2 * k;
        const re = x[o], im = x[o + 1];
        // (re + j im) * (c + j s)
        r[o] = re * c - im * s;
        r[o + 1] = re * s + im * c;
      }
    }
  }
  return r;
}

/** YaRN inverse frequencies in HF's phrasing: inv_freq_interpolation * (1 - extrap) + inv_freq_extrapolation * extrap. */
export function yarnInvFreqHF(base: number, dim: number, factor: number, orig: number, betaFast = 32, betaSlow = 1): Float64Array {
  const half = dim / 2;
  const posFreqs = Array.from({ length: half }, (_, i) => base ** ((2 * i) / dim));
  const extrapolation = posFreqs.map((p) => 1 / p), interpolation = posFreqs.map((p) => 1 / (factor * p));
  const findCorrectionDim = (numRotations: number) => (dim * Math.log(orig / (numRotations * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(Math.floor(findCorrectionDim(betaFast)), 0);
  const high = Math.min(Math.ceil(findCorrectionDim(betaSlow)), dim - 1);
  const hi = low === high ? high + 0.001 : high;
  const r = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    const linear = Math.min(1, Math.max(0, (i - low) / (hi - low)));
    const extrapFactor = 1 - linear;
    r[i] = interpolation[i] * (1 - extrapFactor) + extrapolation[i] * extrapFactor;
  }
  return r;
}
