// Bindings for CUDA graphs (cuda/runtime.h): capture the work queued on a device's stream, replay it.
// lib/cuda_graph.ts wraps them; the model's decode step (lib/model/decode_graph.ts) is the user.
#include "native/binding/common.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dsv3 {
namespace {

void* graph_arg(const OpCtx& c, Napi::Value v) {
  if (!v.IsExternal()) c.fail(ErrKind::Argument, "graph", "must be a graph from cudaGraphEnd");
  void* g = v.As<Napi::External<void>>().Data();
  if (!g) c.fail(ErrKind::Disposed, "graph", "has been disposed");
  return g;
}

}  // namespace

// cudaGraphBegin(device): start recording the device stream's work.
DSV3_OP(cudaGraphBegin) {
  OpCtx c{info.Env(), "cudaGraphBegin"};
  [[maybe_unused]] const Device d = cuda_device_arg(c, info[0]);
  DSV3_IF_CUDA(c, cuda::graph_begin(d.index));
  return info.Env().Undefined();
}

// cudaGraphEnd(device) -> graph: stop recording and instantiate. Dispose with cudaGraphDispose.
DSV3_OP(cudaGraphEnd) {
  OpCtx c{info.Env(), "cudaGraphEnd"};
  [[maybe_unused]] const Device d = cuda_device_arg(c, info[0]);
#ifdef DSV3_WITH_CUDA
  void* g = cuda::graph_end(d.index);
  Storage::adopt_into_graph(d, cuda::graph_owned(g));  // the step's outputs: the graph frees them
  return Napi::External<void>::New(info.Env(), g);
#else
  no_cuda_backend(c);
#endif
}

// cudaGraphLaunch(graph): queue one replay on the graph's device stream.
DSV3_OP(cudaGraphLaunch) {
  OpCtx c{info.Env(), "cudaGraphLaunch"};
  [[maybe_unused]] void* g = graph_arg(c, info[0]);
  DSV3_IF_CUDA(c, cuda::graph_launch(g));
  return info.Env().Undefined();
}

// cudaGraphDispose(graph): wait for its replays, free it and the memory it owns. The External's data is
// not cleared by N-API, so lib/cuda_graph.ts guards against a second call.
DSV3_OP(cudaGraphDispose) {
  OpCtx c{info.Env(), "cudaGraphDispose"};
  [[maybe_unused]] void* g = graph_arg(c, info[0]);
  DSV3_IF_CUDA(c, cuda::graph_destroy(g));
  return info.Env().Undefined();
}

}  // namespace dsv3
