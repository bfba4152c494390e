// RMSNorm and softmax over the last dim (DeepSeek-V3 model.py RMSNorm; the fp32 attention softmax).
// CPU: native/cpu/norm.cc.
import { Tensor } from '../tensor';
import { lazyOp, OutOptions, result } from './util';

type F = 'f32' | 'bf16' | 'f16';
const nativeRmsNorm = lazyOp('rmsNorm');
const nativeSoftmax = lazyOp('softmax');

/** x [..., d], weight [d] -> [..., d]: weight * x / sqrt(mean(x^2) + eps) (eps default 1e-6), f32 math, one rounding. */
export function rmsNorm<D extends F, O extends F = D>(x: Tensor<D>, weight: Tensor<F>, opts: OutOptions<O> & { eps?: number } = {}): Tensor<O> {
  return result(nativeRmsNorm(x, weight, opts), opts);
}

/** x [..., n] -> [..., n]: softmax along the last dim, max-subtracted, f32 math (an all -inf row gives NaN, like torch). */
export function softmax<D extends F, O extends F = D>(x: Tensor<D>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeSoftmax(x, opts), opts);
}
