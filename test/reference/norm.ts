// Float64 references of RMSNorm and softmax over the last dim (research/v3-reference.md §3).
/** Rows of n: w * x / sqrt(mean(x^2) + eps). */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, n: number, eps: number): Float64Array {
  const r = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += n) {
    let ss = 0;
    for (let j = 0; j < n; j++) ss += x[i + j] * x[i + j];
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let j = 0; j < n; j++) r[i + j] = w[j] * x[i + j] * inv;
  }
  return r;
}

/** Rows of n: exp(x - max) / sum. NaN anywhere, +inf, or a row of -inf gives a NaN row (torch's result). */
export function softmax(x: ArrayLike<number>, n: number): Float64Array {
  const r = new Float64Array(x.length);
  for (let i = 0; i < x.length; i += n) {
    const row = Array.from({ length: n }, (_, j) => x[i + j]);
    if (row.some(Number.isNaN) || row.includes(Infinity) || row.every((v) => v === -Infinity)) {
      r.fill(NaN, i, i + n);
      continue;
    }
    const m = Math.max(...row);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(row[j] - m);
    for (let j = 0; j < n; j++) r[i + j] = Math.exp(row[j] - m) / s;
  }
  return r;
}
