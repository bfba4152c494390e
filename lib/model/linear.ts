// A Linear layer (DeepSeek-V3 model.py Linear: y = x @ W^T, no bias): the stored weight (fp8 x scale_inv
// per 128x128 block, or bf16) dequantized once at load to the activation dtype ('f32': the exact stored
// function; 'bf16': model.py's default gemm_impl="bf16"), applied with gemm (f32 accumulation).
// Reference: ../shared/research/v3-reference.md §6 (weight_dequant, linear()).
import { dequantizeWeightFp8 } from '../ops/quant';
import { gemm } from '../ops/gemm';
import { Tensor } from '../tensor';
import { CheckpointLike } from './weights';

/** Activation (and dense weight) dtype of a model. */
export type Act = 'f32' | 'bf16';

/** A stored tensor as `dtype`: fp8 weights times their `_scale_inv` blocks (one rounding), other dtypes cast. */
export function loadAs<D extends Act>(ckpt: CheckpointLike, name: string, dtype: D): Tensor<D> {
  const t = ckpt.get(name);
  if (t.dtype === 'f8_e4m3') return dequantizeWeightFp8(t as Tensor<'f8_e4m3'>, ckpt.get(`${name}_scale_inv`) as Tensor<'f32'>, { outDtype: dtype });
  // A copy even when the dtype matches, so the model does not hold on to the checkpoint's mapped memory.
  return t.cast(dtype);
}

/** The f32 value of a stored tensor (norm weights, the router, the bias). */
export function loadF32(ckpt: CheckpointLike, name: string): Tensor<'f32'> { return loadAs(ckpt, name, 'f32'); }

export class Linear {
  /** weight [out, in] in the activation dtype. */
  constructor(readonly weight: Tensor<Act>) {}
  static load(ckpt: CheckpointLike, name: string, act: Act): Linear { return new Linear(loadAs(ckpt, name, act)); }
  get outFeatures(): number { return this.weight.shape[0]; }
  get inFeatures(): number { return this.weight.shape[1]; }
  /** x [t, in] -> [t, out] in the weight's dtype. */
  forward(x: Tensor<Act>, out?: Tensor<Act>): Tensor<Act> { return gemm<Act, Act>(x, this.weight, { out, outDtype: this.weight.dtype }); }
}
