// Elementwise ops. CPU: native/cpu/elementwise.cc.
import { FloatDType, Tensor } from '../tensor';
import { lazyOp, OutOptions, result } from './util';

const nativeAdd = lazyOp('add');

/** a + b elementwise (same shape, float dtypes), f32 math; out dtype defaults to a's. */
export function add<D extends FloatDType, O extends FloatDType = D>(a: Tensor<D>, b: Tensor<FloatDType>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeAdd(a, b, opts), opts);
}
