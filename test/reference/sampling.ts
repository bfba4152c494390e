// Float64 references of argmax, top-k and the distribution `sample` draws from (softmax at a
// temperature, top-k, then top-p renormalized), written from the op's definition.

/** NaN ranks above every number; equal values (and NaNs among themselves) by lower index. */
function ranksBefore(row: number[], a: number, b: number): number {
  const na = Number.isNaN(row[a]), nb = Number.isNaN(row[b]);
  if (na !== nb) return na ? -1 : 1;
  if (!na && row[a] !== row[b]) return row[a] > row[b] ? -1 : 1;
  return a - b;
}

export function argmax(x: ArrayLike<number>, n: number): Int32Array {
  const t = x.length / n, r = new Int32Array(t);
  for (let i = 0; i < t; i++) {
    const row = Array.from({ length: n }, (_, j) => x[i * n + j]);
    const order = row.map((_, j) => j).sort((a, b) => ranksBefore(row, a, b));
    r[i] = order[0];
  }
  return r;
}

export function topk(x: ArrayLike<number>, n: number, k: number): { values: Float64Array; indices: Int32Array } {
  const t = x.length / n, values = new Float64Array(t * k), indices = new Int32Array(t * k);
  for (let i = 0; i < t; i++) {
    const row = Array.from({ length: n }, (_, j) => x[i * n + j]);
    const order = row.map((_, j) => j).sort((a, b) => ranksBefore(row, a, b));
    for (let j = 0; j < k; j++) { indices[i * k + j] = order[j]; values[i * k + j] = row[order[j]]; }
  }
  return { values, indices };
}

/**
 * The probabilities `sample` draws one row from (0 for filtered tokens). temperature and topP are
 * rounded to f32 first, as the op's params hold them.
 */
export function sampleDistribution(logits: ArrayLike<number>, o: { temperature?: number; topP?: number; topK?: number }): Float64Array {
  const n = logits.length, T = Math.fround(o.temperature ?? 1), topP = Math.fround(o.topP ?? 1), topK = o.topK ?? 0;
  const m = Math.max(...Array.from(logits));
  const p = Array.from(logits, (l) => Math.exp((l - m) / T));
  const order = p.map((_, j) => j).sort((a, b) => (p[a] !== p[b] ? p[b] - p[a] : a - b));
  let kept = topK > 0 ? order.slice(0, Math.min(topK, n)) : order;
  if (topP < 1) {
    const total = kept.reduce((s, j) => s + p[j], 0);
    let c = 0, cut = kept.length;
    for (let j = 0; j < kept.length; j++) { c += p[kept[j]] / total; if (c >= topP) { cut = j + 1; break; } }
    kept = kept.slice(0, cut);
  }
  const z = kept.reduce((s, j) => s + p[j], 0);
  const r = new Float64Array(n);
  for (const j of kept) r[j] = p[j] / z;
  return r;
}
