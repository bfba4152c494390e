// FP8 (e4m3fn) block quantization, DeepSeek-V3 inference/kernel.py semantics: act_quant (1x128 groups
// along the last dim), the checkpoint's 128x128 weight blocks (weight_scale_inv), and weight_dequant.
// CPU: native/cpu/quant.cc.
import { Tensor } from '../tensor';
import { NativeTensor } from '../native';
import { lazyOp, result } from './util';

const nativeQuantizeFp8 = lazyOp('quantizeFp8');
const nativeQuantizeWeightFp8 = lazyOp('quantizeWeightFp8');
const nativeDequantizeWeightFp8 = lazyOp('dequantizeWeightFp8');

export type QuantInputDType = 'f32' | 'bf16' | 'f16';

/** Activations quantized per 1x128 group: value ~= data * scale (per group). */
export interface Fp8Activation {
  /** [..., k] e4m3fn codes. */
  data: Tensor<'f8_e4m3'>;
  /** [..., ceil(k/128)] f32, row-major (token-major). A CUDA backend may keep a different internal layout (e.g. DeepGEMM's transposed one); this API shape stays. */
  scale: Tensor<'f32'>;
}
export interface QuantizeFp8Options {
  /** Round each scale up to a power of two (DeepSeek-V3.1 scale_fmt "ue8m0"). */
  ue8m0?: boolean;
  /** Write the outputs here (codes [..., k] f8_e4m3, scales [..., ceil(k/128)] f32). */
  out?: { data?: Tensor<'f8_e4m3'>; scale?: Tensor<'f32'> };
}

/** A weight quantized per 128x128 block: W[i, j] ~= weight[i, j] * scaleInv[i/128, j/128]. */
export interface Fp8Weight {
  /** [n, k] e4m3fn codes. */
  weight: Tensor<'f8_e4m3'>;
  /** [ceil(n/128), ceil(k/128)] f32, the checkpoint's `weight_scale_inv` (a dequant multiplier). */
  scaleInv: Tensor<'f32'>;
}
export interface QuantizeWeightFp8Options {
  /** Write the outputs here (codes [n, k], scales [ceil(n/128), ceil(k/128)]). */
  out?: { weight?: Tensor<'f8_e4m3'>; scaleInv?: Tensor<'f32'> };
}

export interface DequantizeWeightFp8Options<O extends 'f32' | 'bf16'> {
  /** Output dtype (default f32). */
  outDtype?: O;
  out?: Tensor<O>;
}

/** act_quant: x [..., k] -> { data: f8_e4m3 [..., k], scale: f32 [..., ceil(k/128)] }; scale = max(amax, 1e-4) / 448 per 1x128 group (the last group may be partial), data = e4m3(x / scale). */
export function quantizeFp8(x: Tensor<QuantInputDType>, opts: QuantizeFp8Options = {}): Fp8Activation {
  const r = nativeQuantizeFp8(x, opts) as { data: NativeTensor; scale: NativeTensor };
  return { data: result<'f8_e4m3'>(r.data), scale: result<'f32'>(r.scale) };
}

/** w [n, k] -> { weight: f8_e4m3 [n, k], scaleInv: f32 [ceil(n/128), ceil(k/128)] }; scaleInv = max(amax, 1e-4) / 448 per 128x128 block (edge blocks partial), weight = e4m3(w / scaleInv). */
export function quantizeWeightFp8(w: Tensor<QuantInputDType>, opts: QuantizeWeightFp8Options = {}): Fp8Weight {
  const r = nativeQuantizeWeightFp8(w, opts) as { weight: NativeTensor; scaleInv: NativeTensor };
  return { weight: result<'f8_e4m3'>(r.weight), scaleInv: result<'f32'>(r.scaleInv) };
}

/** weight_dequant: weight f8_e4m3 [n, k], scaleInv f32 [ceil(n/128), ceil(k/128)] -> [n, k] f32 (default) or bf16 = e4m3(weight) * scaleInv[i/128, j/128] (f32 product, rounded once). */
export function dequantizeWeightFp8<O extends 'f32' | 'bf16' = 'f32'>(weight: Tensor<'f8_e4m3'>, scaleInv: Tensor<'f32'>, opts: DequantizeWeightFp8Options<O> = {}): Tensor<O> {
  return result(nativeDequantizeWeightFp8(weight, scaleInv, opts), opts);
}
