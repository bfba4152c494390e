// Float64 reference of the MoE router, written from DeepSeek-V3 model.py Gate (v3-reference.md §5, §9):
// scores, biased selection scores, group limit (top-2 sum with a bias, max without), top-k, weights.
// Also reports each token's margin: the distance of its discrete choices (groups kept, experts chosen
// and their order) from a tie, so tests can tell an ambiguous row from a wrong one.
export interface RouteOptions {
  topK: number;
  scoring?: 'sigmoid' | 'softmax';
  bias?: ArrayLike<number>;
  nGroup?: number;
  topkGroup?: number;
  normTopkProb?: boolean;
  routedScalingFactor?: number;
}
export interface RouteRef { weights: Float64Array; indices: Int32Array; margin: Float64Array }

/** Indices sorted by value descending, ties to the lower index (a stable sort). */
function rank(v: ArrayLike<number>): number[] {
  return Array.from({ length: v.length }, (_, i) => i).sort((a, b) => (v[b] - v[a]) || (a - b));
}

/** logits: [t * e] row-major. */
export function moeRoute(logits: ArrayLike<number>, t: number, e: number, o: RouteOptions): RouteRef {
  const scoring = o.scoring ?? 'sigmoid', nGroup = o.nGroup ?? 1, topkGroup = o.topkGroup ?? nGroup;
  const norm = o.normTopkProb ?? scoring === 'sigmoid', scale = o.routedScalingFactor ?? 1, k = o.topK;
  const gsize = e / nGroup;
  const weights = new Float64Array(t * k), indices = new Int32Array(t * k), margin = new Float64Array(t);
  for (let ti = 0; ti < t; ti++) {
    const x = Array.from({ length: e }, (_, j) => logits[ti * e + j]);
    let s: number[];
    if (scoring === 'sigmoid') s = x.map((v) => 1 / (1 + Math.exp(-v)));
    else {
      const m = Math.max(...x), ex = x.map((v) => Math.exp(v - m)), z = ex.reduce((a, b) => a + b, 0);
      s = ex.map((v) => v / z);
    }
    const choice = s.map((v, j) => v + (o.bias ? o.bias[j] : 0));
    let m = Infinity;
    const candidates: number[] = [];
    if (nGroup > 1) {
      const gscore = Array.from({ length: nGroup }, (_, g) => {
        const sorted = choice.slice(g * gsize, (g + 1) * gsize).sort((a, b) => b - a);
        return o.bias ? sorted[0] + sorted[1] : sorted[0];
      });
      const gr = rank(gscore);
      if (topkGroup < nGroup) m = Math.min(m, gscore[gr[topkGroup - 1]] - gscore[gr[topkGroup]]);
      for (const g of gr.slice(0, topkGroup)) for (let j = 0; j < gsize; j++) candidates.push(g * gsize + j);
    } else {
      for (let j = 0; j < e; j++) candidates.push(j);
    }
    const cr = rank(candidates.map((j) => choice[j])).map((i) => candidates[i]);
    // The chosen set and its order: gaps between neighbours up to the first expert left out.
    for (let j = 0; j < Math.min(k, cr.length - 1); j++) m = Math.min(m, choice[cr[j]] - choice[cr[j + 1]]);
    margin[ti] = m;
    const chosen = cr.slice(0, k);
    const sum = chosen.reduce((a, j) => a + s[j], 0);
    chosen.forEach((j, q) => {
      indices[ti * k + q] = j;
      weights[ti * k + q] = (norm ? s[j] / sum : s[j]) * scale;
    });
  }
  return { weights, indices, margin };
}
