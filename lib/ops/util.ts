// Shared plumbing of the op wrappers: lazy lookup of native ops and output handling.
import { ArgumentError } from '../errors';
import { nativeOp, NativeFn, NativeTensor } from '../native';
import { DType, Tensor } from '../tensor';

const describe = (v: unknown): string => v === null ? 'null' : Array.isArray(v) ? 'an array' : v instanceof Tensor ? 'a Tensor' : typeof v;
/** ArgumentError unless `v` is a Tensor: for the ops whose TypeScript side reads an argument before the addon checks it. */
export function needTensor(fn: string, name: string, v: unknown): void {
  if (!(v instanceof Tensor)) throw new ArgumentError(`${fn}: argument '${name}' must be a Tensor, got ${describe(v)}`);
}
/** ArgumentError unless `v` is a (non-array, non-tensor) object. */
export function needObject(fn: string, name: string, v: unknown): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Tensor) throw new ArgumentError(`${fn}: argument '${name}' must be an object, got ${describe(v)}`);
}

/** Options every op with a single output accepts. */
export interface OutOptions<D extends DType = DType> {
  /** Write into this tensor (checked for dtype, shape, device) instead of allocating. */
  out?: Tensor<D>;
  /** Output dtype where the op lets you choose. */
  outDtype?: D;
}

/** A native op looked up on first call, so a missing op fails where it is used. */
export function lazyOp(name: string): NativeFn {
  let f: NativeFn | undefined;
  return (...args) => (f ??= nativeOp(name))(...args);
}

/** The op's result: `opts.out` itself when given, else a new Tensor around the native handle. */
export function result<D extends DType>(h: NativeTensor | Tensor<D>, opts?: { out?: Tensor<D> }): Tensor<D> {
  if (h instanceof Tensor) return h;  // native hands back `opts.out` as given
  if (opts?.out && opts.out.handle === h) return opts.out;
  return Tensor.fromHandle<D>(h);
}
