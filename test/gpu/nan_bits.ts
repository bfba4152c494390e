// NaN of both signs with different payloads (quiet and signalling) and +-inf as raw bits per float dtype, for
// the GPU suites that compare the CUDA backend's bytes with the CPU's where NaN and inf occur (quantizers,
// dequantizers, the SiLU-multiply quantizer): the CPU keeps a NaN operand's sign and payload (quieted) and
// gives the default NaN 0xffc00000 for inf / inf or 0 * inf, which a GPU does not do by itself.
import { Tensor } from '../../lib';
import { Rng } from '../reference/rng';

export type Float = 'f32' | 'bf16' | 'f16';
export const NAN_BITS: Record<Float, number[]> = {
  f32: [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa5a5a5, 0xffd00042, 0x7fffffff, 0xffffffff],
  bf16: [0x7fc0, 0xffc0, 0x7f81, 0xff81, 0x7fa5, 0xffd0, 0x7fff, 0xffff],
  f16: [0x7e00, 0xfe00, 0x7c01, 0xfc01, 0x7d55, 0xfe42, 0x7fff, 0xffff],
};
export const INF_BITS: Record<Float, number[]> = { f32: [0x7f800000, 0xff800000], bf16: [0x7f80, 0xff80], f16: [0x7c00, 0xfc00] };

/** A tensor holding `values` rounded to `dtype`, with the raw bit patterns of `bits` (element index -> bits) written over them. */
export async function withBits<D extends Float>(values: Float32Array, shape: number[], dtype: D, bits: Map<number, number>): Promise<Tensor<D>> {
  const t = Tensor.fromFloats(values, shape, { dtype });
  const raw = new Uint8Array(await t.bytes()).slice();
  t.dispose();
  if (dtype === 'f32') {
    const u = new Uint32Array(raw.buffer);
    bits.forEach((b, i) => { u[i] = b >>> 0; });
    return Tensor.fromArray(new Float32Array(raw.buffer), shape) as unknown as Tensor<D>;
  }
  const u = new Uint16Array(raw.buffer);
  bits.forEach((b, i) => { u[i] = b; });
  return Tensor.fromArray(u, shape, { dtype: dtype as 'bf16' }) as unknown as Tensor<D>;
}

/**
 * Special values for the elements of one group (indices `idx`), by mode: 0 none, 1 one NaN, 2 three NaNs of
 * mixed signs and payloads, 3 +inf and -inf (no NaN: the scale is inf and inf / inf is NaN), 4 NaN and inf.
 */
export function specialsFor(rng: Rng, dtype: Float, idx: number[], mode: number, out: Map<number, number>): void {
  const pick = <T>(a: T[]) => a[rng.int(0, a.length - 1)];
  const put = (b: number) => { out.set(pick(idx), b); };
  if (mode === 1) put(pick(NAN_BITS[dtype]));
  if (mode === 2) { put(NAN_BITS[dtype][rng.int(0, 3) * 2]); put(NAN_BITS[dtype][rng.int(0, 3) * 2 + 1]); put(pick(NAN_BITS[dtype])); }
  if (mode === 3) { put(INF_BITS[dtype][0]); put(INF_BITS[dtype][1]); }
  if (mode === 4) { put(pick(NAN_BITS[dtype])); put(pick(INF_BITS[dtype])); put(pick(INF_BITS[dtype])); }
}

/** The bytes of two tensors are equal; the error names the first differing element and both bit patterns. */
export async function expectSameBits(got: Tensor, want: Tensor, what: string): Promise<void> {
  expect(got.device).toBe('cuda');
  expect(want.device).toBe('cpu');
  expect([got.dtype, got.shape]).toEqual([want.dtype, want.shape]);
  const [g, w] = [Buffer.from(await got.bytes()), Buffer.from(await want.bytes())];
  if (g.equals(w)) return;
  const size = g.length / Math.max(1, got.numel), i = Math.floor(g.findIndex((b, j) => b !== w[j]) / size);
  const hex = (b: Buffer) => '0x' + Buffer.from(b.subarray(i * size, (i + 1) * size)).reverse().toString('hex');
  throw new Error(`${what}: bytes differ from the CPU backend; first at element ${i}: ${hex(g)} vs ${hex(w)}`);
}
