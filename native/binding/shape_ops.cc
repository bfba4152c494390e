// Bindings of the layout ops (transpose01). Validation here, copies in native/cpu/shape_ops.cc.
#include <algorithm>

#include "native/binding/common.h"

namespace dsv3 {

// transpose01(x, {out?}) -> x [a, b, ...] with its first two dims swapped: [b, a, ...], any dtype.
DSV3_OP(transpose01) {
  OpCtx c{info.Env(), "transpose01"};
  TensorRef x = tensor_arg(c, info[0], "x");
  Napi::Object o = options_arg(c, info, 1);
  if (x.ndim() < 2) c.fail(ErrKind::Shape, "x", "must have at least 2 dims, got shape " + shape_str(x.shape));
  std::vector<int64_t> shape = x.shape;
  std::swap(shape[0], shape[1]);
  Output out = output(c, o, "out", x.dtype, shape, x.device());
  TensorRef r = out.ref;
  if (r.storage == x.storage) c.fail(ErrKind::Argument, "out", "must not share memory with 'x'");
  if (x.device().type != DeviceType::cpu) no_cuda_kernel(c);
  const int64_t a = x.dim(0), b = x.dim(1), inner = x.numel() / std::max<int64_t>(1, a * b);
  const int64_t elem = static_cast<int64_t>(itemsize(x.dtype));
  if (a * b == 0) return out.js;
  run_cpu([x, r, a, b, inner, elem] { cpu::transpose01(Transpose01Params{x.data(), r.data(), a, b, inner, elem}); });
  return out.js;
}

}  // namespace dsv3
