// Layout ops: transpose01 swaps the first two dims (MLA's [t, h, d] <-> per-head [h, t, d]); narrow
// copies a range of the last dim (q's nope / rope parts).
// CPU: native/cpu/shape_ops.cc.
import { DType, Tensor } from '../tensor';
import { lazyOp, result } from './util';

const nativeTranspose01 = lazyOp('transpose01');
const nativeNarrow = lazyOp('narrow');

/** x [a, b, ...rest] (any dtype) -> [b, a, ...rest]: out[j][i] = x[i][j]; `out` must not share memory with x. */
export function transpose01<D extends DType>(x: Tensor<D>, opts: { out?: Tensor<D> } = {}): Tensor<D> {
  return result(nativeTranspose01(x, opts), opts);
}

/** x [..., n] (any dtype) -> [..., length] = x[..., start:start+length] (a copy); `out` must not share memory with x. */
export function narrow<D extends DType>(x: Tensor<D>, start: number, length: number, opts: { out?: Tensor<D> } = {}): Tensor<D> {
  return result(nativeNarrow(x, start, length, opts), opts);
}
