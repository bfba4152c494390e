// A small fork-join pool: workers take chunk indices from an atomic claim word and the caller joins in;
// between jobs they spin briefly, then sleep on a condition variable. One parallel_for runs at a time.
#include "native/cpu/parallel.h"

#include "native/fault.h"

#include <algorithm>
#include <atomic>
#include <chrono>
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
    { std::lock_guard<std::mutex> l(m_); stop_.store(true); gen_.fetch_add(1); }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }
  void set_spinning(bool on) { spin_.store(on, std::memory_order_relaxed); }
  const std::string& start_error() const { return start_error_; }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    grain = std::max<int64_t>(grain, 1);
    const int64_t chunks_max = (n + grain - 1) / grain;
    // Up to 2 chunks per thread: enough for one straggler to be covered, few enough that each chunk's
    // memory stream is long (4 per thread decoded 5-10% slower on a 2-core Zen 4; prefill unchanged).
    const int64_t chunks = std::min<int64_t>({chunks_max, static_cast<int64_t>(n_) * 2, 0xffff});
    if (n_ == 1 || chunks <= 1 || in_pool_) { fn(0, n); return; }  // nested calls run inline
    std::lock_guard<std::mutex> serial(run_m_);
    // Publish the job: its fields, then the claim word of the new generation, then the generation.
    const uint32_t g = static_cast<uint32_t>(gen_.load(std::memory_order_relaxed) + 1);
    fn_ = &fn; n_items_ = n;
    error_ = nullptr;
    done_.store(0, std::memory_order_relaxed);
    claim_.store(static_cast<uint64_t>(g) << 32 | static_cast<uint64_t>(chunks) << 16, std::memory_order_release);
    gen_.store(g, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {  // pairs with the sleeper's increment (see loop)
      std::lock_guard<std::mutex> l(m_);
      cv_.notify_all();
    }
    work(g);
    // Wait for the chunks other threads claimed: spin briefly (a small op's chunk ends in microseconds), then
    // sleep until the last chunk's thread wakes us (a long chunk, or a preempted thread, needs the core).
    const auto t0 = std::chrono::steady_clock::now();
    for (int spins = 0; done_.load(std::memory_order_acquire) < chunks; ++spins) {
      cpu_relax();
      if ((spins & 63) != 63) continue;
      std::this_thread::yield();  // a busy machine: let the thread we wait for (or anyone) have the core
      if (std::chrono::steady_clock::now() - t0 > kCallerSpin) {
        std::unique_lock<std::mutex> l(m_);
        caller_waits_.store(true, std::memory_order_seq_cst);
        done_cv_.wait(l, [&] { return done_.load(std::memory_order_seq_cst) >= chunks; });
        caller_waits_.store(false, std::memory_order_relaxed);
        break;
      }
    }
    fn_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  // Claims and runs chunks of generation g until none is left. The claim word holds (generation << 32 |
  // chunks << 16 | next chunk): a thread that wakes late for an old generation claims nothing, and a claimed chunk keeps its
  // job's fields alive (the caller waits for every chunk before publishing the next job).
  void work(uint32_t g) {
    in_pool_ = true;
    struct Reset { ~Reset() { in_pool_ = false; } } reset;
    for (;;) {
      uint64_t v = claim_.load(std::memory_order_acquire);
      if (static_cast<uint32_t>(v >> 32) != g) return;
      const int64_t c = static_cast<int64_t>(v & 0xffff), nc = static_cast<int64_t>(v >> 16 & 0xffff);
      if (c >= nc) return;
      if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
      const int64_t b = n_items_ * c / nc, e = n_items_ * (c + 1) / nc;
      // guard_faults: a chunk reading a file mapping that shrank fails with an IoFault, not a SIGBUS.
      try { guard_faults([&] { (*fn_)(b, e); }); } catch (...) {
        std::lock_guard<std::mutex> l(err_m_);
        if (!error_) error_ = std::current_exception();
      }
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == nc && caller_waits_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> l(m_);  // the caller is in (or entering) its wait: wake it
        done_cv_.notify_one();
      }
    }
  }
  // While spinning is on (a graph replay or queued ops: the next job comes microseconds later, and waking a
  // sleeping thread costs more than a small op), workers spin for the next job for up to kSpin, then sleep on
  // the condition variable. Otherwise they sleep at once: the next op is still being made by the JS thread,
  // which needs the core.
  void loop() {
    uint32_t seen = gen_.load();
    for (;;) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int spins = 0; gen_.load(std::memory_order_acquire) == seen; ++spins) {
        cpu_relax();
        if ((spins & 63) != 63) continue;
        std::this_thread::yield();  // spinning must not starve other runnable threads of a busy machine
        if (!spin_.load(std::memory_order_relaxed) || std::chrono::steady_clock::now() - t0 > kSpin) {
          std::unique_lock<std::mutex> l(m_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          cv_.wait(l, [&] { return gen_.load(std::memory_order_seq_cst) != seen; });
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          break;
        }
      }
      if (stop_.load()) return;
      seen = gen_.load(std::memory_order_acquire);
      work(seen);
    }
  }

  static constexpr std::chrono::microseconds kSpin{200}, kCallerSpin{50};
  static thread_local bool in_pool_;
  int n_;
  std::string start_error_;
  std::vector<std::thread> workers_;
  std::mutex m_, run_m_, err_m_;
  std::condition_variable cv_, done_cv_;
  std::atomic<uint32_t> gen_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false}, spin_{false}, caller_waits_{false};
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_items_ = 0;
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
void set_pool_spinning(bool on) { pool().set_spinning(on); }
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  pool().run(n, grain, fn);
}

}  // namespace dsv3::cpu
