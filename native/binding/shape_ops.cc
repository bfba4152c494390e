// Bindings of the layout ops (transpose01, narrow). Validation here, copies in native/cpu/shape_ops.cc.
#include <algorithm>

#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/shape_ops.h"
#endif

namespace dsv3 {

// transpose01(x, {out?}) -> x [a, b, ...] with its first two dims swapped: [b, a, ...], any dtype.
DSV3_OP(transpose01) {
  OpCtx c{info.Env(), "transpose01"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  expect_min_ndim(c, "x", x, 2);
  std::vector<int64_t> shape = x.shape;
  std::swap(shape[0], shape[1]);
  Output out = output(c, o, "out", x.dtype, shape, x.device());
  TensorRef r = out.ref;
  if (r.storage == x.storage) c.fail(ErrKind::Argument, "out", "must not share memory with 'x'");
  const int64_t a = x.dim(0), b = x.dim(1), inner = x.numel() / std::max<int64_t>(1, a * b);
  const int64_t elem = static_cast<int64_t>(itemsize(x.dtype));
  if (a * b == 0) return out.js;
  launch(c, x.device(), Transpose01Params{x.data(), r.data(), a, b, inner, elem}, {x, r}, cpu::transpose01,
         DSV3_CUDA(cuda::transpose01));
  return out.js;
}

// narrow(x, start, length, {out?}) -> x [..., n] restricted to [..., start:start+length] along the last dim.
DSV3_OP(narrow) {
  OpCtx c{info.Env(), "narrow"};
  TensorRef x = tensor_arg(c, info[0], "x");
  if (x.ndim() < 1) c.fail(ErrKind::Shape, "x", "must have at least 1 dim, got shape " + shape_str(x.shape));
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) c.fail(ErrKind::Argument, "start", "and 'length' must be numbers");
  const double sd = info[1].As<Napi::Number>().DoubleValue(), ld = info[2].As<Napi::Number>().DoubleValue();
  const int64_t n = x.dim(-1);
  if (!(sd >= 0 && ld >= 0 && sd == static_cast<double>(static_cast<int64_t>(sd)) && ld == static_cast<double>(static_cast<int64_t>(ld)) && sd + ld <= static_cast<double>(n)))
    c.fail(ErrKind::Argument, "start", "and 'length' must be integers with 0 <= start, 0 <= length, start + length <= " + std::to_string(n) +
           ", got start " + Napi::Number::New(info.Env(), sd).ToString().Utf8Value() + ", length " + Napi::Number::New(info.Env(), ld).ToString().Utf8Value());
  const int64_t start = static_cast<int64_t>(sd), len = static_cast<int64_t>(ld);
  Napi::Object o = options_arg(c, info, 3);
  std::vector<int64_t> shape = x.shape;
  shape.back() = len;
  Output out = output(c, o, "out", x.dtype, shape, x.device());
  TensorRef r = out.ref;
  if (r.storage == x.storage) c.fail(ErrKind::Argument, "out", "must not share memory with 'x'");
  const int64_t rows = n == 0 ? 0 : x.numel() / n, elem = static_cast<int64_t>(itemsize(x.dtype));
  if (rows * len == 0) return out.js;
  launch(c, x.device(), NarrowParams{x.data(), r.data(), rows, n, start, len, elem}, {x, r}, cpu::narrow, DSV3_CUDA(cuda::narrow));
  return out.js;
}

}  // namespace dsv3
