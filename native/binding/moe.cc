// Bindings of the MoE router (moeRoute) and the dispatch around the grouped GEMMs (moePermute,
// moeGather, siluMulQuant, moeCombine). Validation here; math in native/cpu/moe_route.cc,
// native/cpu/moe_dispatch.cc and cuda/moe.cu. Index tensors are device data: the CPU tasks check
// their ranges (errors surface at the next read); the CUDA kernels skip out-of-range entries.
#include <cmath>
#include <string>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/moe.h"
#endif

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
  const ScoringFunc sf = sigmoid ? ScoringFunc::sigmoid : ScoringFunc::softmax;
  const float fscale = static_cast<float>(scale);
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("weights", w.js);
  res.Set("indices", idx.js);
  launch(c, logits.device(),
         MoeRouteParams{logits.data<float>(), has_bias ? bias.data<float>() : nullptr, w.ref.data<float>(), idx.ref.data<int32_t>(),
                        t, e, top_k, n_group, topk_group, sf, norm, fscale},
         {logits, bias, w.ref, idx.ref}, cpu::moe_route, DSV3_CUDA([&](const MoeRouteParams& p, void* s) {
           std::string why;
           require_supported(c, cuda::moe_route_supports(p, &why), why);
           cuda::moe_route(p, s);
         }));
  return res;
}

namespace {

std::vector<int64_t> with_last(std::vector<int64_t> lead, int64_t last) { lead.push_back(last); return lead; }
std::vector<int64_t> leading(const TensorRef& t) { return std::vector<int64_t>(t.shape.begin(), t.shape.end() - 1); }
constexpr int64_t kI32Max = 2147483647;

}  // namespace

// moePermute(indices [t, k] i32, {numExperts, layout?: 'contiguous' | 'masked', align? (contiguous, default 1),
//            mMax? (masked, default max(t, 1)), out?: {counts?, offsets?, rowSlot?, slotRow?, dropped?}})
//   -> {counts [e], offsets [e+1] (contiguous), rowSlot [rows] (contiguous) | [e, mMax] (masked), slotRow [t, k],
//       dropped [1] (masked)}
DSV3_OP(moePermute) {
  OpCtx c{info.Env(), "moePermute"};
  TensorRef idx = tensor_arg(c, info[0], "indices");
  Napi::Object o = options_arg(c, info, 1);
  expect_dtype(c, "indices", idx, {DType::i32});
  expect_ndim(c, "indices", idx, 2);
  const int64_t t = idx.dim(0), k = idx.dim(1), n = t * k;
  if (!opt_has(o, "numExperts")) c.fail(ErrKind::Argument, "numExperts", "is required");
  const int64_t e = opt_int(c, o, "numExperts", 0);
  if (e < 1 || e > 65536) c.fail(ErrKind::Argument, "numExperts", "must be in [1, 65536], got " + std::to_string(e));
  const std::string layout = opt_string(c, o, "layout", "contiguous");
  if (layout != "contiguous" && layout != "masked")
    c.fail(ErrKind::Argument, "layout", "must be 'contiguous' or 'masked', got '" + layout + "'");
  const bool masked = layout == "masked";
  const int64_t align = opt_int(c, o, "align", 1);
  if (align < 1 || align > 4096) c.fail(ErrKind::Argument, "align", "must be in [1, 4096], got " + std::to_string(align));
  if (masked && align != 1) c.fail(ErrKind::Argument, "align", "applies to the contiguous layout only, got " + std::to_string(align));
  const int64_t m_max = opt_int(c, o, "mMax", std::max<int64_t>(t, 1));
  if (!masked && opt_has(o, "mMax")) c.fail(ErrKind::Argument, "mMax", "applies to the masked layout only");
  if (m_max < 1) c.fail(ErrKind::Argument, "mMax", "must be >= 1, got " + std::to_string(m_max));
  const int64_t rows = masked ? e * m_max : n + std::min(e, n) * (align - 1);
  if (rows > kI32Max || n > kI32Max)
    c.fail(ErrKind::Argument, "indices", "the grouped rows (" + std::to_string(rows) + ") must fit in int32");

  const Device dev = idx.device();
  Napi::Object outs = outputs_arg(c, o, masked ? "counts?, rowSlot?, slotRow?, dropped?" : "counts?, offsets?, rowSlot?, slotRow?");
  Output counts = output(c, outs, "counts", DType::i32, {e}, dev);
  Output row_slot = output(c, outs, "rowSlot", DType::i32, masked ? std::vector<int64_t>{e, m_max} : std::vector<int64_t>{rows}, dev);
  Output slot_row = output(c, outs, "slotRow", DType::i32, {t, k}, dev);
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("counts", counts.js);
  Output extra = masked ? output(c, outs, "dropped", DType::i32, {1}, dev) : output(c, outs, "offsets", DType::i32, {e + 1}, dev);
  res.Set(masked ? "dropped" : "offsets", extra.js);
  res.Set("rowSlot", row_slot.js);
  res.Set("slotRow", slot_row.js);

  int32_t* xr = extra.ref.data<int32_t>();
  launch(c, dev,
         MoePermuteParams{idx.data<int32_t>(), counts.ref.data<int32_t>(), masked ? nullptr : xr, row_slot.ref.data<int32_t>(),
                          slot_row.ref.data<int32_t>(), masked ? xr : nullptr, t, k, e, align, m_max, rows,
                          masked ? MoeLayout::masked : MoeLayout::contiguous},
         {idx, counts.ref, row_slot.ref, slot_row.ref, extra.ref}, cpu::moe_permute, DSV3_CUDA([&](const MoePermuteParams& p, void* s) {
           std::string why;
           require_supported(c, cuda::moe_permute_supports(p, &why), why);
           cuda::moe_permute(p, s);
         }));
  return res;
}

// moeGather(x [t, d] any dtype | {data [t, d] f8_e4m3, scale [t, kb] f32}, rowSlot [...] i32, {k, out?})
//   -> [...rowSlot.shape, d] (or {data, scale} with the same leading shape): row r = x[rowSlot[r] / k], zero for -1
DSV3_OP(moeGather) {
  OpCtx c{info.Env(), "moeGather"};
  const bool fp8 = !is_tensor_like(info[0]) && info[0].IsObject();
  TensorRef x, xs;
  if (fp8) {
    Napi::Object a = info[0].As<Napi::Object>();
    x = tensor_arg(c, a.Get("data"), "x.data");
    xs = tensor_arg(c, a.Get("scale"), "x.scale");
    expect_dtype(c, "x.data", x, {DType::f8_e4m3});
    expect_dtype(c, "x.scale", xs, {DType::f32});
  } else {
    x = tensor_arg(c, info[0], "x");
  }
  const char* xn = fp8 ? "x.data" : "x";
  TensorRef rs = tensor_arg(c, info[1], "rowSlot");
  Napi::Object o = options_arg(c, info, 2);
  expect_ndim(c, xn, x, 2);
  expect_dtype(c, "rowSlot", rs, {DType::i32});
  const int64_t t = x.dim(0), d = x.dim(1), kb = ceil_div(d, kQuantBlock);
  if (fp8) expect_shape(c, "x.scale", xs, {t, kb});
  if (!opt_has(o, "k")) c.fail(ErrKind::Argument, "k", "is required");
  const int64_t k = opt_int(c, o, "k", 0);
  if (k < 1) c.fail(ErrKind::Argument, "k", "must be >= 1, got " + std::to_string(k));
  if (fp8) expect_same_device(c, {{xn, &x}, {"x.scale", &xs}, {"rowSlot", &rs}});
  else expect_same_device(c, {{xn, &x}, {"rowSlot", &rs}});
  const int64_t rows = rs.numel();
  const Device dev = x.device();

  Output out, outs_scale;
  Napi::Value ret;
  if (fp8) {
    Napi::Object outs = outputs_arg(c, o, "data?, scale?");
    out = output(c, outs, "data", DType::f8_e4m3, with_last(rs.shape, d), dev);
    outs_scale = output(c, outs, "scale", DType::f32, with_last(rs.shape, kb), dev);
    Napi::Object r = Napi::Object::New(c.env);
    r.Set("data", out.js);
    r.Set("scale", outs_scale.js);
    ret = r;
  } else {
    out = output(c, o, "out", x.dtype, with_last(rs.shape, d), dev);
    ret = out.js;
  }
  // The rows, then (FP8) their scales: one gather each.
  const int64_t row_bytes = d * static_cast<int64_t>(itemsize(x.dtype));
  launch(c, dev, MoeGatherParams{x.data(), rs.data<int32_t>(), out.ref.data(), t, k, rows, row_bytes}, {x, rs, out.ref},
         cpu::moe_gather, DSV3_CUDA(cuda::moe_gather));
  if (fp8)
    launch(c, dev, MoeGatherParams{xs.data(), rs.data<int32_t>(), outs_scale.ref.data(), t, k, rows, kb * 4}, {xs, rs, outs_scale.ref},
           cpu::moe_gather, DSV3_CUDA(cuda::moe_gather));
  return ret;
}

// siluMulQuant(gateUp [..., 2n] | gate [..., n], up? [..., n] (same dtype: f32, bf16, f16), {ue8m0?, out?: {data?, scale?}})
//   -> {data [..., n] f8_e4m3, scale [..., ceil(n/128)] f32} = quantizeFp8(siluMul(gate, up)) (h rounded to the input dtype)
DSV3_OP(siluMulQuant) {
  OpCtx c{info.Env(), "siluMulQuant"};
  const bool fused = info.Length() < 2 || info[1].IsUndefined() || info[1].IsNull();
  TensorRef g = tensor_arg(c, info[0], fused ? "gateUp" : "gate");
  TensorRef u;
  const char* gn = fused ? "gateUp" : "gate";
  expect_dtype(c, gn, g, {DType::f32, DType::bf16, DType::f16});
  expect_min_ndim(c, gn, g, 2);
  int64_t n;
  if (fused) {
    if (g.dim(-1) % 2 != 0) c.fail(ErrKind::Shape, "gateUp", "must have an even last dim (gate then up), got shape " + shape_str(g.shape));
    n = g.dim(-1) / 2;
  } else {
    u = tensor_arg(c, info[1], "up");
    n = g.dim(-1);
    if (u.dtype != g.dtype) c.fail(ErrKind::DType, "up", std::string("must have gate's dtype ") + dtype_name(g.dtype) + ", got " + dtype_name(u.dtype));
    if (u.shape != g.shape) c.fail(ErrKind::Shape, "up", "must have gate's shape " + shape_str(g.shape) + ", got " + shape_str(u.shape));
    expect_same_device(c, {{"gate", &g}, {"up", &u}});
  }
  Napi::Object o = options_arg(c, info, 2);
  const bool ue8m0 = opt_bool(c, o, "ue8m0", false);
  const int64_t rows = leading_rows(g);
  const int64_t kb = ceil_div(n, kQuantBlock);
  const Device dev = g.device();
  Napi::Object outs = outputs_arg(c, o, "data?, scale?");
  Output y = output(c, outs, "data", DType::f8_e4m3, with_last(leading(g), n), dev);
  Output sc = output(c, outs, "scale", DType::f32, with_last(leading(g), kb), dev);
  Napi::Object res = Napi::Object::New(c.env);
  res.Set("data", y.js);
  res.Set("scale", sc.js);
  const char* base = g.data<char>();
  const void* up = fused ? static_cast<const void*>(base + n * itemsize(g.dtype)) : u.data();
  launch(c, dev, SiluMulQuantParams{base, up, g.dtype, fused ? 2 * n : n, y.ref.data<uint8_t>(), sc.ref.data<float>(), rows, n, ue8m0},
         {g, u, y.ref, sc.ref}, cpu::silu_mul_quant, DSV3_CUDA(cuda::silu_mul_quant));
  return res;
}

// moeCombine(y [..., d] (rows flattened; f32, bf16, f16), slotRow [t, k] | [t*k] i32, weights [t, k] f32,
//            {shared? [t, d], residual? [t, d], outDtype? (default residual's, else y's), out?}) -> [t, d]
DSV3_OP(moeCombine) {
  OpCtx c{info.Env(), "moeCombine"};
  TensorRef y = tensor_arg(c, info[0], "y");
  TensorRef sr = tensor_arg(c, info[1], "slotRow");
  TensorRef w = tensor_arg(c, info[2], "weights");
  Napi::Object o = options_arg(c, info, 3);
  const std::initializer_list<DType> floats = {DType::f32, DType::bf16, DType::f16};
  expect_dtype(c, "y", y, floats);
  expect_min_ndim(c, "y", y, 2);
  expect_dtype(c, "slotRow", sr, {DType::i32});
  expect_dtype(c, "weights", w, {DType::f32});
  expect_ndim(c, "weights", w, 2);
  const int64_t t = w.dim(0), k = w.dim(1), d = y.dim(-1);
  const int64_t rows = leading_rows(y);
  if (sr.numel() != t * k)
    c.fail(ErrKind::Shape, "slotRow", "must hold t * k = " + std::to_string(t * k) + " entries (weights is " +
                                          shape_str(w.shape) + "), got shape " + shape_str(sr.shape));
  std::vector<std::pair<const char*, const TensorRef*>> devs = {{"y", &y}, {"slotRow", &sr}, {"weights", &w}};
  TensorRef sh, rs;
  const bool has_sh = opt_has(o, "shared"), has_rs = opt_has(o, "residual");
  if (has_sh) {
    sh = opt_tensor(c, o, "shared");
    expect_dtype(c, "shared", sh, floats);
    expect_shape(c, "shared", sh, {t, d});
    devs.push_back({"shared", &sh});
  }
  if (has_rs) {
    rs = opt_tensor(c, o, "residual");
    expect_dtype(c, "residual", rs, floats);
    expect_shape(c, "residual", rs, {t, d});
    devs.push_back({"residual", &rs});
  }
  expect_same_device(c, devs);
  const DType od = opt_dtype(c, o, "outDtype", has_rs ? rs.dtype : y.dtype, floats);
  const Device dev = y.device();
  Output out = output(c, o, "out", od, {t, d}, dev);
  launch(c, dev,
         MoeCombineParams{y.data(), y.dtype, sr.data<int32_t>(), w.data<float>(), has_sh ? sh.data() : nullptr,
                          has_sh ? sh.dtype : DType::f32, has_rs ? rs.data() : nullptr, has_rs ? rs.dtype : DType::f32,
                          out.ref.data(), out.ref.dtype, t, k, d, rows},
         {y, sr, w, sh, rs, out.ref}, cpu::moe_combine, DSV3_CUDA(cuda::moe_combine));
  return out.js;
}

}  // namespace dsv3
