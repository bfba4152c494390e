// Bindings of the MLA ops: attention over the paged latent cache (mlaPagedAttention), the projections
// around it (mlaDownEpilogue, mlaAbsorbQ, mlaOutput), and the per-sequence mlaDecodeAttention (CPU only; a
// test reference: test/reference/mla_sequence.ts).
// Validation here; math in native/cpu/mla_attn.cc + mla_proj.cc and cuda/mla_attn.cu + mla_proj.cu.
#include <algorithm>
#include <cmath>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/mla.h"
#endif

namespace dsv3 {
namespace {

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
//                   {softmaxScale, causal? = true, numSplits?, impl? = 0 (CUDA, internal: the DSV3_MLA_ATTN_IMPL
//                    switch lib/ops passes; 1 = tensor cores), out?: {out?, lse?}})
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

  const double scale = required_finite(c, o, "softmaxScale");
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
  // The CPU reads seqLens when its task runs (host data then): a length the block table cannot cover is an
  // ArgumentError on the outputs (the kernel would give NaN rows; CUDA, where they are device data, does).
  auto cpu_fn = [](const MlaPagedAttentionParams& p) {
    const int64_t covered = p.max_pages * kMlaPageSize;
    for (int64_t i = 0; i < p.b; ++i)
      if (p.seq_lens[i] < 0 || p.seq_lens[i] > covered)
        throw JsError(ErrKind::Argument, "mlaPagedAttention: argument 'seqLens' element " + std::to_string(i) + " = " +
                                             std::to_string(p.seq_lens[i]) + " is outside [0, " + std::to_string(covered) +
                                             "]: the blockTable's " + std::to_string(p.max_pages) + " pages per sequence cover " +
                                             std::to_string(covered) + " tokens");
    cpu::mla_paged_attention(p);
  };
  launch(c, dev,
         MlaPagedAttentionParams{ql.data(), ql.dtype, qp.data(), kv.data(), kv.dtype, bt.data<int32_t>(), sl.data<int32_t>(),
                                 out.ref.data<float>(), lse.ref.data<float>(), b, sq, h, r, p, num_pages, max_pages, causal,
                                 static_cast<float>(scale), nullptr, nullptr, 1, static_cast<int>(impl)},
         {ql, qp, kv, bt, sl, out.ref, lse.ref}, cpu_fn, DSV3_CUDA([&](MlaPagedAttentionParams prm, void* stream) {
           std::string why;
           require_supported(c, cuda::mla_paged_attention_supports(prm, &why), why);
           prm.num_splits = splits_opt > 0 ? static_cast<int>(std::min(splits_opt, std::max<int64_t>(max_pages, 1)))
                                           : cuda::mla_num_splits(b, sq * h, max_pages);
           Output oacc, lacc;  // split-KV workspace, freed stream-ordered after the launches
           if (prm.num_splits > 1 && b * sq * h > 0) {
             oacc = new_tensor(c.env, DType::f32, {b, sq * h, prm.num_splits, r}, dev);
             lacc = new_tensor(c.env, DType::f32, {b, sq * h, prm.num_splits}, dev);
             prm.o_accum = oacc.ref.data<float>();
             prm.lse_accum = lacc.ref.data<float>();
           }
           cuda::mla_paged_attention(prm, stream);
         }));
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
  const float eps = eps_opt(c, o, 1e-6);
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16});
  const Device dev = x.device();
  Output out = output(c, o, "out", od, {t, q_lora}, dev);
  mark_output(kv);  // the latent cache is written in place
  launch(c, dev,
         MlaDownEpilogueParams{x.data(), x.dtype, has_q ? qn.data<float>() : nullptr, kn.data<float>(), pos.data(), pos.dtype,
                               f.data<float>(), out.ref.data(), od, kv.data(), kv.dtype, sm.data<int32_t>(), t, q_lora, r, p,
                               kv.dim(0) * kMlaPageSize, eps},
         {x, qn, kn, pos, f, kv, sm, out.ref}, cpu::mla_down_epilogue, DSV3_CUDA(cuda::mla_down_epilogue));
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
  launch(c, dev,
         MlaAbsorbQParams{q.data(), q.dtype, w.data(), w.dtype, pos.data(), pos.dtype, f.data<float>(), ql.ref.data(), qp.ref.data(),
                          od, t, h, nope, p, r},
         {q, w, pos, f, ql.ref, qp.ref}, cpu::mla_absorb_q, DSV3_CUDA(cuda::mla_absorb_q));
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
  launch(c, dev, MlaOutputParams{x.data(), x.dtype, w.data(), w.dtype, out.ref.data(), od, t, h, r, v}, {x, w, out.ref},
         cpu::mla_output, DSV3_CUDA(cuda::mla_output));
  return out.js;
}

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
  expect_same_dtype(c, "qPe", qp, "qLatent", ql);
  expect_same_dtype(c, "kPe", kpe, "cKv", ckv);
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

  const double scale = required_finite(c, o, "softmaxScale");
  const bool causal = opt_bool(c, o, "causal", true);
  const int64_t start_pos = opt_int(c, o, "startPos", s - t);
  if (causal && (start_pos < 0 || start_pos + t > s))
    c.fail(ErrKind::Argument, "startPos", "must satisfy 0 <= startPos and startPos + t <= s (t = " + std::to_string(t) +
                                              ", s = " + std::to_string(s) + "), got " + std::to_string(start_pos));

  Output out = output(c, o, "out", DType::f32, {t, h, r}, ql.device());
  if (ql.device().type != DeviceType::cpu) no_cuda_kernel(c);
  launch(c, ql.device(),
         MlaDecodeAttentionParams{ql.data(), ql.dtype, qp.data(), ckv.data(), ckv.dtype, kpe.data(), out.ref.data<float>(), t, h, r, p, s,
                                  causal ? start_pos : 0, causal, static_cast<float>(scale)},
         {ql, qp, ckv, kpe, out.ref}, cpu::mla_decode_attention, nullptr);
  return out.js;
}

}  // namespace dsv3
