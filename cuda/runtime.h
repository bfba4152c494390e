// The CUDA runtime side of dsv3, callable from plain C++ (no CUDA headers here, no N-API in cuda/).
// Device memory comes from each device's stream-ordered caching pool (cudaMallocAsync on the default
// mempool with an unlimited release threshold); each device has one non-blocking stream. Every
// failure throws dsv3::CudaError (or OomError) carrying cudaGetErrorString and the call that failed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

namespace dsv3::cuda {

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;       // compute capability
  int sm_count = 0;
  size_t total_bytes = 0, free_bytes = 0;
};

// Number of usable devices; 0 with `reason` set ("no driver", "no device", ...) when none.
int device_count(std::string* reason);
DeviceInfo device_info(int device);

void* device_alloc(int device, size_t bytes);
void device_free(int device, void* ptr);
void* stream(int device);  // the device's cudaStream_t
// For launchers: makes `device` current and returns its stream (cudaStream_t). Kernels launched on it
// are ordered with every copy, fill and free of that device.
void* launch_stream(int device);
void synchronize(int device);

void copy_h2d(int device, void* dst, const void* src, size_t bytes);  // returns when src may be reused
void copy_d2h(int device, void* dst, const void* src, size_t bytes);  // waits for queued work first
void copy_d2d(int device, void* dst, const void* src, size_t bytes);  // async, stream-ordered
// Fill `count` elements of `elem_bytes` (1, 2, 4 or 8) with the bit pattern `pattern` (async).
void fill(int device, void* dst, uint64_t pattern, size_t elem_bytes, size_t count);

// Bytes currently held by the caching pool of `device` (reserved from the driver).
size_t pool_reserved_bytes(int device);

// ---- timing, for benchmarks ----
// A new CUDA event recorded now on the device's stream (destroy with event_destroy).
void* event_record(int device);
// Milliseconds between two recorded events; waits for `end`.
float event_elapsed_ms(void* start, void* end);
void event_destroy(void* event);
// A one-thread kernel that keeps the stream busy for about `microseconds`, so that the host can queue
// many short kernels behind it and their events measure GPU time, not launch latency.
void spin(int device, double microseconds);

// ---- CUDA graphs: capture of the device stream, replay ----
// Between graph_begin and graph_end every kernel, copy and allocation queued on the device's stream is
// recorded instead of run. Allocations made during the capture are graph allocations; those freed during
// the capture become free nodes, those still alive at graph_end (the step's outputs) belong to the graph:
// they keep their addresses across replays, device_free ignores them, graph_destroy frees them. Memory
// that existed before the capture and is freed during it stays allocated as long as the graph (the
// replays still read or write it): graph_destroy frees it, or graph_end when no graph results. Host
// copies and synchronize throw while capturing (they would invalidate the capture).
// The host-side bookkeeping of graph memory for one device: plain C++ (runtime.cu does the CUDA calls it
// decides), so it is tested without a GPU (the addon's cudaGraphMemoryBookTrace, test/runtime/cuda_graph.test.ts).
class GraphMemoryBook {
 public:
  enum class Free { now, ignore, retain };  // what device_free does with a pointer
  struct Graph {
    std::vector<void*> owned;     // graph allocations alive at the end of the capture (the step's outputs)
    std::vector<void*> retained;  // older memory freed during the capture: the replays still use it
  };
  bool capturing() const { return capturing_; }
  void begin() { capturing_ = true; }
  void allocated(void* p) { if (capturing_) capture_allocs_.insert(p); }
  Free freed(void* p) {
    if (graph_owned_.count(p)) return Free::ignore;  // the graph frees it (destroy)
    // While capturing, a free of older memory is not recorded: a free node would free it again at every
    // replay, and freeing it after the capture would let the replays use freed memory.
    if (capturing_ && !capture_allocs_.erase(p)) { retained_.push_back(p); return Free::retain; }
    return Free::now;  // while capturing: a free node of the graph (memory allocated during the capture)
  }
  // The capture ends. Its allocations are ignored by freed() from now on, also when no graph results (then
  // they never existed).
  Graph end() {
    capturing_ = false;
    Graph g{std::vector<void*>(capture_allocs_.begin(), capture_allocs_.end()), std::move(retained_)};
    capture_allocs_.clear();
    retained_.clear();
    for (void* p : g.owned) graph_owned_.insert(p);
    return g;
  }
  // What to free (stream-ordered) when no graph results from the capture: the older memory it retained.
  std::vector<void*> abandon(Graph& g) { g.owned.clear(); return std::move(g.retained); }
  // What to free when the graph goes: its outputs if it was ever launched (else they never existed) and the
  // older memory it retained.
  std::vector<void*> destroy(Graph& g, bool launched) {
    std::vector<void*> out = std::move(g.retained);
    for (void* p : g.owned) {
      graph_owned_.erase(p);
      if (launched) out.push_back(p);
    }
    g.owned.clear();
    return out;
  }

 private:
  bool capturing_ = false;
  std::unordered_set<void*> capture_allocs_, graph_owned_;
  std::vector<void*> retained_;
};

void graph_begin(int device);
void* graph_end(int device);  // an instantiated graph (opaque)
bool capturing(int device);
// The allocations the graph owns (alive at the end of its capture).
const std::vector<void*>& graph_owned(void* graph);
void graph_launch(void* graph);
void graph_destroy(void* graph);

}  // namespace dsv3::cuda
