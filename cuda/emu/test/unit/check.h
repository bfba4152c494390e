// Minimal assertions for the emulator's unit tests (one executable per test file, run by ctest).
// CHECK(cond) and CHECK_EQ(a, b) record a failure with file:line and go on; main returns
// check::finish(), which prints "N passed, M failed" and is non-zero when anything failed.
#pragma once
#include <cstdio>
#include <sstream>
#include <string>

namespace check {
inline int& passed() { static int n = 0; return n; }
inline int& failed() { static int n = 0; return n; }
inline void record(bool ok, const char* file, int line, const std::string& what) {
  if (ok) { ++passed(); return; }
  ++failed();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}
inline int finish() {
  std::printf("%d passed, %d failed\n", passed(), failed());
  return failed() ? 1 : 0;
}
}  // namespace check

#define CHECK(cond) ::check::record(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b)                                                                          \
  do {                                                                                          \
    const auto check_a_ = (a);                                                                  \
    const auto check_b_ = (b);                                                                  \
    std::ostringstream check_os_;                                                               \
    if (!(check_a_ == check_b_)) check_os_ << #a " == " #b " (" << check_a_ << " vs " << check_b_ << ")"; \
    ::check::record(check_a_ == check_b_, __FILE__, __LINE__, check_os_.str());                 \
  } while (0)
