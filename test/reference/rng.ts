// Seeded pseudo-random inputs for tests, independent of the addon's own generator (mulberry32 +
// Box-Muller in float64). Every test draws a fresh seed (freshSeed) and names it on failure.
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = this.next() || 1e-12, v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  normals(n: number, std = 1): Float64Array { const a = new Float64Array(n); for (let i = 0; i < n; i++) a[i] = this.normal() * std; return a; }
  uniforms(n: number, lo = 0, hi = 1): Float64Array { const a = new Float64Array(n); for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * this.next(); return a; }
}

/** A new seed per call (logged by the test helpers when an assertion fails). */
export function freshSeed(): number { return (Math.random() * 2 ** 32) >>> 0; }
