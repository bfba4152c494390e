// Float64 reference of the MLP activation silu(gate) * up (research/v3-reference.md §5).
export function siluMul(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  const r = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i];
    const sig = g >= 0 ? 1 / (1 + Math.exp(-g)) : Math.exp(g) / (1 + Math.exp(g));
    r[i] = g * sig * up[i];
  }
  return r;
}
