// Hugging Face safetensors checkpoints: one model.safetensors, or shards listed by
// model.safetensors.index.json ({ metadata, weight_map: { tensor: shard } }). Files are memory-mapped
// (native mapFile), never read into the JS heap; tensors are zero-copy views of the mapping.
// Every header is validated before use and each defect is a typed IoError naming file and tensor.
// Format: an 8-byte little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }, then the data.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, UnsupportedError } from '../errors';
import { native } from '../native';
import { DType, ITEMSIZE, Tensor } from '../tensor';

/** Safetensors dtype names -> our dtypes; the others are readable only as bytes(). */
const DTYPES: Record<string, DType | null> = {
  F32: 'f32', F16: 'f16', BF16: 'bf16', F8_E4M3: 'f8_e4m3', I32: 'i32', I64: 'i64', U8: 'u8',
  F64: null, I8: null, I16: null, U16: null, U32: null, U64: null, BOOL: null, F8_E5M2: null,
};
const RAW_ITEMSIZE: Record<string, number> = { F64: 8, I8: 1, I16: 2, U16: 2, U32: 4, U64: 8, BOOL: 1, F8_E5M2: 1 };
const MAX_HEADER = 100 * 2 ** 20;

export interface TensorInfo {
  name: string;
  /** The safetensors dtype name (F32, BF16, F8_E4M3, F64, ...). */
  stDtype: string;
  /** Our dtype, or null for dtypes readable only with bytes(). */
  dtype: DType | null;
  shape: number[];
  file: string;
  /** Byte range within the file. */
  begin: number;
  end: number;
}

/** One .safetensors file: its validated header; the data is mapped on first use. */
export class SafetensorsFile {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  private mapping: Tensor<'u8'> | null = null;
  /** What the file was when its header was read: a file truncated or rewritten since is refused (issue 18). */
  private readonly stamp: { size: number; ino: number; mtimeMs: number };

  private constructor(path: string, tensors: Map<string, TensorInfo>, metadata: Record<string, string>, stamp: { size: number; ino: number; mtimeMs: number }) {
    this.path = path;
    this.tensors = tensors;
    this.metadata = metadata;
    this.stamp = stamp;
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try { fd = openSync(path, 'r'); } catch (e) { throw new IoError(`safetensors: cannot open ${path}: ${(e as Error).message}`); }
    const bad = (what: string): never => { throw new IoError(`safetensors: ${path}: ${what}`); };
    // Any fs error (EISDIR, EIO) is an IoError too, never a bare Error.
    const read = (buf: Buffer, at: number): number => {
      try { return readSync(fd, buf, 0, buf.length, at); } catch (e) { return bad(`cannot read: ${(e as Error).message}`); }
    };
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) bad('is not a regular file');
      const size = st.size;
      if (size < 8) bad(`the file has ${size} bytes, fewer than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      if (read(lenBuf, 0) !== 8) bad('the header length is truncated');
      const n = Number(lenBuf.readBigUInt64LE(0));
      if (n > size - 8) bad(`header length ${n} goes beyond the end of the file (${size} bytes)`);
      if (n > MAX_HEADER) bad(`header length ${n} exceeds ${MAX_HEADER} bytes`);
      const hbuf = Buffer.alloc(n);
      if (read(hbuf, 8) !== n) bad('the header is truncated');
      let header: unknown;
      try { header = JSON.parse(hbuf.toString('utf8')); } catch (e) { bad(`the header is not valid JSON (${(e as Error).message})`); }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
      const dataStart = 8 + n, dataSize = size - dataStart;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          if (typeof v !== 'object' || v === null || Array.isArray(v)) bad('__metadata__ is not an object');
          for (const [k, x] of Object.entries(v as object)) if (typeof x !== 'string') bad(`__metadata__ value '${k}' is not a string`);
          metadata = v as Record<string, string>;
          continue;
        }
        const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        const where = `tensor '${name}'`;
        if (typeof e !== 'object' || e === null) bad(`${where} is not an object`);
        // hasOwn, not `in`: 'toString' or '__proto__' must not pass as dtypes through Object.prototype.
        if (typeof e.dtype !== 'string' || !Object.hasOwn(DTYPES, e.dtype)) bad(`${where} has unknown dtype ${JSON.stringify(e.dtype)}`);
        const st = e.dtype as string;
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${where} has an invalid shape ${JSON.stringify(e.shape)}`);
        const shape = e.shape as number[];
        // Element count as the reference reader computes it (checked product, left to right): a
        // zero after an overflowing prefix is not a zero-size tensor, and the native side would
        // refuse it later with a ShapeError.
        let numel = 1;
        for (const d of shape) if (!Number.isSafeInteger((numel *= d))) bad(`${where} has shape ${JSON.stringify(shape)}, whose element count overflows`);
        const off = e.data_offsets;
        if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1])
          bad(`${where} has invalid data_offsets ${JSON.stringify(off)}`);
        const [b, end] = off as number[];
        const item = DTYPES[st] ? ITEMSIZE[DTYPES[st]!] : RAW_ITEMSIZE[st];
        const want = numel * item;
        if (end - b !== want) bad(`${where}: data_offsets [${b}, ${end}] hold ${end - b} bytes, ${st} ${JSON.stringify(shape)} needs ${want}`);
        if (end > dataSize) bad(`${where}: data [${b}, ${end}) goes beyond the data (${dataSize} bytes): the file is truncated or the offsets are wrong`);
        tensors.set(name, { name, stDtype: st, dtype: DTYPES[st], shape, file: path, begin: dataStart + b, end: dataStart + end });
      }
      const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((x, y) => x.begin - y.begin);
      for (let i = 1; i < sorted.length; i++)
        if (sorted[i].begin < sorted[i - 1].end) bad(`tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
      return new SafetensorsFile(path, tensors, metadata, { size, ino: st.ino, mtimeMs: st.mtimeMs });
    } finally {
      closeSync(fd);
    }
  }

  /** A CPU tensor viewing the mapped file (no copy). */
  get<D extends DType = DType>(name: string): Tensor<D> {
    const t = this.info(name);
    if (!t.dtype) throw new UnsupportedError(`safetensors: tensor '${name}' has dtype ${t.stDtype}, which dsv3 tensors do not support; use bytes()`);
    this.checkUnchanged(name);
    if (!this.mapping) {
      const m = Tensor.fromHandle<'u8'>(native.mapFile(this.path));
      if (m.shape[0] !== this.stamp.size) {
        m.dispose();
        throw new IoError(`safetensors: ${this.path} changed since it was opened (${this.stamp.size} bytes then, ${m.shape[0]} now); reopen the checkpoint`);
      }
      this.mapping = m;
    }
    this.check();
    return Tensor.fromHandle<D>(native.viewBytes(this.mapping.handle, t.begin, t.dtype, t.shape));
  }

  /** A copy of the tensor's raw little-endian bytes (any dtype). */
  bytes(name: string): Uint8Array {
    const t = this.info(name);
    this.checkUnchanged(name);
    const fd = openSync(this.path, 'r');
    try {
      const out = new Uint8Array(t.end - t.begin);
      if (readSync(fd, out, 0, out.length, t.begin) !== out.length) throw new IoError(`safetensors: ${this.path}: tensor '${name}' is truncated`);
      return out;
    } finally {
      closeSync(fd);
    }
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new IoError(`safetensors: ${this.path} has no tensor '${name}'`);
    return t;
  }

  /**
   * Throws an IoError if a read of this file's mapping failed because the file shrank or was rewritten under
   * it (a SIGBUS the addon caught: the op that read it failed with the same IoError).
   */
  check(): void {
    const fault = this.mapping ? native.mappingFault(this.mapping.handle) : null;
    if (fault) throw new IoError(`safetensors: ${fault}`);
  }

  /** The file must still be the one whose header was read: same inode, size and modification time. */
  private checkUnchanged(name: string): void {
    let st;
    try { st = statSync(this.path); } catch (e) { throw new IoError(`safetensors: ${this.path} (tensor '${name}'): cannot stat: ${(e as Error).message}`); }
    const s = this.stamp;
    if (st.ino !== s.ino || st.size !== s.size || st.mtimeMs !== s.mtimeMs)
      throw new IoError(`safetensors: ${this.path} changed since it was opened (size ${s.size} -> ${st.size}${st.ino !== s.ino ? ', replaced by another file' : ''}`
        + `${st.mtimeMs !== s.mtimeMs ? ', modified' : ''}); reading tensor '${name}' refused: reopen the checkpoint`);
  }

  /** Drops this file's reference to the mapping; tensors already handed out keep it alive. */
  close(): void { this.mapping?.dispose(); this.mapping = null; }
}

/** A checkpoint folder: model.safetensors, or model.safetensors.index.json and its shards. */
export class Checkpoint {
  readonly dir: string;
  readonly names: readonly string[];
  private readonly files: Map<string, SafetensorsFile>;
  private readonly where: Map<string, SafetensorsFile>;

  private constructor(dir: string, files: Map<string, SafetensorsFile>, where: Map<string, SafetensorsFile>) {
    this.dir = dir;
    this.files = files;
    this.where = where;
    this.names = Object.freeze([...where.keys()].sort());
  }

  static open(dir: string): Checkpoint {
    const index = join(dir, 'model.safetensors.index.json');
    const files = new Map<string, SafetensorsFile>(), where = new Map<string, SafetensorsFile>();
    if (existsSync(index)) {
      let map: Record<string, unknown>;
      try {
        const j = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown } | null;
        if (typeof j !== 'object' || j === null || Array.isArray(j)) throw new Error('not a JSON object');
        if (typeof j.weight_map !== 'object' || j.weight_map === null || Array.isArray(j.weight_map)) throw new Error('no weight_map object');
        map = j.weight_map as Record<string, unknown>;
      } catch (e) {
        throw new IoError(`safetensors: ${index} is not a valid index (${(e as Error).message})`);
      }
      const shards = [...new Set(Object.values(map))];
      // A shard is a plain name of a regular file in this folder: no separators (either OS's), no '..'.
      const plain = (s: unknown): s is string => typeof s === 'string' && s !== '' && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);
      const missing = shards.filter((s) => !plain(s) || !statSync(join(dir, s), { throwIfNoEntry: false })?.isFile());
      if (missing.length) throw new IoError(`safetensors: ${index} names shards that are missing or invalid: ${missing.map((s) => JSON.stringify(s)).join(', ')}`);
      for (const s of shards as string[]) files.set(s, SafetensorsFile.open(join(dir, s)));
      const absent: string[] = [];
      for (const [name, s] of Object.entries(map)) {
        const f = files.get(s as string)!;
        if (!f.tensors.has(name)) absent.push(`${name} (in ${s})`);
        else where.set(name, f);
      }
      if (absent.length) throw new IoError(`safetensors: tensors listed in ${index} are not in their shards: ${absent.slice(0, 10).join(', ')}${absent.length > 10 ? ` and ${absent.length - 10} more` : ''}`);
    } else {
      const single = join(dir, 'model.safetensors');
      if (!existsSync(single)) throw new IoError(`safetensors: ${dir} has neither model.safetensors nor model.safetensors.index.json`);
      const f = SafetensorsFile.open(single);
      files.set('model.safetensors', f);
      for (const name of f.tensors.keys()) where.set(name, f);
    }
    return new Checkpoint(dir, files, where);
  }

  has(name: string): boolean { return this.where.has(name); }
  info(name: string): TensorInfo { return this.file(name).info(name); }
  get<D extends DType = DType>(name: string): Tensor<D> { return this.file(name).get<D>(name); }
  bytes(name: string): Uint8Array { return this.file(name).bytes(name); }
  /** Throws an IoError if a file of the checkpoint shrank or was rewritten under a read of its mapping. */
  check(): void { for (const f of this.files.values()) f.check(); }
  close(): void { for (const f of this.files.values()) f.close(); }

  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new IoError(`safetensors: the checkpoint in ${this.dir} has no tensor '${name}'`);
    return f;
  }
}
