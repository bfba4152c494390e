// dsv3-emu runtime: the device's timeline, streams and events. One executor thread runs queued ops
// whose stream-order dependencies are done (the first in queue order, or a random ready one with
// DSV3_EMU_SCHEDULE=random, so that missing cross-stream synchronisation shows up). Streams follow the
// legacy default stream rules (the NULL stream waits for and is waited on by every blocking stream);
// events carry the host wall time at which the work before them completed (not GPU time).
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <deque>
#include <random>

#include "src/runtime/state.h"

namespace emu::rt {
namespace {

// Never destroyed: the executor thread may still wait on them while the process exits.
std::mutex& g_mu = *new std::mutex;
std::condition_variable& g_done = *new std::condition_variable;
std::condition_variable& g_work = *new std::condition_variable;
std::deque<OpPtr>& g_queue = *new std::deque<OpPtr>;  // queued, not started
int g_running = 0;                                     // ops being run (executor and host functions)
bool g_device_busy = false;                            // the executor is running an op
bool g_executor_started = false;
bool g_exiting = false;  // the process exits: start nothing more (the emulator's statics are going away)
std::set<CUstream_st*>& g_streams = *new std::set<CUstream_st*>;  // created streams (not the legacy one)
std::set<CUevent_st*>& g_events = *new std::set<CUevent_st*>;
CUstream_st& g_legacy = *[] {
  auto* s = new CUstream_st;
  s->legacy = true;
  return s;
}();
thread_local CUstream_st* t_per_thread = nullptr;

bool ready(const Op& op) {
  for (const auto& d : op.deps)
    if (!d->done) return false;
  return true;
}

void executor() {
  std::mt19937_64 rng(config().seed * 0x9E3779B97F4A7C15ull + 1);
  std::unique_lock<std::mutex> lock(g_mu);
  for (;;) {
    std::vector<size_t> candidates;
    g_work.wait(lock, [&] {
      candidates.clear();
      if (g_exiting) return false;
      for (size_t i = 0; i < g_queue.size(); ++i) {
        if (!ready(*g_queue[i])) continue;
        candidates.push_back(i);
        if (!config().random_schedule) break;
      }
      return !candidates.empty();
    });
    const size_t pick = candidates[config().random_schedule ? rng() % candidates.size() : 0];
    OpPtr op = g_queue[pick];
    g_queue.erase(g_queue.begin() + pick);
    ++g_running;
    if (op->host) {  // cudaLaunchHostFunc: may block for as long as it likes without stalling the device
      std::thread([op] {
        if (!sticky()) op->run();
        const double t = now_ms();
        std::lock_guard<std::mutex> l(g_mu);
        --g_running;
        op->stamp = t;
        op->done = true;
        op->deps.clear();
        op->run = nullptr;
        g_done.notify_all();
        g_work.notify_one();
      }).detach();
      continue;
    }
    g_device_busy = true;
    lock.unlock();
    // After a device fault nothing more runs (the context is lost, as on a real GPU).
    if (!sticky()) {
      try {
        op->run();
      } catch (const std::exception& e) {
        report(std::string("dsv3-emu: internal error in ") + op->what + ": " + e.what());
        set_sticky(cudaErrorLaunchFailure);
      }
    }
    const double t = now_ms();
    lock.lock();
    --g_running;
    g_device_busy = false;
    op->stamp = t;
    op->done = true;
    op->deps.clear();
    op->run = nullptr;  // drop what it captured (parameter copies, graph references) now
    g_done.notify_all();
  }
}

bool blocking(const CUstream_st* s) { return !s->legacy && !(s->flags & cudaStreamNonBlocking); }

cudaError_t lookup_stream(cudaStream_t h, CUstream_st** out) {
  *out = resolve_locked(h);
  return *out ? cudaSuccess : cudaErrorInvalidResourceHandle;
}

// At exit, like a context being destroyed: queued work is dropped, the op in progress completes (so
// that the emulator's static objects are not destroyed under a running kernel). Registered when the
// executor starts, so it runs before the static destructors of everything constructed earlier.
// Later calls (from the program's static destructors) return cudaErrorCudartUnloading, as NVIDIA's do
// once its runtime is torn down, and waits no longer block.
void on_exit() {
  std::unique_lock<std::mutex> lock(g_mu);
  g_exiting = true;
  g_done.wait(lock, [] { return !g_device_busy; });
  set_sticky(cudaErrorCudartUnloading);
  g_done.notify_all();
}

}  // namespace

std::mutex& mu() { return g_mu; }
std::condition_variable& done_cv() { return g_done; }

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

OpPtr enqueue_locked(CUstream_st* s, std::function<void()> fn, const char* what) {
  if (!g_executor_started) {
    std::thread(executor).detach();
    g_executor_started = true;
    std::atexit(on_exit);
  }
  auto op = std::make_shared<Op>();
  op->run = std::move(fn);
  op->what = what;
  auto dep = [&](const OpPtr& d) {
    if (d && !d->done) op->deps.push_back(d);
  };
  dep(s->last);
  if (s->legacy) {
    for (CUstream_st* t : g_streams)
      if (blocking(t)) dep(t->last);
  } else if (blocking(s)) {
    dep(g_legacy.last);
  }
  s->last = op;
  g_queue.push_back(op);
  g_work.notify_one();
  return op;
}

void wait_locked(std::unique_lock<std::mutex>& lock, const OpPtr& op) {
  if (op) g_done.wait(lock, [&] { return op->done || g_exiting; });
}

void wait_all_locked(std::unique_lock<std::mutex>& lock) {
  g_done.wait(lock, [] { return (g_queue.empty() && g_running == 0) || g_exiting; });
}

CUstream_st* resolve_locked(cudaStream_t h) {
  if (h == nullptr || h == cudaStreamLegacy) return &g_legacy;
  if (h == cudaStreamPerThread) {
    if (!t_per_thread) {  // this thread's default stream: a blocking stream, created on first use
      t_per_thread = new CUstream_st;
      g_streams.insert(t_per_thread);
    }
    return t_per_thread;
  }
  return g_streams.count(h) ? h : nullptr;
}

bool stream_valid_locked(cudaStream_t s) { return resolve_locked(s) != nullptr; }
bool event_valid_locked(cudaEvent_t e) { return e && g_events.count(e); }

std::vector<CUstream_st*> all_streams_locked() {
  std::vector<CUstream_st*> v(g_streams.begin(), g_streams.end());
  v.push_back(&g_legacy);
  return v;
}

cudaError_t submit_locked(CUstream_st* s, Node n, const char* what) {
  if (cudaError_t e = capture_check_locked(s)) return e;
  if (s->capture) {
    capture_add_locked(s, std::move(n));
    return cudaSuccess;
  }
  enqueue_locked(s, std::move(n.run), what);
  return cudaSuccess;
}

}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

// ---- streams ----

cudaError_t cudaStreamCreateWithPriority(cudaStream_t* out, unsigned flags, int priority) {
  RT_STICKY();
  if (!out || (flags & ~unsigned(cudaStreamNonBlocking))) return fail(cudaErrorInvalidValue);
  auto* s = new CUstream_st;
  s->flags = flags;
  s->priority = priority < -5 ? -5 : priority > 0 ? 0 : priority;  // clamped to the device's range
  std::lock_guard<std::mutex> l(g_mu);
  g_streams.insert(s);
  *out = s;
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* out, unsigned flags) {
  return cudaStreamCreateWithPriority(out, flags, 0);
}

cudaError_t cudaStreamCreate(cudaStream_t* out) { return cudaStreamCreateWithPriority(out, 0, 0); }

cudaError_t cudaDeviceGetStreamPriorityRange(int* least, int* greatest) {
  if (least) *least = 0;
  if (greatest) *greatest = -5;
  return cudaSuccess;
}

// Work already queued on the stream still runs; the handle is gone at once.
cudaError_t cudaStreamDestroy(cudaStream_t h) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  if (!h || h == cudaStreamLegacy || h == cudaStreamPerThread || !g_streams.count(h))
    return fail(cudaErrorInvalidResourceHandle);
  if (h->capture) invalidate_locked(h->capture, cudaErrorStreamCaptureInvalidated);
  if (h->capture) h->capture->streams.erase(h);
  g_streams.erase(h);
  delete h;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t h) {
  RT_STICKY();
  std::unique_lock<std::mutex> lock(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (s->capture) return fail(invalidate_locked(s->capture, cudaErrorStreamCaptureUnsupported));
  if (s->legacy) {  // waiting for the legacy stream waits for the blocking streams, captures included
    bool implicit = false;
    for (CUstream_st* t : g_streams)
      if (t->capture && blocking(t)) {
        invalidate_locked(t->capture, cudaErrorStreamCaptureImplicit);
        implicit = true;
      }
    if (implicit) return fail(cudaErrorStreamCaptureImplicit);
  }
  wait_locked(lock, s->last);
  return fail(sticky());
}

cudaError_t cudaStreamQuery(cudaStream_t h) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (s->capture) return fail(invalidate_locked(s->capture, cudaErrorStreamCaptureUnsupported));
  if (s->legacy) {  // the legacy stream is idle only when every blocking stream is
    for (CUstream_st* t : g_streams)
      if (blocking(t) && t->last && !t->last->done) return cudaErrorNotReady;
  }
  return (!s->last || s->last->done) ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaStreamGetFlags(cudaStream_t h, unsigned* flags) {
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!flags) return fail(cudaErrorInvalidValue);
  *flags = s->flags;
  return cudaSuccess;
}

cudaError_t cudaStreamGetPriority(cudaStream_t h, int* priority) {
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!priority) return fail(cudaErrorInvalidValue);
  *priority = s->priority;
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t h, cudaEvent_t ev, unsigned flags) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!event_valid_locked(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (flags & ~unsigned(cudaEventWaitExternal)) return fail(cudaErrorInvalidValue);
  if (ev->capture) {
    Capture* c = ev->capture;
    if (s->capture && s->capture != c) return fail(invalidate_locked(s->capture, cudaErrorStreamCaptureMerge));
    if (c->invalid) return fail(cudaErrorStreamCaptureInvalidated);
    if (!s->capture) {  // the stream joins the capture (a fork)
      s->capture = c;
      c->streams.insert(s);
      s->frontier = ev->nodes;
    } else {
      for (int n : ev->nodes)
        if (std::find(s->frontier.begin(), s->frontier.end(), n) == s->frontier.end()) s->frontier.push_back(n);
    }
    return cudaSuccess;
  }
  if (s->capture) {
    // An event recorded outside the capture: only allowed as an external wait (a graph wait node).
    if (!(flags & cudaEventWaitExternal)) return fail(invalidate_locked(s->capture, cudaErrorStreamCaptureIsolation));
    Node n;
    n.kind = Node::Kind::EventWait;
    n.event = ev;
    return fail(submit_locked(s, std::move(n), "cudaStreamWaitEvent"));
  }
  if (cudaError_t e = capture_check_locked(s)) return fail(e);
  OpPtr target = ev->op;
  OpPtr op = enqueue_locked(s, [] {}, "cudaStreamWaitEvent");
  if (target && !target->done) op->deps.push_back(target);
  return cudaSuccess;
}

// The host function runs on the executor thread, in stream order.
cudaError_t cudaLaunchHostFunc(cudaStream_t h, cudaHostFn_t fn, void* user) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!fn) return fail(cudaErrorInvalidValue);
  if (cudaError_t e = capture_check_locked(s)) return fail(e);
  if (s->capture) {  // a host node of the graph (runs inline when the graph runs)
    Node n;
    n.kind = Node::Kind::Empty;
    n.run = [fn, user] { fn(user); };
    capture_add_locked(s, std::move(n));
    return cudaSuccess;
  }
  enqueue_locked(s, [fn, user] { fn(user); }, "cudaLaunchHostFunc")->host = true;
  return cudaSuccess;
}

cudaError_t cudaStreamAddCallback(cudaStream_t h, cudaStreamCallback_t cb, void* user, unsigned flags) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!cb || flags) return fail(cudaErrorInvalidValue);
  if (s->capture) return fail(invalidate_locked(s->capture, cudaErrorStreamCaptureUnsupported));
  if (cudaError_t e = capture_check_locked(s)) return fail(e);
  enqueue_locked(s, [cb, user, h] { cb(h, sticky(), user); }, "cudaStreamAddCallback")->host = true;
  return cudaSuccess;
}

// ---- device-wide ----

cudaError_t cudaDeviceSynchronize(void) {
  RT_STICKY();
  std::unique_lock<std::mutex> lock(g_mu);
  if (any_capture_locked()) {
    for (CUstream_st* t : g_streams)
      if (t->capture) invalidate_locked(t->capture, cudaErrorStreamCaptureUnsupported);
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  wait_all_locked(lock);
  return fail(sticky());
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* out, unsigned flags) {
  RT_STICKY();
  const unsigned known = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
  if (!out || (flags & ~known)) return fail(cudaErrorInvalidValue);
  if ((flags & cudaEventInterprocess) && !(flags & cudaEventDisableTiming)) return fail(cudaErrorInvalidValue);
  auto* e = new CUevent_st;
  e->flags = flags;
  std::lock_guard<std::mutex> l(g_mu);
  g_events.insert(e);
  *out = e;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* out) { return cudaEventCreateWithFlags(out, 0); }

cudaError_t cudaEventDestroy(cudaEvent_t ev) {
  std::lock_guard<std::mutex> l(g_mu);
  if (!event_valid_locked(ev)) return fail(cudaErrorInvalidResourceHandle);
  g_events.erase(ev);
  if (ev->capture) ev->capture->events.erase(ev);
  delete ev;  // a pending record still completes: the op does not refer to the event
  return cudaSuccess;
}

cudaError_t cudaEventRecordWithFlags(cudaEvent_t ev, cudaStream_t h, unsigned flags) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  CUstream_st* s;
  if (cudaError_t e = lookup_stream(h, &s)) return fail(e);
  if (!event_valid_locked(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (flags & ~unsigned(cudaEventRecordExternal)) return fail(cudaErrorInvalidValue);
  if (cudaError_t e = capture_check_locked(s)) return fail(e);
  if (s->capture) {
    if (flags & cudaEventRecordExternal) {  // a graph event-record node
      Node n;
      n.kind = Node::Kind::EventRecord;
      n.event = ev;
      capture_add_locked(s, std::move(n));
      return cudaSuccess;
    }
    ev->capture = s->capture;  // a captured event: stands for the stream's current frontier
    ev->nodes = s->frontier;
    s->capture->events.insert(ev);
    return cudaSuccess;
  }
  if (ev->capture) ev->capture->events.erase(ev);
  ev->capture = nullptr;
  ev->nodes.clear();
  ev->op = enqueue_locked(s, [] {}, "cudaEventRecord");
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t h) { return cudaEventRecordWithFlags(ev, h, 0); }

cudaError_t cudaEventQuery(cudaEvent_t ev) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  if (!event_valid_locked(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (ev->capture) return fail(cudaErrorCapturedEvent);
  return (!ev->op || ev->op->done) ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
  RT_STICKY();
  std::unique_lock<std::mutex> lock(g_mu);
  if (!event_valid_locked(ev)) return fail(cudaErrorInvalidResourceHandle);
  if (ev->capture) return fail(cudaErrorCapturedEvent);
  OpPtr op = ev->op;
  wait_locked(lock, op);
  return fail(sticky());
}

// Milliseconds of host wall time between the completions of the two records (the emulator's time, not
// a GPU's).
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  RT_STICKY();
  std::lock_guard<std::mutex> l(g_mu);
  if (!ms) return fail(cudaErrorInvalidValue);
  if (!event_valid_locked(start) || !event_valid_locked(end)) return fail(cudaErrorInvalidResourceHandle);
  if (start->capture || end->capture) return fail(cudaErrorCapturedEvent);
  if ((start->flags | end->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
  if (!start->op || !end->op) return fail(cudaErrorInvalidResourceHandle);
  if (!start->op->done || !end->op->done) return fail(cudaErrorNotReady);
  *ms = static_cast<float>(end->op->stamp - start->op->stamp);
  return cudaSuccess;
}

}  // extern "C"
