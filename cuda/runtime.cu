// CUDA runtime side: device query, per-device stream, caching pool, copies, fills.
// See cuda/runtime.h. Unverified on a GPU until a GPU-drawn issue runs test/gpu.
#include "cuda/runtime.h"

#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "cuda/common.cuh"

namespace dsv3::cuda {
namespace {

struct DeviceState {
  cudaStream_t stream = nullptr;
  cudaMemPool_t pool = nullptr;
  GraphMemoryBook book;  // CUDA-graph capture of the stream and the memory of its graphs (see runtime.h)
};

struct Graph {
  int device = 0;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  GraphMemoryBook::Graph mem;  // its outputs, and older memory freed during the capture (used by every replay)
  bool launched = false;
};

std::mutex g_m;
std::vector<DeviceState> g_dev;

DeviceState& state(int device) {
  std::lock_guard<std::mutex> l(g_m);
  if (g_dev.empty()) {
    int n = 0;
    DSV3_CUDA_CHECK(cudaGetDeviceCount(&n));
    g_dev.resize(n);
  }
  if (device < 0 || device >= static_cast<int>(g_dev.size()))
    throw CudaError("cuda device " + std::to_string(device) + " does not exist (" +
                    std::to_string(g_dev.size()) + " devices)");
  DeviceState& s = g_dev[device];
  if (!s.stream) {
    DSV3_CUDA_CHECK(cudaSetDevice(device));
    DSV3_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
    DSV3_CUDA_CHECK(cudaDeviceGetDefaultMemPool(&s.pool, device));
    uint64_t keep = UINT64_MAX;  // never trim on synchronize: a caching allocator
    DSV3_CUDA_CHECK(cudaMemPoolSetAttribute(s.pool, cudaMemPoolAttrReleaseThreshold, &keep));
  }
  return s;
}

__global__ void fill_kernel(unsigned char* dst, uint64_t pattern, size_t elem_bytes, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    switch (elem_bytes) {
      case 1: dst[i] = static_cast<unsigned char>(pattern); break;
      case 2: reinterpret_cast<uint16_t*>(dst)[i] = static_cast<uint16_t>(pattern); break;
      case 4: reinterpret_cast<uint32_t*>(dst)[i] = static_cast<uint32_t>(pattern); break;
      default: reinterpret_cast<uint64_t*>(dst)[i] = pattern; break;
    }
  }
}

__global__ void spin_kernel(uint64_t ns) {
  uint64_t t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do {
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  } while (t - t0 < ns);
}

}  // namespace

int device_count(std::string* reason) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess && n > 0) return n;
  cudaGetLastError();  // clear
  if (reason) {
    if (e == cudaErrorNoDevice || (e == cudaSuccess && n == 0)) *reason = "no CUDA device";
    else if (e == cudaErrorInsufficientDriver) *reason = "no NVIDIA driver, or the driver is older than this build's CUDA runtime";
    else *reason = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
  }
  return 0;
}

DeviceInfo device_info(int device) {
  cudaDeviceProp p{};
  DSV3_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  DeviceInfo info;
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.sm_count = p.multiProcessorCount;
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  DSV3_CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
  return info;
}

void* device_alloc(int device, size_t bytes) {
  DeviceState& s = state(device);
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  if (capturing(device)) {  // a graph allocation (a memory node of the captured graph)
    DSV3_CUDA_CHECK(cudaMallocAsync(&p, bytes, s.stream));
    std::lock_guard<std::mutex> l(g_m);
    s.book.allocated(p);
    return p;
  }
  DSV3_CUDA_CHECK(cudaMallocFromPoolAsync(&p, bytes, s.pool, s.stream));
  return p;
}

void device_free(int device, void* ptr) {
  DeviceState& s = state(device);
  {
    std::lock_guard<std::mutex> l(g_m);
    // ignore: a graph's output (graph_destroy frees it); retain: older memory freed during a capture (the
    // graph keeps it until graph_destroy, its replays use it)
    if (s.book.freed(ptr) != GraphMemoryBook::Free::now) return;
  }
  // Called from destructors: never throws, and clears its error so that it is not reported later by an
  // unrelated launch check. While capturing, this is a free node of the graph.
  if (cudaFreeAsync(ptr, s.stream) != cudaSuccess) cudaGetLastError();
}

static void no_host_io_while_capturing(DeviceState& s, const char* what) {
  bool cap;
  {
    std::lock_guard<std::mutex> l(g_m);
    cap = s.book.capturing();
  }
  if (cap)
    throw CudaError(std::string(what) + " while a CUDA graph is being captured: a captured step must not copy to or "
                    "from the host or wait for the device (use tensors made before the capture)");
}

void* stream(int device) { return state(device).stream; }

void* launch_stream(int device) {
  DeviceState& s = state(device);
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  return s.stream;
}

void synchronize(int device) {
  DeviceState& s = state(device);
  no_host_io_while_capturing(s, "synchronize");
  DSV3_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

void copy_h2d(int device, void* dst, const void* src, size_t bytes) {
  DeviceState& s = state(device);
  no_host_io_while_capturing(s, "a host-to-device copy");
  DSV3_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s.stream));
  // The source is pageable host memory that the caller may free: wait until the copy has read it.
  DSV3_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

void copy_d2h(int device, void* dst, const void* src, size_t bytes) {
  DeviceState& s = state(device);
  no_host_io_while_capturing(s, "a device-to-host copy");
  DSV3_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s.stream));
  DSV3_CUDA_CHECK(cudaStreamSynchronize(s.stream));
}

void copy_d2d(int device, void* dst, const void* src, size_t bytes) {
  DeviceState& s = state(device);
  DSV3_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, s.stream));
}

void fill(int device, void* dst, uint64_t pattern, size_t elem_bytes, size_t count) {
  if (count == 0) return;
  DeviceState& s = state(device);
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<size_t>((count + threads - 1) / threads, 65535));
  fill_kernel<<<blocks, threads, 0, s.stream>>>(static_cast<unsigned char*>(dst), pattern, elem_bytes, count);
  DSV3_CUDA_CHECK_LAUNCH();
}

size_t pool_reserved_bytes(int device) {
  DeviceState& s = state(device);
  uint64_t v = 0;
  DSV3_CUDA_CHECK(cudaMemPoolGetAttribute(s.pool, cudaMemPoolAttrReservedMemCurrent, &v));
  return static_cast<size_t>(v);
}

void* event_record(int device) {
  DeviceState& s = state(device);
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  cudaEvent_t e = nullptr;
  DSV3_CUDA_CHECK(cudaEventCreate(&e));
  DSV3_CUDA_CHECK(cudaEventRecord(e, s.stream));
  return e;
}

float event_elapsed_ms(void* start, void* end) {
  DSV3_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(end)));
  float ms = 0.f;
  DSV3_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start), static_cast<cudaEvent_t>(end)));
  return ms;
}

void event_destroy(void* event) { cudaEventDestroy(static_cast<cudaEvent_t>(event)); }

void spin(int device, double microseconds) {
  DeviceState& s = state(device);
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  spin_kernel<<<1, 1, 0, s.stream>>>(static_cast<uint64_t>(microseconds * 1000.0));
  DSV3_CUDA_CHECK_LAUNCH();
}

// ---- CUDA graphs ----

void graph_begin(int device) {
  DeviceState& s = state(device);
  if (capturing(device)) throw CudaError("cudaGraph: a capture is already running on cuda:" + std::to_string(device));
  DSV3_CUDA_CHECK(cudaSetDevice(device));
  // Relaxed: the launchers' host-side calls (attribute queries, tensor-map encoding) stay legal.
  DSV3_CUDA_CHECK(cudaStreamBeginCapture(s.stream, cudaStreamCaptureModeRelaxed));
  std::lock_guard<std::mutex> l(g_m);
  s.book.begin();
}

void* graph_end(int device) {
  DeviceState& s = state(device);
  if (!capturing(device)) throw CudaError("cudaGraph: no capture is running on cuda:" + std::to_string(device));
  auto g = std::make_unique<Graph>();
  g->device = device;
  const cudaError_t e = cudaStreamEndCapture(s.stream, &g->graph);
  {
    std::lock_guard<std::mutex> l(g_m);
    g->mem = s.book.end();  // on failure the graph's allocations never existed: their frees stay ignored as well
  }
  // Without a graph nothing can replay the captured work: older memory freed during the capture goes now
  // (stream-ordered after the work queued before the capture).
  auto abandon = [&] {
    std::vector<void*> frees;
    {
      std::lock_guard<std::mutex> l(g_m);
      frees = s.book.abandon(g->mem);
    }
    for (void* p : frees) cudaFreeAsync(p, s.stream);
  };
  if (e != cudaSuccess) {  // the graph's allocations were never made
    abandon();
    throw_cuda(e, "cudaStreamEndCapture", __FILE__, __LINE__);
  }
  // AutoFreeOnLaunch: each replay first frees the previous replay's surviving allocations, so the
  // outputs live at the same addresses from one replay to the next.
  const cudaError_t ie = cudaGraphInstantiateWithFlags(&g->exec, g->graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  if (ie != cudaSuccess) {  // never launched: its allocations never existed (they stay ignored by device_free)
    cudaGraphDestroy(g->graph);
    abandon();
    throw_cuda(ie, "cudaGraphInstantiateWithFlags", __FILE__, __LINE__);
  }
  return g.release();
}

bool capturing(int device) {
  DeviceState& s = state(device);
  std::lock_guard<std::mutex> l(g_m);
  return s.book.capturing();
}

const std::vector<void*>& graph_owned(void* graph) { return static_cast<Graph*>(graph)->mem.owned; }

void graph_launch(void* graph) {
  auto* g = static_cast<Graph*>(graph);
  DeviceState& s = state(g->device);
  if (capturing(g->device)) throw CudaError("cudaGraph: cannot replay a graph while capturing another");
  DSV3_CUDA_CHECK(cudaSetDevice(g->device));
  DSV3_CUDA_CHECK(cudaGraphLaunch(g->exec, s.stream));
  g->launched = true;
}

void graph_destroy(void* graph) {
  auto* g = static_cast<Graph*>(graph);
  DeviceState& s = state(g->device);
  cudaSetDevice(g->device);
  cudaStreamSynchronize(s.stream);
  cudaGraphExecDestroy(g->exec);
  cudaGraphDestroy(g->graph);
  std::vector<void*> frees;  // the last replay's outputs, and older memory the replays used
  {
    std::lock_guard<std::mutex> l(g_m);
    frees = s.book.destroy(g->mem, g->launched);
  }
  for (void* p : frees) cudaFreeAsync(p, s.stream);
  delete g;
}

}  // namespace dsv3::cuda
