// Float64 references for MLA attention (v3-reference.md §3): the absorbed form over the latent cache,
// and the naive form with per-head up-projections W_UK / W_UV, used to check that the two agree.
export interface MlaShape { t: number; h: number; r: number; p: number; s: number; startPos: number; causal: boolean }

/** qLatent [t,h,r], qPe [t,h,p], cKv [s,r], kPe [s,p] -> [t,h,r]: softmax((qL.cKv + qPe.kPe) * scale) @ cKv. */
export function mlaAttention(qLatent: ArrayLike<number>, qPe: ArrayLike<number>, cKv: ArrayLike<number>,
  kPe: ArrayLike<number>, d: MlaShape, scale: number): Float64Array {
  const { t, h, r, p, s } = d;
  const out = new Float64Array(t * h * r);
  for (let i = 0; i < t; i++) {
    const n = d.causal ? d.startPos + i + 1 : s;
    for (let hh = 0; hh < h; hh++) {
      const qo = (i * h + hh) * r, po = (i * h + hh) * p;
      const sc = new Float64Array(n);
      let mx = -Infinity;
      for (let j = 0; j < n; j++) {
        let a = 0;
        for (let c = 0; c < r; c++) a += qLatent[qo + c] * cKv[j * r + c];
        for (let c = 0; c < p; c++) a += qPe[po + c] * kPe[j * p + c];
        sc[j] = a * scale;
        if (sc[j] > mx) mx = sc[j];
      }
      let z = 0;
      for (let j = 0; j < n; j++) { sc[j] = Math.exp(sc[j] - mx); z += sc[j]; }
      for (let j = 0; j < n; j++) {
        const w = sc[j] / z;
        for (let c = 0; c < r; c++) out[qo + c] += w * cKv[j * r + c];
      }
    }
  }
  return out;
}

/** Per-head x [h, rows..] mapped by W [h, dOut, r]: y[i,hh,d] = sum_c W[hh,d,c] x[i,hh,c] (x: [t,h,r]). */
export function applyPerHead(x: ArrayLike<number>, w: ArrayLike<number>, t: number, h: number, dOut: number, r: number): Float64Array {
  const y = new Float64Array(t * h * dOut);
  for (let i = 0; i < t; i++)
    for (let hh = 0; hh < h; hh++)
      for (let d = 0; d < dOut; d++) {
        let a = 0;
        for (let c = 0; c < r; c++) a += w[(hh * dOut + d) * r + c] * x[(i * h + hh) * r + c];
        y[(i * h + hh) * dOut + d] = a;
      }
  return y;
}

/** Absorb W_UK [h, dn, r] into q_nope [t, h, dn]: qLatent[i,hh,c] = sum_d q_nope[i,hh,d] W_UK[hh,d,c]. */
export function absorbQ(qNope: ArrayLike<number>, wUK: ArrayLike<number>, t: number, h: number, dn: number, r: number): Float64Array {
  const q = new Float64Array(t * h * r);
  for (let i = 0; i < t; i++)
    for (let hh = 0; hh < h; hh++)
      for (let d = 0; d < dn; d++) {
        const a = qNope[(i * h + hh) * dn + d];
        for (let c = 0; c < r; c++) q[(i * h + hh) * r + c] += a * wUK[(hh * dn + d) * r + c];
      }
  return q;
}

/** The naive path: k_nope = W_UK c_kv, v = W_UV c_kv per head, full per-head attention, out [t, h, dv]. */
export function mlaNaive(qNope: ArrayLike<number>, qPe: ArrayLike<number>, cKv: ArrayLike<number>, kPe: ArrayLike<number>,
  wUK: ArrayLike<number>, wUV: ArrayLike<number>, d: MlaShape & { dn: number; dv: number }, scale: number): Float64Array {
  const { t, h, r, p, s, dn, dv } = d;
  const kNope = new Float64Array(s * h * dn), v = new Float64Array(s * h * dv);
  for (let j = 0; j < s; j++)
    for (let hh = 0; hh < h; hh++) {
      for (let q = 0; q < dn; q++) { let a = 0; for (let c = 0; c < r; c++) a += wUK[(hh * dn + q) * r + c] * cKv[j * r + c]; kNope[(j * h + hh) * dn + q] = a; }
      for (let q = 0; q < dv; q++) { let a = 0; for (let c = 0; c < r; c++) a += wUV[(hh * dv + q) * r + c] * cKv[j * r + c]; v[(j * h + hh) * dv + q] = a; }
    }
  const out = new Float64Array(t * h * dv);
  for (let i = 0; i < t; i++) {
    const n = d.causal ? d.startPos + i + 1 : s;
    for (let hh = 0; hh < h; hh++) {
      const sc = new Float64Array(n);
      let mx = -Infinity;
      for (let j = 0; j < n; j++) {
        let a = 0;
        for (let q = 0; q < dn; q++) a += qNope[(i * h + hh) * dn + q] * kNope[(j * h + hh) * dn + q];
        for (let c = 0; c < p; c++) a += qPe[(i * h + hh) * p + c] * kPe[j * p + c];
        sc[j] = a * scale;
        mx = Math.max(mx, sc[j]);
      }
      let z = 0;
      for (let j = 0; j < n; j++) { sc[j] = Math.exp(sc[j] - mx); z += sc[j]; }
      for (let j = 0; j < n; j++)
        for (let q = 0; q < dv; q++) out[(i * h + hh) * dv + q] += (sc[j] / z) * v[(j * h + hh) * dv + q];
    }
  }
  return out;
}
