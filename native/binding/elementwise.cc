// Bindings of the elementwise ops (add). Validation here, math in native/cpu/elementwise.cc.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/elementwise.h"
#endif

namespace dsv3 {

// add(a, b, {outDtype?, out?}) -> a + b, elementwise, same shapes; f32 math.
DSV3_OP(add) {
  OpCtx c{info.Env(), "add"};
  TensorRef a = tensor_arg(c, info[0], "a");
  TensorRef b = tensor_arg(c, info[1], "b");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "a", a, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "b", b, {DType::f32, DType::bf16, DType::f16});
  expect_same_device(c, {{"a", &a}, {"b", &b}});
  expect_shape(c, "b", b, a.shape);
  DType od = opt_dtype(c, o, "outDtype", a.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, a.shape, a.device());
  const TensorRef& r = out.ref;
  launch(c, a.device(), AddParams{a.data(), a.dtype, b.data(), b.dtype, r.data(), r.dtype, a.numel()}, {a, b, r},
         cpu::add, DSV3_CUDA(cuda::add));
  return out.js;
}

}  // namespace dsv3
