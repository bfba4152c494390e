// Binding of the MoE router (moeRoute). Validation here, math in native/cpu/moe_route.cc.
#include <cmath>

#include "native/binding/common.h"

namespace dsv3 {

// moeRoute(logits [t, e] f32, {topK, scoring?, bias? [e] f32, nGroup?, topkGroup?, normTopkProb?,
//          routedScalingFactor?, out?: {weights?, indices?}}) -> {weights [t, topK] f32, indices [t, topK] i32}
DSV3_OP(moeRoute) {
  OpCtx c{info.Env(), "moeRoute"};
  TensorRef logits = tensor_arg(c, info[0], "logits");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "logits", logits, {DType::f32});
  expect_ndim(c, "logits", logits, 2);
  const int64_t t = logits.dim(0), e = logits.dim(1);

  const std::string scoring = opt_string(c, o, "scoring", "sigmoid");
  if (scoring != "sigmoid" && scoring != "softmax")
    c.fail(ErrKind::Argument, "scoring", "must be 'sigmoid' or 'softmax', got '" + scoring + "'");
  const bool sigmoid = scoring == "sigmoid";
  TensorRef bias;
  const bool has_bias = opt_has(o, "bias");
  if (has_bias) {
    bias = opt_tensor(c, o, "bias");
    expect_dtype(c, "bias", bias, {DType::f32});
    expect_shape(c, "bias", bias, {e});
    expect_same_device(c, {{"logits", &logits}, {"bias", &bias}});
  }

  const int64_t n_group = opt_int(c, o, "nGroup", 1);
  if (n_group < 1 || e % n_group != 0)
    c.fail(ErrKind::Argument, "nGroup", "must be >= 1 and divide the expert count " + std::to_string(e) +
                                            ", got " + std::to_string(n_group));
  const int64_t gsize = e / n_group;
  const int64_t topk_group = opt_int(c, o, "topkGroup", n_group);
  if (topk_group < 1 || topk_group > n_group)
    c.fail(ErrKind::Argument, "topkGroup", "must be in [1, nGroup = " + std::to_string(n_group) + "], got " +
                                               std::to_string(topk_group));
  if (!opt_has(o, "topK")) c.fail(ErrKind::Argument, "topK", "is required");
  const int64_t top_k = opt_int(c, o, "topK", 0);
  if (top_k < 1 || top_k > topk_group * gsize)
    c.fail(ErrKind::Argument, "topK", "must be in [1, topkGroup * e / nGroup = " + std::to_string(topk_group * gsize) +
                                          "], got " + std::to_string(top_k));
  if (has_bias && n_group > 1 && gsize < 2)
    c.fail(ErrKind::Argument, "nGroup", "must leave at least 2 experts per group when a bias is given "
                                        "(the group score is the sum of the top 2), got " + std::to_string(gsize));
  const bool norm = opt_bool(c, o, "normTopkProb", sigmoid);
  const double scale = opt_number(c, o, "routedScalingFactor", 1.0);
  if (!std::isfinite(scale)) c.fail(ErrKind::Argument, "routedScalingFactor", "must be finite, got " + std::to_string(scale));

  Napi::Object outs = outputs_arg(c, o, "weights?, indices?");
  Output w = output(c, outs, "weights", DType::f32, {t, top_k}, logits.device());
  Output idx = output(c, outs, "indices", DType::i32, {t, top_k}, logits.device());
  if (logits.device().type != DeviceType::cpu) no_cuda_kernel(c);

  TensorRef wr = w.ref, ir = idx.ref;
  const ScoringFunc sf = sigmoid ? ScoringFunc::sigmoid : ScoringFunc::softmax;
  const float fscale = static_cast<float>(scale);
  run_cpu([logits, bias, has_bias, wr, ir, t, e, top_k, n_group, topk_group, sf, norm, fscale] {
    cpu::moe_route(MoeRouteParams{logits.data<float>(), has_bias ? bias.data<float>() : nullptr, wr.data<float>(),
                                  ir.data<int32_t>(), t, e, top_k, n_group, topk_group, sf, norm, fscale});
  });
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("weights", w.js);
  res.Set("indices", idx.js);
  return res;
}

}  // namespace dsv3
