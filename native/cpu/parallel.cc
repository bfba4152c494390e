// A small fork-join pool: workers sleep on a condition variable, take chunk indices from an atomic
// counter, and the caller joins in. One parallel_for runs at a time (ops run on one stream thread).
#include "native/cpu/parallel.h"

#include "native/fault.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dsv3::cpu {
namespace {

class Pool {
 public:
  // Starts up to n - 1 workers; when the system refuses a thread (a process or memory limit), runs with
  // those it got (n_ = workers + the caller) and says so in start_error().
  explicit Pool(int n) : n_(n) {
    workers_.reserve(static_cast<size_t>(n_ - 1));
    for (int i = 1; i < n_; ++i) {
      try {
        workers_.emplace_back([this] { loop(); });
      } catch (const std::exception& e) {
        start_error_ = "could start only " + std::to_string(i) + " of " + std::to_string(n) + " CPU threads (" + e.what() + ")";
        n_ = i;
        break;
      }
    }
  }
  ~Pool() {
    { std::lock_guard<std::mutex> l(m_); stop_ = true; ++gen_; }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }
  const std::string& start_error() const { return start_error_; }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    grain = std::max<int64_t>(grain, 1);
    const int64_t chunks_max = (n + grain - 1) / grain;
    const int64_t chunks = std::min<int64_t>(chunks_max, static_cast<int64_t>(n_) * 4);
    if (n_ == 1 || chunks <= 1 || in_pool_) { fn(0, n); return; }  // nested calls run inline
    std::lock_guard<std::mutex> serial(run_m_);
    {
      std::lock_guard<std::mutex> l(m_);
      fn_ = &fn; n_items_ = n; n_chunks_ = chunks; next_.store(0); active_ = static_cast<int>(workers_.size());
      error_ = nullptr; ++gen_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> l(m_);
    done_cv_.wait(l, [this] { return active_ == 0; });
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    in_pool_ = true;
    struct Reset { ~Reset() { in_pool_ = false; } } reset;
    for (;;) {
      const int64_t c = next_.fetch_add(1);
      if (c >= n_chunks_) break;
      const int64_t b = n_items_ * c / n_chunks_, e = n_items_ * (c + 1) / n_chunks_;
      // guard_faults: a chunk reading a file mapping that shrank fails with an IoFault, not a SIGBUS.
      try { guard_faults([&] { (*fn_)(b, e); }); } catch (...) {
        std::lock_guard<std::mutex> l(m_);
        if (!error_) error_ = std::current_exception();
      }
    }
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
      }
      work();
      std::lock_guard<std::mutex> l(m_);
      if (--active_ == 0) done_cv_.notify_one();
    }
  }

  static thread_local bool in_pool_;
  int n_;
  std::string start_error_;
  std::vector<std::thread> workers_;
  std::mutex m_, run_m_;
  std::condition_variable cv_, done_cv_;
  uint64_t gen_ = 0;
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_items_ = 0, n_chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int active_ = 0;
  std::exception_ptr error_;
};

thread_local bool Pool::in_pool_ = false;

int g_requested = 0;

Pool& pool() {
  static Pool* p = [] {
    const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    int n = cores;
    if (const char* e = std::getenv("DSV3_NUM_THREADS")) {
      char* end = nullptr;
      errno = 0;
      const long v = std::strtol(e, &end, 10);
      if (end != e && *end == 0 && v > 0) n = static_cast<int>(std::min<long>(v, kMaxThreadsPerCore * cores));
      g_requested = end != e && *end == 0 && v > 0 ? static_cast<int>(std::min<long>(v, 1L << 30)) : 0;
    }
    auto* pool = new Pool(n);  // leaked on purpose: workers must outlive static destructors
    if (!pool->start_error().empty()) std::fprintf(stderr, "dsv3: %s; running with %d\n", pool->start_error().c_str(), pool->size());
    return pool;
  }();
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }
int requested_threads() { pool(); return g_requested; }
std::string thread_start_error() { return pool().start_error(); }
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  pool().run(n, grain, fn);
}

}  // namespace dsv3::cpu
