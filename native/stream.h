// Execution streams, as in CUDA: an op is enqueued on its device's stream and returns at once.
// The CPU stream is one native worker thread that runs queued tasks in order (each task may use
// the whole thread pool), so long CPU ops never block the JavaScript event loop. An op's task records
// its error on the op's outputs (set_storage_error), so it reaches whoever reads them and no one else;
// only an exception from a task that has no outputs is kept for the next synchronize() (sticky).
#pragma once
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "native/storage.h"

namespace dsv3 {

// A recorded CPU step: the tasks a piece of code enqueued while the stream was capturing, in order.
using CpuGraph = std::vector<std::function<void()>>;

class CpuStream {
 public:
  static CpuStream& get();
  // Queues the task, or appends it to the graph being captured.
  void enqueue(std::function<void()> task);
  // Graph capture (the CPU twin of CUDA graph capture): between begin_capture and end_capture, enqueue
  // records tasks instead of queueing them; launch queues one task that runs a recording's tasks in order
  // (each task again sees the storages it captured, so a replay rewrites the same outputs in place). Called
  // from the thread that enqueues (the JS thread). begin_capture throws when a capture is running.
  void begin_capture();
  std::shared_ptr<const CpuGraph> end_capture();
  bool capturing() const { return capture_ != nullptr; }
  void launch(std::shared_ptr<const CpuGraph> graph);
  // Graph replays started so far (read and written by the stream thread only).
  uint64_t replay_count() const { return replays_; }
  // Blocks until every task enqueued so far has run; rethrows the first error since the last call of
  // a task that had no outputs to carry it.
  void synchronize();
  // Blocks until every task enqueued so far has run; reports nothing.
  void wait();
  ~CpuStream();

 private:
  CpuStream();
  void loop();
  std::mutex m_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> q_;
  bool busy_ = false, stop_ = false;
  std::exception_ptr error_;
  std::shared_ptr<CpuGraph> capture_;
  uint64_t replays_ = 0;
  std::thread worker_;
};

// CPU op profile (lib/profile.ts profileCpu): while on, each op task run by the stream thread adds its wall
// time to its op's entry. Turned on and off from the JS thread; the entries are read after a wait().
struct CpuOpTime { const char* op; int64_t tasks = 0; double ns = 0; };
void cpu_profile_enable(bool on);  // on: clears the entries
bool cpu_profiling();
void cpu_profile_add(const char* op, double ns);
std::vector<CpuOpTime> cpu_profile_entries();

// Run `task` in stream order on device d: queued on the CPU stream, or called now for CUDA
// (CUDA tasks only enqueue kernels and copies on the device's stream).
void enqueue_on(Device d, std::function<void()> task);
// Wait for all work queued on device d (blocking the caller); rethrows deferred errors.
void synchronize_device(Device d);

// The error recorded on a storage by the failed op that last wrote it (null if none), and setting it.
std::exception_ptr storage_error(const Storage& s);
void set_storage_error(Storage& s, std::exception_ptr e);

}  // namespace dsv3
