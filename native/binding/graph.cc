// Bindings for step graphs: record the work queued on a device's stream, then replay it with one launch.
// On CUDA a CUDA graph (cuda/runtime.h); on the CPU a CpuGraph of the stream's tasks (native/stream.h).
// lib/graph.ts wraps them; the model's decode step (lib/model/decode_graph.ts) is the user.
#include <algorithm>
#include <memory>
#include <sstream>

#include "cuda/runtime.h"  // plain C++; its functions are only called in CUDA builds
#include "native/binding/common.h"
#include "native/stream.h"

namespace dsv3 {
namespace {

// What graphEnd returns: the device and the recording (a CUDA graph, or the CPU stream's tasks). Disposing
// empties it; the External's finalizer frees the handle (and a graph never disposed).
struct GraphHandle {
  Device device;
  void* cuda = nullptr;
  std::shared_ptr<const CpuGraph> cpu;
  bool disposed = false;
  void release() {
    if (disposed) return;
    disposed = true;
#ifdef DSV3_WITH_CUDA
    if (cuda) cuda::graph_destroy(cuda);
#endif
    cuda = nullptr;
    cpu.reset();  // a replay in flight holds its own reference
  }
};

GraphHandle* graph_arg(const OpCtx& c, Napi::Value v) {
  if (!v.IsExternal()) c.fail(ErrKind::Argument, "graph", "must be a graph from graphEnd");
  auto* g = v.As<Napi::External<GraphHandle>>().Data();
  if (!g) c.fail(ErrKind::Argument, "graph", "must be a graph from graphEnd");
  if (g->disposed) c.fail(ErrKind::Disposed, "graph", "has been disposed");
  return g;
}

Device graph_device_arg(const OpCtx& c, Napi::Value v) {
  const Device d = v.IsUndefined() ? Device{DeviceType::cuda, 0} : parse_device(c, v, "device");
  check_device_usable(c, d);
  return d;
}

}  // namespace

// graphBegin(device = 'cuda'): start recording the device stream's work.
DSV3_OP(graphBegin) {
  OpCtx c{info.Env(), "graphBegin"};
  const Device d = graph_device_arg(c, info[0]);
  if (d.type == DeviceType::cpu) {
    if (CpuStream::get().capturing()) c.fail(ErrKind::Argument, "", "a CPU graph is already being captured");
    CpuStream::get().begin_capture();
  } else {
    DSV3_IF_CUDA(c, cuda::graph_begin(d.index));
  }
  return info.Env().Undefined();
}

// graphEnd(device = 'cuda') -> graph: stop recording (and instantiate a CUDA graph). Dispose with graphDispose.
DSV3_OP(graphEnd) {
  OpCtx c{info.Env(), "graphEnd"};
  const Device d = graph_device_arg(c, info[0]);
  auto h = std::make_unique<GraphHandle>();
  h->device = d;
  if (d.type == DeviceType::cpu) {
    if (!CpuStream::get().capturing()) c.fail(ErrKind::Argument, "", "no CPU graph is being captured");
    h->cpu = CpuStream::get().end_capture();
  } else {
#ifdef DSV3_WITH_CUDA
    h->cuda = cuda::graph_end(d.index);
    Storage::adopt_into_graph(d, cuda::graph_owned(h->cuda));  // the step's outputs: the graph frees them
#else
    no_cuda_backend(c);
#endif
  }
  return Napi::External<GraphHandle>::New(info.Env(), h.release(), [](Napi::Env, GraphHandle* g) {
    g->release();
    delete g;
  });
}

// graphLaunch(graph): queue one replay on the graph's device stream.
DSV3_OP(graphLaunch) {
  OpCtx c{info.Env(), "graphLaunch"};
  GraphHandle* g = graph_arg(c, info[0]);
  if (g->device.type == DeviceType::cpu) {
    if (CpuStream::get().capturing()) c.fail(ErrKind::Argument, "", "cannot replay a CPU graph while one is being captured");
    CpuStream::get().launch(g->cpu);
  } else {
    DSV3_IF_CUDA(c, cuda::graph_launch(g->cuda));
  }
  return info.Env().Undefined();
}

// graphDispose(graph): free the graph and the memory it owns (a CUDA graph waits for its replays first; a
// CPU replay in flight keeps its tasks alive until it ends).
DSV3_OP(graphDispose) {
  OpCtx c{info.Env(), "graphDispose"};
  graph_arg(c, info[0])->release();
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
