// Bindings of rmsNorm and softmax. Validation here, math in native/cpu/norm.cc.
#include <cmath>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/norm.h"
#endif

namespace dsv3 {
namespace {
// Rows of a [..., n] tensor: the product of every dim but the last (works when n is 0).
int64_t leading_rows(const TensorRef& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.ndim(); ++i) r *= t.shape[i];
  return r;
}
void expect_rank_at_least_1(const OpCtx& c, const char* name, const TensorRef& t) {
  if (t.ndim() < 1) c.fail(ErrKind::Shape, name, "must have at least 1 dimension, got shape " + shape_str(t.shape));
}
}  // namespace

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
  expect_rank_at_least_1(c, "x", x);
  const int64_t d = x.dim(-1);
  expect_shape(c, "weight", w, {d});
  const double eps = opt_number(c, o, "eps", 1e-6);
  if (!(eps >= 0) || !std::isfinite(eps))
    c.fail(ErrKind::Argument, "eps", "must be a finite number >= 0, got " + Napi::Number::New(c.env, eps).ToString().Utf8Value());
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, x.shape, x.device());
  TensorRef r = out.ref;
  const int64_t t = leading_rows(x);
  const float feps = static_cast<float>(eps);
  if (x.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::rms_norm(RmsNormParams{x.data(), x.dtype, w.data(), w.dtype, r.data(), r.dtype, t, d, feps},
                                   cuda_stream(x.device())));
    return out.js;
  }
  run_cpu([x, w, r, t, d, feps] {
    cpu::rms_norm(RmsNormParams{x.data(), x.dtype, w.data(), w.dtype, r.data(), r.dtype, t, d, feps});
  });
  return out.js;
}

// softmax(x [..., n], {outDtype?, out?}) -> [..., n] along the last dim, max-subtracted, f32 math.
DSV3_OP(softmax) {
  OpCtx c{info.Env(), "softmax"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_rank_at_least_1(c, "x", x);
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, x.shape, x.device());
  TensorRef r = out.ref;
  const int64_t t = leading_rows(x), n = x.dim(-1);
  if (x.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::softmax(SoftmaxParams{x.data(), x.dtype, r.data(), r.dtype, t, n}, cuda_stream(x.device())));
    return out.js;
  }
  run_cpu([x, r, t, n] { cpu::softmax(SoftmaxParams{x.data(), x.dtype, r.data(), r.dtype, t, n}); });
  return out.js;
}

}  // namespace dsv3
