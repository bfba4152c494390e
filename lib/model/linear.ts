// A Linear layer (DeepSeek-V3 model.py Linear: y = x @ W^T, no bias) in 'f32' mode: the stored weight
// (fp8 x scale_inv per 128x128 block, or bf16) dequantized once at load to f32, applied with the f32 gemm.
// Reference: ../shared/research/v3-reference.md §6 (weight_dequant, linear()).
import { dequantizeWeightFp8 } from '../ops/quant';
import { gemm } from '../ops/gemm';
import { Tensor } from '../tensor';
import { CheckpointLike } from './weights';

/** The f32 value of a stored tensor: fp8 weights times their `_scale_inv` blocks, other dtypes cast. */
export function loadF32(ckpt: CheckpointLike, name: string): Tensor<'f32'> {
  const t = ckpt.get(name);
  if (t.dtype === 'f8_e4m3') return dequantizeWeightFp8(t as Tensor<'f8_e4m3'>, ckpt.get(`${name}_scale_inv`) as Tensor<'f32'>);
  // A copy also for f32, so the model does not hold on to the checkpoint's mapped memory.
  return t.cast('f32');
}

export class Linear {
  /** weight [out, in] f32. */
  constructor(readonly weight: Tensor<'f32'>) {}
  static load(ckpt: CheckpointLike, name: string): Linear { return new Linear(loadF32(ckpt, name)); }
  get outFeatures(): number { return this.weight.shape[0]; }
  get inFeatures(): number { return this.weight.shape[1]; }
  /** x [t, in] -> [t, out]. */
  forward(x: Tensor<'f32'>, out?: Tensor<'f32'>): Tensor<'f32'> { return gemm(x, this.weight, { out }); }
}
