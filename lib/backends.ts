// What this build and machine can run: cpu always; cuda compiled or not, devices, or why unusable.
import { BackendsReport, native } from './native';

export type { BackendsReport, CudaDeviceInfo } from './native';
export function backends(): BackendsReport { return native.backends(); }
