// lib/profile (CUDA events, spin, FP8 ceiling kernel) without a usable GPU: typed errors, never a crash.
// With a GPU these are covered by test/gpu/runtime.gpu.test.ts.
import { backends, DeviceError, ArgumentError, profile } from '../../lib';

const cuda = backends().cuda;
const noGpu = cuda.available ? describe.skip : describe;

noGpu('profile without a usable GPU', () => {
  // A CUDA build on a machine without a device, or a CPU-only build: a DeviceError saying which.
  const expected = DeviceError;
  test('cudaEvent, cudaSpin and fp8MmaPeak throw a typed error naming the reason', () => {
    expect(() => profile.cudaEvent()).toThrow(expected);
    expect(() => profile.cudaSpin(10)).toThrow(expected);
    expect(() => profile.fp8MmaPeak(1, 1)).toThrow(expected);
    expect(() => profile.cudaEvent()).toThrow(cuda.compiled ? /no CUDA device is usable/ : /has no CUDA backend/);
  });
  test('a CPU device or a non-event argument is rejected', () => {
    expect(() => profile.cudaEvent('cpu')).toThrow(DeviceError);
    expect(() => profile.cudaElapsedMs({} as profile.CudaEvent, {} as profile.CudaEvent)).toThrow(ArgumentError);
  });
});
