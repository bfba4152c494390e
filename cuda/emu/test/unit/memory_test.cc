// dsv3-emu: unit test of the emulated device memory (src/runtime/memory.h): alignment, poison, red
// zones, capacity, translation and its bounds, use-after-free descriptions, no early reuse of freed
// ranges, host faults on device addresses, memory given back on free, and concurrent use.
#include "src/runtime/memory.h"

#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "test/unit/check.h"

namespace {

sigjmp_buf g_jump;
void on_segv(int) { siglongjmp(g_jump, 1); }

// True when reading the byte at `p` from the host faults.
bool host_read_faults(const volatile uint8_t* p) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_segv;
  sigaction(SIGSEGV, &sa, &old);
  bool faulted = false;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)*p;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &old, nullptr);
  return faulted;
}

uint64_t resident_kb() {  // RssAnon of this process
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8));
  return 0;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

int main() {
  using emu::GlobalMemory;
  {
    GlobalMemory mem(64ull << 20);
    CHECK_EQ(mem.capacity(), 64ull << 20);
    CHECK_EQ(mem.used(), 0u);

    // Alignment, poison, distinct ids, used().
    const uint64_t a = mem.allocate(100, "cudaMalloc");
    const uint64_t b = mem.allocate(1000, "cudaMallocAsync");
    CHECK(a != 0 && b != 0);
    CHECK_EQ(a % 256, 0u);
    CHECK_EQ(b % 256, 0u);
    CHECK(mem.in_device_range(a) && mem.in_device_range(b));
    CHECK_EQ(mem.used(), 1100u);
    uint8_t* ha = mem.translate(a, 100);
    CHECK(ha != nullptr);
    bool all_poison = true;
    for (int i = 0; i < 100; ++i) all_poison &= ha[i] == 0xFF;
    CHECK(all_poison);
    float f;
    std::memcpy(&f, ha, 4);
    CHECK(f != f);  // poison reads as NaN
    CHECK_EQ(mem.host_of(a), ha);
    const emu::Allocation* fa = mem.find(a + 99);
    CHECK(fa != nullptr);
    if (fa) {
      CHECK_EQ(fa->base, a);
      CHECK_EQ(fa->size, 100u);
      CHECK_EQ(std::string(fa->kind), std::string("cudaMalloc"));
      CHECK(fa->live);
    }
    const emu::Allocation* fb = mem.find(b);
    CHECK(fa && fb && fb->id == fa->id + 1);

    // Bounds: the last byte is in, one past the end is not, nor a range straddling the end.
    CHECK(mem.translate(a + 99, 1) != nullptr);
    CHECK(mem.translate(a + 100, 1) == nullptr);
    CHECK(mem.translate(a + 96, 8) == nullptr);
    CHECK(mem.translate(a - 1, 1) == nullptr);
    CHECK(mem.find(a + 100) == nullptr);
    // The red zone: the next allocation does not start right after the end of this one.
    CHECK(b >= a + 100 + 256);
    CHECK(mem.find(b - 1) == nullptr);

    // Reports' descriptions.
    const std::string d1 = mem.describe(a + 104, 4);
    CHECK(contains(d1, "4 bytes after the end of allocation #"));
    CHECK(contains(d1, "100 bytes, cudaMalloc"));
    CHECK(contains(mem.describe(b - 8, 4), "8 bytes before the start of allocation #"));
    CHECK(contains(mem.describe(a + 96, 8), "past its end"));
    CHECK(contains(mem.describe(a + 10, 4), "at offset 10 of allocation #"));
    CHECK(contains(mem.describe(16, 4), "not in any allocation"));

    // Release: a freed allocation is no longer translatable and is described as freed.
    CHECK(mem.release(a));
    CHECK(!mem.release(a));      // double free is the caller's error
    CHECK(!mem.release(b + 4));  // not a base
    CHECK(mem.translate(a, 4) == nullptr);
    CHECK(mem.find(a) == nullptr);
    CHECK(contains(mem.describe(a + 4, 4), ", freed"));
    CHECK_EQ(mem.used(), 1000u);

    // Freed ranges are not reused while fresh address space remains.
    std::set<uint64_t> seen = {a, b};
    bool reused = false;
    for (int i = 0; i < 200; ++i) {
      const uint64_t c = mem.allocate(100, "cudaMalloc");
      reused |= !seen.insert(c).second;
      mem.release(c);
    }
    CHECK(!reused);

    // Capacity: a request beyond what is left fails with 0 and changes nothing.
    CHECK_EQ(mem.allocate((64ull << 20) + 1, "cudaMalloc"), 0u);
    const uint64_t big = mem.allocate((64ull << 20) - 1000, "cudaMalloc");
    CHECK(big != 0);
    CHECK_EQ(mem.allocate(1, "cudaMalloc"), 0u);
    CHECK(mem.release(big));
    CHECK(mem.release(b));
    CHECK_EQ(mem.used(), 0u);

    // The host cannot dereference a device address (PROT_NONE), as with a real GPU.
    const uint64_t c = mem.allocate(64, "cudaMalloc");
    CHECK(host_read_faults(reinterpret_cast<const uint8_t*>(c)));
    CHECK(!host_read_faults(mem.host_of(c)));
    mem.release(c);
  }

  {
    // Reservations (stream-ordered and graph allocations): an address without bytes until allocate_at,
    // live again at the same address after a release, never handed to anyone else meanwhile.
    GlobalMemory mem(1ull << 20);
    const uint64_t r = mem.reserve(4096);
    CHECK(r != 0);
    CHECK_EQ(r % 256, 0u);
    CHECK(mem.reserved(r, 4096));
    CHECK(mem.reserved(r + 4000, 96));
    CHECK(!mem.reserved(r + 4000, 97));
    CHECK(mem.translate(r, 4) == nullptr);  // not live yet
    CHECK(contains(mem.describe(r + 16, 4), "at offset 16 of a stream-ordered or graph allocation"));
    CHECK_EQ(mem.used(), 0u);
    CHECK(mem.allocate_at(r, "graph"));
    CHECK(!mem.allocate_at(r, "graph"));      // already live
    CHECK(!mem.allocate_at(r + 256, "graph"));  // not a reservation
    CHECK_EQ(mem.used(), 4096u);
    uint8_t* h = mem.translate(r, 4096);
    CHECK(h && h[0] == 0xFF && h[4095] == 0xFF);
    if (h) h[0] = 1;
    CHECK(mem.release(r));
    CHECK(contains(mem.describe(r, 4), ", freed"));
    CHECK(mem.allocate_at(r, "graph"));  // the next replay
    h = mem.translate(r, 1);
    CHECK(h && h[0] == 0xFF);  // poisoned again, not the old bytes
    const emu::Allocation* a = mem.find(r);
    CHECK(a && std::string(a->kind) == "graph");
    const uint64_t x = mem.reserve(2ull << 20);  // beyond the capacity
    CHECK_EQ(x, 0u);
    const uint64_t y = mem.reserve(1ull << 20);
    CHECK(y != 0);
    CHECK(!mem.allocate_at(y, "cudaMallocAsync"));  // 4096 live + 1 MiB > capacity
    mem.unreserve(r);
    CHECK(mem.find(r) != nullptr);  // still live until released
    CHECK(mem.release(r));
    CHECK(mem.allocate_at(y, "cudaMallocAsync"));
  }

  {
    // Freed memory goes back to the system (MADV_DONTNEED), and poison costs resident pages.
    GlobalMemory mem(4ull << 30);
    const uint64_t before = resident_kb();
    const uint64_t a = mem.allocate(256ull << 20, "cudaMalloc");
    const uint64_t during = resident_kb();
    CHECK(during > before + 200 * 1024);
    mem.release(a);
    const uint64_t after = resident_kb();
    CHECK(after < during - 200 * 1024);
  }

  {
    // Once fresh address space is exhausted, freed ranges are reused, and stale freed records that
    // overlap the reused range no longer claim it.
    GlobalMemory mem(64ull << 20);
    uint64_t first = 0, reused_at = 0;
    for (int i = 0; i < 1000000 && !reused_at; ++i) {
      const uint64_t x = mem.allocate(32ull << 20, "cudaMalloc");
      if (!x) break;
      if (!first) first = x;
      else if (x <= first) reused_at = x;
      mem.release(x);
    }
    CHECK(reused_at != 0);
    if (reused_at) {
      const uint64_t y = mem.allocate(1024, "cudaMalloc");
      CHECK(y != 0);
      CHECK(mem.translate(y, 1024) != nullptr);
      CHECK(contains(mem.describe(y + 8, 4), "at offset 8 of allocation"));
    }
  }

  {
    // Concurrent allocate / translate / release from several threads keep the table consistent.
    GlobalMemory mem(1ull << 30);
    std::vector<std::thread> threads;
    std::vector<int> errors(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 2000; ++i) {
          const uint64_t x = mem.allocate(512 + t, "cudaMalloc");
          uint8_t* h = mem.translate(x, 512 + t);
          if (!h || h[0] != 0xFF) ++errors[t];
          else h[0] = static_cast<uint8_t>(t);
          const emu::Allocation* al = mem.find(x + 1);
          if (!al || al->base != x) ++errors[t];
          if (!mem.release(x)) ++errors[t];
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK_EQ(errors[0] + errors[1] + errors[2] + errors[3], 0);
    CHECK_EQ(mem.used(), 0u);
  }
  return check::finish();
}
