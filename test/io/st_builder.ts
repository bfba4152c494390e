// Writes safetensors files for tests: valid ones from { name: { dtype, shape, data } } (tensors laid
// out in order, optionally at a chosen data offset), and raw ones from any header text and length
// field, so tests can build every malformed case byte by byte. Format: Hugging Face safetensors.
import { writeFileSync } from 'node:fs';

export interface StTensor {
  /** Safetensors dtype name (F32, BF16, F8_E4M3, I64, F64, ...). */
  dtype: string;
  shape: number[];
  /** The raw little-endian bytes. */
  data: ArrayBufferView;
  /** Byte offset within the data section; default: right after the previous tensor. */
  at?: number;
}

const u8 = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** 8-byte little-endian length (default: the header's own byte length), the header, then data.
 *  An object header is padded with spaces to a multiple of 8 bytes (as the reference writer does),
 *  so data offsets that are multiples of 8 are aligned in the file too. */
export function rawSafetensors(header: string | object, data: Uint8Array = new Uint8Array(0), length?: bigint): Buffer {
  let text = typeof header === 'string' ? header : JSON.stringify(header);
  if (typeof header !== 'string') text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const h = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(length ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** A valid file; returns the bytes and each tensor's [begin, end) within the whole file. */
export function buildSafetensors(tensors: Record<string, StTensor>, metadata?: Record<string, string>):
    { file: Buffer; ranges: Record<string, [number, number]> } {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const offs: Record<string, [number, number]> = {};
  let end = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const b = t.at ?? end;
    offs[name] = [b, b + t.data.byteLength];
    end = Math.max(end, b + t.data.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: offs[name] };
  }
  const data = new Uint8Array(end);
  for (const [name, t] of Object.entries(tensors)) data.set(u8(t.data), offs[name][0]);
  const file = rawSafetensors(header, data);
  const start = file.length - end;
  const ranges: Record<string, [number, number]> = {};
  for (const [name, [b, e]] of Object.entries(offs)) ranges[name] = [start + b, start + e];
  return { file, ranges };
}

export function writeSafetensors(path: string, tensors: Record<string, StTensor>, metadata?: Record<string, string>): Record<string, [number, number]> {
  const { file, ranges } = buildSafetensors(tensors, metadata);
  writeFileSync(path, file);
  return ranges;
}
