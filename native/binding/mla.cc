// Binding of MLA attention over the latent cache (mlaDecodeAttention). Validation here, math in
// native/cpu/mla_attention.cc.
#include <cmath>

#include "native/binding/common.h"

namespace dsv3 {

// mlaDecodeAttention(qLatent [t, h, r], qPe [t, h, p], cKv [s, r], kPe [s, p],
//                    {softmaxScale, startPos? = s - t, causal? = true, out?}) -> [t, h, r] f32
DSV3_OP(mlaDecodeAttention) {
  OpCtx c{info.Env(), "mlaDecodeAttention"};
  TensorRef ql = tensor_arg(c, info[0], "qLatent");
  TensorRef qp = tensor_arg(c, info[1], "qPe");
  TensorRef ckv = tensor_arg(c, info[2], "cKv");
  TensorRef kpe = tensor_arg(c, info[3], "kPe");
  Napi::Object o = options_arg(c, info, 4);
  expect_dtype(c, "qLatent", ql, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "cKv", ckv, {DType::f32, DType::bf16, DType::f16});
  if (qp.dtype != ql.dtype)
    c.fail(ErrKind::DType, "qPe", std::string("must have the dtype of 'qLatent' (") + dtype_name(ql.dtype) + "), got " + dtype_name(qp.dtype));
  if (kpe.dtype != ckv.dtype)
    c.fail(ErrKind::DType, "kPe", std::string("must have the dtype of 'cKv' (") + dtype_name(ckv.dtype) + "), got " + dtype_name(kpe.dtype));
  expect_same_device(c, {{"qLatent", &ql}, {"qPe", &qp}, {"cKv", &ckv}, {"kPe", &kpe}});
  expect_ndim(c, "qLatent", ql, 3);
  const int64_t t = ql.dim(0), h = ql.dim(1), r = ql.dim(2);
  expect_ndim(c, "qPe", qp, 3);
  expect_shape(c, "qPe", qp, {t, h, -1});
  const int64_t p = qp.dim(2);
  expect_ndim(c, "cKv", ckv, 2);
  expect_shape(c, "cKv", ckv, {-1, r});
  const int64_t s = ckv.dim(0);
  expect_shape(c, "kPe", kpe, {s, p});

  if (!opt_has(o, "softmaxScale")) c.fail(ErrKind::Argument, "softmaxScale", "is required");
  const double scale = opt_number(c, o, "softmaxScale", 0);
  if (!std::isfinite(scale)) c.fail(ErrKind::Argument, "softmaxScale", "must be finite, got " + std::to_string(scale));
  const bool causal = opt_bool(c, o, "causal", true);
  const int64_t start_pos = opt_int(c, o, "startPos", s - t);
  if (causal && (start_pos < 0 || start_pos + t > s))
    c.fail(ErrKind::Argument, "startPos", "must satisfy 0 <= startPos and startPos + t <= s (t = " + std::to_string(t) +
                                              ", s = " + std::to_string(s) + "), got " + std::to_string(start_pos));

  Output out = output(c, o, "out", DType::f32, {t, h, r}, ql.device());
  if (ql.device().type != DeviceType::cpu) no_cuda_kernel(c);
  TensorRef res = out.ref;
  const float fscale = static_cast<float>(scale);
  run_cpu([ql, qp, ckv, kpe, res, t, h, r, p, s, start_pos, causal, fscale] {
    cpu::mla_decode_attention(MlaDecodeAttentionParams{ql.data(), ql.dtype, qp.data(), ckv.data(), ckv.dtype, kpe.data(),
                                                       res.data<float>(), t, h, r, p, s, causal ? start_pos : 0, causal,
                                                       fscale});
  });
  return out.js;
}

}  // namespace dsv3
