// Bindings of the fused MLA ops (issue 5): mlaPagedAttention, mlaDownEpilogue, mlaAbsorbQ, mlaOutput.
// Validation here; math in native/cpu/mla_paged.cc + mla_proj.cc and cuda/mla.cu.
#include <algorithm>
#include <cmath>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/mla.h"
#endif

namespace dsv3 {
namespace {

void expect_same_dtype(const OpCtx& c, const char* name, const TensorRef& t, const char* ref_name, const TensorRef& ref) {
  if (t.dtype != ref.dtype)
    c.fail(ErrKind::DType, name, std::string("must have the dtype of '") + ref_name + "' (" + dtype_name(ref.dtype) + "), got " +
                                     dtype_name(t.dtype));
}

// invFreq [p/2] f32 for a rope part of p elements.
void expect_inv_freq(const OpCtx& c, const TensorRef& f, int64_t p) {
  expect_dtype(c, "invFreq", f, {DType::f32});
  expect_ndim(c, "invFreq", f, 1);
  if (p % 2 != 0 || f.dim(0) * 2 != p)
    c.fail(ErrKind::Shape, "invFreq", "must have " + std::to_string(p / 2) + " elements (half the rope dim " + std::to_string(p) +
                                          "), got " + std::to_string(f.dim(0)));
}

}  // namespace

// mlaPagedAttention(qLatent [b, s_q, h, r], qPe [b, s_q, h, p], kvCache [numPages, 64, r + p],
//                   blockTable [b, maxPages] i32, seqLens [b] i32,
//                   {softmaxScale, causal? = true, numSplits?, impl? = 0 (CUDA: 1 = tensor cores), out?: {out?, lse?}})
//   -> {out: [b, s_q, h, r] f32, lse: [b, h, s_q] f32}
DSV3_OP(mlaPagedAttention) {
  OpCtx c{info.Env(), "mlaPagedAttention"};
  TensorRef ql = tensor_arg(c, info[0], "qLatent");
  TensorRef qp = tensor_arg(c, info[1], "qPe");
  TensorRef kv = tensor_arg(c, info[2], "kvCache");
  TensorRef bt = tensor_arg(c, info[3], "blockTable");
  TensorRef sl = tensor_arg(c, info[4], "seqLens");
  Napi::Object o = options_arg(c, info, 5);
  expect_dtype(c, "qLatent", ql, {DType::f32, DType::bf16});
  expect_same_dtype(c, "qPe", qp, "qLatent", ql);
  expect_dtype(c, "kvCache", kv, {DType::f32, DType::bf16});
  expect_dtype(c, "blockTable", bt, {DType::i32});
  expect_dtype(c, "seqLens", sl, {DType::i32});
  expect_same_device(c, {{"qLatent", &ql}, {"qPe", &qp}, {"kvCache", &kv}, {"blockTable", &bt}, {"seqLens", &sl}});
  expect_ndim(c, "qLatent", ql, 4);
  const int64_t b = ql.dim(0), sq = ql.dim(1), h = ql.dim(2), r = ql.dim(3);
  expect_ndim(c, "qPe", qp, 4);
  expect_shape(c, "qPe", qp, {b, sq, h, -1});
  const int64_t p = qp.dim(3);
  expect_ndim(c, "kvCache", kv, 3);
  expect_shape(c, "kvCache", kv, {-1, kMlaPageSize, r + p});
  expect_ndim(c, "blockTable", bt, 2);
  expect_shape(c, "blockTable", bt, {b, -1});
  expect_shape(c, "seqLens", sl, {b});
  const int64_t num_pages = kv.dim(0), max_pages = bt.dim(1);

  if (!opt_has(o, "softmaxScale")) c.fail(ErrKind::Argument, "softmaxScale", "is required");
  const double scale = opt_number(c, o, "softmaxScale", 0);
  if (!std::isfinite(scale)) c.fail(ErrKind::Argument, "softmaxScale", "must be finite, got " + std::to_string(scale));
  const bool causal = opt_bool(c, o, "causal", true);
  const int64_t splits_opt = opt_int(c, o, "numSplits", 0);
  if (splits_opt < 0 || splits_opt > 4096)
    c.fail(ErrKind::Argument, "numSplits", "must be an integer in [0, 4096] (0: automatic), got " + std::to_string(splits_opt));
  const int64_t impl = opt_int(c, o, "impl", 0);
  if (impl != 0 && impl != 1)
    c.fail(ErrKind::Argument, "impl", "must be 0 (simple f32 kernel) or 1 (tensor cores), got " + std::to_string(impl));

  Napi::Object outs = outputs_arg(c, o, "out?, lse?");
  const Device dev = ql.device();
  Output out = output(c, outs, "out", DType::f32, {b, sq, h, r}, dev);
  Output lse = output(c, outs, "lse", DType::f32, {b, h, sq}, dev);
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("out", out.js);
  res.Set("lse", lse.js);
  MlaPagedAttentionParams prm{ql.data(), ql.dtype, qp.data(), kv.data(), kv.dtype, bt.data<int32_t>(), sl.data<int32_t>(),
                              out.ref.data<float>(), lse.ref.data<float>(), b, sq, h, r, p, num_pages, max_pages, causal,
                              static_cast<float>(scale), nullptr, nullptr, 1, static_cast<int>(impl)};
  if (dev.type == DeviceType::cuda) {
    // The CUDA kernel keeps r / 32 output columns per lane in registers and loads 16-byte chunks of a row.
    if (r % 32 != 0 || r > 512 || p % 8 != 0 || r + p > 640)
      c.fail(ErrKind::Shape, "kvCache", "on cuda needs r a multiple of 32 up to 512 and p a multiple of 8 (r + p <= 640), got r = " +
                                            std::to_string(r) + ", p = " + std::to_string(p));
    if (impl == 1 && (kv.dtype != DType::bf16 || r % 64 != 0 || (r + p) % 16 != 0))
      c.fail(ErrKind::Argument, "impl", "1 (tensor cores) needs a bf16 kvCache, r a multiple of 64 and r + p a multiple of 16, got " +
                                            std::string(dtype_name(kv.dtype)) + ", r = " + std::to_string(r) + ", p = " + std::to_string(p));
    DSV3_IF_CUDA(c, {
      void* stream = cuda_stream(dev);
      const int splits = splits_opt > 0 ? static_cast<int>(std::min(splits_opt, std::max<int64_t>(max_pages, 1)))
                                        : cuda::mla_num_splits(b, sq * h, max_pages);
      Output oacc, lacc;  // split-KV workspace, freed stream-ordered after the launches
      if (splits > 1 && b * sq * h > 0) {
        oacc = new_tensor(c.env, DType::f32, {b, sq * h, splits, r}, dev);
        lacc = new_tensor(c.env, DType::f32, {b, sq * h, splits}, dev);
        prm.o_accum = oacc.ref.data<float>();
        prm.lse_accum = lacc.ref.data<float>();
      }
      prm.num_splits = splits;
      cuda::mla_paged_attention(prm, stream);
    });
    return res;
  }
  TensorRef ql_ = ql, qp_ = qp, kv_ = kv, bt_ = bt, sl_ = sl, or_ = out.ref, lr_ = lse.ref;
  run_cpu([ql_, qp_, kv_, bt_, sl_, or_, lr_, prm]() mutable {
    prm.q_latent = ql_.data(); prm.q_pe = qp_.data(); prm.kv_cache = kv_.data();
    prm.block_table = bt_.data<int32_t>(); prm.seq_lens = sl_.data<int32_t>();
    // seqLens are host data once the stream reaches this task: a length the block table cannot cover
    // is an ArgumentError on the outputs (the kernel would give NaN rows; CUDA, where they are device data, does).
    const int64_t covered = prm.max_pages * kMlaPageSize;
    for (int64_t i = 0; i < prm.b; ++i)
      if (prm.seq_lens[i] < 0 || prm.seq_lens[i] > covered)
        throw JsError(ErrKind::Argument, "mlaPagedAttention: argument 'seqLens' element " + std::to_string(i) + " = " +
                                             std::to_string(prm.seq_lens[i]) + " is outside [0, " + std::to_string(covered) +
                                             "]: the blockTable's " + std::to_string(prm.max_pages) + " pages per sequence cover " +
                                             std::to_string(covered) + " tokens");
    prm.out = or_.data<float>(); prm.lse = lr_.data<float>();
    cpu::mla_paged_attention(prm);
  });
  return res;
}

// mlaDownEpilogue(qkv [t, qLora + r + p], qNorm [qLora] f32 | null, kvNorm [r] f32, positions [t] i32|i64,
//                 invFreq [p/2] f32, kvCache [numPages, 64, r + p] (written), slotMapping [t] i32,
//                 {eps? = 1e-6, outDtype? = qkv's, out?}) -> cq [t, qLora]
DSV3_OP(mlaDownEpilogue) {
  OpCtx c{info.Env(), "mlaDownEpilogue"};
  TensorRef x = tensor_arg(c, info[0], "qkv");
  const bool has_q = !info[1].IsNull() && !info[1].IsUndefined();
  TensorRef qn = has_q ? tensor_arg(c, info[1], "qNorm") : TensorRef{};
  TensorRef kn = tensor_arg(c, info[2], "kvNorm");
  TensorRef pos = tensor_arg(c, info[3], "positions");
  TensorRef f = tensor_arg(c, info[4], "invFreq");
  TensorRef kv = tensor_arg(c, info[5], "kvCache");
  TensorRef sm = tensor_arg(c, info[6], "slotMapping");
  Napi::Object o = options_arg(c, info, 7);
  expect_dtype(c, "qkv", x, {DType::f32, DType::bf16});
  if (has_q) expect_dtype(c, "qNorm", qn, {DType::f32});
  expect_dtype(c, "kvNorm", kn, {DType::f32});
  expect_dtype(c, "positions", pos, {DType::i32, DType::i64});
  expect_dtype(c, "kvCache", kv, {DType::f32, DType::bf16});
  expect_dtype(c, "slotMapping", sm, {DType::i32});
  std::vector<std::pair<const char*, const TensorRef*>> devs{{"qkv", &x}, {"kvNorm", &kn}, {"positions", &pos}, {"invFreq", &f},
                                                             {"kvCache", &kv}, {"slotMapping", &sm}};
  if (has_q) devs.push_back({"qNorm", &qn});
  expect_same_device(c, devs);
  expect_ndim(c, "qkv", x, 2);
  const int64_t t = x.dim(0), width = x.dim(1);
  expect_ndim(c, "kvNorm", kn, 1);
  const int64_t r = kn.dim(0);
  expect_ndim(c, "kvCache", kv, 3);
  expect_shape(c, "kvCache", kv, {-1, kMlaPageSize, -1});
  const int64_t p = kv.dim(2) - r;
  if (p <= 0) c.fail(ErrKind::Shape, "kvCache", "must have rows longer than kvNorm (" + std::to_string(r) + "), got " + shape_str(kv.shape));
  expect_inv_freq(c, f, p);
  int64_t q_lora = 0;
  if (has_q) {
    expect_ndim(c, "qNorm", qn, 1);
    q_lora = qn.dim(0);
  }
  if (width != q_lora + r + p)
    c.fail(ErrKind::Shape, "qkv", "must have " + std::to_string(q_lora + r + p) + " columns (qLora " + std::to_string(q_lora) + " + r " +
                                      std::to_string(r) + " + p " + std::to_string(p) + "), got shape " + shape_str(x.shape));
  expect_shape(c, "positions", pos, {t});
  expect_shape(c, "slotMapping", sm, {t});
  const double eps = opt_number(c, o, "eps", 1e-6);
  if (!(eps >= 0) || !std::isfinite(eps)) c.fail(ErrKind::Argument, "eps", "must be a finite number >= 0, got " + std::to_string(eps));
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16});
  const Device dev = x.device();
  Output out = output(c, o, "out", od, {t, q_lora}, dev);
  MlaDownEpilogueParams prm{x.data(), x.dtype, has_q ? qn.data<float>() : nullptr, kn.data<float>(), pos.data(), pos.dtype,
                            f.data<float>(), out.ref.data(), od, kv.data(), kv.dtype, sm.data<int32_t>(), t, q_lora, r, p,
                            kv.dim(0) * kMlaPageSize, static_cast<float>(eps)};
  if (dev.type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::mla_down_epilogue(prm, cuda_stream(dev)));
    return out.js;
  }
  TensorRef r_ = out.ref;
  mark_output(kv);  // the latent cache is written in place
  run_cpu([x, qn, kn, pos, f, kv, sm, r_, has_q, prm]() mutable {
    prm.qkv = x.data(); prm.q_norm = has_q ? qn.data<float>() : nullptr; prm.kv_norm = kn.data<float>();
    prm.positions = pos.data(); prm.inv_freq = f.data<float>(); prm.cq = r_.data(); prm.kv_cache = kv.data();
    prm.slot_mapping = sm.data<int32_t>();
    cpu::mla_down_epilogue(prm);
  });
  return out.js;
}

// mlaAbsorbQ(q [t, h, nope + p], wUK [h, nope, r], positions [t] i32|i64, invFreq [p/2] f32,
//            {outDtype? = q's, out?: {qLatent?, qPe?}}) -> {qLatent [t, h, r], qPe [t, h, p]}
DSV3_OP(mlaAbsorbQ) {
  OpCtx c{info.Env(), "mlaAbsorbQ"};
  TensorRef q = tensor_arg(c, info[0], "q");
  TensorRef w = tensor_arg(c, info[1], "wUK");
  TensorRef pos = tensor_arg(c, info[2], "positions");
  TensorRef f = tensor_arg(c, info[3], "invFreq");
  Napi::Object o = options_arg(c, info, 4);
  expect_dtype(c, "q", q, {DType::f32, DType::bf16});
  expect_dtype(c, "wUK", w, {DType::f32, DType::bf16});
  expect_dtype(c, "positions", pos, {DType::i32, DType::i64});
  expect_same_device(c, {{"q", &q}, {"wUK", &w}, {"positions", &pos}, {"invFreq", &f}});
  expect_ndim(c, "q", q, 3);
  const int64_t t = q.dim(0), h = q.dim(1);
  expect_ndim(c, "wUK", w, 3);
  expect_shape(c, "wUK", w, {h, -1, -1});
  const int64_t nope = w.dim(1), r = w.dim(2), p = q.dim(2) - nope;
  if (p <= 0)
    c.fail(ErrKind::Shape, "q", "must have head vectors longer than wUK's nope dim " + std::to_string(nope) + ", got shape " + shape_str(q.shape));
  expect_inv_freq(c, f, p);
  expect_shape(c, "positions", pos, {t});
  DType od = opt_dtype(c, o, "outDtype", q.dtype, {DType::f32, DType::bf16});
  Napi::Object outs = outputs_arg(c, o, "qLatent?, qPe?");
  const Device dev = q.device();
  Output ql = output(c, outs, "qLatent", od, {t, h, r}, dev);
  Output qp = output(c, outs, "qPe", od, {t, h, p}, dev);
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("qLatent", ql.js);
  res.Set("qPe", qp.js);
  MlaAbsorbQParams prm{q.data(), q.dtype, w.data(), w.dtype, pos.data(), pos.dtype, f.data<float>(), ql.ref.data(), qp.ref.data(),
                       od, t, h, nope, p, r};
  if (dev.type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::mla_absorb_q(prm, cuda_stream(dev)));
    return res;
  }
  TensorRef a = ql.ref, b = qp.ref;
  run_cpu([q, w, pos, f, a, b, prm]() mutable {
    prm.q = q.data(); prm.w_uk = w.data(); prm.positions = pos.data(); prm.inv_freq = f.data<float>();
    prm.q_latent = a.data(); prm.q_pe = b.data();
    cpu::mla_absorb_q(prm);
  });
  return res;
}

// mlaOutput(oLatent [t, h, r], wUV [h, v, r], {outDtype? = wUV's, out?}) -> [t, h * v]
DSV3_OP(mlaOutput) {
  OpCtx c{info.Env(), "mlaOutput"};
  TensorRef x = tensor_arg(c, info[0], "oLatent");
  TensorRef w = tensor_arg(c, info[1], "wUV");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "oLatent", x, {DType::f32, DType::bf16});
  expect_dtype(c, "wUV", w, {DType::f32, DType::bf16});
  expect_same_device(c, {{"oLatent", &x}, {"wUV", &w}});
  expect_ndim(c, "oLatent", x, 3);
  const int64_t t = x.dim(0), h = x.dim(1), r = x.dim(2);
  expect_ndim(c, "wUV", w, 3);
  expect_shape(c, "wUV", w, {h, -1, r});
  const int64_t v = w.dim(1);
  DType od = opt_dtype(c, o, "outDtype", w.dtype, {DType::f32, DType::bf16});
  const Device dev = x.device();
  Output out = output(c, o, "out", od, {t, h * v}, dev);
  MlaOutputParams prm{x.data(), x.dtype, w.data(), w.dtype, out.ref.data(), od, t, h, r, v};
  if (dev.type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::mla_output(prm, cuda_stream(dev)));
    return out.js;
  }
  TensorRef r_ = out.ref;
  run_cpu([x, w, r_, prm]() mutable {
    prm.o_latent = x.data(); prm.w_uv = w.data(); prm.out = r_.data();
    cpu::mla_output(prm);
  });
  return out.js;
}

}  // namespace dsv3
