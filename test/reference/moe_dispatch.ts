// Float64 / integer references of the MoE dispatch steps, written from DeepSeek-V3 model.py MoE.forward
// and DeepGEMM's grouped layouts (contiguous: expert segments padded to the M tile; masked: [E, m_max]
// slabs): per-expert slot lists by filtering (not a counting sort), row gather, silu(gate) * up quantized
// per 1x128 group, and the weighted combine y = residual + shared + sum_j w_j * expert_j(x).
import { bf16Round, f16Round } from './codec';
import { actQuant } from './quant';
import { Rng } from './rng';

/** [t * k] expert ids, k distinct per token, drawn from the first `pool` experts (default all). */
export function randomRoutes(rng: Rng, t: number, k: number, e: number, pool = e): Int32Array {
  const out = new Int32Array(t * k);
  for (let i = 0; i < t; i++) {
    const ids = Array.from({ length: pool }, (_, j) => j);
    for (let j = 0; j < k; j++) {
      const q = j + rng.int(0, pool - 1 - j);
      [ids[j], ids[q]] = [ids[q], ids[j]];
      out[i * k + j] = ids[j];
    }
  }
  return out;
}

export interface PermuteRef { counts: Int32Array; offsets?: Int32Array; dropped?: number; rowSlot: Int32Array; slotRow: Int32Array }

/** indices [t * k] (slot = token * k + choice). */
export function moePermute(indices: ArrayLike<number>, t: number, k: number, e: number,
  o: { layout?: 'contiguous' | 'masked'; align?: number; mMax?: number } = {}): PermuteRef {
  const n = t * k, masked = o.layout === 'masked', align = o.align ?? 1, mMax = o.mMax ?? Math.max(t, 1);
  const slotsOf = Array.from({ length: e }, (_, x) => Array.from({ length: n }, (_, s) => s).filter((s) => indices[s] === x));
  const rows = masked ? e * mMax : n + Math.min(e, n) * (align - 1);
  const rowSlot = new Int32Array(rows).fill(-1), slotRow = new Int32Array(n).fill(-1), counts = new Int32Array(e);
  if (masked) {
    let dropped = 0;
    slotsOf.forEach((slots, x) => {
      counts[x] = Math.min(slots.length, mMax);
      dropped += Math.max(0, slots.length - mMax);
      slots.slice(0, mMax).forEach((s, p) => { rowSlot[x * mMax + p] = s; slotRow[s] = x * mMax + p; });
    });
    return { counts, dropped, rowSlot, slotRow };
  }
  const offsets = new Int32Array(e + 1);
  slotsOf.forEach((slots, x) => {
    counts[x] = slots.length;
    slots.forEach((s, p) => { rowSlot[offsets[x] + p] = s; slotRow[s] = offsets[x] + p; });
    offsets[x + 1] = offsets[x] + Math.ceil(slots.length / align) * align;
  });
  return { counts, offsets, rowSlot, slotRow };
}

/** x [t, d] -> [rowSlot.length, d]: row r = x[rowSlot[r] / k], zeros for -1. */
export function moeGather(x: ArrayLike<number>, d: number, rowSlot: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(rowSlot.length * d);
  for (let r = 0; r < rowSlot.length; r++) {
    if (rowSlot[r] < 0) continue;
    const i = Math.floor(rowSlot[r] / k);
    for (let c = 0; c < d; c++) out[r * d + c] = x[i * d + c];
  }
  return out;
}

/** h = silu(g) * u rounded to the input dtype, then act_quant; g, u [rows, n]. */
export function siluMulQuant(g: ArrayLike<number>, u: ArrayLike<number>, rows: number, n: number, dtype: 'f32' | 'bf16' | 'f16',
  ue8m0 = false, nudge = 0): { h: Float64Array; codes: Uint8Array; scale: Float64Array } {
  const round = dtype === 'bf16' ? bf16Round : dtype === 'f16' ? f16Round : Math.fround;
  const h = new Float64Array(rows * n);
  // nudge: h scaled by (1 + nudge) before its rounding to dtype, so that a value within |nudge| of a rounding
  // midpoint takes the other side (f32 silu differs from float64 by ~1e-7 relative)
  for (let i = 0; i < h.length; i++) h[i] = round(g[i] / (1 + Math.exp(-g[i])) * u[i] * (1 + nudge));
  return { h, ...actQuant(h, rows, n, { ue8m0 }) };
}

/** [t, d] = residual + shared + sum_j w[i, j] * y[slotRow[i*k + j]] (slots with row -1 add nothing). */
export function moeCombine(y: ArrayLike<number>, d: number, slotRow: ArrayLike<number>, w: ArrayLike<number>, t: number, k: number,
  shared?: ArrayLike<number>, residual?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(t * d);
  for (let i = 0; i < t; i++) {
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let j = 0; j < k; j++) {
        const r = slotRow[i * k + j];
        if (r >= 0) acc += w[i * k + j] * y[r * d + c];
      }
      out[i * d + c] = acc + (shared ? shared[i * d + c] : 0) + (residual ? residual[i * d + c] : 0);
    }
  }
  return out;
}
