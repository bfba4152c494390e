// Bindings of rmsNorm and softmax. Validation here, math in native/cpu/norm.cc.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/norm.h"
#endif

namespace dsv3 {

// rmsNorm(x [..., d], weight [d], {eps? = 1e-6, outDtype?, out?}) -> [..., d]:
// weight * x / sqrt(mean(x^2) + eps) over the last dim, f32 math; out dtype defaults to x's.
DSV3_OP(rmsNorm) {
  OpCtx c{info.Env(), "rmsNorm"};
  TensorRef x = tensor_arg(c, info[0], "x");
  TensorRef w = tensor_arg(c, info[1], "weight");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "weight", w, {DType::f32, DType::bf16, DType::f16});
  expect_same_device(c, {{"x", &x}, {"weight", &w}});
  expect_min_ndim(c, "x", x, 1);
  const int64_t d = x.dim(-1);
  expect_shape(c, "weight", w, {d});
  const float eps = eps_opt(c, o, 1e-6);
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, x.shape, x.device());
  const TensorRef& r = out.ref;
  launch(c, x.device(), RmsNormParams{x.data(), x.dtype, w.data(), w.dtype, r.data(), r.dtype, leading_rows(x), d, eps}, {x, w, r},
         cpu::rms_norm, DSV3_CUDA(cuda::rms_norm));
  return out.js;
}

// softmax(x [..., n], {outDtype?, out?}) -> [..., n] along the last dim, max-subtracted, f32 math.
DSV3_OP(softmax) {
  OpCtx c{info.Env(), "softmax"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_min_ndim(c, "x", x, 1);
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, x.shape, x.device());
  const TensorRef& r = out.ref;
  launch(c, x.device(), SoftmaxParams{x.data(), x.dtype, r.data(), r.dtype, leading_rows(x), x.dim(-1)}, {x, r},
         cpu::softmax, DSV3_CUDA(cuda::softmax));
  return out.js;
}

}  // namespace dsv3
