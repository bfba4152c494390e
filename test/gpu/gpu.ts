// Shared by the GPU suites: whether a usable CUDA device is present, and a loud skip when not.
import { backends } from '../../lib';

export const cuda = backends().cuda;
export const hasGpu = cuda.available;
if (!hasGpu) {
  // eslint-disable-next-line no-console
  console.warn(`GPU tests skipped: ${cuda.compiled ? 'CUDA backend compiled, but ' + cuda.reason : cuda.reason}`);
}
/** describe() when a GPU is usable, describe.skip() otherwise. */
export const describeGpu = hasGpu ? describe : describe.skip;
