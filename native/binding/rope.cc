// Binding of rope. Validation here, math in native/cpu/rope.cc.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/rope.h"
#endif

namespace dsv3 {

// rope(x [t, h, d], positions [t] i32|i64, invFreq [n] f32, {outDtype?, out?}) -> [t, h, d]:
// the last 2n elements of each head vector rotated in interleaved pairs, the first d - 2n copied.
DSV3_OP(rope) {
  OpCtx c{info.Env(), "rope"};
  TensorRef x = tensor_arg(c, info[0], "x");
  TensorRef pos = tensor_arg(c, info[1], "positions");
  TensorRef f = tensor_arg(c, info[2], "invFreq");
  Napi::Object o = options_arg(c, info, 3);
  expect_dtype(c, "x", x, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "positions", pos, {DType::i32, DType::i64});
  expect_dtype(c, "invFreq", f, {DType::f32});
  expect_same_device(c, {{"x", &x}, {"positions", &pos}, {"invFreq", &f}});
  expect_ndim(c, "x", x, 3);
  const int64_t t = x.dim(0), h = x.dim(1), d = x.dim(2);
  expect_shape(c, "positions", pos, {t});
  expect_ndim(c, "invFreq", f, 1);
  const int64_t half = f.dim(0);
  if (2 * half > d)
    c.fail(ErrKind::Shape, "invFreq", "must have at most " + std::to_string(d / 2) + " elements (2 per rotated pair in x's last dim " +
           std::to_string(d) + "), got " + std::to_string(half));
  DType od = opt_dtype(c, o, "outDtype", x.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, x.shape, x.device());
  const TensorRef& r = out.ref;
  launch(c, x.device(), RopeParams{x.data(), x.dtype, pos.data(), pos.dtype, f.data<float>(), r.data(), r.dtype, t, h, d, 2 * half},
         {x, pos, f, r}, cpu::rope, DSV3_CUDA(cuda::rope));
  return out.js;
}

}  // namespace dsv3
