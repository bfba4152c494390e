// quantizeWeightFp8 / dequantizeWeightFp8 (128x128 blocks, the checkpoint's weight_scale_inv and
// kernel.py weight_dequant): CPU backend vs the float64 reference (test/reference/quant.ts), and
// dequantization of the real FP8 weights of the tiny-v3 fixture (test/fixtures/tiny-v3).
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, DTypeError, ShapeError, DisposedError, ArgumentError } from '../../lib';
import * as q from '../../lib/ops/quant';
import { TOL_FP8_ROUND_TRIP, WEIGHT_QUANT_CPU } from '../cases/quant';
import { poisoned, relErr, withSeed } from '../helpers';
import { bf16Round } from '../reference/codec';
import * as ref from '../reference/quant';
import { Rng } from '../reference/rng';

function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  let bad = 0, first = -1;
  for (let i = 0; i < want.length; i++) {
    const same = got[i] === want[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]));
    if (!same) { if (first < 0) first = i; bad++; }
  }
  if (bad) throw new Error(`${what}: ${bad} of ${want.length} differ; first at ${first}: got ${got[first]}, expected ${want[first]}`);
}

/** Normals with each 128x128 block scaled by 10^U(-2,2), so a wrong block index shows. */
function blockyWeight(rng: Rng, n: number, k: number): Float32Array {
  const nb = Math.ceil(n / 128), kb = Math.ceil(k / 128);
  const mags = Array.from({ length: nb * kb }, () => 10 ** (rng.next() * 4 - 2));
  const w = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) w[i * k + j] = rng.normal() * mags[Math.floor(i / 128) * kb + Math.floor(j / 128)];
  return w;
}

describe('quantizeWeightFp8 / dequantizeWeightFp8', () => {
  test.each(WEIGHT_QUANT_CPU)('n=%i, k=%i: exact codes and scales, exact dequant, bounded round trip', (n, k) => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const nb = Math.ceil(n / 128), kb = Math.ceil(k / 128);
    const w = blockyWeight(rng, n, k);
    for (const dtype of ['f32', 'bf16'] as const) {
      const wt = Tensor.fromFloats(w, [n, k], { dtype });
      const wv = await wt.toFloat32Array();
      const out = poisoned([n, k], 'f8_e4m3'), outScaleInv = poisoned([nb, kb], 'f32');
      const r = q.quantizeWeightFp8(wt, { out: { weight: out, scaleInv: outScaleInv } });
      expect(r.weight).toBe(out);
      expect(r.scaleInv).toBe(outScaleInv);
      const codes = await r.weight.toArray(), scaleInv = await r.scaleInv.toFloat32Array();
      const want = ref.weightQuant(wv, n, k);
      expectSame(codes, want.codes, `${dtype} codes`);
      expectSame(scaleInv, want.scaleInv, `${dtype} scaleInv`);

      const d32 = poisoned([n, k], 'f32');
      expect(q.dequantizeWeightFp8(r.weight, r.scaleInv, { out: d32 })).toBe(d32);
      const back = await d32.toFloat32Array();
      expectSame(back, ref.weightDequant(codes, scaleInv, n, k), `${dtype} dequant f32`);
      expect(relErr(back, wv)).toBeLessThan(TOL_FP8_ROUND_TRIP);
      if (dtype === 'bf16') continue;  // the bf16-output check is slow in the reference (bf16Round); once per shape
      const d16 = poisoned([n, k], 'bf16');
      q.dequantizeWeightFp8(r.weight, r.scaleInv, { outDtype: 'bf16', out: d16 });
      expectSame(await d16.toFloat32Array(), ref.weightDequant(codes, scaleInv, n, k, bf16Round), `${dtype} dequant bf16`);
    }
  }));

  test('dequantize: every code (NaN included) with log-uniform scales; fresh bf16 output', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const n = 300, k = 129, nb = 3, kb = 2;
    const codes = Uint8Array.from({ length: n * k }, () => rng.int(0, 255));
    const scaleInv = Float32Array.from({ length: nb * kb }, () => 2 ** (rng.next() * 40 - 30));
    const w = Tensor.fromArray(codes, [n, k], { dtype: 'f8_e4m3' }), s = Tensor.fromArray(scaleInv, [nb, kb]);
    const o32 = q.dequantizeWeightFp8(w, s);
    expect(o32.dtype).toBe('f32');
    expect(o32.shape).toEqual([n, k]);
    expectSame(await o32.toFloat32Array(), ref.weightDequant(codes, scaleInv, n, k), 'dequant f32');
    const o16 = q.dequantizeWeightFp8(w, s, { outDtype: 'bf16' });
    expect(o16.dtype).toBe('bf16');
    expectSame(await o16.toFloat32Array(), ref.weightDequant(codes, scaleInv, n, k, bf16Round), 'dequant bf16');
  }));

  test('all-zero block gets scaleInv 1e-4/448 and zero codes', async () => {
    const w = new Float32Array(200 * 130);
    w[5] = 3;  // block (0,0) non-zero; blocks (0,1), (1,0), (1,1) zero
    const r = q.quantizeWeightFp8(Tensor.fromArray(w, [200, 130]));
    const floor = Math.fround(Math.fround(1e-4) / 448);
    expect(Array.from(await r.scaleInv.toFloat32Array())).toEqual([Math.fround(3 / 448), floor, floor, floor]);
    const codes = await r.weight.toArray();
    expect(codes[5]).toBe(0x7e);
    expect(codes.reduce((a, c) => a + c, 0)).toBe(0x7e);
  });

  test('bad input gives typed errors', () => {
    const w8 = Tensor.zeros([300, 129], { dtype: 'f8_e4m3' });
    const s = Tensor.zeros([3, 2]);
    expect(() => q.dequantizeWeightFp8(w8, s)).not.toThrow();
    expect(() => q.dequantizeWeightFp8(w8, Tensor.zeros([2, 3]))).toThrow(ShapeError);  // transposed
    expect(() => q.dequantizeWeightFp8(w8, Tensor.zeros([2, 3])))
      .toThrow("dequantizeWeightFp8: argument 'scaleInv' must have shape [3,2] = [ceil(n/128), ceil(k/128)] for weight [300,129], got [2,3]");
    expect(() => q.dequantizeWeightFp8(w8, Tensor.zeros([6]))).toThrow(ShapeError);
    expect(() => q.dequantizeWeightFp8(Tensor.zeros([300], { dtype: 'f8_e4m3' }), s)).toThrow(ShapeError);
    expect(() => q.dequantizeWeightFp8(Tensor.zeros([300, 129]) as never, s)).toThrow(DTypeError);
    expect(() => q.dequantizeWeightFp8(w8, Tensor.zeros([3, 2], { dtype: 'bf16' }) as never)).toThrow(DTypeError);
    expect(() => q.dequantizeWeightFp8(w8, s, { outDtype: 'f16' as never })).toThrow(DTypeError);
    expect(() => q.dequantizeWeightFp8(w8, s, { out: Tensor.zeros([300, 129], { dtype: 'bf16' }) as never })).toThrow(DTypeError);
    expect(() => q.dequantizeWeightFp8(w8, s, 5 as never)).toThrow(ArgumentError);
    expect(() => q.dequantizeWeightFp8(w8, null as never)).toThrow(ArgumentError);
    const d = Tensor.zeros([3, 2]);
    d.dispose();
    expect(() => q.dequantizeWeightFp8(w8, d)).toThrow(DisposedError);

    expect(() => q.quantizeWeightFp8(Tensor.zeros([300]))).toThrow(ShapeError);               // 1-D
    expect(() => q.quantizeWeightFp8(Tensor.zeros([300]))).toThrow("quantizeWeightFp8: argument 'w' must be 2-D, got shape [300]");
    expect(() => q.quantizeWeightFp8(Tensor.zeros([2, 3, 4]))).toThrow(ShapeError);
    expect(() => q.quantizeWeightFp8(Tensor.zeros([4, 4], { dtype: 'i32' }) as never)).toThrow(DTypeError);
    expect(() => q.quantizeWeightFp8(w8 as never)).toThrow(DTypeError);
    expect(() => q.quantizeWeightFp8(Tensor.zeros([300, 129]), { out: { scaleInv: Tensor.zeros([2, 3]) } })).toThrow(ShapeError);
    expect(() => q.quantizeWeightFp8('w' as never)).toThrow(ArgumentError);
    const dw = Tensor.zeros([4, 4]);
    dw.dispose();
    expect(() => q.quantizeWeightFp8(dw)).toThrow(DisposedError);
  });
});

// ---- the real fixture checkpoint ----
const FIXTURE = path.join(__dirname, '..', 'fixtures', 'tiny-v3');
interface StEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** A minimal safetensors reader: u64 little-endian header length, JSON header, raw data. */
function readShard(file: string): { header: Record<string, StEntry>; data: Buffer } {
  const buf = fs.readFileSync(file);
  const len = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Record<string, StEntry>;
  delete (header as Record<string, unknown>).__metadata__;
  return { header, data: buf.subarray(8 + len) };
}

describe('dequantizeWeightFp8 on the tiny-v3 fixture', () => {
  const index = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
  const shards = new Map<string, ReturnType<typeof readShard>>();
  const tensor = (name: string): { e: StEntry; bytes: Uint8Array } => {
    const file = index.weight_map[name];
    if (!file) throw new Error(`${name} is not in the index`);
    if (!shards.has(file)) shards.set(file, readShard(path.join(FIXTURE, file)));
    const sh = shards.get(file)!;
    const e = sh.header[name];
    const b = sh.data.subarray(e.data_offsets[0], e.data_offsets[1]);
    return { e, bytes: new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) };  // own, aligned copy
  };
  const fp8Names = Object.keys(index.weight_map).filter((nm) => index.weight_map[`${nm}_scale_inv`] !== undefined);

  test('every F8_E4M3 weight (scale_inv possibly in the other shard) matches the reference exactly', async () => {
    expect(fp8Names.length).toBeGreaterThan(100);
    expect(index.weight_map['model.layers.1.mlp.experts.14.gate_proj.weight']).not.toBe(index.weight_map['model.layers.1.mlp.experts.14.gate_proj.weight_scale_inv']);
    let elements = 0;
    for (const name of fp8Names) {
      const w = tensor(name), s = tensor(`${name}_scale_inv`);
      expect(w.e.dtype).toBe('F8_E4M3');
      expect(s.e.dtype).toBe('F32');
      const [n, k] = w.e.shape;
      expect(s.e.shape).toEqual([Math.ceil(n / 128), Math.ceil(k / 128)]);
      const codes = w.bytes, scaleInv = new Float32Array(s.bytes.buffer);
      const wt = Tensor.fromArray(codes, [n, k], { dtype: 'f8_e4m3' }), st = Tensor.fromArray(scaleInv, s.e.shape);
      const out = poisoned([n, k], 'f32');
      const got = await q.dequantizeWeightFp8(wt, st, { out }).toFloat32Array();
      const want = ref.weightDequant(codes, scaleInv, n, k);
      expectSame(got, want, name);
      // The checkpoint's scale is amax / 448: each block's largest code is +-448, and re-quantizing
      // the dequantized weight with our op gives back the stored codes and scales.
      const rq = q.quantizeWeightFp8(Tensor.fromArray(new Float32Array(got), [n, k]));  // a jest-realm Float32Array fails fromArray's instanceof
      expectSame(await rq.weight.toArray(), codes, `${name} re-quantized codes`);
      expectSame(await rq.scaleInv.toFloat32Array(), scaleInv, `${name} re-quantized scale_inv`);
      elements += n * k;
      for (const t of [wt, st, out, rq.weight, rq.scaleInv]) t.dispose();
    }
    expect(elements).toBeGreaterThan(4_000_000);
  });

  test('kv_a_proj_with_mqa [144, 256] (partial row block): bf16 output and a transposed scale rejected', async () => {
    const name = 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight';
    const w = tensor(name), s = tensor(`${name}_scale_inv`);
    expect(w.e.shape).toEqual([144, 256]);
    expect(s.e.shape).toEqual([2, 2]);
    const scaleInv = new Float32Array(s.bytes.buffer);
    const wt = Tensor.fromArray(w.bytes, [144, 256], { dtype: 'f8_e4m3' });
    const got = await q.dequantizeWeightFp8(wt, Tensor.fromArray(scaleInv, [2, 2]), { outDtype: 'bf16' }).toFloat32Array();
    expectSame(got, ref.weightDequant(w.bytes, scaleInv, 144, 256, bf16Round), name);
    // A 2x2 scale transposed has the right shape: the values must then differ (blocks were given distinct magnitudes).
    const tr = Float32Array.from([scaleInv[0], scaleInv[2], scaleInv[1], scaleInv[3]]);
    const bad = await q.dequantizeWeightFp8(wt, Tensor.fromArray(tr, [2, 2]), { outDtype: 'bf16' }).toFloat32Array();
    expect(relErr(bad, got)).toBeGreaterThan(0.05);
    const gate = 'model.layers.1.mlp.experts.14.gate_proj.weight';  // [128, 256]: scale [1, 2]; [2, 1] is rejected
    const gw = tensor(gate);
    expect(() => q.dequantizeWeightFp8(Tensor.fromArray(gw.bytes, gw.e.shape, { dtype: 'f8_e4m3' }), Tensor.zeros([2, 1]))).toThrow(ShapeError);
  });
});
