// CUDA runtime on a real GPU: device query, caching-pool allocation, host<->device copies, fills,
// views, and errors for ops without a CUDA kernel. Skipped without a usable GPU.
import { Tensor, ops, DeviceError, CudaError, DisposedError, Graph, isCapturing, profile, synchronize } from '../../lib';
import { Rng, freshSeed } from '../reference/rng';
import { cuda, describeGpu, onEmulator, wgmmaRuns } from './gpu';

describeGpu('CUDA runtime', () => {
  test('backends() describes the device', () => {
    expect(cuda.deviceCount).toBeGreaterThan(0);
    const d = cuda.devices[0];
    expect(d.name.length).toBeGreaterThan(0);
    expect(d.computeCapability).toMatch(/^\d+\.\d+$/);
    expect(d.totalMemory).toBeGreaterThan(d.freeMemory * 0.5);
  });

  test.each(['f32', 'bf16', 'f16', 'f8_e4m3', 'i32', 'i64', 'u8'] as const)('%s round-trips cpu -> cuda -> cpu bit-exactly', async (dtype) => {
    const rng = new Rng(freshSeed());
    const n = 1 + rng.int(0, 100000);
    const size = { f32: 4, bf16: 2, f16: 2, f8_e4m3: 1, i32: 4, i64: 8, u8: 1 }[dtype];
    const bytes = new Uint8Array(n * size);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(0, 255);
    const typed = dtype === 'f32' ? new Float32Array(bytes.buffer) : dtype === 'i32' ? new Int32Array(bytes.buffer)
      : dtype === 'i64' ? new BigInt64Array(bytes.buffer) : size === 2 ? new Uint16Array(bytes.buffer) : bytes;
    const dev = (Tensor.fromArray as (d: ArrayBufferView, s: number[], o: object) => Tensor)(typed, [n], { dtype, device: 'cuda' });
    expect(dev.device).toBe('cuda');
    expect(dev.dtype).toBe(dtype);
    expect(Buffer.from(await dev.bytes()).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(await dev.to('cpu').bytes()).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(await dev.to('cuda').to('cpu').bytes()).equals(Buffer.from(bytes))).toBe(true);
  });

  test('full, randn and views on the device', async () => {
    const f = Tensor.full([1000, 3], 2.5, { dtype: 'bf16', device: 'cuda' });
    expect(Array.from(await f.toFloat32Array()).every((v) => v === 2.5)).toBe(true);
    const r = Tensor.randn([4096], { seed: 3, device: 'cuda' });
    const rc = Tensor.randn([4096], { seed: 3 });
    expect(Array.from(await r.toFloat32Array())).toEqual(Array.from(await rc.toFloat32Array()));
    const base = Tensor.fromFloats([0, 1, 2, 3, 4, 5], [3, 2], { device: 'cuda' });
    expect(Array.from(await base.view(1, 2).toFloat32Array())).toEqual([2, 3, 4, 5]);
  });

  test('many allocations reuse the caching pool', async () => {
    for (let i = 0; i < 200; i++) Tensor.empty([1 << 20], { device: 'cuda' }).dispose();
    await expect(Tensor.zeros([4], { device: 'cuda' }).toFloat32Array()).resolves.toEqual(new Float32Array(4));
  });

  // Every op of the forward has a CUDA kernel now (add included), so UnsupportedError is no longer
  // reachable from a plain op call here; mixed devices still give a typed error.
  test('ops run on the device; mixed devices give typed errors', async () => {
    const a = Tensor.fromFloats([1, 2, 3, 4], [4], { device: 'cuda' });
    expect(Array.from(await ops.add(a, a).toFloat32Array())).toEqual([2, 4, 6, 8]);
    expect(() => ops.add(a, Tensor.zeros([4]))).toThrow(DeviceError);
  });
});

describeGpu('CUDA timing (lib/profile)', () => {
  test('events bracket GPU work: a 2 ms spin kernel measures at least 1.9 ms', () => {
    const a = profile.cudaEvent();
    profile.cudaSpin(2000);
    const b = profile.cudaEvent();
    expect(profile.cudaElapsedMs(a, b)).toBeGreaterThanOrEqual(1.9);
  });
  test('the FP8 ceiling kernel runs on sm_90 (and is refused elsewhere)', async () => {
    const cc = cuda.devices[0].computeCapability;
    if (onEmulator && !wgmmaRuns) return;  // wgmma is not modelled by the emulator yet
    if (cc === '9.0') {
      expect(profile.fp8MmaPeak(2, 10).flops).toBe(2 * 10 * 4194304);
      await synchronize('cuda');
    } else {
      expect(() => profile.fp8MmaPeak(2, 10)).toThrow(CudaError);
    }
  });
});

describeGpu('step graphs on CUDA (lib/graph)', () => {
  test('a captured op sequence replays on refreshed inputs; its output is rewritten in place', async () => {
    const x = Tensor.fromFloats([1, 2, 3], [3], { device: 'cuda' });
    let y: Tensor | null = null;
    const g = await Graph.capture(() => { const t = ops.add(x, x); y = ops.add(t, x); t.dispose(); });
    expect(isCapturing()).toBe(false);
    g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([3, 6, 9]);
    x.copyFrom(Tensor.fromFloats([10, 20, 30], [3]));
    g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([30, 60, 90]);
    g.dispose();
    expect(() => g.replay()).toThrow(DisposedError);
  });
  // Older memory freed during a capture was really freed right after it, while every replay still read it.
  test('a tensor made before the capture and disposed during it stays the graph\'s: replays read it after the pool reused freed memory', async () => {
    const x = Tensor.fromFloats([1, 2, 3], [3], { device: 'cuda' });
    const older = Tensor.fromFloats([10, 20, 30], [3], { device: 'cuda' });
    let y: Tensor | null = null;
    const g = await Graph.capture(() => { y = ops.add(x, older); older.dispose(); });
    // Freed memory of this size would be handed out again now and overwritten.
    const fresh = Array.from({ length: 32 }, () => Tensor.full([3], 1000, { device: 'cuda' }));
    g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([11, 22, 33]);
    x.copyFrom(Tensor.fromFloats([5, 6, 7], [3]));
    g.replay();
    expect(Array.from(await y!.toFloat32Array())).toEqual([15, 26, 37]);
    for (const f of fresh) expect(Array.from(await f.toFloat32Array())).toEqual([1000, 1000, 1000]);
    g.dispose();
    fresh.forEach((f) => f.dispose());
    // The graph freed it: the device keeps working, and a failed capture frees what it retained too.
    const z = Tensor.fromFloats([1, 1, 1], [3], { device: 'cuda' });
    await expect(Graph.capture(() => { ops.add(z, z); z.dispose(); throw new Error('stop'); })).rejects.toThrow('stop');
    expect(Array.from(await Tensor.full([3], 2, { device: 'cuda' }).toFloat32Array())).toEqual([2, 2, 2]);
  });
  test('host copies during a capture throw a CudaError and the capture ends', async () => {
    await expect(Graph.capture(() => { Tensor.fromFloats([1], [1], { device: 'cuda' }); })).rejects.toThrow(/while a CUDA graph is being captured/);
    expect(isCapturing()).toBe(false);
    await expect(Tensor.zeros([2], { device: 'cuda' }).toFloat32Array()).resolves.toEqual(new Float32Array(2));
  });
});
