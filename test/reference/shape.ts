// Float64 reference of the layout ops (lib/ops/shape.ts): plain index loops.
/** x [a, b, inner] -> [b, a, inner]. */
export function transpose01(x: ArrayLike<number>, a: number, b: number, inner: number): Float64Array {
  const out = new Float64Array(a * b * inner);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < inner; k++) out[(j * a + i) * inner + k] = x[(i * b + j) * inner + k];
  return out;
}

/** x [rows, n] -> [rows, len] = x[:, start:start+len]. */
export function narrow(x: ArrayLike<number>, rows: number, n: number, start: number, len: number): Float64Array {
  const out = new Float64Array(rows * len);
  for (let i = 0; i < rows; i++) for (let k = 0; k < len; k++) out[i * len + k] = x[i * n + start + k];
  return out;
}
