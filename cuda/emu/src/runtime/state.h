// dsv3-emu runtime: the state shared by the files of the drop-in libcudart.so.13 (not an API). One
// emulated device; one executor thread runs the device's work (kernels, copies, memsets, stream-ordered
// allocations, event records, graph launches) in stream order, never inside the enqueue call; streams,
// events, captures and graphs are the opaque handle types of the CUDA headers, defined here.
#pragma once
#include <cuda.h>
#include <cuda_runtime_api.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "src/interp/emu.h"
#include "src/runtime/memory.h"

namespace emu::rt {

// ---- options (options.cc): DSV3_EMU_* environment variables ----
struct Config {
  bool strict = false, racecheck = true, random_schedule = false, stats = false;
  uint64_t seed = 1;
  uint64_t memory = 16ull << 30;
  std::string report_file;
};
const Config& config();
// Every finding (the interpreter's reports and the runtime's own): printed to stderr, appended to
// DSV3_EMU_REPORT_FILE, counted. `count` > 1 for reports the interpreter counted without printing.
void report(const std::string& text, uint64_t count = 1);
uint64_t report_count();
emu::Options interp_options();
struct Stats {  // DSV3_EMU_STATS=1: printed at exit, totals and one line per kernel
  struct Kernel {
    uint64_t launches = 0, ctas = 0, ctas_with_work = 0, thread_instructions = 0;
    double seconds = 0;
  };
  uint64_t kernels = 0, thread_instructions = 0, warp_instructions = 0;
  double kernel_seconds = 0;
  std::map<std::string, Kernel> per_kernel;  // by mangled name
};
Stats& stats();  // updated by the executor thread only

GlobalMemory& gmem();

// ---- errors (errors.cc) ----
// Records `e` as this thread's last error when it is not cudaSuccess; returns it.
cudaError_t fail(cudaError_t e);
// A device fault (cudaErrorIllegalAddress, ...) is sticky: every later call returns it, like a real
// context after a fault. cudaSuccess when none.
cudaError_t sticky();
void set_sticky(cudaError_t e);
void clear_errors();  // cudaDeviceReset
const char* error_name(cudaError_t e);

// ---- the device's timeline (stream.cc) ----
struct Op {
  std::vector<std::shared_ptr<Op>> deps;
  std::function<void()> run;  // on the executor thread
  const char* what = "";
  bool host = false;  // a host function: runs on a thread of its own, holding back only its stream
  bool done = false;  // under mu()
  double stamp = 0;   // host wall time (ms) when it completed: an event record's timestamp
};
using OpPtr = std::shared_ptr<Op>;

std::mutex& mu();                  // guards streams, events, captures, graphs, the queue
std::condition_variable& done_cv();  // notified when an op completes
// Queues `fn` on stream `s` after its stream-order predecessors (caller holds mu()).
OpPtr enqueue_locked(CUstream_st* s, std::function<void()> fn, const char* what);
// Waits for `op` (caller holds `lock` on mu()).
void wait_locked(std::unique_lock<std::mutex>& lock, const OpPtr& op);
void wait_all_locked(std::unique_lock<std::mutex>& lock);  // every queued op
double now_ms();  // host wall clock, for events

struct Capture;
struct Graph;

// Every API call on a faulted device returns the fault.
#define RT_STICKY()                                                  \
  do {                                                               \
    if (cudaError_t s_ = ::emu::rt::sticky()) return ::emu::rt::fail(s_); \
  } while (0)

}  // namespace emu::rt

// The opaque handle types of the CUDA headers.
struct CUstream_st {
  unsigned flags = 0;  // cudaStreamNonBlocking
  int priority = 0;
  bool legacy = false;       // the NULL stream (legacy default stream semantics)
  emu::rt::OpPtr last;       // the last op queued on it
  emu::rt::Capture* capture = nullptr;  // capturing into this capture
  std::vector<int> frontier;            // capture: the nodes the next captured node depends on
};

struct CUevent_st {
  unsigned flags = 0;        // cudaEventDisableTiming, cudaEventBlockingSync
  emu::rt::OpPtr op;         // the op of its last record (nullptr: never recorded)
  // A record in a capturing stream: the capture and the nodes it stands for.
  emu::rt::Capture* capture = nullptr;
  std::vector<int> nodes;
};

namespace emu::rt {

bool stream_valid_locked(cudaStream_t s);
// The stream object of a handle (0 / cudaStreamLegacy: the legacy stream; cudaStreamPerThread: this
// thread's default stream), or nullptr when the handle is not a live stream.
CUstream_st* resolve_locked(cudaStream_t s);
bool event_valid_locked(cudaEvent_t e);
std::vector<CUstream_st*> all_streams_locked();

// ---- captures and graphs (graph.cc) ----
struct Node {
  enum class Kind { Kernel, Memcpy, Memset, MemAlloc, MemFree, EventRecord, EventWait, Empty } kind = Kind::Empty;
  std::vector<int> deps;
  std::function<void()> run;  // Kernel / Memcpy / Memset (runs on the executor)
  uint64_t base = 0, bytes = 0;  // MemAlloc / MemFree
  cudaEvent_t event = nullptr;   // EventRecord
};

struct Capture {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  unsigned long long id = 0;
  CUstream_st* origin = nullptr;
  std::set<CUstream_st*> streams;
  std::set<CUevent_st*> events;  // recorded in it (they leave the captured state when it ends)
  std::shared_ptr<Graph> graph;
  cudaError_t invalid = cudaSuccess;  // why the capture was invalidated
};

// Checks that work may be queued on `s` now: a legacy-stream use while a blocking stream captures is
// cudaErrorStreamCaptureImplicit (and invalidates that capture), an invalidated capture returns
// cudaErrorStreamCaptureInvalidated. Caller holds mu().
cudaError_t capture_check_locked(CUstream_st* s);
// Adds a node to the capture of `s` after its frontier (caller holds mu() and checked the capture).
int capture_add_locked(CUstream_st* s, Node n);
// Device work on `s`: a node of its capture when it captures, else an op on the timeline (caller holds
// mu()). Returns the capture error, if any (nothing is queued then).
cudaError_t submit_locked(CUstream_st* s, Node n, const char* what);
// Potentially unsafe calls (cudaMalloc, synchronous copies, ...) during a Global-mode capture, or a
// ThreadLocal one of this thread: cudaErrorStreamCaptureUnsupported, and the capture is invalidated.
cudaError_t unsafe_call_check_locked();
// A synchronization that would wait on a capturing stream: cudaErrorStreamCaptureUnsupported, and the
// capture is invalidated.
cudaError_t invalidate_locked(Capture* c, cudaError_t why);
bool any_capture_locked();

// Stream-ordered and graph memory (caller holds mu()).
// A cudaFree(Async) outside any capture of an allocation a graph launch left live: true if it was one.
bool graph_alloc_free_locked(uint64_t base);
bool is_graph_alloc_locked(uint64_t base);     // reserved by a graph's alloc node
bool is_async_alloc_locked(uint64_t base);     // from cudaMallocAsync outside a capture
void note_async_alloc_locked(uint64_t base, uint64_t bytes);
void forget_async_alloc_locked(uint64_t base);
// cudaMallocAsync / cudaFreeAsync on a capturing stream: graph memory nodes.
cudaError_t capture_alloc_locked(CUstream_st* s, uint64_t bytes, uint64_t* base);
cudaError_t capture_free_locked(CUstream_st* s, uint64_t base);

// ---- memory (memory_api.cc) ----
// A copy or memset on stream `h` (0: the legacy stream); `sync` for the synchronous API forms. Returns
// the error without recording it as the last error.
cudaError_t memcpy_impl(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t h, bool sync,
                        const char* what);
cudaError_t memset_impl(void* dst, int value, size_t n, cudaStream_t h, bool sync, const char* what);
cudaError_t memcpy2d_impl(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                          cudaMemcpyKind kind, cudaStream_t h, bool sync, const char* what);
cudaError_t memset2d_impl(void* dst, size_t pitch, int value, size_t width, size_t height, cudaStream_t h, bool sync,
                          const char* what);
enum class HostKind { Pageable, Pinned };
HostKind host_kind(const void* p, size_t bytes);
// Device bytes for a copy or memset on the executor: the host address of [addr, addr + bytes) when it
// lies in one live allocation; otherwise reports `what` (use after free, out of bounds) and returns
// nullptr (the caller makes the fault sticky).
uint8_t* device_bytes(uint64_t addr, uint64_t bytes, const char* what);
// At enqueue time: [addr, addr + bytes) is in a live allocation or a reserved (pending) one.
bool device_range_known(uint64_t addr, uint64_t bytes);

// ---- kernels and module variables (registry.cc, launch.cc) ----
// The device address and size of a registered __device__ / __constant__ variable (by its host shadow),
// loading its module on first use. cudaErrorInvalidSymbol when it is not one.
cudaError_t symbol_lookup(const void* host_var, uint64_t* addr, uint64_t* size);

}  // namespace emu::rt
