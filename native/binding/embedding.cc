// Binding of embedding. Validation here, lookup in native/cpu/embedding.cc (which also checks every
// id against the vocabulary when the task runs, since ids usually come from earlier queued work).
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/embedding.h"
#endif

namespace dsv3 {

// embedding(table [vocab, d], ids [t] i32|i64, {outDtype?, out?}) -> [t, d]; out dtype defaults to
// the table's.
DSV3_OP(embedding) {
  OpCtx c{info.Env(), "embedding"};
  TensorRef table = tensor_arg(c, info[0], "table");
  TensorRef ids = tensor_arg(c, info[1], "ids");
  Napi::Object o = options_arg(c, info, 2);
  expect_dtype(c, "table", table, {DType::f32, DType::bf16, DType::f16});
  expect_dtype(c, "ids", ids, {DType::i32, DType::i64});
  expect_same_device(c, {{"table", &table}, {"ids", &ids}});
  expect_ndim(c, "table", table, 2);
  expect_ndim(c, "ids", ids, 1);
  const int64_t vocab = table.dim(0), d = table.dim(1), t = ids.dim(0);
  DType od = opt_dtype(c, o, "outDtype", table.dtype, {DType::f32, DType::bf16, DType::f16});
  Output out = output(c, o, "out", od, {t, d}, table.device());
  const TensorRef& r = out.ref;
  // Ids are device data: the CPU task checks each against the vocabulary; the CUDA kernel writes a NaN row for a bad id.
  launch(c, table.device(), EmbeddingParams{table.data(), table.dtype, ids.data(), ids.dtype, r.data(), r.dtype, t, vocab, d},
         {table, ids, r}, cpu::embedding, DSV3_CUDA(cuda::embedding));
  return out.js;
}

}  // namespace dsv3
