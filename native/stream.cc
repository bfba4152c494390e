// The CPU stream worker and device-generic enqueue/synchronize.
#include "native/stream.h"

#include "native/cpu/parallel.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <system_error>

#ifdef DSV3_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dsv3 {

CpuStream& CpuStream::get() {
  // Leaked on purpose: never joined from a static destructor. If the system refuses the thread (a process
  // limit), each op says so (an OutOfMemoryError) and a later call tries again.
  static CpuStream* s = [] {
    try {
      return new CpuStream();
    } catch (const std::system_error& e) {
      throw OomError(std::string("cannot start the CPU stream thread: ") + e.what());
    }
  }();
  return *s;
}
CpuStream::CpuStream() : worker_([this] { loop(); }) {}
CpuStream::~CpuStream() {
  { std::lock_guard<std::mutex> l(m_); stop_ = true; }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void CpuStream::enqueue(std::function<void()> task) {
  if (capture_) { capture_->push_back(std::move(task)); return; }
  { std::lock_guard<std::mutex> l(m_); q_.push_back(std::move(task)); }
  cv_.notify_one();
}

void CpuStream::begin_capture() {
  if (capture_) throw std::logic_error("a CPU graph is already being captured");
  capture_ = std::make_shared<CpuGraph>();
}

std::shared_ptr<const CpuGraph> CpuStream::end_capture() {
  if (!capture_) throw std::logic_error("no CPU graph is being captured");
  auto g = std::move(capture_);
  capture_ = nullptr;
  return g;
}

void CpuStream::launch(std::shared_ptr<const CpuGraph> graph) {
  // Every task runs, as the queued ops would; a task that fails with no outputs to carry its error makes
  // the replay report the first such error for the next synchronize(), after the rest ran.
  enqueue([this, graph = std::move(graph)] {
    ++replays_;
    cpu::set_pool_spinning(true);  // the next op follows at once
    std::exception_ptr first;
    for (const auto& task : *graph) {
      try { task(); } catch (...) { if (!first) first = std::current_exception(); }
    }
    if (first) std::rethrow_exception(first);
  });
}

void CpuStream::synchronize() {
  std::unique_lock<std::mutex> l(m_);
  idle_cv_.wait(l, [this] { return q_.empty() && !busy_; });
  if (error_) { auto e = error_; error_ = nullptr; std::rethrow_exception(e); }
}

void CpuStream::wait() {
  std::unique_lock<std::mutex> l(m_);
  idle_cv_.wait(l, [this] { return q_.empty() && !busy_; });
}

void CpuStream::loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> l(m_);
      cv_.wait(l, [this] { return stop_ || !q_.empty(); });
      if (stop_ && q_.empty()) return;
      task = std::move(q_.front());
      q_.pop_front();
      busy_ = true;
      cpu::set_pool_spinning(!q_.empty());  // more ops are queued: keep the workers hot
    }
    std::exception_ptr err;
    try { task(); } catch (...) { err = std::current_exception(); }
    task = nullptr;  // drop captured storages before reporting idle
    {
      std::lock_guard<std::mutex> l(m_);
      if (err && !error_) error_ = err;
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

void enqueue_on(Device d, std::function<void()> task) {
  if (d.type == DeviceType::cpu) CpuStream::get().enqueue(std::move(task));
  else task();
}

void synchronize_device(Device d) {
  if (d.type == DeviceType::cpu) { CpuStream::get().synchronize(); return; }
#ifdef DSV3_WITH_CUDA
  cuda::synchronize(d.index);
#else
  throw CudaError("this build of dsv3 has no CUDA backend");
#endif
}

namespace {
std::mutex g_error_m;
std::atomic<bool> g_profiling{false};
std::mutex g_profile_m;
std::vector<CpuOpTime> g_profile;  // few distinct ops: a linear search by name pointer
}
void cpu_profile_enable(bool on) {
  std::lock_guard<std::mutex> l(g_profile_m);
  if (on) g_profile.clear();
  g_profiling.store(on, std::memory_order_relaxed);
}
bool cpu_profiling() { return g_profiling.load(std::memory_order_relaxed); }
void cpu_profile_add(const char* op, double ns) {
  std::lock_guard<std::mutex> l(g_profile_m);
  for (auto& e : g_profile)
    if (e.op == op) { ++e.tasks; e.ns += ns; return; }
  g_profile.push_back({op, 1, ns});
}
std::vector<CpuOpTime> cpu_profile_entries() {
  std::lock_guard<std::mutex> l(g_profile_m);
  return g_profile;
}
std::exception_ptr storage_error(const Storage& s) {
  std::lock_guard<std::mutex> l(g_error_m);
  return s.error;
}
void set_storage_error(Storage& s, std::exception_ptr e) {
  std::lock_guard<std::mutex> l(g_error_m);
  s.error = std::move(e);
}

}  // namespace dsv3
