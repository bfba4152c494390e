// SIGBUS on memory-mapped files -> IoFault (native/fault.h). One process-wide handler; each thread in a
// guarded region owns a slot of a fixed table (its thread id, its jump buffer), which the handler scans
// with atomics only: no TLS (a dlopen'ed addon's TLS may be allocated lazily) and no locks in the handler.
#include "native/fault.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <vector>

namespace dsv3 {
namespace {

struct Mapping { uintptr_t begin, end; std::string path, fault; };
std::mutex g_m;
std::vector<Mapping> g_maps;

struct Slot {
  std::atomic<uintptr_t> tid{0};  // pthread_self() of the owner, 0 when free
  sigjmp_buf* jb = nullptr;       // the innermost guard's jump buffer (set and read by the owner only)
  void* addr = nullptr;           // the faulting address, written by the handler on the owner's thread
};
constexpr int kSlots = 4096;
Slot g_slots[kSlots];
thread_local int t_slot = -1;  // this thread's slot, while it is inside a guard

uintptr_t self() { return static_cast<uintptr_t>(pthread_self()); }
struct sigaction g_old {};

void on_sigbus(int sig, siginfo_t* si, void* uc) {
  const uintptr_t me = self();
  for (auto& slot : g_slots)
    if (slot.tid.load(std::memory_order_relaxed) == me && slot.jb) { slot.addr = si->si_addr; siglongjmp(*slot.jb, 1); }
  // Not a guarded read: what would have happened without us.
  if ((g_old.sa_flags & SA_SIGINFO) && g_old.sa_sigaction) { g_old.sa_sigaction(sig, si, uc); return; }
  if (!(g_old.sa_flags & SA_SIGINFO) && g_old.sa_handler != SIG_DFL && g_old.sa_handler != SIG_IGN) { g_old.sa_handler(sig); return; }
  signal(SIGBUS, SIG_DFL);  // returning re-runs the faulting access, which now kills the process
}

void install() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;  // NODEFER: SIGBUS is not left blocked after the jump
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_old);
  });
}

std::string describe(void* addr) {
  const auto a = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> l(g_m);
  for (auto& m : g_maps)
    if (a >= m.begin && a < m.end) {
      std::string msg = m.path + ": the file shrank or was rewritten while it was memory-mapped: reading byte " +
                        std::to_string(a - m.begin) + " of the " + std::to_string(m.end - m.begin) +
                        " bytes mapped failed (SIGBUS); reopen it";
      if (m.fault.empty()) m.fault = msg;
      return msg;
    }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%p", addr);
  return std::string("a read of memory-mapped data at ") + buf + " failed (SIGBUS): the file shrank or was rewritten";
}

}  // namespace

void guard_faults(const std::function<void()>& f) {
  install();
  const bool outer = t_slot < 0;
  if (outer) {  // claim a free slot; with none left (thousands of guarded threads), run unguarded
    const uintptr_t me = self();
    for (int i = 0; i < kSlots && t_slot < 0; ++i) {
      uintptr_t free_tid = 0;
      if (g_slots[i].tid.compare_exchange_strong(free_tid, me)) t_slot = i;
    }
    if (t_slot < 0) { f(); return; }
  }
  Slot& slot = g_slots[t_slot];
  sigjmp_buf jb;
  sigjmp_buf* const prev = slot.jb;
  auto leave = [&] {
    slot.jb = prev;
    if (outer) { slot.tid.store(0); t_slot = -1; }
  };
  if (sigsetjmp(jb, 0) == 0) {
    slot.jb = &jb;
    try {
      f();
    } catch (...) {
      leave();
      throw;
    }
    leave();
    return;
  }
  void* const addr = slot.addr;
  leave();
  throw IoFault(describe(addr));
}

void register_mapping(const void* p, size_t bytes, const std::string& path) {
  install();
  std::lock_guard<std::mutex> l(g_m);
  g_maps.push_back({reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(p) + bytes, path, ""});
}

void unregister_mapping(const void* p) {
  std::lock_guard<std::mutex> l(g_m);
  for (size_t i = 0; i < g_maps.size(); ++i)
    if (g_maps[i].begin == reinterpret_cast<uintptr_t>(p)) { g_maps.erase(g_maps.begin() + static_cast<long>(i)); return; }
}

std::string mapping_fault(const void* p) {
  std::lock_guard<std::mutex> l(g_m);
  for (auto& m : g_maps)
    if (m.begin == reinterpret_cast<uintptr_t>(p)) return m.fault;
  return "";
}

}  // namespace dsv3
