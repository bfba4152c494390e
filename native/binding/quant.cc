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
  if (x.ndim() < 1) c.fail(ErrKind::Shape, "x", "must have at least 1 dimension, got shape " + shape_str(x.shape));
  const bool ue8m0 = opt_bool(c, o, "ue8m0", false);
  const int64_t k = x.shape.back(), m = k ? x.numel() / k : 0;
  std::vector<int64_t> sshape = x.shape;
  sshape.back() = ceil_div(k, kQuantBlock);
  Napi::Object outs = outputs_arg(c, o, "data?, scale?");
  Output y = output(c, outs, "data", DType::f8_e4m3, x.shape, x.device());
  Output s = output(c, outs, "scale", DType::f32, sshape, x.device());
  if (x.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::quantize_fp8(QuantizeFp8Params{x.data(), x.dtype, static_cast<uint8_t*>(y.ref.data()),
                                                         static_cast<float*>(s.ref.data()), m, k, ue8m0},
                                       cuda_stream(x.device())));
  } else {
    TensorRef yr = y.ref, sr = s.ref;
    run_cpu([x, yr, sr, m, k, ue8m0] {
      cpu::quantize_fp8(QuantizeFp8Params{x.data(), x.dtype, static_cast<uint8_t*>(yr.data()),
                                          static_cast<float*>(sr.data()), m, k, ue8m0});
    });
  }
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
  TensorRef yr = y.ref, sr = s.ref;
  if (w.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::quantize_weight_fp8(QuantizeWeightFp8Params{w.data(), w.dtype, static_cast<uint8_t*>(yr.data()),
                                                                      static_cast<float*>(sr.data()), n, k},
                                              cuda_stream(w.device())));
  } else {
    run_cpu([w, yr, sr, n, k] {
      cpu::quantize_weight_fp8(QuantizeWeightFp8Params{w.data(), w.dtype, static_cast<uint8_t*>(yr.data()),
                                                       static_cast<float*>(sr.data()), n, k});
    });
  }
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
  TensorRef r = out.ref;
  if (w.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::dequantize_weight_fp8(DequantizeWeightFp8Params{static_cast<const uint8_t*>(w.data()),
                                                                          static_cast<const float*>(s.data()), r.data(),
                                                                          r.dtype, n, k},
                                                cuda_stream(w.device())));
    return out.js;
  }
  run_cpu([w, s, r, n, k] {
    cpu::dequantize_weight_fp8(DequantizeWeightFp8Params{static_cast<const uint8_t*>(w.data()),
                                                         static_cast<const float*>(s.data()), r.data(), r.dtype, n, k});
  });
  return out.js;
}

}  // namespace dsv3
