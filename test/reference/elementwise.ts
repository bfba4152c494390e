// Float64 references of the elementwise ops.
export function add(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const r = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) r[i] = a[i] + b[i];
  return r;
}
