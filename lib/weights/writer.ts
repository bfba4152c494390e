// Writing Hugging Face safetensors files and sharded checkpoints (model-0000i-of-0000n.safetensors +
// model.safetensors.index.json), in the layout of the tiny-v3 fixture: within a file tensors are ordered by
// item size (descending) then name, so every data offset is a multiple of its item size, and the JSON header
// is padded with spaces to a multiple of 8. Data is written tensor by tensor (never concatenated in memory),
// and may be produced lazily, so a checkpoint larger than memory can be written. Reader: ./safetensors.ts.
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ArgumentError, IoError } from '../errors';
import { DType } from '../tensor';

/** Our dtype names -> safetensors dtype names (the safetensors names are accepted as they are). */
const ST_DTYPE: Record<string, string> = { f32: 'F32', f16: 'F16', bf16: 'BF16', f8_e4m3: 'F8_E4M3', i32: 'I32', i64: 'I64', u8: 'U8' };
const ST_ITEMSIZE: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

export interface TensorToWrite {
  name: string;
  /** Ours ('f32', 'bf16', 'f8_e4m3', ...) or a safetensors name ('F32', 'BF16', 'F8_E4M3', ...). */
  dtype: DType | string;
  shape: number[];
  /** The raw little-endian bytes, or a function producing them when the tensor is written. */
  data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

/**
 * `mkdir -p` that cannot hang: Node 20's recursive mkdirSync loops forever on a path under /proc. Walks up to the
 * nearest existing ancestor, checks that it is a folder, then creates the missing levels one at a time; IoError
 * when that fails.
 */
export function makeDir(dir: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  while (!existsSync(p)) {
    missing.push(p);
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  if (existsSync(p) && !statSync(p).isDirectory()) throw new IoError(`cannot create the folder ${dir}: ${p} is not a folder`);
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(m).isDirectory()) throw new IoError(`cannot create the folder ${dir}: ${(e as Error).message}`);
    }
  }
}

function stDtype(d: string): string {
  const st = ST_DTYPE[d] ?? d;
  if (!Object.hasOwn(ST_ITEMSIZE, st)) throw new ArgumentError(`writeSafetensors: unknown dtype ${JSON.stringify(d)}`);
  return st;
}

/** Bytes a tensor occupies in a file. */
export function tensorBytes(t: Pick<TensorToWrite, 'dtype' | 'shape'>): number {
  return t.shape.reduce((a, b) => a * b, 1) * ST_ITEMSIZE[stDtype(t.dtype)];
}

/** The header bytes (length-prefixed, padded) and the tensors in file order; pure, no I/O. */
export function planSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): { header: Uint8Array; order: TensorToWrite[]; dataBytes: number } {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new ArgumentError(`writeSafetensors: tensor '${t.name}' appears twice`);
    if (t.name === '__metadata__') throw new ArgumentError(`writeSafetensors: '__metadata__' is not a tensor name`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ArgumentError(`writeSafetensors: tensor '${t.name}' has an invalid shape ${JSON.stringify(t.shape)}`);
    seen.add(t.name);
  }
  const order = [...tensors].sort((a, b) => ST_ITEMSIZE[stDtype(b.dtype)] - ST_ITEMSIZE[stDtype(a.dtype)] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const head: Record<string, unknown> = {};
  let off = 0;
  for (const t of order) {
    const n = tensorBytes(t);
    head[t.name] = { dtype: stDtype(t.dtype), shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  if (metadata) head.__metadata__ = metadata; // last, as the fixture's writer puts it
  let json = JSON.stringify(head);
  // The data starts at 8 + len(json): pad to a multiple of 8 so 8-byte dtypes stay aligned in the file too.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, order, dataBytes: off };
}

/** Writes one .safetensors file; returns its data size in bytes (the sum of the tensor sizes). */
export async function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>,
  onTensor?: (name: string, bytes: number) => void): Promise<number> {
  const { header, order, dataBytes } = planSafetensors(tensors, metadata);
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, header);
    for (const t of order) {
      const data = typeof t.data === 'function' ? await t.data() : t.data;
      const want = tensorBytes(t);
      if (data.byteLength !== want) throw new ArgumentError(`writeSafetensors: tensor '${t.name}' (${stDtype(t.dtype)} [${t.shape.join(', ')}]) needs ${want} bytes, got ${data.byteLength}`);
      writeAll(fd, data);
      onTensor?.(t.name, want);
    }
  } finally {
    closeSync(fd);
  }
  return dataBytes;
}

function writeAll(fd: number, data: Uint8Array): void {
  let at = 0;
  while (at < data.byteLength) at += writeSync(fd, data, at, data.byteLength - at);
}

export interface ShardedOptions {
  /** Start a new shard when the next tensor would take the current one past this many bytes (default 2 GiB; a shard holds at least one tensor). */
  shardBytes?: number;
  metadata?: Record<string, string>;
  /** Called after each tensor is written. */
  onTensor?: (name: string, bytes: number) => void;
}

/**
 * Writes tensors as HF shards in `dir` (splitting in the given order, so a weight and its scale_inv may land in
 * different shards, as in real checkpoints) plus model.safetensors.index.json; returns the shard file names.
 */
export async function writeShardedSafetensors(dir: string, tensors: TensorToWrite[], opts: ShardedOptions = {}): Promise<{ shards: string[]; totalSize: number }> {
  const limit = opts.shardBytes ?? 2 * 2 ** 30;
  if (!(limit > 0)) throw new ArgumentError(`writeShardedSafetensors: shardBytes must be > 0, got ${limit}`);
  const groups: TensorToWrite[][] = [];
  let cur: TensorToWrite[] = [], size = 0;
  for (const t of tensors) {
    const n = tensorBytes(t);
    if (cur.length > 0 && size + n > limit) { groups.push(cur); cur = []; size = 0; }
    cur.push(t); size += n;
  }
  if (cur.length > 0 || groups.length === 0) groups.push(cur);
  makeDir(dir);
  const pad = (i: number) => String(i).padStart(5, '0');
  const shards = groups.map((_, i) => `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let i = 0; i < groups.length; i++) {
    totalSize += await writeSafetensors(join(dir, shards[i]), groups[i], opts.metadata ?? { format: 'pt' }, opts.onTensor);
    for (const t of groups[i]) weightMap[t.name] = shards[i];
  }
  const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sortedMap }, null, 2) + '\n');
  return { shards, totalSize };
}
