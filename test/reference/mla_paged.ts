// Float64 reference of MLA decode attention over a paged latent cache (FlashMLA's layout: pages of 64
// token rows of c_kv | k_pe, a block table per sequence), written from v3-reference.md §3 and the FlashMLA
// interface notes (kernels.md §2), independently of native/cpu/mla_attn.cc: each sequence's keys are
// gathered into a contiguous list first, then plain (two-pass) softmax attention.
export interface PagedShape { b: number; sq: number; h: number; r: number; p: number; maxPages: number; causal: boolean }
export const PAGE = 64;

/** The keys of sequence bi as rows [len, r + p] gathered through the block table. */
export function gather(cache: ArrayLike<number>, blockTable: ArrayLike<number>, bi: number, len: number, d: number, maxPages: number): Float64Array {
  const rows = new Float64Array(len * d);
  for (let j = 0; j < len; j++) {
    const page = blockTable[bi * maxPages + Math.floor(j / PAGE)];
    const base = (page * PAGE + (j % PAGE)) * d;
    for (let c = 0; c < d; c++) rows[j * d + c] = cache[base + c];
  }
  return rows;
}

/**
 * qLatent [b,sq,h,r], qPe [b,sq,h,p], cache [pages,64,r+p] -> out [b,sq,h,r], lse [b,h,sq] (natural log);
 * a query without keys gives 0 and -inf.
 */
export function pagedAttention(qLatent: ArrayLike<number>, qPe: ArrayLike<number>, cache: ArrayLike<number>,
  blockTable: ArrayLike<number>, seqLens: ArrayLike<number>, s: PagedShape, scale: number): { out: Float64Array; lse: Float64Array } {
  const { b, sq, h, r, p } = s, d = r + p;
  const out = new Float64Array(b * sq * h * r), lse = new Float64Array(b * h * sq);
  for (let bi = 0; bi < b; bi++) {
    const len = seqLens[bi];
    const keys = gather(cache, blockTable, bi, len, d, s.maxPages);
    for (let i = 0; i < sq; i++) {
      const n = Math.max(0, Math.min(len, s.causal ? len - sq + i + 1 : len));
      for (let hh = 0; hh < h; hh++) {
        const row = (bi * sq + i) * h + hh;
        if (n === 0) { lse[(bi * h + hh) * sq + i] = -Infinity; continue; }
        const sc = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let a = 0;
          for (let c = 0; c < r; c++) a += qLatent[row * r + c] * keys[j * d + c];
          for (let c = 0; c < p; c++) a += qPe[row * p + c] * keys[j * d + r + c];
          sc[j] = a * scale;
        }
        const mx = sc.reduce((x, y) => Math.max(x, y), -Infinity);
        let z = 0;
        for (let j = 0; j < n; j++) z += Math.exp(sc[j] - mx);
        for (let j = 0; j < n; j++) {
          const w = Math.exp(sc[j] - mx) / z;
          for (let c = 0; c < r; c++) out[row * r + c] += w * keys[j * d + c];
        }
        lse[(bi * h + hh) * sq + i] = mx + Math.log(z);
      }
    }
  }
  return { out, lse };
}
