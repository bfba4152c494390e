// Bindings of the FP8 quantization ops (DeepSeek kernel.py act_quant / weight_dequant and the
// checkpoint's 128x128 weight quantization). Validation here, math in native/cpu/quant.cc.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/quant.h"
#include "cuda/weight_quant.h"
#endif

namespace dsv3 {
namespace {

std::string dims(int64_t a, int64_t b) { return "[" + std::to_string(a) + "," + std::to_string(b) + "]"; }

}  // namespace

// quantizeFp8(x [..., k], {ue8m0?, out?, outScale?}) -> {data: f8_e4m3 [..., k], scale: f32 [..., ceil(k/128)]}
DSV3_OP(quantizeFp8) {
  OpCtx c{info.Env(), "quantizeFp8"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_min_ndim(c, "x", x, 1);
  const bool ue8m0 = opt_bool(c, o, "ue8m0", false);
  const int64_t k = x.shape.back(), m = k ? x.numel() / k : 0;
  std::vector<int64_t> sshape = x.shape;
  sshape.back() = ceil_div(k, kQuantBlock);
  Napi::Object outs = outputs_arg(c, o, "data?, scale?");
  Output y = output(c, outs, "data", DType::f8_e4m3, x.shape, x.device());
  Output s = output(c, outs, "scale", DType::f32, sshape, x.device());
  launch(c, x.device(), QuantizeFp8Params{x.data(), x.dtype, y.ref.data<uint8_t>(), s.ref.data<float>(), m, k, ue8m0},
         {x, y.ref, s.ref}, cpu::quantize_fp8, DSV3_CUDA(cuda::quantize_fp8));
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("data", y.js);
  r.Set("scale", s.js);
  return r;
}

// quantizeWeightFp8(w [n, k], {out?, outScaleInv?}) -> {weight: f8_e4m3 [n, k], scaleInv: f32 [ceil(n/128), ceil(k/128)]}
DSV3_OP(quantizeWeightFp8) {
  OpCtx c{info.Env(), "quantizeWeightFp8"};
  TensorRef w = tensor_arg(c, info[0], "w");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "w", w, {DType::f32, DType::bf16, DType::f16});
  expect_ndim(c, "w", w, 2);
  const int64_t n = w.shape[0], k = w.shape[1];
  Napi::Object outs = outputs_arg(c, o, "weight?, scaleInv?");
  Output y = output(c, outs, "weight", DType::f8_e4m3, w.shape, w.device());
  Output s = output(c, outs, "scaleInv", DType::f32, {ceil_div(n, kQuantBlock), ceil_div(k, kQuantBlock)}, w.device());
  launch(c, w.device(), QuantizeWeightFp8Params{w.data(), w.dtype, y.ref.data<uint8_t>(), s.ref.data<float>(), n, k},
         {w, y.ref, s.ref}, cpu::quantize_weight_fp8, DSV3_CUDA(cuda::quantize_weight_fp8));
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("weight", y.js);
  r.Set("scaleInv", s.js);
  return r;
}

// dequantizeWeightFp8(weight f8_e4m3 [n, k], scaleInv f32 [ceil(n/128), ceil(k/128)], {outDtype?, out?}) -> [n, k]
DSV3_OP(dequantizeWeightFp8) {
  OpCtx c{info.Env(), "dequantizeWeightFp8"};
  TensorRef w = tensor_arg(c, info[0], "weight");
  TensorRef s = tensor_arg(c, info[1], "scaleInv");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "weight", w, {DType::f8_e4m3});
  expect_dtype(c, "scaleInv", s, {DType::f32});
  expect_ndim(c, "weight", w, 2);
  expect_same_device(c, {{"weight", &w}, {"scaleInv", &s}});
  const int64_t n = w.shape[0], k = w.shape[1];
  const int64_t nb = ceil_div(n, kQuantBlock), kb = ceil_div(k, kQuantBlock);
  if (s.ndim() != 2 || s.shape[0] != nb || s.shape[1] != kb)
    c.fail(ErrKind::Shape, "scaleInv", "must have shape " + dims(nb, kb) + " = [ceil(n/128), ceil(k/128)] for weight " +
                                           shape_str(w.shape) + ", got " + shape_str(s.shape));
  DType od = opt_dtype(c, o, "outDtype", DType::f32, {DType::f32, DType::bf16});
  Output out = output(c, o, "out", od, w.shape, w.device());
  const TensorRef& r = out.ref;
  launch(c, w.device(), DequantizeWeightFp8Params{w.data<uint8_t>(), s.data<float>(), r.data(), r.dtype, n, k}, {w, s, r},
         cpu::dequantize_weight_fp8, DSV3_CUDA(cuda::dequantize_weight_fp8));
  return out.js;
}

}  // namespace dsv3
