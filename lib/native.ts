// Loads the compiled addon (build/Release/dsv3.node via `bindings`, or DSV3_ADDON) and types the
// part of its surface the TypeScript layer uses. Op bindings are typed where they are wrapped.
import bindings from 'bindings';
import { env } from './env';
import { errorClasses } from './errors';

export type DType = 'f32' | 'f16' | 'bf16' | 'f8_e4m3' | 'i32' | 'i64' | 'u8';
export type DeviceName = 'cpu' | 'cuda';

/** The native tensor handle: metadata plus a reference-counted storage. */
export interface NativeTensor {
  readonly dtype: DType;
  readonly shape: number[];
  readonly device: DeviceName;
  readonly disposed: boolean;
  dispose(): void;
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  computeCapability: string;
  smCount: number;
  totalMemory: number;
  freeMemory: number;
  error?: string;
}
export interface BackendsReport {
  cpu: { available: true; threads: number; requestedThreads?: number; threadWarning?: string };
  cuda: {
    compiled: boolean;
    available: boolean;
    architectures?: string;
    /** true for the addon built with DSV3_CUDA=emu: its CUDA device is the dsv3-emu PTX emulator. */
    emulated?: boolean;
    deviceCount: number;
    devices: CudaDeviceInfo[];
    reason?: string;
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeFn = (...args: any[]) => any;
export interface NativeAddon {
  cudaCompiled: boolean;
  empty(dtype: DType, shape: number[], device: string): NativeTensor;
  fromBytes(dtype: DType, shape: number[], device: string, data: ArrayBufferView): NativeTensor;
  full(dtype: DType, shape: number[], device: string, value: number): NativeTensor;
  random(dtype: DType, shape: number[], device: string, opts: { seed: number | bigint; normal: boolean; a: number; b: number }): NativeTensor;
  to(t: NativeTensor, device: string): NativeTensor;
  copyInto(dst: NativeTensor, src: NativeTensor): void;
  /** data's bytes (exactly dst's byte size) into dst, ordered like copyInto; copied at the call. */
  writeInto(dst: NativeTensor, data: ArrayBufferView): void;
  /** A tensor of src's dtype and shape over the u8 slab's bytes from byteOffset, holding a copy of src. */
  placeIn(slab: NativeTensor, byteOffset: number, src: NativeTensor): NativeTensor;
  cast(t: NativeTensor, dtype: DType, opts?: object): NativeTensor;
  view(t: NativeTensor, start: number, length: number): NativeTensor;
  reshape(t: NativeTensor, shape: number[]): NativeTensor;
  readBytes(t: NativeTensor): Promise<ArrayBuffer>;
  readFloat32(t: NativeTensor): Promise<Float32Array>;
  synchronize(device?: string): Promise<void>;
  backends(): BackendsReport;
  mapFile(path: string): NativeTensor;
  /** Why a read of this mapFile mapping failed (the file shrank or was rewritten under it), or null. */
  mappingFault(mapping: NativeTensor): string | null;
  viewBytes(t: NativeTensor, byteOffset: number, dtype: DType, shape: number[]): NativeTensor;
  /** V8's external-memory counter (bytes), which includes what live tensors report. */
  externalMemory(): number;
  setErrorClasses(classes: object): void;
  [op: string]: unknown;
}

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const addon = (env.addonPath ? require(env.addonPath) : bindings('dsv3')) as NativeAddon;
  addon.setErrorClasses(errorClasses);
  return addon;
}

export const native: NativeAddon = load();

/** A native op function by name (each op family's wrapper in lib/ops/ uses this). */
export function nativeOp(name: string): NativeFn {
  const f = native[name];
  if (typeof f !== 'function') throw new Error(`dsv3: the addon has no op '${name}' (rebuild with npm run rebuild:native)`);
  return f as NativeFn;
}
