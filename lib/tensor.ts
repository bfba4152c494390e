// Typed tensors over the native addon. The dtype is part of the type (Tensor<'bf16'>); data lives in
// native memory (host or CUDA device), reference-counted so queued work outlives dispose().
// Ops return at once; reading data (toFloat32Array, bytes, toArray) waits for the device.
import { ArgumentError, DisposedError, DTypeError } from './errors';
import { DType, DeviceName, native, NativeTensor } from './native';

export type { DType } from './native';
export type Device = DeviceName;
export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'f8_e4m3', 'i32', 'i64', 'u8'];
export const ITEMSIZE: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, f8_e4m3: 1, i32: 4, i64: 8, u8: 1 };

/** The typed array that holds a dtype's raw elements. */
export type ArrayFor<D extends DType> = D extends 'f32' ? Float32Array
  : D extends 'i32' ? Int32Array
  : D extends 'i64' ? BigInt64Array
  : D extends 'bf16' | 'f16' ? Uint16Array
  : Uint8Array;
/** The name of ArrayFor<D> for each dtype (typed arrays are told apart by tag: they may come from another realm). */
const ARRAY_TAG: Record<DType, string> = {
  f32: 'Float32Array', i32: 'Int32Array', i64: 'BigInt64Array', bf16: 'Uint16Array', f16: 'Uint16Array', f8_e4m3: 'Uint8Array', u8: 'Uint8Array',
};
export type FloatDType = 'f32' | 'f16' | 'bf16' | 'f8_e4m3';

export interface CreateOptions<D extends DType = DType> { dtype?: D; device?: Device }

// Backstop only: tensors should be disposed explicitly (or with `using`); GC is not timely.
const finalizer = new FinalizationRegistry<NativeTensor>((h) => h.dispose());
const disposeSymbol: symbol = (Symbol as unknown as { dispose?: symbol }).dispose ?? Symbol.for('Symbol.dispose');

function checkDType(d: string): asserts d is DType {
  if (!(DTYPES as readonly string[]).includes(d)) throw new DTypeError(`dtype must be one of ${DTYPES.join(', ')}, got ${d}`);
}

export class Tensor<D extends DType = DType> {
  /** The native handle; ops accept a Tensor or its handle. */
  readonly handle: NativeTensor;
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly device: Device;

  private constructor(handle: NativeTensor) {
    this.handle = handle;
    this.dtype = handle.dtype as D;
    this.shape = Object.freeze(handle.shape.slice());
    this.device = handle.device;
    finalizer.register(this, handle, this);
  }

  /** Wrap a handle returned by a native op. */
  static fromHandle<D extends DType = DType>(h: NativeTensor): Tensor<D> {
    return new Tensor<D>(h);
  }

  // ---- creation ----
  /** A tensor holding a copy of `data`. bf16/f16 come as Uint16Array bits, f8_e4m3 as Uint8Array. */
  static fromArray(data: Float32Array, shape?: readonly number[], opts?: CreateOptions<'f32'>): Tensor<'f32'>;
  static fromArray(data: Int32Array, shape?: readonly number[], opts?: CreateOptions<'i32'>): Tensor<'i32'>;
  static fromArray(data: BigInt64Array, shape?: readonly number[], opts?: CreateOptions<'i64'>): Tensor<'i64'>;
  static fromArray<D extends 'bf16' | 'f16'>(data: Uint16Array, shape: readonly number[] | undefined, opts: CreateOptions<D> & { dtype: D }): Tensor<D>;
  static fromArray<D extends 'u8' | 'f8_e4m3' = 'u8'>(data: Uint8Array, shape?: readonly number[], opts?: CreateOptions<D>): Tensor<D>;
  static fromArray(data: ArrayBufferView, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
    // By tag, not instanceof: typed arrays from another realm (vm contexts, jest) must work too.
    const tag = ArrayBuffer.isView(data) ? Object.prototype.toString.call(data).slice(8, -1) : '';
    let dtype: DType;
    if (tag === 'Float32Array') dtype = 'f32';
    else if (tag === 'Int32Array') dtype = 'i32';
    else if (tag === 'BigInt64Array') dtype = 'i64';
    else if (tag === 'Uint16Array') {
      if (opts.dtype !== 'bf16' && opts.dtype !== 'f16') throw new DTypeError(`fromArray: a Uint16Array needs { dtype: 'bf16' | 'f16' }, got ${opts.dtype}`);
      dtype = opts.dtype;
    } else if (tag === 'Uint8Array') dtype = opts.dtype === 'f8_e4m3' ? 'f8_e4m3' : 'u8'
    else throw new ArgumentError('fromArray: data must be a Float32Array, Int32Array, BigInt64Array, Uint16Array or Uint8Array');
    if (opts.dtype !== undefined && opts.dtype !== dtype) throw new DTypeError(`fromArray: a ${tag} holds ${dtype}, not ${opts.dtype}`);
    const n = data.byteLength / ITEMSIZE[dtype];
    return new Tensor(native.fromBytes(dtype, [...(shape ?? [n])], opts.device ?? 'cpu', data));
  }

  /** Values rounded to `dtype` (default f32) from a Float32Array or a number array. */
  static fromFloats<D extends DType = 'f32'>(data: Float32Array | readonly number[], shape?: readonly number[], opts: CreateOptions<D> = {}): Tensor<D> {
    const f = ArrayBuffer.isView(data) && Object.prototype.toString.call(data) === '[object Float32Array]' ? data as Float32Array : Float32Array.from(data);
    const dtype = (opts.dtype ?? 'f32') as D;
    checkDType(dtype);
    const t = new Tensor<'f32'>(native.fromBytes('f32', [...(shape ?? [f.length])], 'cpu', f));
    let r: Tensor<DType> = t;
    if (dtype !== 'f32') { r = t.cast(dtype); t.dispose(); }
    if ((opts.device ?? 'cpu') !== 'cpu') { const m = r.to(opts.device!); r.dispose(); r = m; }
    return r as Tensor<D>;
  }

  /** Uninitialised memory. */
  static empty<D extends DType = 'f32'>(shape: readonly number[], opts: CreateOptions<D> = {}): Tensor<D> {
    const dtype = opts.dtype ?? 'f32'; checkDType(dtype);
    return new Tensor<D>(native.empty(dtype, [...shape], opts.device ?? 'cpu'));
  }
  static zeros<D extends DType = 'f32'>(shape: readonly number[], opts: CreateOptions<D> = {}): Tensor<D> {
    return Tensor.full(shape, 0, opts);
  }
  static full<D extends DType = 'f32'>(shape: readonly number[], value: number, opts: CreateOptions<D> = {}): Tensor<D> {
    const dtype = opts.dtype ?? 'f32'; checkDType(dtype);
    return new Tensor<D>(native.full(dtype, [...shape], opts.device ?? 'cpu', value));
  }
  /** Seeded normal samples N(mean, std^2); element i depends only on (seed, i). */
  static randn<D extends FloatDType = 'f32'>(shape: readonly number[], opts: CreateOptions<D> & { seed?: number | bigint; mean?: number; std?: number } = {}): Tensor<D> {
    const dtype = opts.dtype ?? 'f32'; checkDType(dtype);
    return new Tensor<D>(native.random(dtype, [...shape], opts.device ?? 'cpu', { seed: opts.seed ?? 0, normal: true, a: opts.mean ?? 0, b: opts.std ?? 1 }));
  }
  /** Seeded uniform samples in [low, high). */
  static rand<D extends FloatDType = 'f32'>(shape: readonly number[], opts: CreateOptions<D> & { seed?: number | bigint; low?: number; high?: number } = {}): Tensor<D> {
    const dtype = opts.dtype ?? 'f32'; checkDType(dtype);
    return new Tensor<D>(native.random(dtype, [...shape], opts.device ?? 'cpu', { seed: opts.seed ?? 0, normal: false, a: opts.low ?? 0, b: opts.high ?? 1 }));
  }

  // ---- metadata ----
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
  get nbytes(): number { return this.numel * ITEMSIZE[this.dtype]; }
  get ndim(): number { return this.shape.length; }
  get disposed(): boolean { return this.handle.disposed; }

  // ---- copies and views ----
  /** A copy on `device` (waits for the source device's queued work when crossing devices). */
  to(device: Device): Tensor<D> { this.alive('to'); return new Tensor<D>(native.to(this.handle, device)); }
  /** Overwrites this tensor with `src`'s elements (same dtype and element count, any device); returns this. */
  copyFrom(src: Tensor<D>): this {
    this.alive('copyFrom');
    if (!(src instanceof Tensor)) throw new ArgumentError('copyFrom: argument \'src\' must be a Tensor');
    src.alive('copyFrom');
    native.copyInto(this.handle, src.handle);
    return this;
  }
  /**
   * Overwrites this tensor with `data` (its dtype's typed array, ArrayFor, of numel elements), ordered like copyFrom;
   * the elements are copied at the call. Not inside a CPU graph capture (a replay would write these same values).
   */
  write(data: ArrayFor<D>): this {
    this.alive('write');
    const tag = ArrayBuffer.isView(data) ? Object.prototype.toString.call(data).slice(8, -1) : typeof data;
    if (tag !== ARRAY_TAG[this.dtype]) throw new DTypeError(`write: a ${this.dtype} tensor takes a ${ARRAY_TAG[this.dtype]}, got ${tag}`);
    native.writeInto(this.handle, data);
    return this;
  }
  /** A copy converted to `dtype` (round to nearest even; saturating for f8_e4m3). */
  cast<E extends DType>(dtype: E): Tensor<E> { this.alive('cast'); checkDType(dtype); return new Tensor<E>(native.cast(this.handle, dtype)); }
  /** Same memory, new shape (one dim may be -1). */
  reshape(shape: readonly number[]): Tensor<D> { this.alive('reshape'); return new Tensor<D>(native.reshape(this.handle, [...shape])); }
  /** Rows [start, start + length) along dim 0, sharing memory with this tensor. */
  view(start: number, length: number): Tensor<D> { this.alive('view'); return new Tensor<D>(native.view(this.handle, start, length)); }

  // ---- reading ----
  /** The values as f32 (waits for queued work). */
  toFloat32Array(): Promise<Float32Array> { this.alive('toFloat32Array'); return native.readFloat32(this.handle); }
  /** The raw little-endian bytes (waits for queued work). */
  async bytes(): Promise<Uint8Array> { this.alive('bytes'); return new Uint8Array(await native.readBytes(this.handle)); }
  /** The raw elements in their typed array (bf16/f16 as Uint16Array bits, f8 as Uint8Array). */
  async toArray(): Promise<ArrayFor<D>> {
    this.alive('toArray');
    const buf = await native.readBytes(this.handle);
    switch (this.dtype) {
      case 'f32': return new Float32Array(buf) as ArrayFor<D>;
      case 'i32': return new Int32Array(buf) as ArrayFor<D>;
      case 'i64': return new BigInt64Array(buf) as ArrayFor<D>;
      case 'bf16': case 'f16': return new Uint16Array(buf) as ArrayFor<D>;
      default: return new Uint8Array(buf) as ArrayFor<D>;
    }
  }

  // ---- lifetime ----
  /** Releases this handle's reference to the memory now (queued work keeps its own). Idempotent. */
  dispose(): void {
    if (this.handle.disposed) return;
    finalizer.unregister(this);
    this.handle.dispose();
  }
  [Symbol.dispose](): void { this.dispose(); }

  toString(): string { return `Tensor<${this.dtype}>[${this.shape.join(', ')}] on ${this.device}${this.disposed ? ' (disposed)' : ''}`; }

  private alive(op: string): void {
    if (this.handle.disposed) throw new DisposedError(`${op}: the tensor was disposed`);
  }
}
// Symbol.dispose may be missing on older runtimes: alias the method under the fallback symbol.
if (disposeSymbol !== (Symbol as unknown as { dispose?: symbol }).dispose) {
  (Tensor.prototype as unknown as Record<symbol, unknown>)[disposeSymbol] = Tensor.prototype.dispose;
}

/** Waits for all queued work on `device` (default cpu). */
export function synchronize(device: Device = 'cpu'): Promise<void> { return native.synchronize(device); }
