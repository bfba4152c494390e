// Bit-exact tests of the native scalar codecs (native/dtype.h: f32 <-> f8_e4m3fn, bf16, f16), driven
// through Tensor.cast / toFloat32Array and judged against the independent float64 codecs of
// test/reference/codec.ts, plus hand-written expectations at the edges (ties, saturation, NaN).
import { Tensor } from '../../lib';
import { withSeed } from '../helpers';
import { bf16Decode, bf16Encode, e4m3Decode, e4m3Encode, f16Decode, f16Encode } from '../reference/codec';
import { Rng } from '../reference/rng';

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => { f32[0] = x; return u32[0]; };
const fromBits = (u: number): number => { u32[0] = u >>> 0; return f32[0]; };
/** The next f32 above / below x (x finite, non-zero magnitude handling via the bit pattern). */
const nextUp = (x: number): number => (x === 0 ? fromBits(1) : x > 0 ? fromBits(bitsOf(x) + 1) : fromBits(bitsOf(x) - 1));
const nextDown = (x: number): number => -nextUp(-x);

/** Encodes inputs (exact f32 values) through the native cast; returns the raw codes. */
async function castCodes(xs: Float32Array, dtype: 'f8_e4m3'): Promise<Uint8Array>;
async function castCodes(xs: Float32Array, dtype: 'bf16' | 'f16'): Promise<Uint16Array>;
async function castCodes(xs: Float32Array, dtype: 'f8_e4m3' | 'bf16' | 'f16'): Promise<Uint8Array | Uint16Array> {
  const t = Tensor.fromArray(xs);
  const c = t.cast(dtype);
  const r = await c.toArray();
  t.dispose(); c.dispose();
  return r as Uint8Array | Uint16Array;
}

/** Compares native codes with expected codes; NaN inputs only need a code that decodes to NaN. */
function expectCodes(xs: Float32Array, got: ArrayLike<number>, want: (x: number) => number, isNanCode: (c: number) => boolean, what: string, hex = 2): void {
  const bad: string[] = [];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if (Number.isNaN(x)) {
      if (!isNanCode(got[i])) bad.push(`NaN (bits 0x${bitsOf(x).toString(16)}) -> 0x${got[i].toString(16)}, expected a NaN code`);
      continue;
    }
    const w = want(x);
    if (got[i] !== w) bad.push(`${x} (f32 bits 0x${bitsOf(x).toString(16).padStart(8, '0')}): expected 0x${w.toString(16).padStart(hex, '0')}, got 0x${got[i].toString(16).padStart(hex, '0')}`);
  }
  if (bad.length) throw new Error(`${what}: ${bad.length} of ${xs.length} codes differ, e.g.\n  ${bad.slice(0, 10).join('\n  ')}`);
}

const e4m3IsNan = (c: number): boolean => (c & 0x7f) === 0x7f;
const u16IsNanBf16 = (c: number): boolean => (c & 0x7f80) === 0x7f80 && (c & 0x7f) !== 0;
const u16IsNanF16 = (c: number): boolean => (c & 0x7c00) === 0x7c00 && (c & 0x3ff) !== 0;

describe('f8_e4m3fn codec', () => {
  test('all 256 codes decode exactly (cast and toFloat32Array), NaN at 0x7f and 0xff', async () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const t = Tensor.fromArray(codes, [256], { dtype: 'f8_e4m3' });
    const viaRead = await t.toFloat32Array();
    const viaCast = await t.cast('f32').toFloat32Array();
    for (let c = 0; c < 256; c++) {
      const want = e4m3Decode(c);
      for (const [how, got] of [['read', viaRead[c]], ['cast', viaCast[c]]] as const) {
        if (c === 0x7f || c === 0xff) expect(Number.isNaN(got)).toBe(true);
        else if (!Object.is(got, want)) throw new Error(`decode(${how}) 0x${c.toString(16)}: expected ${want}, got ${got}`);
      }
    }
    // Spot values from the format's definition, not from the reference.
    expect([viaRead[0x00], viaRead[0x01], viaRead[0x08], viaRead[0x38], viaRead[0x7e], viaRead[0xfe]]).toEqual([0, 2 ** -9, 2 ** -6, 1, 448, -448]);
    expect(Object.is(viaRead[0x80], -0)).toBe(true);
  });

  test('encoding: every value, every midpoint (ties to even) and its f32 neighbours, edges', async () => {
    const pos = Array.from({ length: 0x7f }, (_, c) => e4m3Decode(c));  // codes 0..0x7e, ascending
    const xs: number[] = [];
    for (const v of pos) xs.push(v, -v);
    const mids: [number, number][] = [];  // [midpoint, even code]
    for (let c = 0; c + 1 < pos.length; c++) {
      const mid = (pos[c] + pos[c + 1]) / 2;
      expect(Math.fround(mid)).toBe(mid);  // <= 5 significant bits: exact in f32
      mids.push([mid, c % 2 === 0 ? c : c + 1]);
      for (const m of [mid, nextUp(mid), nextDown(mid)]) xs.push(m, -m);
    }
    const edges = [2 ** -6, nextUp(2 ** -6), nextDown(2 ** -6), 2 ** -6 - 2 ** -10, 2 ** -10, nextUp(2 ** -10), nextDown(2 ** -10),
      1e-10, fromBits(1), 448, 449, 464, nextDown(464), nextUp(464), 465, 479, 480, 1e30, 3.4028234663852886e38, Infinity];
    for (const v of edges) xs.push(v, -v);
    xs.push(NaN, -NaN, fromBits(0x7f800001), fromBits(0xffc00000));
    const input = Float32Array.from(xs);
    const got = await castCodes(input, 'f8_e4m3');
    expectCodes(input, got, e4m3Encode, e4m3IsNan, 'e4m3 encode');

    // Hand-written expectations (independent of the reference's search).
    const code = (x: number): number => got[xs.indexOf(x)];
    for (const [mid, even] of mids) expect(code(mid)).toBe(even);
    expect(code(2 ** -6)).toBe(0x08);
    expect(code(2 ** -10)).toBe(0x00);            // half the smallest subnormal: tie -> 0 (even)
    expect(code(nextUp(2 ** -10))).toBe(0x01);
    expect(code(-(2 ** -10))).toBe(0x80);         // -0
    expect(code(fromBits(1))).toBe(0x00);
    expect(code(448)).toBe(0x7e);
    expect(code(449)).toBe(0x7e);
    expect(code(464)).toBe(0x7e);                 // midpoint to the nonexistent 480: saturates
    expect(code(465)).toBe(0x7e);
    expect(code(1e30)).toBe(0x7e);
    expect(code(Infinity)).toBe(0x7e);
    expect(code(-Infinity)).toBe(0xfe);
    expect(code(-448)).toBe(0xfe);
    expect(e4m3IsNan(got[xs.length - 4])).toBe(true);
    const z = await castCodes(Float32Array.from([-0, 0]), 'f8_e4m3');
    expect(Array.from(z)).toEqual([0x80, 0x00]);
  });

  test('encoding: 200,000 random values, log-uniform 2^-12..2^10, both signs', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 200_000;
    const input = new Float32Array(n);
    for (let i = 0; i < n; i++) input[i] = (rng.next() < 0.5 ? -1 : 1) * 2 ** (-12 + 22 * rng.next());
    const got = await castCodes(input, 'f8_e4m3');
    expectCodes(input, got, e4m3Encode, e4m3IsNan, 'e4m3 encode (random)');
  }));
});

describe('bf16 codec', () => {
  test('all 65536 codes decode exactly (bit patterns, NaN payloads included)', async () => {
    const codes = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const t = Tensor.fromArray(codes, [65536], { dtype: 'bf16' });
    const bits = new Uint32Array((await t.toFloat32Array()).buffer);
    const bitsCast = new Uint32Array((await t.cast('f32').toFloat32Array()).buffer);
    for (let c = 0; c < 65536; c++) {
      const want = ((c << 16) >>> 0);
      if (bits[c] !== want || bitsCast[c] !== want) throw new Error(`bf16 decode 0x${c.toString(16)}: expected bits 0x${want.toString(16)}, got 0x${bits[c].toString(16)} / 0x${bitsCast[c].toString(16)}`);
      const v = bf16Decode(c);
      if (!Number.isNaN(v) && !Object.is(fromBits(want), v)) throw new Error(`reference disagrees at 0x${c.toString(16)}`);
    }
  });

  test('encoding: 100,000 random f32 bit patterns and exact midpoints (ties to even)', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const u = new Uint32Array(100_000 + 40_000 + 32);
    let i = 0;
    const rnd32 = (): number => (rng.next() * 4294967296) >>> 0;
    for (let j = 0; j < 100_000; j++) {
      const r = rnd32();
      switch (j % 5) {
        case 0: u[i++] = r & 0x807fffff; break;                         // subnormals (and +-0)
        case 1: u[i++] = (r & 0x807fffff) | 0x7f000000; break;          // exponent 254/255 half: huge, inf, NaN
        default: u[i++] = r;                                             // anything
      }
    }
    for (let j = 0; j < 40_000; j++) {                                   // exact midpoints, both parities
      const r = rnd32();
      u[i++] = ((r & 0xffff0000) | 0x8000) >>> 0;
    }
    const specials = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fffffff,
      0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff, 0x7f7effff, 0x7f7e8000, 0x00000001, 0x80000001, 0x007fffff, 0x00008000,
      0x00018000, 0x3f808000, 0x3f818000, 0x3f807fff, 0x3f808001, 0x3f800000];
    for (const s of specials) u[i++] = s;
    const input = new Float32Array(u.buffer, 0, i);
    const got = await castCodes(input, 'bf16');
    expectCodes(input, got, bf16Encode, u16IsNanBf16, 'bf16 encode', 4);
    // Hand-written: ties to even at 1 + 2^-8 (-> 1.0) and 1 + 3*2^-8 (-> 1 + 2^-6), overflow to inf.
    const at = (bits: number): number => got[specials.indexOf(bits) + i - specials.length];
    expect(at(0x3f808000)).toBe(0x3f80);
    expect(at(0x3f818000)).toBe(0x3f82);
    expect(at(0x3f808001)).toBe(0x3f81);
    expect(at(0x7f7fffff)).toBe(0x7f80);
    expect(at(0x7f7f8000)).toBe(0x7f80);
    expect(at(0x7f7f7fff)).toBe(0x7f7f);
    expect(at(0xff7fffff)).toBe(0xff80);
    expect(at(0x7f7e8000)).toBe(0x7f7e);
    expect(at(0x00008000)).toBe(0x0000);
    expect(at(0x00018000)).toBe(0x0002);
  }));
});

describe('f16 codec', () => {
  test('all 65536 codes decode exactly', async () => {
    const codes = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const t = Tensor.fromArray(codes, [65536], { dtype: 'f16' });
    const viaRead = await t.toFloat32Array();
    const viaCast = await t.cast('f32').toFloat32Array();
    for (let c = 0; c < 65536; c++) {
      const want = f16Decode(c);
      for (const got of [viaRead[c], viaCast[c]]) {
        if (Number.isNaN(want) ? !Number.isNaN(got) : !Object.is(got, want))
          throw new Error(`f16 decode 0x${c.toString(16)}: expected ${want}, got ${got}`);
      }
    }
    expect([viaRead[0x3c00], viaRead[0x7bff], viaRead[0x0001], viaRead[0x7c00], viaRead[0xfc00]]).toEqual([1, 65504, 2 ** -24, Infinity, -Infinity]);
  });

  test('encoding: every midpoint (ties to even, subnormal ones too) and neighbours, overflow, NaN', async () => {
    const xs: number[] = [];
    const mids: [number, number][] = [];
    for (let c = 0; c < 0x7bff; c++) {
      const mid = (f16Decode(c) + f16Decode(c + 1)) / 2;
      mids.push([mid, c % 2 === 0 ? c : c + 1]);
      for (const m of [mid, nextUp(mid), nextDown(mid)]) xs.push(m, -m);
    }
    const edges = [65504, 65519.99, nextDown(65520), 65520, 65536, 1e30, Infinity, 2 ** -25, nextUp(2 ** -25), 2 ** -26, 2 ** -14, nextDown(2 ** -14)];
    for (const v of edges) xs.push(Math.fround(v), -Math.fround(v));
    xs.push(NaN, fromBits(0x7f800001), fromBits(0xffc00000));
    const input = Float32Array.from(xs);
    const got = await castCodes(input, 'f16');
    expectCodes(input, got, f16Encode, u16IsNanF16, 'f16 encode', 4);
    const index = new Map<number, number>();
    xs.forEach((x, j) => { if (!index.has(x)) index.set(x, j); });
    const code = (x: number): number => got[index.get(Math.fround(x))!];
    for (const [mid, even] of mids) if (code(mid) !== even) throw new Error(`f16 tie ${mid}: expected 0x${even.toString(16)}, got 0x${code(mid).toString(16)}`);
    expect(code(65504)).toBe(0x7bff);
    expect(code(65519.99)).toBe(0x7bff);
    expect(code(65520)).toBe(0x7c00);
    expect(code(-65520)).toBe(0xfc00);
    expect(code(2 ** -25)).toBe(0x0000);      // half the smallest subnormal: tie -> 0
    expect(code(nextUp(2 ** -25))).toBe(0x0001);
    expect(u16IsNanF16(got[xs.length - 3])).toBe(true);
  });

  test('encoding: random values across the whole range', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 100_000;
    const u = new Uint32Array(n);
    for (let j = 0; j < n; j++) {
      const r = (rng.next() * 4294967296) >>> 0;
      if (j % 2) u[j] = r;  // any f32 (most overflow or flush to zero)
      else {                // exponents 2^-26 .. 2^16: subnormal, normal and overflow f16 ranges
        const e = 127 - 26 + Math.floor(rng.next() * 43);
        u[j] = ((r & 0x807fffff) | (e << 23)) >>> 0;
      }
    }
    const input = new Float32Array(u.buffer);
    const got = await castCodes(input, 'f16');
    expectCodes(input, got, f16Encode, u16IsNanF16, 'f16 encode (random)', 4);
  }));
});
