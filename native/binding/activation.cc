// Binding of siluMul. Validation here, math in native/cpu/activation.cc.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/elementwise.h"
#endif

namespace dsv3 {

// siluMul(gate [t, n], up [t, n], {outDtype?, out?}) -> silu(gate) * up, f32 math; any shape, the
// two equal; out dtype defaults to gate's.
DSV3_OP(siluMul) {
  OpCtx c{info.Env(), "siluMul"};
  TensorRef g = tensor_arg(c, info[0], "gate");
  TensorRef u = tensor_arg(c, info[1], "up");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "gate", g, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "up", u, {DType::f32, DType::bf16, DType::f16});
  expect_same_device(c, {{"gate", &g}, {"up", &u}});
  expect_shape(c, "up", u, g.shape);
  DType od = opt_dtype(c, o, "outDtype", g.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, g.shape, g.device());
  const TensorRef& r = out.ref;
  launch(c, g.device(), SiluMulParams{g.data(), g.dtype, u.data(), u.dtype, r.data(), r.dtype, 1, g.numel()}, {g, u, r},
         cpu::silu_mul, DSV3_CUDA(cuda::silu_mul));
  return out.js;
}

}  // namespace dsv3
