// Bindings of argmax, topk and sample. Validation here, math in native/cpu/sampling.cc.
#include <cmath>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/sampling.h"
#endif

namespace dsv3 {
namespace {
std::string num(const OpCtx& c, double v) { return Napi::Number::New(c.env, v).ToString().Utf8Value(); }
void expect_rows(const OpCtx& c, const char* name, const TensorRef& x) {
  expect_ndim(c, name, x, 2);
  if (x.dim(1) == 0) c.fail(ErrKind::Shape, name, "must have a non-empty last dim, got shape " + shape_str(x.shape));
}
}  // namespace

// argmax(x [t, n], {out?, flagInvalid?}) -> i32 [t]: the first maximum of each row; NaN ranks above every
// number. flagInvalid: a row with a NaN gives -1, one with no finite maximum -2 (the model's picks raise).
DSV3_OP(argmax) {
  OpCtx c{info.Env(), "argmax"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_rows(c, "x", x);
  const int64_t t = x.dim(0), n = x.dim(1);
  const bool flag = opt_bool(c, o, "flagInvalid", false);
  Output out = output(c, o, "out", DType::i32, {t}, x.device());
  launch(c, x.device(), ArgmaxParams{x.data(), x.dtype, out.ref.data<int32_t>(), t, n, flag}, {x, out.ref}, cpu::argmax,
         DSV3_CUDA(cuda::argmax));
  return out.js;
}

// topk(x [t, n], k, {out?: {values?, indices?}}) -> {values: f32 [t, k], indices: i32 [t, k]}: the k largest
// of each row in descending order; equal values by lower index; NaN ranks above every number.
DSV3_OP(topk) {
  OpCtx c{info.Env(), "topk"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_ndim(c, "x", x, 2);
  const int64_t t = x.dim(0), n = x.dim(1);
  const double kd = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
  if (!(kd >= 1 && kd <= static_cast<double>(n) && kd == std::floor(kd)))
    c.fail(ErrKind::Argument, "k", "must be an integer in [1, " + std::to_string(n) + "] (x's last dim), got " +
           (info[1].IsNumber() ? num(c, kd) : info[1].ToString().Utf8Value()));
  const int64_t k = static_cast<int64_t>(kd);
  Napi::Object outs = outputs_arg(c, o, "values?, indices?");
  Output values = output(c, outs, "values", DType::f32, {t, k}, x.device());
  Output indices = output(c, outs, "indices", DType::i32, {t, k}, x.device());
  launch(c, x.device(), TopkParams{x.data(), x.dtype, values.ref.data<float>(), indices.ref.data<int32_t>(), t, n, k},
         {x, values.ref, indices.ref}, cpu::topk, DSV3_CUDA(cuda::topk));
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("values", values.js);
  r.Set("indices", indices.js);
  return r;
}

// sample(logits [t, vocab] f32, {seed, temperature? = 1, topP? = 1, topK? = 0, out?}) -> i32 [t].
// temperature <= 0 is greedy (argmax). Row r depends only on (seed, r, logits[r]).
DSV3_OP(sample) {
  OpCtx c{info.Env(), "sample"};
  TensorRef x = tensor_arg(c, info[0], "logits");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "logits", x, {DType::f32});
  expect_rows(c, "logits", x);
  SampleParams p{};
  p.t = x.dim(0);
  p.vocab = x.dim(1);
  if (!opt_has(o, "seed")) c.fail(ErrKind::Argument, "seed", "is required (a number or bigint)");
  p.seed = static_cast<uint64_t>(opt_int(c, o, "seed", 0));
  const double temp = opt_number(c, o, "temperature", 1.0);
  if (!std::isfinite(temp)) c.fail(ErrKind::Argument, "temperature", "must be finite, got " + num(c, temp));
  const double top_p = opt_number(c, o, "topP", 1.0);
  if (!(top_p > 0 && top_p <= 1)) c.fail(ErrKind::Argument, "topP", "must be in (0, 1], got " + num(c, top_p));
  const int64_t top_k = opt_int(c, o, "topK", 0);
  if (top_k < 0) c.fail(ErrKind::Argument, "topK", "must be an integer >= 0 (0 = off), got " + std::to_string(top_k));
  p.temperature = static_cast<float>(temp);
  p.top_p = static_cast<float>(top_p);
  p.top_k = top_k;
  Output out = output(c, o, "out", DType::i32, {p.t}, x.device());
  p.logits = x.data<float>();
  p.out = out.ref.data<int32_t>();
  // On CUDA a row with NaN or no finite logit cannot throw after the launch: it gets token -1 (temperature > 0).
  launch(c, x.device(), p, {x, out.ref}, cpu::sample, DSV3_CUDA(cuda::sample));
  return out.js;
}

}  // namespace dsv3
