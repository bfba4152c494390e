// dsv3-emu runtime tests: the assertions of the CUDA test programs in this folder (run by
// ../run-runtime-tests.sh through bin/dsv3-emu). CHECK(cond) and CHECK_EQ(a, b) record and go on;
// main returns finish(), which prints "N passed, M failed" and is non-zero when anything failed.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>

static int g_passed = 0, g_failed = 0;

static inline void check_record(bool ok, const char* file, int line, const char* what) {
  if (ok) {
    ++g_passed;
    return;
  }
  ++g_failed;
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what);
}

static inline void check_err(cudaError_t got, cudaError_t want, const char* file, int line, const char* what) {
  if (got == want) {
    ++g_passed;
    return;
  }
  ++g_failed;
  std::fprintf(stderr, "%s:%d: FAILED: %s returned %s (%s), expected %s\n", file, line, what, cudaGetErrorName(got),
               cudaGetErrorString(got), cudaGetErrorName(want));
}

static inline int finish() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}

#define CHECK(cond) check_record(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b)                                                                                      \
  do {                                                                                                      \
    const auto check_a_ = (a);                                                                              \
    const auto check_b_ = (b);                                                                              \
    const bool check_ok_ = check_a_ == check_b_;                                                            \
    if (!check_ok_)                                                                                         \
      std::fprintf(stderr, "%s:%d: %s = %lld, %s = %lld\n", __FILE__, __LINE__, #a, (long long)check_a_, #b, \
                   (long long)check_b_);                                                                    \
    check_record(check_ok_, __FILE__, __LINE__, #a " == " #b);                                              \
  } while (0)
// The call returns `want` (a cudaError_t).
#define CHECK_ERR(call, want) check_err((call), (want), __FILE__, __LINE__, #call)
#define CHECK_OK(call) CHECK_ERR(call, cudaSuccess)
