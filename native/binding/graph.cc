// Bindings for CUDA graphs (cuda/runtime.h): capture the work queued on a device's stream, replay it.
// lib/cuda_graph.ts wraps them; the model's decode step (lib/model/decode_graph.ts) is the user.
#include <algorithm>
#include <sstream>

#include "cuda/runtime.h"  // plain C++; its functions are only called in CUDA builds
#include "native/binding/common.h"

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

// cudaGraphMemoryBookTrace(events: string[]) -> string[]: runs `events` on a fresh GraphMemoryBook (the
// bookkeeping runtime.cu uses for every device) and describes each decision, so the host side of graph memory
// is tested without a GPU (test/runtime/cuda_graph.test.ts). Pointers are small integers. Events: 'begin',
// 'alloc N', 'free N' (-> 'free N: now|ignore|retain'), 'end' (-> 'end G: owned [..] retained [..]', G
// counting from 0), 'abandon G' and 'destroy G' / 'destroy G launched' (-> '<event>: free [..]').
DSV3_OP(cudaGraphMemoryBookTrace) {
  OpCtx c{info.Env(), "cudaGraphMemoryBookTrace"};
  if (!info[0].IsArray()) c.fail(ErrKind::Argument, "events", "must be an array of strings");
  const Napi::Array ev = info[0].As<Napi::Array>();
  cuda::GraphMemoryBook book;
  std::vector<cuda::GraphMemoryBook::Graph> graphs;
  auto ptr = [](long long n) { return reinterpret_cast<void*>(static_cast<uintptr_t>(n)); };
  auto list = [](std::vector<void*> v) {
    std::sort(v.begin(), v.end());
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + std::to_string(reinterpret_cast<uintptr_t>(v[i]));
    return s + "]";
  };
  Napi::Array out = Napi::Array::New(c.env);
  for (uint32_t i = 0; i < ev.Length(); ++i) {
    const std::string e = ev.Get(i).ToString().Utf8Value();
    std::istringstream in(e);
    std::string verb, extra;
    long long n = -1;
    in >> verb >> n >> extra;
    const bool graph_ok = n >= 0 && n < static_cast<long long>(graphs.size());
    std::string r;
    if (verb == "begin") {
      book.begin();
    } else if (verb == "alloc" && n > 0) {
      book.allocated(ptr(n));
    } else if (verb == "free" && n > 0) {
      const auto a = book.freed(ptr(n));
      r = e + ": " + (a == cuda::GraphMemoryBook::Free::now ? "now" : a == cuda::GraphMemoryBook::Free::ignore ? "ignore" : "retain");
    } else if (verb == "end") {
      graphs.push_back(book.end());
      r = "end " + std::to_string(graphs.size() - 1) + ": owned " + list(graphs.back().owned) + " retained " + list(graphs.back().retained);
    } else if (verb == "abandon" && graph_ok) {
      r = e + ": free " + list(book.abandon(graphs[n]));
    } else if (verb == "destroy" && graph_ok && (extra.empty() || extra == "launched")) {
      r = e + ": free " + list(book.destroy(graphs[n], extra == "launched"));
    } else {
      c.fail(ErrKind::Argument, "events", "has an unknown event '" + e + "'");
    }
    if (!r.empty()) out.Set(out.Length(), r);
  }
  return out;
}

}  // namespace dsv3
