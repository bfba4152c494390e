// Shared by the GPU suites: whether a usable CUDA device is present, and a loud skip when not.
import { backends, Tensor } from '../../lib';
import { expectTensorClose } from '../helpers';

export const cuda = backends().cuda;
export const hasGpu = cuda.available;
/** The CUDA device is dsv3-emu's emulated H200 (the addon of `npm run build:emu`), which runs kernels
 * about 10^4 times slower than a GPU: suites pick smaller shapes with `emuSize`, never skip. */
export const onEmulator = cuda.emulated === true;
/** The device runs the sm_90a wgmma / TMA / mbarrier kernels: an H200, or the emulated one (which models
 * those units: cuda/emu/src/sm90). */
export const wgmmaRuns = hasGpu && cuda.devices[0]?.computeCapability === '9.0';
/** `gpu` on a real GPU, `emu` on the emulator. */
export const emuSize = <T>(gpu: T, emu: T): T => (onEmulator ? emu : gpu);
if (!hasGpu) {
  // eslint-disable-next-line no-console
  console.warn(`GPU tests skipped: ${cuda.compiled ? 'CUDA backend compiled, but ' + cuda.reason : cuda.reason}`);
}
/** describe() when a GPU is usable, describe.skip() otherwise. */
export const describeGpu = hasGpu ? describe : describe.skip;

/** The CUDA tensor `got` matches the CPU backend's `want` (dtype, shape, relative error within tol). */
export async function expectCudaClose(got: Tensor, want: Tensor, tol: number, what: string): Promise<void> {
  expect(got.device).toBe('cuda');
  await expectTensorClose(got, want, tol, what);
}

type Outputs = Tensor | Record<string, Tensor>;
const asRecord = (o: Outputs): Record<string, Tensor> => (o instanceof Tensor ? { out: o } : o);

/**
 * The GPU harness: runs `run` on the CPU inputs and on CUDA copies of them, then compares every output
 * (relative error, NaN/inf positions must match) against the CPU backend's. `tol` is per output name or
 * one number. Kernels are expected to take poisoned `out` tensors themselves where the test wants it.
 */
export async function expectCudaMatchesCpu(
  inputs: Record<string, Tensor>,
  run: (x: Record<string, Tensor>) => Outputs,
  tol: number | Record<string, number>,
): Promise<void> {
  const onGpu: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) onGpu[k] = v.to('cuda');
  const ref = asRecord(run(inputs));
  const got = asRecord(run(onGpu));
  for (const [name, r] of Object.entries(ref)) {
    await expectCudaClose(got[name], r, typeof tol === 'number' ? tol : tol[name], `output '${name}'`);
  }
}
