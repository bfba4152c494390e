// The MLP activation of DeepSeek-V3 (model.py MLP / Expert: silu(w1 x) * w3 x).
// CPU: native/cpu/activation.cc.
import { Tensor } from '../tensor';
import { lazyOp, OutOptions, result } from './util';

type F = 'f32' | 'bf16' | 'f16';
const nativeSiluMul = lazyOp('siluMul');

/** gate [t, n], up [t, n] -> [t, n]: silu(gate) * up, f32 math, one rounding (out dtype defaults to gate's). */
export function siluMul<D extends F, O extends F = D>(gate: Tensor<D>, up: Tensor<F>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeSiluMul(gate, up, opts), opts);
}
