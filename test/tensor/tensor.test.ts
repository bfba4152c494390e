// Tensor creation, metadata, copies, views, reading back, lifetime.
import { native } from '../../lib/native';
import { Tensor, DisposedError, DTypeError, ShapeError, DeviceError, backends, synchronize } from '../../lib';

describe('Tensor', () => {
  test('fromArray f32 round-trips and reports metadata', async () => {
    const data = Float32Array.from([1, -2.5, 3.25, 4, 5, 6]);
    const t = Tensor.fromArray(data, [2, 3]);
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([2, 3]);
    expect(t.device).toBe('cpu');
    expect(t.numel).toBe(6);
    expect(t.nbytes).toBe(24);
    expect(Array.from(await t.toFloat32Array())).toEqual(Array.from(data));
    expect(Array.from(new Float32Array((await t.bytes()).buffer))).toEqual(Array.from(data));
    t.dispose();
  });

  test('typed constructors: i32, i64, bf16 and f16 bits, f8 bytes', async () => {
    const i = Tensor.fromArray(Int32Array.from([1, -2, 3]));
    expect(i.dtype).toBe('i32');
    expect(Array.from(await i.toArray())).toEqual([1, -2, 3]);
    const l = Tensor.fromArray(BigInt64Array.from([5n, -7n]), [2]);
    expect(l.dtype).toBe('i64');
    expect(Array.from(await l.toArray())).toEqual([5n, -7n]);
    expect(Array.from(await l.toFloat32Array())).toEqual([5, -7]);
    const b = Tensor.fromArray(Uint16Array.from([0x3f80, 0xc000]), [2], { dtype: 'bf16' });  // 1, -2
    expect(b.dtype).toBe('bf16');
    expect(Array.from(await b.toFloat32Array())).toEqual([1, -2]);
    const h = Tensor.fromArray(Uint16Array.from([0x3c00, 0x4200]), [2], { dtype: 'f16' });   // 1, 3
    expect(Array.from(await h.toFloat32Array())).toEqual([1, 3]);
    const f8 = Tensor.fromArray(Uint8Array.from([0x38, 0x7e, 0x01]), [3], { dtype: 'f8_e4m3' }); // 1, 448, 2^-9
    expect(f8.dtype).toBe('f8_e4m3');
    expect(Array.from(await f8.toFloat32Array())).toEqual([1, 448, 2 ** -9]);
    const u = Tensor.fromArray(Uint8Array.from([7, 255]));
    expect(u.dtype).toBe('u8');
    expect(() => Tensor.fromArray(Uint16Array.from([1]), [1], { dtype: 'f32' as never })).toThrow(DTypeError);
    expect(() => Tensor.fromArray(new Float32Array(5), [2, 3])).toThrow(ShapeError);
  });

  test('zeros, full, fromFloats with rounding', async () => {
    expect(Array.from(await Tensor.zeros([2, 2]).toFloat32Array())).toEqual([0, 0, 0, 0]);
    expect(Array.from(await Tensor.full([3], 2.5, { dtype: 'bf16' }).toFloat32Array())).toEqual([2.5, 2.5, 2.5]);
    expect(Array.from(await Tensor.full([2], -3, { dtype: 'i64' }).toArray())).toEqual([-3n, -3n]);
    const x = Tensor.fromFloats([1 + 2 ** -9, 1000], [2], { dtype: 'bf16' });
    expect(Array.from(await x.toFloat32Array())).toEqual([1, 1000]);
    const s = Tensor.fromFloats([1000, -1e6], [2], { dtype: 'f8_e4m3' });
    expect(Array.from(await s.toFloat32Array())).toEqual([448, -448]);
  });

  test('seeded random: deterministic, seed-dependent, plausible moments', async () => {
    const a = await Tensor.randn([4096], { seed: 42 }).toFloat32Array();
    const b = await Tensor.randn([4096], { seed: 42 }).toFloat32Array();
    const c = await Tensor.randn([4096], { seed: 43 }).toFloat32Array();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const variance = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(variance - 1)).toBeLessThan(0.1);
    const u = await Tensor.rand([4096], { seed: 1, low: -2, high: 3 }).toFloat32Array();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
    const um = u.reduce((s, v) => s + v, 0) / u.length;
    expect(Math.abs(um - 0.5)).toBeLessThan(0.1);
    const n = await Tensor.randn([1000], { seed: 7, mean: 5, std: 0.5, dtype: 'bf16' }).toFloat32Array();
    expect(Math.abs(n.reduce((s, v) => s + v, 0) / n.length - 5)).toBeLessThan(0.1);
  });

  test('reshape and view share memory; view bounds are checked', async () => {
    const t = Tensor.fromFloats([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [4, 3]);
    const r = t.reshape([2, -1]);
    expect(r.shape).toEqual([2, 6]);
    const v = t.view(1, 2);
    expect(v.shape).toEqual([2, 3]);
    expect(Array.from(await v.toFloat32Array())).toEqual([3, 4, 5, 6, 7, 8]);
    expect(() => t.view(3, 2)).toThrow(ShapeError);
    expect(() => t.reshape([5, 3])).toThrow(ShapeError);
    // a view keeps the memory alive after the base is disposed
    t.dispose();
    expect(Array.from(await v.toFloat32Array())).toEqual([3, 4, 5, 6, 7, 8]);
  });

  test('to(cpu) copies; cast converts', async () => {
    const t = Tensor.fromFloats([1.5, -2, 3]);
    const c = t.to('cpu');
    expect(Array.from(await c.toFloat32Array())).toEqual([1.5, -2, 3]);
    const h = t.cast('f16');
    expect(h.dtype).toBe('f16');
    expect(Array.from(await h.toArray())).toEqual([0x3e00, 0xc000, 0x4200]);
    const i = t.cast('i32');
    expect(Array.from(await i.toArray())).toEqual([1, -2, 3]);
  });

  test('dispose: idempotent, Symbol.dispose, later use throws DisposedError', async () => {
    const t = Tensor.zeros([3]);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.toFloat32Array()).toThrow(DisposedError);
    expect(() => t.reshape([3])).toThrow(DisposedError);
    let inner: Tensor | undefined;
    {
      using u = Tensor.zeros([2]);
      inner = u;
      expect(inner.disposed).toBe(false);
    }
    expect(inner!.disposed).toBe(true);
  });

  test('cuda requests fail cleanly when no CUDA device is usable', () => {
    const b = backends();
    expect(b.cpu.available).toBe(true);
    expect(b.cpu.threads).toBeGreaterThanOrEqual(1);
    if (b.cuda.available) return;
    expect(typeof b.cuda.reason).toBe('string');
    expect(() => Tensor.zeros([2], { device: 'cuda' })).toThrow(DeviceError);
    expect(() => Tensor.zeros([2]).to('cuda')).toThrow(DeviceError);
    expect(() => Tensor.zeros([2], { device: 'tpu' as never })).toThrow(DeviceError);
  });

  test('native memory is reported to V8 and released by dispose', () => {
    const mib64 = 64 * 2 ** 20;
    const before = native.externalMemory();
    const t = Tensor.empty([16, 1024, 1024]);  // 64 MiB of f32
    const during = native.externalMemory();
    const v = t.view(0, 8);                     // views share the memory: not counted again
    const withView = native.externalMemory();
    t.dispose();
    v.dispose();
    const after = native.externalMemory();
    // V8's counter also moves when a GC (which this report may trigger) frees other external memory:
    // allow a few MiB of such noise around the 64 MiB the tensor accounts for.
    const noise = 8 * 2 ** 20;
    expect(Math.abs(during - before - mib64)).toBeLessThan(noise);
    expect(Math.abs(withView - during)).toBeLessThan(noise);
    expect(Math.abs(during - after - mib64)).toBeLessThan(noise);
  });

  test('synchronize resolves', async () => {
    await expect(synchronize()).resolves.toBeUndefined();
  });
});
