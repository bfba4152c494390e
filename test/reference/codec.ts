// Float64 reference codecs, written independently of native/dtype.h: every format's finite values
// are enumerated from their definition, and encoding picks the nearest one (ties to the even code)
// by search, so it checks the native bit-twiddling encoders rather than repeating them.
export function e4m3Decode(code: number): number {
  const s = code & 0x80 ? -1 : 1, e = (code >> 3) & 15, m = code & 7;
  if (e === 15 && m === 7) return NaN;
  return s * (e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7));
}
export function bf16Decode(bits: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, (bits & 0xffff) << 16);
  return b.getFloat32(0);
}
export function f16Decode(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 31, m = bits & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
}

/** Nearest value in a sorted table of non-negative finite values; ties go to the even code. */
function nearest(table: { v: number; code: number }[], a: number): number {
  let lo = 0, hi = table.length - 1;
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (table[mid].v <= a) lo = mid; else hi = mid; }
  const dl = a - table[lo].v, dh = table[hi].v - a;
  if (dl < dh) return table[lo].code;
  if (dh < dl) return table[hi].code;
  return table[lo].code % 2 === 0 ? table[lo].code : table[hi].code;
}
const e4m3Table = Array.from({ length: 127 }, (_, c) => ({ v: e4m3Decode(c), code: c }));  // 0..0x7e
/** float -> e4m3fn code: round to nearest even, saturate at +-448 (inf too), NaN -> 0x7f|sign. */
export function e4m3Encode(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  if (Number.isNaN(x)) return 0x7f;
  const a = Math.abs(x);
  if (a >= 448) return sign | 0x7e;
  return sign | nearest(e4m3Table, a);
}
/** e4m3 rounding as a value (the f64 reference quantizers use this). */
export function e4m3Round(x: number): number { return e4m3Decode(e4m3Encode(x)); }

const f16Table = Array.from({ length: 0x7c00 }, (_, c) => ({ v: f16Decode(c), code: c }));
/** float -> f16 bits, round to nearest even; overflow beyond the rounding limit gives inf. */
export function f16Encode(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0, a = Math.abs(x);
  if (a >= 65520) return sign | 0x7c00;  // 65504 + half an ulp (32) rounds up to inf
  return sign | nearest(f16Table, a);
}
/** float -> bf16 bits (exact f64 arithmetic on the f32 value), round to nearest even. */
export function bf16Encode(x: number): number {
  const f = Math.fround(x);
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const u = b.getUint32(0);
  if (Number.isNaN(f)) return 0x7fc0 | ((u >>> 16) & 0x8000);
  const lo = u >>> 16, hi = lo + 1;
  const vlo = bf16Decode(lo);
  // The upper neighbour of the largest finite bf16 is inf: round against 2^128, the value the
  // exponent range would give it (IEEE rounding of an unbounded exponent, then overflow to inf).
  const vhi = (hi & 0x7fff) === 0x7f80 ? Math.sign(f) * 2 ** 128 : bf16Decode(hi);  // |vlo| <= |f| < |vhi|
  if (!Number.isFinite(f)) return (u >>> 16) & 0xffff;
  const dl = Math.abs(f - vlo), dh = Math.abs(vhi - f);
  if (dl < dh) return lo;
  if (dh < dl) return hi & 0xffff;
  return (lo % 2 === 0 ? lo : hi) & 0xffff;
}
export function bf16Round(x: number): number { return bf16Decode(bf16Encode(x)); }
export function f16Round(x: number): number { return f16Decode(f16Encode(x)); }
