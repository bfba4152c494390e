// Hostile inputs for the safetensors reader (lib/weights/safetensors.ts, native mapFile/viewBytes):
// valid files built here read back exactly; each defect is an IoError naming the problem; and a
// seeded fuzz loop of random corruptions must only ever end in an IoError or in a file whose every
// tensor reads back exactly the bytes at its declared range (a native crash would kill jest).
import { mkdirSync, mkdtempSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, SafetensorsFile } from '../../lib/weights/safetensors';
import { IoError, ShapeError, Tensor, UnsupportedError } from '../../lib';
import { native } from '../../lib/native';
import { withSeed } from '../helpers';
import { Rng } from '../reference/rng';
import { buildSafetensors, rawSafetensors, StTensor, writeSafetensors } from './st_builder';

let dir: string;
let seq = 0;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'dsv3-stfuzz-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh file (never rewritten: a live mapping of a rewritten file could fault). */
function put(bytes: Uint8Array, name = `f${seq++}.safetensors`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}
function folder(): string { const d = join(dir, `d${seq++}`); mkdirSync(d); return d; }

const f32 = (a: number[]): Float32Array => Float32Array.from(a);
const bytesOf = (rng: Rng, n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.int(0, 255));
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** Opening `bytes` fails with an IoError whose message matches `msg`. */
function rejects(bytes: Uint8Array, msg: RegExp): void {
  const p = put(bytes);
  expect(() => SafetensorsFile.open(p)).toThrow(IoError);
  expect(() => SafetensorsFile.open(p)).toThrow(msg);
}
function rejectsDir(d: string, msg: RegExp): void {
  expect(() => Checkpoint.open(d)).toThrow(IoError);
  expect(() => Checkpoint.open(d)).toThrow(msg);
}
/** A file whose header has one tensor entry `entry` over `data`. */
const one = (entry: unknown, data = new Uint8Array(16)): Buffer => rawSafetensors({ t: entry }, data);

/** Every tensor reads back as its source bytes, through bytes() and (supported dtypes) get(). */
async function expectReadsBack(f: { get(n: string): { shape: readonly number[]; dtype: string; bytes(): Promise<Uint8Array>; dispose(): void }; bytes(n: string): Uint8Array },
                               tensors: Record<string, StTensor & { our?: string }>): Promise<void> {
  for (const [name, t] of Object.entries(tensors)) {
    const want = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    expect(same(f.bytes(name), want)).toBe(true);
    if (!t.our) { expect(() => f.get(name)).toThrow(UnsupportedError); continue; }
    const x = f.get(name);
    expect([x.dtype, [...x.shape]]).toEqual([t.our, t.shape]);
    expect(same(await x.bytes(), want)).toBe(true);
    x.dispose();
  }
}

function sample(rng: Rng): Record<string, StTensor & { our?: string }> {
  return {
    'w.f32': { dtype: 'F32', shape: [2, 3], data: Float32Array.from(rng.normals(6)), our: 'f32' },
    'w.bf16': { dtype: 'BF16', shape: [5], data: Uint16Array.from({ length: 5 }, () => rng.int(0, 65535)), our: 'bf16' },
    'w.f16': { dtype: 'F16', shape: [2, 2], data: Uint16Array.from({ length: 4 }, () => rng.int(0, 65535)), our: 'f16' },
    'w.fp8': { dtype: 'F8_E4M3', shape: [3, 4], data: bytesOf(rng, 12), our: 'f8_e4m3' },
    'ids.i64': { dtype: 'I64', shape: [2], data: BigInt64Array.from([-5n, 1n << 40n]), our: 'i64' },
    'ids.i32': { dtype: 'I32', shape: [3], data: Int32Array.from([7, -1, 1 << 30]), our: 'i32' },
    'mask.u8': { dtype: 'U8', shape: [7], data: bytesOf(rng, 7), our: 'u8' },
    'scale.f64': { dtype: 'F64', shape: [1], data: Float64Array.from([Math.PI]) },  // bytes() only
    'empty': { dtype: 'F32', shape: [0], data: new Float32Array(0), our: 'f32' },
    'empty2d': { dtype: 'BF16', shape: [3, 0], data: new Uint16Array(0), our: 'bf16' },
  };
}

describe('valid files read back exactly', () => {
  test('a single file with every dtype, zero-size tensors and metadata', () => withSeed(async (seed) => {
    const ts = sample(new Rng(seed));
    const p = join(dir, `v${seq++}.safetensors`);
    writeSafetensors(p, ts, { format: 'pt' });
    const f = SafetensorsFile.open(p);
    expect([...f.tensors.keys()].sort()).toEqual(Object.keys(ts).sort());
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.info('empty2d').shape).toEqual([3, 0]);
    await expectReadsBack(f, ts);
    const x = f.get<'f32'>('w.f32');
    expect(Array.from(await x.toArray())).toEqual(Array.from(ts['w.f32'].data as Float32Array));
    x.dispose();
    f.close();
  }));

  test('a 2-shard folder with model.safetensors.index.json', () => withSeed(async (seed) => {
    const ts = sample(new Rng(seed));
    const names = Object.keys(ts);
    const half = [names.slice(0, 5), names.slice(5)];
    const d = folder();
    const shard = (i: number) => `model-0000${i + 1}-of-00002.safetensors`;
    const weightMap: Record<string, string> = {};
    half.forEach((ns, i) => {
      writeSafetensors(join(d, shard(i)), Object.fromEntries(ns.map((n) => [n, ts[n]])));
      for (const n of ns) weightMap[n] = shard(i);
    });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const ck = Checkpoint.open(d);
    expect(ck.names).toEqual([...names].sort());
    expect(ck.info('scale.f64').file).toBe(join(d, shard(1)));
    expect(ck.info('w.f32').file).toBe(join(d, shard(0)));
    await expectReadsBack(ck, ts);
    expect(() => ck.get('nope')).toThrow(IoError);
    ck.close();
  }));

  test('a tensor at a misaligned offset still reads its exact values (the native side copies)', async () => {
    const v = f32([1.5, -2.25, 3e-8, 65504, -0]);
    const ids = BigInt64Array.from([3n, -(1n << 50n)]);
    const ts = {
      pad: { dtype: 'U8', shape: [2], data: Uint8Array.from([9, 8]), at: 0 },
      x: { dtype: 'F32', shape: [5], data: v, at: 2 },                  // 2 mod 4
      y: { dtype: 'I64', shape: [2], data: ids, at: 22 },               // 22 mod 8
      z: { dtype: 'F32', shape: [5], data: v, at: 40 },                 // aligned, for contrast
    };
    const p = put(buildSafetensors(ts).file);
    const f = SafetensorsFile.open(p);
    expect((f.info('x').begin) % 4).toBe(2);
    for (const n of ['x', 'z']) {
      const t = f.get<'f32'>(n);
      expect(Array.from(await t.toArray())).toEqual(Array.from(v));
      t.dispose();
    }
    const y = f.get<'i64'>('y');
    expect(Array.from(await y.toArray())).toEqual(Array.from(ids));
    y.dispose();
    f.close();
  });
});

describe('malformed files are IoErrors naming the defect', () => {
  const good = (): Buffer => buildSafetensors({ a: { dtype: 'F32', shape: [2], data: f32([1, 2]) } }).file;

  test('fewer than 8 bytes', () => {
    rejects(new Uint8Array(0), /has 0 bytes, fewer than the 8-byte header length/);
    rejects(Uint8Array.from([1, 0, 0, 0, 0]), /has 5 bytes, fewer than the 8-byte header length/);
  });

  test('header length beyond the file, and absurd (2^63, 2^64-1)', () => {
    const ok = good();
    rejects(rawSafetensors('{}', new Uint8Array(0), 3n), /header length 3 goes beyond the end of the file \(10 bytes\)/);
    const longer = Buffer.from(ok); longer.writeBigUInt64LE(BigInt(ok.length) - 7n);
    rejects(longer, /header length \d+ goes beyond the end of the file/);
    const huge = Buffer.from(ok); huge.writeBigUInt64LE(1n << 63n);
    rejects(huge, /header length 9223372036854776000 goes beyond the end of the file/);
    huge.writeBigUInt64LE((1n << 64n) - 1n);
    rejects(huge, /goes beyond the end of the file/);
  });

  test('header length within a (sparse) file but above the 100 MiB cap', () => {
    const p = put(rawSafetensors('{}', new Uint8Array(0), 150n * 2n ** 20n));
    truncateSync(p, 200 * 2 ** 20);  // a hole, not 200 MiB written
    expect(() => SafetensorsFile.open(p)).toThrow(IoError);
    expect(() => SafetensorsFile.open(p)).toThrow(/header length 157286400 exceeds 104857600 bytes/);
    unlinkSync(p);
  });

  test('invalid JSON, and JSON that is not an object', () => {
    rejects(rawSafetensors('{"a": {"dtype": "F32",'), /the header is not valid JSON/);
    rejects(rawSafetensors(''), /the header is not valid JSON/);
    rejects(rawSafetensors('{"a":1}\u0000\u0000'), /the header is not valid JSON/);
    for (const h of ['[1, 2]', '"text"', 'null', '42', 'true']) rejects(rawSafetensors(h), /the header is not a JSON object/);
  });

  test('an entry or __metadata__ that is not an object, metadata values that are not strings', () => {
    rejects(one(5), /tensor 't' is not an object/);
    rejects(one(null), /tensor 't' is not an object/);
    rejects(rawSafetensors({ __metadata__: [1] }), /__metadata__ is not an object/);
    rejects(rawSafetensors({ __metadata__: { format: 1 } }), /__metadata__ value 'format' is not a string/);
  });

  test('unknown dtype (including names inherited from Object.prototype)', () => {
    for (const d of ['F128', 'f32', '', 'toString', 'constructor', '__proto__', 'hasOwnProperty'])
      rejects(one({ dtype: d, shape: [1], data_offsets: [0, 4] }), new RegExp(`tensor 't' has unknown dtype ${JSON.stringify(d)}`));
    rejects(one({ dtype: 4, shape: [1], data_offsets: [0, 4] }), /tensor 't' has unknown dtype 4/);
    rejects(one({ shape: [1], data_offsets: [0, 4] }), /tensor 't' has unknown dtype undefined/);
  });

  test('bad shape: negative, fractional, string, not an array, too many elements', () => {
    for (const s of [[-1], [1.5], ['3'], '3', null, [1, [2]], [2 ** 53]])
      rejects(one({ dtype: 'F32', shape: s, data_offsets: [0, 4] }), /tensor 't' has an invalid shape/);
    rejects(one({ dtype: 'F32', data_offsets: [0, 4] }), /tensor 't' has an invalid shape undefined/);
    // A zero dimension after dims whose product overflows: the element count is undefined, not 0.
    rejects(one({ dtype: 'F32', shape: [2 ** 40, 2 ** 40, 0], data_offsets: [0, 0] }), /tensor 't' has shape \[1099511627776,1099511627776,0\], whose element count overflows/);
    rejects(one({ dtype: 'U8', shape: Array(20).fill(2 ** 52).concat([0]), data_offsets: [0, 0] }), /element count overflows/);
  });

  test('data_offsets not a pair, reversed, or the wrong size for dtype and shape', () => {
    for (const o of [[0], [0, 4, 8], '0,4', [0, '4'], null, [-4, 0], [0, 4.5], [0, 2 ** 53]])
      rejects(one({ dtype: 'F32', shape: [1], data_offsets: o }), /tensor 't' has invalid data_offsets/);
    rejects(one({ dtype: 'F32', shape: [1] }), /tensor 't' has invalid data_offsets undefined/);
    rejects(one({ dtype: 'F32', shape: [1], data_offsets: [8, 4] }), /tensor 't' has invalid data_offsets \[8,4\]/);
    rejects(one({ dtype: 'F32', shape: [2], data_offsets: [0, 4] }), /tensor 't': data_offsets \[0, 4\] hold 4 bytes, F32 \[2\] needs 8/);
    rejects(one({ dtype: 'F64', shape: [3, 0], data_offsets: [0, 8] }), /hold 8 bytes, F64 \[3,0\] needs 0/);
  });

  test('offsets beyond the data: a valid file truncated by a few bytes', () => {
    const ok = good();
    for (const cut of [1, 3, 8]) {
      const p = put(ok);
      truncateSync(p, ok.length - cut);
      expect(() => SafetensorsFile.open(p)).toThrow(IoError);
      expect(() => SafetensorsFile.open(p)).toThrow(new RegExp(`tensor 'a': data \\[0, 8\\) goes beyond the data \\(${8 - cut} bytes\\): the file is truncated`));
    }
    rejects(one({ dtype: 'U8', shape: [4], data_offsets: [14, 18] }), /tensor 't': data \[14, 18\) goes beyond the data \(16 bytes\)/);
  });

  test('two tensors overlapping (zero-size tensors never overlap)', () => {
    const data = new Uint8Array(16);
    rejects(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data),
      /tensors 'a' and 'b' overlap/);
    rejects(rawSafetensors({ b: { dtype: 'U8', shape: [16], data_offsets: [0, 16] }, a: { dtype: 'I32', shape: [1], data_offsets: [8, 12] } }, data),
      /tensors 'b' and 'a' overlap/);
    const p = put(rawSafetensors({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, data));
    expect([...SafetensorsFile.open(p).tensors.keys()]).toEqual(['a', 'z']);
  });

  test('a path that is missing or is a directory', () => {
    expect(() => SafetensorsFile.open(join(dir, 'absent.safetensors'))).toThrow(IoError);
    expect(() => SafetensorsFile.open(join(dir, 'absent.safetensors'))).toThrow(/cannot open .*absent\.safetensors/);
    expect(() => SafetensorsFile.open(dir)).toThrow(IoError);
    expect(() => SafetensorsFile.open(dir)).toThrow(/is not a regular file/);
  });
});

describe('native mapFile / viewBytes on hostile arguments', () => {
  test('mapFile: a missing path or a directory is an IoError', () => {
    expect(() => native.mapFile(join(dir, 'absent'))).toThrow(IoError);
    expect(() => native.mapFile(join(dir, 'absent'))).toThrow(/mapFile: argument 'path' cannot open/);
    expect(() => native.mapFile(dir)).toThrow(/is not a regular file/);
  });

  test('viewBytes: dims out of range, overflowing sizes and ranges outside the tensor are ShapeErrors', async () => {
    const p = put(Uint8Array.from({ length: 24 }, (_, i) => i));
    const m = Tensor.fromHandle<'u8'>(native.mapFile(p));
    // 1e19 and 2^63 are beyond int64 (the cast itself was undefined); 2^62 * 4 bytes overflows.
    for (const s of [[-1], [1.5], [NaN], [Infinity], [1e19], [2 ** 63], [2 ** 62, 0]])
      expect(() => native.viewBytes(m.handle, 0, 'f32', s)).toThrow(ShapeError);
    expect(() => native.viewBytes(m.handle, 0, 'f32', [1e19])).toThrow(/must be an array of non-negative integers/);
    expect(() => native.viewBytes(m.handle, 20, 'f32', [2])).toThrow(/range \[20, 28\) is outside the tensor's 24 bytes/);
    expect(() => native.viewBytes(m.handle, 25, 'u8', [0])).toThrow(ShapeError);
    expect(() => native.viewBytes(m.handle, -1, 'u8', [1])).toThrow(ShapeError);
    const v = Tensor.fromHandle<'u8'>(native.viewBytes(m.handle, 24, 'u8', [0]));  // empty at the very end
    expect(v.shape).toEqual([0]);
    const w = Tensor.fromHandle<'i32'>(native.viewBytes(m.handle, 3, 'i32', [2]));  // misaligned: a copy
    expect(Array.from(await w.bytes())).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    for (const t of [v, w, m]) t.dispose();
  });
});

describe('malformed checkpoint folders are IoErrors naming the defect', () => {
  const ab = { a: { dtype: 'F32', shape: [2], data: f32([1, 2]) }, b: { dtype: 'I32', shape: [1], data: Int32Array.from([3]) } };
  function sharded(index: string | object, shards: Record<string, Record<string, StTensor>> = { 's1.safetensors': ab }): string {
    const d = folder();
    for (const [s, ts] of Object.entries(shards)) writeSafetensors(join(d, s), ts);
    writeFileSync(join(d, 'model.safetensors.index.json'), typeof index === 'string' ? index : JSON.stringify(index));
    return d;
  }

  test('index.json invalid JSON, not an object, or without a weight_map object', () => {
    rejectsDir(sharded('{"weight_map": {'), /model\.safetensors\.index\.json is not a valid index \(.*JSON/);
    for (const j of ['null', '[]', '7'])
      rejectsDir(sharded(j), /is not a valid index \(not a JSON object\)/);
    for (const j of [{}, { weight_map: [] }, { weight_map: 'a' }, { weight_map: null }])
      rejectsDir(sharded(j), /is not a valid index \(no weight_map object\)/);
  });

  test('an index naming a missing shard', () => {
    rejectsDir(sharded({ weight_map: { a: 's1.safetensors', b: 's2.safetensors' } }), /names shards that are missing or invalid: "s2\.safetensors"/);
    rejectsDir(sharded({ weight_map: { a: 3 } }), /names shards that are missing or invalid: 3/);
  });

  test('an index naming a tensor its shard lacks', () => {
    rejectsDir(sharded({ weight_map: { a: 's1.safetensors', c: 's1.safetensors' } }), /tensors listed in .* are not in their shards: c \(in s1\.safetensors\)/);
  });

  test('shard names with a path separator or naming a directory', () => {
    const outside = join(dir, `outside${seq++}.safetensors`);
    writeSafetensors(outside, ab);  // exists, so only the name check can reject it
    const d = sharded({ weight_map: {} });
    mkdirSync(join(d, 'sub'));
    writeSafetensors(join(d, 'sub', 's.safetensors'), ab);
    for (const s of [`../${outside.split('/').pop()}`, outside, 'sub/s.safetensors', 'sub\\s.safetensors', '..', '.', '', 'sub']) {
      writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: s } }));
      rejectsDir(d, new RegExp(`names shards that are missing or invalid: ${JSON.stringify(s).replace(/[\\.]/g, (m) => `\\${m}`)}`));
    }
  });

  test('a folder with no checkpoint, or whose model.safetensors is a directory', () => {
    const d = folder();
    rejectsDir(d, /has neither model\.safetensors nor model\.safetensors\.index\.json/);
    rejectsDir(join(dir, 'no-such-folder'), /has neither/);
    mkdirSync(join(d, 'model.safetensors'));
    rejectsDir(d, /model\.safetensors: .*is not a regular file/);
  });

  test('a shard that is itself malformed is reported with its path', () => {
    const d = sharded({ weight_map: { a: 's1.safetensors' } });
    truncateSync(join(d, 's1.safetensors'), 20);
    rejectsDir(d, /s1\.safetensors: header length \d+ goes beyond the end of the file \(20 bytes\)/);
  });
});

// ---- fuzz ----

const DTYPE_POOL = ['F32', 'BF16', 'F16', 'F8_E4M3', 'I64', 'I32', 'U8', 'F64', 'I8', 'BOOL', 'F8_E5M2', 'U64', 'X', 'toString', '__proto__', ''];
function interesting(rng: Rng, size: number): unknown {
  const pool = [0, 1, 2, 3, 4, 7, 8, 12, 16, -1, -0, 1.5, size, size - 1, size + 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 63, 1e308, '4', null, [], {}];
  return rng.next() < 0.7 ? pool[rng.int(0, pool.length - 1)] : rng.int(0, size + 8);
}

/** Rewrites the JSON header (keys shuffled/duplicated, numbers and dtypes changed, fields dropped). */
function mutateHeader(rng: Rng, header: Record<string, any>, dataSize: number): string {
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  // An entry earlier edits left as a non-object becomes {} so that this edit can still apply.
  const pick = (): Record<string, any> => {
    const n = names[rng.int(0, names.length - 1)];
    if (typeof header[n] !== 'object' || header[n] === null || Array.isArray(header[n])) header[n] = {};
    const e = header[n];
    if (!Array.isArray(e.shape)) e.shape = [];
    if (!Array.isArray(e.data_offsets)) e.data_offsets = [0, 0];
    return e;
  };
  const what = rng.int(0, 7);
  if (what === 0) { const e = pick(); e.data_offsets[rng.int(0, 1)] = interesting(rng, dataSize); }
  else if (what === 1) { const e = pick(); if (e.shape.length) e.shape[rng.int(0, e.shape.length - 1)] = interesting(rng, dataSize); else e.shape.push(interesting(rng, 4)); }
  else if (what === 2) { pick().dtype = DTYPE_POOL[rng.int(0, DTYPE_POOL.length - 1)]; }
  else if (what === 3) { delete pick()[['dtype', 'shape', 'data_offsets'][rng.int(0, 2)]]; }
  else if (what === 4) { const e = pick(); const k = ['dtype', 'shape', 'data_offsets'][rng.int(0, 2)]; e[k] = interesting(rng, dataSize); }
  else if (what === 5) { header[names[rng.int(0, names.length - 1)]] = interesting(rng, dataSize); }
  else if (what === 6) {
    // Duplicate a key textually (JSON.stringify cannot): the later copy, with shifted offsets, wins.
    const n = names[rng.int(0, names.length - 1)];
    const copy = JSON.parse(JSON.stringify(header[n]));
    if (Array.isArray(copy?.data_offsets)) copy.data_offsets = copy.data_offsets.map((x: number) => x + rng.int(-4, 4));
    return JSON.stringify(header).replace(/^\{/, `{${JSON.stringify(n)}:${JSON.stringify(copy)},`).replace(/\}$/, `,${JSON.stringify(n)}:${JSON.stringify(copy)}}`);
  }
  const keys = Object.keys(header);
  for (let i = keys.length - 1; i > 0; i--) { const j = rng.int(0, i); [keys[i], keys[j]] = [keys[j], keys[i]]; }
  return JSON.stringify(Object.fromEntries(keys.map((k) => [k, header[k]])));
}

/** One random corruption of a safetensors file's bytes. */
function corrupt(rng: Rng, file: Buffer): { bytes: Buffer; op: string } {
  const n64 = file.length >= 8 ? file.readBigUInt64LE(0) : 0n;
  const n = Number(n64);
  const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
  const end = Math.min(file.length, 8 + n);
  const what = rng.int(0, 9);
  if (what >= 7) {
    // Edits that keep the file valid, so the read-back path gets exercised on changed files too.
    if (what === 7) { const b = Buffer.from(file); if (b.length > end) b[rng.int(end, b.length - 1)] = rng.int(0, 255); return { bytes: b, op: 'data-poke' }; }
    if (what === 8) return { bytes: Buffer.concat([file, Buffer.from(bytesOf(rng, rng.int(1, 9)))]), op: 'append' };
    let header: Record<string, any>;
    try { header = JSON.parse(file.subarray(8, end).toString('utf8')); } catch { return { bytes: Buffer.from(file), op: 'noop' }; }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) return { bytes: Buffer.from(file), op: 'noop' };
    const keys = Object.keys(header);
    for (let i = keys.length - 1; i > 0; i--) { const j = rng.int(0, i); [keys[i], keys[j]] = [keys[j], keys[i]]; }
    const text = JSON.stringify(Object.fromEntries(keys.map((k) => [k, header[k]])), null, rng.int(0, 2)) + ' '.repeat(rng.int(0, 7));
    return { bytes: rawSafetensors(text, file.subarray(end)), op: 'reorder' };
  }
  if (what === 0) {  // flip bits in the length or header
    const b = Buffer.from(file);
    const k = rng.int(1, 4);
    for (let i = 0; i < k; i++) b[rng.int(0, Math.max(0, end - 1))] ^= 1 << rng.int(0, 7);
    return { bytes: b, op: `flip${k}` };
  }
  if (what === 1) {  // random byte values anywhere
    const b = Buffer.from(file);
    b[rng.int(0, b.length - 1)] = rng.int(0, 255);
    return { bytes: b, op: 'poke' };
  }
  if (what === 2) { const at = rng.int(0, file.length); return { bytes: file.subarray(0, at), op: `truncate@${at}` }; }
  if (what === 3) {  // splice garbage in (insert or overwrite)
    const at = rng.int(0, file.length), len = rng.int(1, 16);
    const g = Buffer.from(bytesOf(rng, len));
    const bytes = rng.next() < 0.5 ? Buffer.concat([file.subarray(0, at), g, file.subarray(at)])
      : Buffer.concat([file.subarray(0, at), g, file.subarray(Math.min(file.length, at + len))]);
    return { bytes, op: `splice@${at}+${len}` };
  }
  if (what === 4 && file.length >= 8) {  // a new length field
    const b = Buffer.from(file);
    const v = u64([0n, 1n, n64 - 1n, n64 + 1n, BigInt(file.length - 8), BigInt(file.length), 1n << 63n, (1n << 64n) - 1n, 1n << 32n][rng.int(0, 8)]);
    b.writeBigUInt64LE(v);
    return { bytes: b, op: `length=${v}` };
  }
  // JSON-level edit, written back with a correct length (what === 5) or the old one (what === 6)
  const data = file.subarray(end);
  let header: Record<string, any>;
  try { header = JSON.parse(file.subarray(8, end).toString('utf8')); } catch { return { bytes: Buffer.from(file), op: 'noop' }; }
  if (typeof header !== 'object' || header === null || Object.keys(header).filter((k) => k !== '__metadata__').length === 0)
    return { bytes: Buffer.from(file), op: 'noop' };
  const text = mutateHeader(rng, header, data.length);
  const bytes = rawSafetensors(text, data, what === 5 ? undefined : n64);
  return { bytes, op: `json:${text.slice(0, 200)}` };
}

test('fuzz: random corruptions end in an IoError or in tensors that read back the declared bytes', () => withSeed(async (seed) => {
  const rng = new Rng(seed);
  const base = buildSafetensors({
    'w.f32': { dtype: 'F32', shape: [2, 3], data: Float32Array.from(rng.normals(6)) },
    'w.bf16': { dtype: 'BF16', shape: [5], data: Uint16Array.from({ length: 5 }, () => rng.int(0, 65535)) },
    'ids.i64': { dtype: 'I64', shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) },
    's.f64': { dtype: 'F64', shape: [1], data: Float64Array.from([0.5]) },
  }, { format: 'pt' }).file;
  const ITER = 3000;
  let opened = 0, rejected = 0, tensorsRead = 0;
  const t0 = Date.now();
  for (let i = 0; i < ITER; i++) {
    let bytes = base;
    const ops: string[] = [];
    for (let k = rng.next() < 0.6 ? 1 : rng.int(2, 3); k > 0; k--) { const c = corrupt(rng, bytes); bytes = c.bytes; ops.push(c.op); }
    const p = put(bytes, `fuzz${i}.safetensors`);
    const fail = (what: string): never => { throw new Error(`iteration ${i} [${ops.join(' | ')}]: ${what}`); };
    let f: SafetensorsFile;
    try {
      f = SafetensorsFile.open(p);
    } catch (e) {
      if (!(e instanceof IoError)) fail(`open threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      rejected++;
      unlinkSync(p);
      continue;
    }
    opened++;
    for (const t of f.tensors.values()) {
      const want = bytes.subarray(t.begin, t.end);
      if (!(t.begin >= 8 && t.end <= bytes.length && t.end - t.begin === want.length)) fail(`'${t.name}' range [${t.begin}, ${t.end}) outside the ${bytes.length}-byte file`);
      try {
        if (!same(f.bytes(t.name), want)) fail(`bytes('${t.name}') differs from the file`);
        if (!t.dtype) { expect(() => f.get(t.name)).toThrow(UnsupportedError); continue; }
        const x = f.get(t.name);
        if (x.dtype !== t.dtype || x.shape.join() !== t.shape.join()) fail(`get('${t.name}') is ${x}`);
        if (!same(await x.bytes(), want)) fail(`get('${t.name}').bytes() differs from the file`);
        x.dispose();
        tensorsRead++;
      } catch (e) {
        fail(`reading '${t.name}' ${JSON.stringify(t)} threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      }
    }
    f.close();
    unlinkSync(p);
  }
  // Not vacuous: both outcomes happen often (measured ~73% rejected, ~27% opened), and tensors were read.
  console.log(`safetensors fuzz: ${ITER} files, ${rejected} rejected, ${opened} opened, ${tensorsRead} tensors read, ${Date.now() - t0} ms (seed ${seed})`);
  expect(rejected).toBeGreaterThan(ITER * 0.2);
  expect(opened).toBeGreaterThan(ITER * 0.05);
  expect(tensorsRead).toBeGreaterThan(opened);
}));

test('fuzz: random index.json edits end in an IoError or in a checkpoint whose every tensor reads back', () => withSeed(async (seed) => {
  const rng = new Rng(seed);
  const d = folder();
  const shards: Record<string, Record<string, StTensor>> = {
    's1.safetensors': { a: { dtype: 'F32', shape: [3], data: Float32Array.from(rng.normals(3)) }, b: { dtype: 'U8', shape: [5], data: bytesOf(rng, 5) } },
    's2.safetensors': { c: { dtype: 'BF16', shape: [2, 2], data: Uint16Array.from([1, 2, 3, 4]) }, e: { dtype: 'F64', shape: [1], data: Float64Array.from([2]) } },
  };
  const want: Record<string, Uint8Array> = {};
  for (const [s, ts] of Object.entries(shards)) {
    writeSafetensors(join(d, s), ts);
    for (const [n, t] of Object.entries(ts)) want[n] = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  mkdirSync(join(d, 'sub'));
  const SHARDS: unknown[] = ['s1.safetensors', 's2.safetensors', 's3.safetensors', '../s1.safetensors', './s1.safetensors', 'sub', '', '.', '..', 3, null, ['s1.safetensors']];
  const NAMES = ['a', 'b', 'c', 'e', 'x', '', '__proto__', 'toString'];
  const ITER = 500;
  let opened = 0, rejected = 0;
  for (let i = 0; i < ITER; i++) {
    const map: Record<string, unknown> = { a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors', e: 's2.safetensors' };
    for (let k = rng.int(0, 2); k > 0; k--) {
      const n = NAMES[rng.int(0, NAMES.length - 1)];
      if (rng.next() < 0.3) delete map[n]; else map[n] = rng.next() < 0.5 ? SHARDS[rng.int(0, 1)] : SHARDS[rng.int(0, SHARDS.length - 1)];
    }
    let text = JSON.stringify(rng.next() < 0.1 ? { weight_map: [map] } : { metadata: {}, weight_map: map });
    if (rng.next() < 0.2) { const b = Buffer.from(text); b[rng.int(0, b.length - 1)] = rng.int(0, 255); text = b.toString('latin1'); }
    writeFileSync(join(d, 'model.safetensors.index.json'), text);
    let ck: Checkpoint;
    try {
      ck = Checkpoint.open(d);
    } catch (e) {
      if (!(e instanceof IoError)) throw new Error(`iteration ${i} index ${text}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      rejected++;
      continue;
    }
    opened++;
    for (const n of ck.names) {
      if (!same(ck.bytes(n), want[n])) throw new Error(`iteration ${i} index ${text}: bytes('${n}') differs`);
      if (n === 'e') continue;  // F64: bytes() only
      const x = ck.get(n);
      if (!same(await x.bytes(), want[n])) throw new Error(`iteration ${i} index ${text}: get('${n}') differs`);
      x.dispose();
    }
    ck.close();
  }
  expect(rejected).toBeGreaterThan(ITER * 0.2);
  expect(opened).toBeGreaterThan(ITER * 0.1);
}));
