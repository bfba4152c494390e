// Benchmark inputs shared by the bench scripts (values do not matter to the timings, only their kind).

/** n random e4m3 codes without the NaN codes 0x7f / 0xff (xorshift32 from `seed`). */
export function randomE4m3Codes(n, seed = 0x9e3779b9) {
  const u = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; const c = x & 0x7f; u[i] = (c === 0x7f ? 0x7e : c) | (x & 0x80); }
  return u;
}
