// dsv3-emu runtime: options from the environment (set by bin/dsv3-emu, usable directly), the report
// sink (stderr + DSV3_EMU_REPORT_FILE, which the dsv3-emu command counts), the statistics printed at
// exit with DSV3_EMU_STATS=1, and the device memory singleton.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "src/runtime/state.h"

namespace emu::rt {
namespace {

bool env_flag(const char* name, bool dflt) {
  const char* v = std::getenv(name);
  if (!v || !*v) return dflt;
  return !(std::strcmp(v, "0") == 0 || std::strcmp(v, "false") == 0 || std::strcmp(v, "no") == 0);
}

// "16G", "512M", "1T", "1048576", "16GiB": bytes; 0 when malformed.
uint64_t parse_size(const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || v <= 0) return 0;
  uint64_t mult = 1;
  switch (*end) {
    case 'k': case 'K': mult = 1ull << 10; ++end; break;
    case 'm': case 'M': mult = 1ull << 20; ++end; break;
    case 'g': case 'G': mult = 1ull << 30; ++end; break;
    case 't': case 'T': mult = 1ull << 40; ++end; break;
    default: break;
  }
  if (*end == 'i') ++end;
  if (*end == 'B' || *end == 'b') ++end;
  if (*end) return 0;
  return static_cast<uint64_t>(v * static_cast<double>(mult));
}

Config load_config() {
  Config c;
  c.strict = env_flag("DSV3_EMU_STRICT", false);
  c.racecheck = env_flag("DSV3_EMU_RACECHECK", true);
  c.stats = env_flag("DSV3_EMU_STATS", false);
  if (const char* s = std::getenv("DSV3_EMU_SCHEDULE")) {
    if (std::strcmp(s, "random") == 0) c.random_schedule = true;
    else if (*s && std::strcmp(s, "roundrobin") != 0 && std::strcmp(s, "default") != 0)
      std::fprintf(stderr, "dsv3-emu: DSV3_EMU_SCHEDULE=%s is not known (random | roundrobin); using roundrobin\n", s);
  }
  if (const char* s = std::getenv("DSV3_EMU_SEED")) c.seed = std::strtoull(s, nullptr, 0);
  if (const char* s = std::getenv("DSV3_EMU_MEMORY")) {
    const uint64_t m = parse_size(s);
    if (m) c.memory = m;
    else std::fprintf(stderr, "dsv3-emu: DSV3_EMU_MEMORY=%s is not a size (e.g. 16G); using 16G\n", s);
  }
  if (const char* s = std::getenv("DSV3_EMU_REPORT_FILE")) c.report_file = s;
  return c;
}

std::mutex& g_report_mu = *new std::mutex;  // never destroyed: reports may come while exiting
uint64_t g_reports = 0;

struct AtExit {
  ~AtExit() {
    if (!config().stats) return;
    const Stats& s = stats();
    std::fprintf(stderr,
                 "dsv3-emu: %llu kernels launched, %llu thread-instructions (%llu warp-instructions) in %.3f s of "
                 "kernel time, %.3g thread-instructions/s, %llu reports\n",
                 (unsigned long long)s.kernels, (unsigned long long)s.thread_instructions,
                 (unsigned long long)s.warp_instructions, s.kernel_seconds,
                 s.kernel_seconds > 0 ? s.thread_instructions / s.kernel_seconds : 0.0,
                 (unsigned long long)report_count());
    // Per kernel: CTAs launched against CTAs that did work (wrote global memory or issued an async copy
    // or MMA) show grids sized for the worst case.
    std::fprintf(stderr, "dsv3-emu stats: %8s %10s %10s %14s %9s  kernel\n", "launches", "CTAs", "with work", "thread-instr", "seconds");
    for (const auto& [name, k] : s.per_kernel)
      std::fprintf(stderr, "dsv3-emu stats: %8llu %10llu %10llu %14llu %9.3f  %s\n", (unsigned long long)k.launches,
                   (unsigned long long)k.ctas, (unsigned long long)k.ctas_with_work,
                   (unsigned long long)k.thread_instructions, k.seconds, name.c_str());
  }
} g_at_exit;

}  // namespace

const Config& config() {
  static const Config c = load_config();
  return c;
}

Stats& stats() {
  static Stats* s = new Stats;  // never destroyed: the executor may still run at exit
  return *s;
}

GlobalMemory& gmem() {
  static GlobalMemory* m = new GlobalMemory(config().memory);  // never destroyed, as above
  return *m;
}

void report(const std::string& text, uint64_t count) {
  std::lock_guard<std::mutex> l(g_report_mu);
  g_reports += count;
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  if (config().report_file.empty()) return;
  // One "report N" line per finding (N: how many it stands for), then its text indented.
  if (FILE* f = std::fopen(config().report_file.c_str(), "a")) {
    std::fprintf(f, "report %llu\n", (unsigned long long)count);
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) std::fprintf(f, "  %s\n", line.c_str());
    std::fclose(f);
  }
}

uint64_t report_count() {
  std::lock_guard<std::mutex> l(g_report_mu);
  return g_reports;
}

emu::Options interp_options() {
  const Config& c = config();
  emu::Options o;
  o.strict = c.strict;
  o.racecheck = c.racecheck;
  o.random_schedule = c.random_schedule;
  o.seed = c.seed;
  o.on_report = [](const emu::Report& r) { report(r.text); };
  return o;
}

}  // namespace emu::rt
