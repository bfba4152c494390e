// dsv3-emu runtime: CUDA graphs made by stream capture, mirroring the CUDA programming guide's rules.
// A capture records kernel launches (with a copy of their parameters), device copies and memsets,
// stream-ordered allocations and frees (graph memory nodes: the address is fixed at capture time, the
// allocation is live from its alloc node; AutoFreeOnLaunch frees the previous launch's survivors before
// a relaunch) and cross-stream forks/joins through events. Illegal calls invalidate the capture with the
// error CUDA gives. A graph launch is one op on the timeline that runs the nodes in a topological order
// (creation order, or a random one with DSV3_EMU_SCHEDULE=random).
#include <algorithm>
#include <atomic>
#include <random>

#include "src/runtime/state.h"

namespace emu::rt {

// A captured graph; shared by its cudaGraph_t and its executable instances. Destroyed under mu().
struct Graph {
  std::vector<Node> nodes;
  std::vector<uint64_t> allocs;  // bases of its MemAlloc nodes (reserved addresses)
  std::set<uint64_t> freed_inside;  // allocations of this graph that a node of it frees
  bool has_exec = false;
  ~Graph();
};

}  // namespace emu::rt

struct CUgraph_st {
  std::shared_ptr<emu::rt::Graph> g;
};
struct CUgraphExec_st {
  std::shared_ptr<emu::rt::Graph> g;
  unsigned long long flags = 0;
};

namespace emu::rt {
namespace {

// Never destroyed (graphs may be released by the executor while the process exits).
std::vector<Capture*>& g_captures = *new std::vector<Capture*>;
unsigned long long g_next_capture_id = 1;
thread_local cudaStreamCaptureMode t_mode = cudaStreamCaptureModeGlobal;
std::set<CUgraph_st*>& g_graphs = *new std::set<CUgraph_st*>;
std::set<CUgraphExec_st*>& g_execs = *new std::set<CUgraphExec_st*>;
// Graph allocations that a launch left live (not freed inside the graph), until the program frees them
// (or an AutoFreeOnLaunch relaunch does); value: the exec that made them (nullptr once destroyed).
std::map<uint64_t, CUgraphExec_st*>& g_outstanding = *new std::map<uint64_t, CUgraphExec_st*>;
std::map<uint64_t, Graph*>& g_graph_allocs = *new std::map<uint64_t, Graph*>;  // reserved graph allocation -> graph

void end_capture_locked(Capture* c) {
  for (CUstream_st* s : c->streams) {
    s->capture = nullptr;
    s->frontier.clear();
  }
  for (CUevent_st* e : c->events) {
    e->capture = nullptr;
    e->nodes.clear();
  }
  g_captures.erase(std::remove(g_captures.begin(), g_captures.end(), c), g_captures.end());
  delete c;
}

// Every node `from` reaches backwards (itself included).
std::set<int> ancestors(const Graph& g, const std::vector<int>& from) {
  std::set<int> seen;
  std::vector<int> todo(from.begin(), from.end());
  while (!todo.empty()) {
    const int n = todo.back();
    todo.pop_back();
    if (!seen.insert(n).second) continue;
    for (int d : g.nodes[n].deps) todo.push_back(d);
  }
  return seen;
}

// Runs the nodes of a graph on the executor thread.
void run_graph(const std::shared_ptr<Graph>& g, bool autofree) {
  if (autofree) {  // the previous launch's allocations that nobody freed
    for (uint64_t base : g->allocs) {
      const Allocation* a = gmem().find(base);
      if (a && a->base == base) gmem().release(base);
    }
  }
  const size_t n = g->nodes.size();
  std::vector<int> order;
  order.reserve(n);
  if (!config().random_schedule) {
    for (size_t i = 0; i < n; ++i) order.push_back(static_cast<int>(i));  // creation order is topological
  } else {
    static std::mt19937_64 rng(config().seed * 0xD1B54A32D192ED03ull + 7);
    std::vector<int> pending(n, 0);
    std::vector<std::vector<int>> users(n);
    for (size_t i = 0; i < n; ++i)
      for (int d : g->nodes[i].deps) {
        ++pending[i];
        users[d].push_back(static_cast<int>(i));
      }
    std::vector<int> ready;
    for (size_t i = 0; i < n; ++i)
      if (!pending[i]) ready.push_back(static_cast<int>(i));
    while (!ready.empty()) {
      const size_t k = rng() % ready.size();
      const int x = ready[k];
      ready.erase(ready.begin() + k);
      order.push_back(x);
      for (int u : users[x])
        if (--pending[u] == 0) ready.push_back(u);
    }
  }
  for (int i : order) {
    if (sticky()) return;
    const Node& node = g->nodes[i];
    switch (node.kind) {
      case Node::Kind::MemAlloc:
        if (!gmem().allocate_at(node.base, "graph allocation")) {
          report("dsv3-emu: a graph allocation node cannot allocate " + std::to_string(node.bytes) +
                 " bytes at its address (out of device memory, or still live from a previous launch)");
          set_sticky(cudaErrorMemoryAllocation);
          return;
        }
        break;
      case Node::Kind::MemFree:
        if (!gmem().release(node.base))
          report("dsv3-emu: a graph free node frees memory that is not allocated: " + gmem().describe(node.base, 1));
        if (node.bytes) gmem().unreserve(node.base);  // a cudaMallocAsync allocation: its address goes
        break;
      default:
        if (node.run) node.run();
        break;
    }
  }
}

}  // namespace

Graph::~Graph() {
  for (uint64_t base : allocs) {
    g_graph_allocs.erase(base);
    gmem().unreserve(base);  // a live allocation stays live until freed
  }
}

bool any_capture_locked() { return !g_captures.empty(); }

cudaError_t invalidate_locked(Capture* c, cudaError_t why) {
  if (c && !c->invalid) c->invalid = why;
  return why;
}

cudaError_t capture_check_locked(CUstream_st* s) {
  if (s->capture) return s->capture->invalid ? cudaErrorStreamCaptureInvalidated : cudaSuccess;
  if (s->legacy) {
    // The legacy stream would depend on (or be depended on by) a capturing blocking stream.
    bool implicit = false;
    for (Capture* c : g_captures)
      for (CUstream_st* t : c->streams)
        if (!(t->flags & cudaStreamNonBlocking)) {
          invalidate_locked(c, cudaErrorStreamCaptureImplicit);
          implicit = true;
        }
    if (implicit) return cudaErrorStreamCaptureImplicit;
  }
  return cudaSuccess;
}

int capture_add_locked(CUstream_st* s, Node n) {
  Graph& g = *s->capture->graph;
  n.deps = s->frontier;
  g.nodes.push_back(std::move(n));
  const int id = static_cast<int>(g.nodes.size() - 1);
  s->frontier.assign(1, id);
  return id;
}

cudaError_t unsafe_call_check_locked() {
  if (t_mode == cudaStreamCaptureModeRelaxed) return cudaSuccess;
  const auto me = std::this_thread::get_id();
  for (Capture* c : g_captures) {
    const bool mine = c->thread == me && c->mode != cudaStreamCaptureModeRelaxed;
    const bool global = c->thread != me && c->mode == cudaStreamCaptureModeGlobal && t_mode == cudaStreamCaptureModeGlobal;
    if (mine || global) return invalidate_locked(c, cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

bool graph_alloc_free_locked(uint64_t base) { return g_outstanding.erase(base) > 0; }
bool is_graph_alloc_locked(uint64_t base) { return g_graph_allocs.count(base) > 0; }

// cudaMallocAsync in a capture: an alloc node with its address reserved now.
cudaError_t capture_alloc_locked(CUstream_st* s, uint64_t bytes, uint64_t* base) {
  const uint64_t b = gmem().reserve(bytes);
  if (!b) return cudaErrorMemoryAllocation;
  Graph& g = *s->capture->graph;
  g.allocs.push_back(b);
  g_graph_allocs[b] = &g;
  Node n;
  n.kind = Node::Kind::MemAlloc;
  n.base = b;
  n.bytes = bytes;
  capture_add_locked(s, std::move(n));
  *base = b;
  return cudaSuccess;
}

// cudaFreeAsync in a capture: a free node, for an allocation of this graph or a stream-ordered one.
cudaError_t capture_free_locked(CUstream_st* s, uint64_t base) {
  Graph& g = *s->capture->graph;
  auto owner = g_graph_allocs.find(base);
  const bool ours = owner != g_graph_allocs.end() && owner->second == &g;
  if (ours && g.freed_inside.count(base)) return cudaErrorInvalidValue;  // freed twice in the graph
  if (!ours && !is_async_alloc_locked(base) && owner == g_graph_allocs.end()) return cudaErrorInvalidValue;
  if (ours) g.freed_inside.insert(base);
  Node n;
  n.kind = Node::Kind::MemFree;
  n.base = base;
  n.bytes = owner == g_graph_allocs.end();  // 1: a stream-ordered allocation, unreserved when freed
  capture_add_locked(s, std::move(n));
  return cudaSuccess;
}

}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

cudaError_t cudaStreamBeginCapture(cudaStream_t h, cudaStreamCaptureMode mode) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (s->legacy) return fail(cudaErrorStreamCaptureUnsupported);  // the legacy stream cannot be captured
  if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
      mode != cudaStreamCaptureModeRelaxed)
    return fail(cudaErrorInvalidValue);
  if (s->capture) return fail(cudaErrorIllegalState);
  auto* c = new Capture;
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  c->id = g_next_capture_id++;
  c->origin = s;
  c->streams.insert(s);
  c->graph = std::make_shared<Graph>();
  g_captures.push_back(c);
  s->capture = c;
  s->frontier.clear();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t h, cudaGraph_t* out) {
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (!out) return fail(cudaErrorInvalidValue);
  Capture* c = s->capture;
  if (!c) return fail(cudaErrorIllegalState);
  if (c->origin != s) return fail(invalidate_locked(c, cudaErrorStreamCaptureUnmatched));
  if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread);
  cudaError_t result = c->invalid ? cudaErrorStreamCaptureInvalidated : cudaSuccess;
  if (!result) {
    // Every forked stream must have been joined back into the origin stream.
    const std::set<int> joined = ancestors(*c->graph, s->frontier);
    for (CUstream_st* t : c->streams)
      for (int n : t->frontier)
        if (!joined.count(n)) result = cudaErrorStreamCaptureUnjoined;
  }
  *out = nullptr;
  if (!result) {
    auto* g = new CUgraph_st;
    g->g = c->graph;
    g_graphs.insert(g);
    *out = g;
  }
  end_capture_locked(c);  // on failure the graph (and its reserved addresses) goes away
  return fail(result);
}

cudaError_t cudaStreamIsCapturing(cudaStream_t h, cudaStreamCaptureStatus* status) {
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (!status) return fail(cudaErrorInvalidValue);
  if (s->legacy) {
    for (Capture* c : g_captures)
      for (CUstream_st* t : c->streams)
        if (!(t->flags & cudaStreamNonBlocking)) return fail(cudaErrorStreamCaptureImplicit);
  }
  *status = !s->capture ? cudaStreamCaptureStatusNone
            : s->capture->invalid ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaStreamGetCaptureInfo(cudaStream_t h, cudaStreamCaptureStatus* status, unsigned long long* id,
                                     cudaGraph_t* graph, const cudaGraphNode_t** deps,
                                     const cudaGraphEdgeData** edges, size_t* num_deps) {
  cudaError_t e = cudaStreamIsCapturing(h, status);
  if (e) return e;
  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (id) *id = s->capture ? s->capture->id : 0;
  if (graph) *graph = nullptr;  // the graph under construction is not exposed as a cudaGraph_t
  if (deps) *deps = nullptr;
  if (edges) *edges = nullptr;
  if (num_deps) *num_deps = s->capture ? s->frontier.size() : 0;
  return cudaSuccess;
}

cudaError_t cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (!mode) return fail(cudaErrorInvalidValue);
  std::swap(*mode, t_mode);
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* out, cudaGraph_t graph, unsigned long long flags) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(mu());
  if (!out) return fail(cudaErrorInvalidValue);
  if (!graph || !g_graphs.count(graph)) return fail(cudaErrorInvalidResourceHandle);
  const unsigned long long known = cudaGraphInstantiateFlagAutoFreeOnLaunch | cudaGraphInstantiateFlagUpload |
                                   cudaGraphInstantiateFlagDeviceLaunch | cudaGraphInstantiateFlagUseNodePriority;
  if (flags & ~known) return fail(cudaErrorInvalidValue);
  if (flags & cudaGraphInstantiateFlagDeviceLaunch) return fail(cudaErrorNotSupported);  // no device launches
  // A graph with memory nodes may have one executable instance at a time (CUDA's rule).
  if (graph->g->has_exec && !graph->g->allocs.empty()) return fail(cudaErrorNotSupported);
  auto* x = new CUgraphExec_st;
  x->g = graph->g;
  x->flags = flags;
  graph->g->has_exec = true;
  g_execs.insert(x);
  *out = x;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* out, cudaGraph_t graph, unsigned long long flags) {
  return cudaGraphInstantiateWithFlags(out, graph, flags);
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t h) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(mu());
  if (!x || !g_execs.count(x)) return fail(cudaErrorInvalidResourceHandle);
  CUstream_st* s = resolve_locked(h);
  if (!s) return fail(cudaErrorInvalidResourceHandle);
  if (cudaError_t e = capture_check_locked(s)) return fail(e);
  std::shared_ptr<Graph> g = x->g;
  const bool autofree = x->flags & cudaGraphInstantiateFlagAutoFreeOnLaunch;
  if (s->capture) {  // a child graph node (without memory nodes, as CUDA requires)
    if (!g->allocs.empty() || !g->freed_inside.empty()) return fail(invalidate_locked(s->capture, cudaErrorNotSupported));
    Node n;
    n.kind = Node::Kind::Empty;
    n.run = [g] { run_graph(g, false); };
    capture_add_locked(s, std::move(n));
    return cudaSuccess;
  }
  // The previous launch's allocations must have been freed, unless AutoFreeOnLaunch frees them.
  for (uint64_t base : g->allocs) {
    if (g->freed_inside.count(base)) continue;
    auto it = g_outstanding.find(base);
    if (it != g_outstanding.end() && !autofree) return fail(cudaErrorInvalidValue);
  }
  for (uint64_t base : g->allocs)
    if (!g->freed_inside.count(base)) g_outstanding[base] = x;
  OpPtr op = enqueue_locked(s, [g, autofree] { run_graph(g, autofree); }, "cudaGraphLaunch");
  for (const Node& n : g->nodes)  // external event-record nodes complete with the launch
    if (n.kind == Node::Kind::EventRecord && event_valid_locked(n.event)) n.event->op = op;
  return cudaSuccess;
}

cudaError_t cudaGraphUpload(cudaGraphExec_t x, cudaStream_t h) {
  std::lock_guard<std::mutex> l(mu());
  if (!x || !g_execs.count(x)) return fail(cudaErrorInvalidResourceHandle);
  return resolve_locked(h) ? cudaSuccess : fail(cudaErrorInvalidResourceHandle);
}

// Allocations a launch left live stay live (the program frees them); a pending launch still runs.
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) {
  std::lock_guard<std::mutex> l(mu());
  if (!x || !g_execs.count(x)) return fail(cudaErrorInvalidResourceHandle);
  for (auto& [base, owner] : g_outstanding)
    if (owner == x) owner = nullptr;
  x->g->has_exec = false;
  g_execs.erase(x);
  delete x;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  std::lock_guard<std::mutex> l(mu());
  if (!graph || !g_graphs.count(graph)) return fail(cudaErrorInvalidResourceHandle);
  g_graphs.erase(graph);
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, size_t* num) {
  std::lock_guard<std::mutex> l(mu());
  if (!graph || !g_graphs.count(graph)) return fail(cudaErrorInvalidResourceHandle);
  if (!num) return fail(cudaErrorInvalidValue);
  if (nodes) return fail(cudaErrorNotSupported);  // node handles are not exposed
  *num = graph->g->nodes.size();
  return cudaSuccess;
}

}  // extern "C"
