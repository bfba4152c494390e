// A Linear layer (DeepSeek-V3 model.py linear(): y = x @ W^T, no bias). Dense: the stored weight (fp8 x
// scale_inv per 128x128 block, or bf16) dequantized once at load to the activation dtype ('f32': the
// exact stored function; 'bf16': model.py's gemm_impl="bf16"), applied with gemm. FP8: the stored fp8
// weight kept, activations quantized per token per 128 channels (act_quant) and fp8Gemm (model.py's
// gemm_impl="fp8"). Reference: docs/v3-reference.md §6.
import { dequantizeWeightFp8, quantizeFp8 } from '../ops/quant';
import { fp8Gemm, gemm } from '../ops/gemm';
import { Device, Tensor } from '../tensor';
import { CheckpointLike } from './weights';

/** Activation (and dense weight) dtype of a model. */
export type Act = 'f32' | 'bf16';

/**
 * A stored tensor from the memory map to `device` as `dtype`: on the CPU a converted copy (so the model does not
 * hold on to the mapped memory); on CUDA uploaded straight from the map, then cast to `dtype` on the device (the
 * upload is released) unless it already is that dtype.
 */
function upload<D extends Tensor['dtype']>(t: Tensor, dtype: D, device: Device): Tensor<D> {
  if (device === 'cpu') return t.cast(dtype);
  const up = t.to(device);
  if (up.dtype === dtype) return up as Tensor<D>;
  const r = up.cast(dtype);
  up.dispose();
  return r;
}

/** A stored tensor as `dtype` on `device`: fp8 weights times their `_scale_inv` blocks (one rounding, on the device), other dtypes cast. */
export function loadAs<D extends Act>(ckpt: CheckpointLike, name: string, dtype: D, device: Device = 'cpu'): Tensor<D> {
  const t = ckpt.get(name);
  if (t.dtype === 'f8_e4m3') {
    const s = ckpt.get(`${name}_scale_inv`) as Tensor<'f32'>;
    if (device === 'cpu') return dequantizeWeightFp8(t as Tensor<'f8_e4m3'>, s, { outDtype: dtype });
    const w = t.to(device) as Tensor<'f8_e4m3'>, sd = s.to(device);
    const r = dequantizeWeightFp8(w, sd, { outDtype: dtype });
    w.dispose(); sd.dispose();
    return r;
  }
  return upload(t, dtype, device);
}

/** The f32 value of a stored tensor (norm weights, the router, the bias) on `device`. */
export function loadF32(ckpt: CheckpointLike, name: string, device: Device = 'cpu'): Tensor<'f32'> { return loadAs(ckpt, name, 'f32', device); }

export class Linear {
  /**
   * Dense: weight [out, in] in the activation dtype. FP8: fp8 { weight [out, in] e4m3, scaleInv
   * [ceil(out/128), ceil(in/128)] f32 } and `act` the output dtype.
   */
  constructor(readonly weight: Tensor<Act> | null, readonly act: Act, readonly fp8: { weight: Tensor<'f8_e4m3'>; scaleInv: Tensor<'f32'> } | null = null) {}

  /** useFp8: keep an fp8-stored weight in fp8 (else it is dequantized to `act`); device: where the weight lives. */
  static load(ckpt: CheckpointLike, name: string, act: Act, useFp8 = false, device: Device = 'cpu'): Linear {
    const t = ckpt.get(name);
    if (useFp8 && t.dtype === 'f8_e4m3') {
      const w = upload(t, 'f8_e4m3', device), s = upload(ckpt.get(`${name}_scale_inv`), 'f32', device);
      return new Linear(null, act, { weight: w, scaleInv: s });
    }
    return new Linear(loadAs(ckpt, name, act, device), act);
  }

  get outFeatures(): number { return (this.weight ?? this.fp8!.weight).shape[0]; }
  get inFeatures(): number { return (this.weight ?? this.fp8!.weight).shape[1]; }

  /** x [t, in] -> [t, out] in the activation dtype. */
  forward(x: Tensor<Act>, out?: Tensor<Act>): Tensor<Act> {
    if (this.weight) return gemm<Act, Act>(x, this.weight, { out, outDtype: this.act });
    const q = quantizeFp8(x);
    const y = fp8Gemm<Act>(q, { data: this.fp8!.weight, scale: this.fp8!.scaleInv }, { out, outDtype: this.act });
    q.data.dispose(); q.scale.dispose();
    return y;
  }

  dispose(): void { this.weight?.dispose(); this.fp8?.weight.dispose(); this.fp8?.scaleInv.dispose(); }
}
