// Bindings of the GEMMs (fp8Gemm, gemm, groupedGemmContiguous, groupedGemmMasked) and cpuGemmIsa.
// On CUDA tensors the FP8 GEMMs read options.kernel, the internal channel of the DSV3_GEMM_KERNEL switch (lib/ops
// passes it; not a public option): 'auto' (wgmma on sm_90a when the operands allow it, else the simple kernel),
// 'simple' or 'wgmma' (an UnsupportedError naming the reason when it cannot run).
// Validation here (every cross-argument size, scale shapes exactly ceil(./128)), math in
// native/cpu/gemm.cc. FP8 operands are JS objects {data: f8_e4m3, scale: f32}; their parts are named
// 'a.data', 'a.scale' in messages. offsets / counts are device data, checked by the CPU task.
#include <string>

#include "native/binding/common.h"
#include "native/cpu/gemm_kernel.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/gemm.h"
#endif

namespace dsv3 {
namespace {

// A GEMM operand: a plain tensor, or FP8 data with its block scales.
struct Operand {
  TensorRef data, scale;
  bool fp8 = false;
};

std::string kind_of(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (is_tensor_like(v)) return "a Tensor";
  return "object";
}

Operand fp8_operand(const OpCtx& c, Napi::Value v, const std::string& name) {
  if (!v.IsObject() || is_tensor_like(v))
    c.fail(ErrKind::Argument, name, "must be an FP8 operand {data, scale}, got " + kind_of(v));
  Napi::Object o = v.As<Napi::Object>();
  Operand r;
  r.fp8 = true;
  r.data = tensor_arg(c, o.Get("data"), (name + ".data").c_str());
  r.scale = tensor_arg(c, o.Get("scale"), (name + ".scale").c_str());
  expect_dtype(c, (name + ".data").c_str(), r.data, {DType::f8_e4m3});
  expect_dtype(c, (name + ".scale").c_str(), r.scale, {DType::f32});
  return r;
}

// A Tensor (f32 / bf16) or an FP8 operand.
Operand any_operand(const OpCtx& c, Napi::Value v, const std::string& name) {
  if (is_tensor_like(v)) {
    Operand r;
    r.data = tensor_arg(c, v, name.c_str());
    expect_dtype(c, name.c_str(), r.data, {DType::f32, DType::bf16});
    return r;
  }
  if (!v.IsObject())
    c.fail(ErrKind::Argument, name, "must be a Tensor or an FP8 operand {data, scale}, got " + kind_of(v));
  return fp8_operand(c, v, name);
}

const char* data_name(const Operand& o, const char* plain, const char* fp8) { return o.fp8 ? fp8 : plain; }

// The kernels' ISA for this call: options.cpuIsa (the TS wrapper passes DSV3_CPU_ISA there, read at
// call time from process.env), else the DSV3_CPU_ISA environment variable, else the best supported.
cpu::GemmIsa isa_now(const OpCtx& c, const Napi::Object& o) {
  cpu::GemmIsa isa;
  if (opt_has(o, "cpuIsa")) {
    const std::string v = opt_string(c, o, "cpuIsa", "");
    if (!cpu::gemm_isa_parse(v, &isa)) c.fail(ErrKind::Argument, "cpuIsa", "(default DSV3_CPU_ISA) must be avx512bf16, avx512, avx2 or generic, got '" + v + "'");
    return isa;
  }
  std::string err;
  if (!cpu::gemm_isa_from_env(&isa, &err)) c.fail(ErrKind::Argument, "", err);
  return isa;
}
// The ISA of a call on `dev`: read (and checked) only for the CPU.
cpu::GemmIsa isa_for(const OpCtx& c, const Napi::Object& o, Device dev) {
  return dev.type == DeviceType::cpu ? isa_now(c, o) : cpu::GemmIsa{};
}

#ifdef DSV3_WITH_CUDA
cuda::GemmKernel kernel_opt(const OpCtx& c, const Napi::Object& o, Device dev, const void* a, const void* b, int64_t k) {
  const std::string v = opt_string(c, o, "kernel", "auto");
  cuda::GemmKernel kern;
  if (v == "auto") kern = cuda::GemmKernel::automatic;
  else if (v == "simple") kern = cuda::GemmKernel::simple;
  else if (v == "wgmma") kern = cuda::GemmKernel::wgmma;
  else c.fail(ErrKind::Argument, "kernel", "must be 'auto', 'simple' or 'wgmma', got '" + v + "'");
  std::string why;
  if (kern == cuda::GemmKernel::wgmma && !cuda::wgmma_usable(dev.index, a, b, k, &why))
    c.fail(ErrKind::Unsupported, "kernel", "'wgmma' cannot run this call: " + why);
  return kern;
}
// options.expectedM: the CUDA tile hint (rows per group), >= 0.
int64_t expected_m_opt(const OpCtx& c, const Napi::Object& o) {
  const int64_t expected_m = opt_int(c, o, "expectedM", 0);
  if (expected_m < 0) c.fail(ErrKind::Argument, "expectedM", "must be >= 0, got " + std::to_string(expected_m));
  return expected_m;
}
#endif

Napi::Value grouped(const Napi::CallbackInfo& info, bool masked) {
  OpCtx c{info.Env(), masked ? "groupedGemmMasked" : "groupedGemmContiguous"};
  Operand a = any_operand(c, info[0], "a");
  Operand b = any_operand(c, info[1], "b");
  TensorRef idx = tensor_arg(c, info[2], masked ? "counts" : "offsets");
  Napi::Object o = options_arg(c, info, 3);
  if (a.fp8 != b.fp8)
    c.fail(ErrKind::DType, "b", a.fp8 ? "must be an FP8 operand {data, scale} like 'a', got a " + std::string(dtype_name(b.data.dtype)) + " tensor"
                                      : "must be an f32 or bf16 tensor like 'a', got an FP8 operand");
  const char* an = data_name(a, "a", "a.data");
  const char* bn = data_name(b, "b", "b.data");
  expect_dtype(c, masked ? "counts" : "offsets", idx, {DType::i32});
  expect_ndim(c, an, a.data, masked ? 3 : 2);
  expect_ndim(c, bn, b.data, 3);
  const int64_t g = b.data.dim(0), n = b.data.dim(1), k = a.data.dim(-1);
  const int64_t m = masked ? a.data.dim(1) : a.data.dim(0);  // m_max or sum_m
  if (masked) expect_shape(c, an, a.data, {g, -1, -1});
  expect_shape(c, bn, b.data, {g, n, k});
  expect_shape(c, masked ? "counts" : "offsets", idx, {masked ? g : g + 1});
  const int64_t kb = ceil_div(k, kQuantBlock), nb = ceil_div(n, kQuantBlock);
  std::vector<std::pair<const char*, const TensorRef*>> devs = {{an, &a.data}, {bn, &b.data}, {masked ? "counts" : "offsets", &idx}};
  if (a.fp8) {
    if (masked) expect_shape(c, "a.scale", a.scale, {g, m, kb});
    else expect_shape(c, "a.scale", a.scale, {m, kb});
    expect_shape(c, "b.scale", b.scale, {g, nb, kb});
    devs.push_back({"a.scale", &a.scale});
    devs.push_back({"b.scale", &b.scale});
  }
  expect_same_device(c, devs);
  const DType od = opt_dtype(c, o, "outDtype", a.fp8 ? DType::bf16 : a.data.dtype, {DType::bf16, DType::f32});
  Output out = output(c, o, "out", od, masked ? std::vector<int64_t>{g, m, n} : std::vector<int64_t>{m, n}, a.data.device());
  const Device dev = a.data.device();
  const cpu::GemmIsa isa = isa_for(c, o, dev);
  launch(c, dev,
         GroupedGemmParams{a.data.data(), a.data.dtype, a.fp8 ? a.scale.data<float>() : nullptr, b.data.data(), b.data.dtype,
                           b.fp8 ? b.scale.data<float>() : nullptr, out.ref.data(), out.ref.dtype,
                           masked ? nullptr : idx.data<int32_t>(), masked ? idx.data<int32_t>() : nullptr, g, m, n, k, masked},
         {a.data, a.scale, b.data, b.scale, idx, out.ref}, [isa](const GroupedGemmParams& p) { cpu::grouped_gemm(p, isa); },
         DSV3_CUDA([&](const GroupedGemmParams& p, void* stream) {
           const int64_t expected_m = expected_m_opt(c, o);
           const cuda::GemmKernel kern = a.fp8 ? kernel_opt(c, o, dev, p.a, p.b, k) : cuda::GemmKernel::simple;
           cuda::grouped_gemm(p, kern, expected_m, dev.index, stream);
         }));
  return out.js;
}

}  // namespace

// fp8Gemm(a: {data [m,k] f8_e4m3, scale [m, ceil(k/128)] f32}, b: {data [n,k], scale [ceil(n/128), ceil(k/128)]},
//         {outDtype?: bf16 | f32, out?, kernel?: 'auto' | 'simple' | 'wgmma' (CUDA, internal)}) -> [m, n]
DSV3_OP(fp8Gemm) {
  OpCtx c{info.Env(), "fp8Gemm"};
  Operand a = fp8_operand(c, info[0], "a");
  Operand b = fp8_operand(c, info[1], "b");
  Napi::Object o = options_arg(c, info, 2);
  expect_ndim(c, "a.data", a.data, 2);
  expect_ndim(c, "b.data", b.data, 2);
  const int64_t m = a.data.dim(0), k = a.data.dim(1), n = b.data.dim(0);
  expect_shape(c, "b.data", b.data, {n, k});
  expect_shape(c, "a.scale", a.scale, {m, ceil_div(k, kQuantBlock)});
  expect_shape(c, "b.scale", b.scale, {ceil_div(n, kQuantBlock), ceil_div(k, kQuantBlock)});
  expect_same_device(c, {{"a.data", &a.data}, {"a.scale", &a.scale}, {"b.data", &b.data}, {"b.scale", &b.scale}});
  const DType od = opt_dtype(c, o, "outDtype", DType::bf16, {DType::bf16, DType::f32});
  Output out = output(c, o, "out", od, {m, n}, a.data.device());
  const Device dev = a.data.device();
  const cpu::GemmIsa isa = isa_for(c, o, dev);
  launch(c, dev,
         Fp8GemmParams{a.data.data<uint8_t>(), a.scale.data<float>(), b.data.data<uint8_t>(), b.scale.data<float>(), out.ref.data(),
                       out.ref.dtype, m, n, k},
         {a.data, a.scale, b.data, b.scale, out.ref}, [isa](const Fp8GemmParams& p) { cpu::fp8_gemm(p, isa); },
         DSV3_CUDA([&](const Fp8GemmParams& p, void* stream) {
           cuda::fp8_gemm(p, kernel_opt(c, o, dev, p.a, p.b, k), dev.index, stream);
         }));
  return out.js;
}

// gemm(a [m,k] f32|bf16, b [n,k] f32|bf16, {outDtype?: f32 | bf16 (default a's), out?, kernel?: 'auto' | 'simple' (CUDA, internal)})
//   -> a @ b^T [m, n]
DSV3_OP(gemm) {
  OpCtx c{info.Env(), "gemm"};
  TensorRef a = tensor_arg(c, info[0], "a");
  TensorRef b = tensor_arg(c, info[1], "b");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "a", a, {DType::f32, DType::bf16});
  expect_dtype(c, "b", b, {DType::f32, DType::bf16});
  expect_ndim(c, "a", a, 2);
  expect_ndim(c, "b", b, 2);
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(0);
  expect_shape(c, "b", b, {n, k});
  expect_same_device(c, {{"a", &a}, {"b", &b}});
  const DType od = opt_dtype(c, o, "outDtype", a.dtype, {DType::f32, DType::bf16});
  Output out = output(c, o, "out", od, {m, n}, a.device());
  const cpu::GemmIsa isa = isa_for(c, o, a.device());
  launch(c, a.device(), GemmParams{a.data(), a.dtype, b.data(), b.dtype, out.ref.data(), out.ref.dtype, m, n, k}, {a, b, out.ref},
         [isa](const GemmParams& p) { cpu::gemm(p, isa); }, DSV3_CUDA([&](const GemmParams& p, void* stream) {
           const std::string kern = opt_string(c, o, "kernel", "auto");
           if (kern != "auto" && kern != "simple")
             c.fail(ErrKind::Argument, "kernel", "must be 'auto' or 'simple' for f32 / bf16 operands, got '" + kern + "'");
           if (kern == "simple") cuda::gemm_simple(p, stream);
           else cuda::gemm(p, stream);
         }));
  return out.js;
}

// groupedGemmContiguous(a [sum_m,k] | {data, scale [sum_m,kb]}, b [g,n,k] | {data, scale [g,nb,kb]},
//                       offsets [g+1] i32, {outDtype?, out?}) -> [sum_m, n]; rows offsets[e]..offsets[e+1] use expert e
DSV3_OP(groupedGemmContiguous) { return grouped(info, false); }

// groupedGemmMasked(a [g,m_max,k] | {data, scale [g,m_max,kb]}, b [g,n,k] | {data, scale [g,nb,kb]},
//                   counts [g] i32, {outDtype?, out?, kernel?, expectedM? (CUDA tile hint: rows per group)})
//                   -> [g, m_max, n]; rows >= counts[e] are not written
DSV3_OP(groupedGemmMasked) { return grouped(info, true); }

// groupedGemmSiluMul(a {data [sum_m,k] | [g,m_max,k], scale}, w13 {data [g,2n,k] = [w1; w3], scale [g,2n/128,kb]},
//                    grouping i32 (offsets [g+1] | counts [g]), {masked?, ue8m0?, kernel?, expectedM?, out?: {data, scale}})
//   -> {data: f8_e4m3 [rows..., n], scale: f32 [rows..., n/128]} = quantizeFp8(silu(a w1^T) * (a w3^T)) per group row
DSV3_OP(groupedGemmSiluMul) {
  OpCtx c{info.Env(), "groupedGemmSiluMul"};
  Operand a = fp8_operand(c, info[0], "a");
  Operand b = fp8_operand(c, info[1], "w13");
  TensorRef idx = tensor_arg(c, info[2], "grouping");
  Napi::Object o = options_arg(c, info, 3);
  const bool masked = opt_bool(c, o, "masked", false);
  const bool ue8m0 = opt_bool(c, o, "ue8m0", false);
  expect_dtype(c, "grouping", idx, {DType::i32});
  expect_ndim(c, "a.data", a.data, masked ? 3 : 2);
  expect_ndim(c, "w13.data", b.data, 3);
  const int64_t g = b.data.dim(0), n2 = b.data.dim(1), k = a.data.dim(-1), n = n2 / 2;
  const int64_t m = masked ? a.data.dim(1) : a.data.dim(0);
  if (n2 % 2 != 0 || n % kQuantBlock != 0)
    c.fail(ErrKind::Shape, "w13.data", "must stack [w1; w3] per group as [g, 2n, k] with n a multiple of 128, got " + shape_str(b.data.shape));
  if (masked) expect_shape(c, "a.data", a.data, {g, -1, -1});
  expect_shape(c, "w13.data", b.data, {g, n2, k});
  expect_shape(c, "grouping", idx, {masked ? g : g + 1});
  const int64_t kb = ceil_div(k, kQuantBlock);
  if (masked) expect_shape(c, "a.scale", a.scale, {g, m, kb});
  else expect_shape(c, "a.scale", a.scale, {m, kb});
  expect_shape(c, "w13.scale", b.scale, {g, n2 / kQuantBlock, kb});
  expect_same_device(c, {{"a.data", &a.data}, {"a.scale", &a.scale}, {"w13.data", &b.data}, {"w13.scale", &b.scale}, {"grouping", &idx}});
  const Device dev = a.data.device();
  Napi::Object outs = outputs_arg(c, o, "data?, scale?");
  const std::vector<int64_t> dshape = masked ? std::vector<int64_t>{g, m, n} : std::vector<int64_t>{m, n};
  const std::vector<int64_t> sshape = masked ? std::vector<int64_t>{g, m, n / kQuantBlock} : std::vector<int64_t>{m, n / kQuantBlock};
  Output y = output(c, outs, "data", DType::f8_e4m3, dshape, dev);
  Output ys = output(c, outs, "scale", DType::f32, sshape, dev);
  const cpu::GemmIsa isa = isa_for(c, o, dev);
  launch(c, dev,
         GroupedGemmSiluMulParams{a.data.data<uint8_t>(), a.scale.data<float>(), b.data.data<uint8_t>(), b.scale.data<float>(),
                                  y.ref.data<uint8_t>(), ys.ref.data<float>(), masked ? nullptr : idx.data<int32_t>(),
                                  masked ? idx.data<int32_t>() : nullptr, g, m, n, k, masked, ue8m0},
         {a.data, a.scale, b.data, b.scale, idx, y.ref, ys.ref},
         [isa](const GroupedGemmSiluMulParams& p) { cpu::grouped_gemm_silu_mul(p, isa); },
         DSV3_CUDA([&](const GroupedGemmSiluMulParams& p, void* stream) {
           const int64_t expected_m = expected_m_opt(c, o);
           cuda::grouped_gemm_silu_mul(p, kernel_opt(c, o, dev, p.a, p.b, k), expected_m, dev.index, stream);
         }));
  Napi::Object r = Napi::Object::New(c.env);
  r.Set("data", y.js);
  r.Set("scale", ys.js);
  return r;
}

// cpuGemmIsa({cpuIsa?}) -> {supported, selected}: the CPU GEMM kernels' instruction set, and the one a
// call with these options uses.
DSV3_OP(cpuGemmIsa) {
  OpCtx c{info.Env(), "cpuGemmIsa"};
  Napi::Object o = options_arg(c, info, 0);
  Napi::Object r = Napi::Object::New(info.Env());
  r.Set("supported", cpu::gemm_isa_name(cpu::gemm_isa_supported()));
  r.Set("selected", cpu::gemm_isa_name(isa_now(c, o)));
  return r;
}

}  // namespace dsv3
