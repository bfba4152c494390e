// common.cuh: host-side helpers shared by the emulator's instruction-family test programs
// (test/kernels/*.cu): CUDA error checks, a fixed seeded generator, poisoned (0xFF) device buffers,
// host reference arithmetic in a chosen IEEE rounding mode, per-check reporting and the last line
// "N passed, M failed" (exit status non-zero on any failure). No PTX semantics live here.
#pragma once
#include <cfenv>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <cuda_runtime.h>

namespace kt {
inline int g_passed = 0, g_failed = 0;  // checks that passed / failed so far
}  // namespace kt

// A CUDA call that must succeed; anything else ends the program with a failure.
#define CUDA_CHECK(call)                                                                           \
  do {                                                                                             \
    cudaError_t err_ = (call);                                                                     \
    if (err_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call,               \
                   cudaGetErrorName(err_), cudaGetErrorString(err_));                              \
      std::printf("%d passed, %d failed\n", kt::g_passed, kt::g_failed + 1);                     \
      std::exit(2);                                                                                \
    }                                                                                              \
  } while (0)

// After a launch: the launch itself and its execution must succeed.
#define LAUNCH_CHECK()                                                                             \
  do {                                                                                             \
    CUDA_CHECK(cudaGetLastError());                                                                \
    CUDA_CHECK(cudaDeviceSynchronize());                                                           \
  } while (0)

namespace kt {

// ---- deterministic generator (splitmix64) ----
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t u64() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t u32() { return (uint32_t)(u64() >> 32); }
  uint32_t below(uint32_t n) { return (uint32_t)(((u64() >> 32) * (uint64_t)n) >> 32); }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * ((u64() >> 11) * 0x1.0p-53); }
  // A float with random sign, exponent in [emin, emax] and random mantissa (normal numbers).
  float f32_exp(int emin, int emax) {
    uint32_t e = (uint32_t)(emin + 127 + (int)below((uint32_t)(emax - emin + 1)));
    uint32_t b = (u32() & 0x80000000u) | (e << 23) | (u32() & 0x7FFFFFu);
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  double f64_exp(int emin, int emax) {
    uint64_t e = (uint64_t)(emin + 1023 + (int)below((uint32_t)(emax - emin + 1)));
    uint64_t b = (u64() & 0x8000000000000000ull) | (e << 52) | (u64() & 0xFFFFFFFFFFFFFull);
    double d;
    std::memcpy(&d, &b, 8);
    return d;
  }
};

// ---- bits ----
inline uint32_t fbits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }
inline float bitsf(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }
inline uint64_t dbits(double d) { uint64_t b; std::memcpy(&b, &d, 8); return b; }
inline double bitsd(uint64_t b) { double d; std::memcpy(&d, &b, 8); return d; }
constexpr uint32_t kNaN32 = 0x7FFFFFFFu;                 // PTX canonical f32 NaN
constexpr uint64_t kNaN64 = 0x7FFFFFFFFFFFFFFFull;       // PTX canonical f64 NaN

// Interesting f32 operands: zeros, subnormals, normals at the edges, infinities, NaNs.
inline std::vector<float> f32_specials() {
  const uint32_t b[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007FFFFFu, 0x807FFFFFu,
                        0x00400000u, 0x00800000u, 0x80800000u, 0x3F800000u, 0xBF800000u, 0x3F800001u,
                        0x3F7FFFFFu, 0x40000000u, 0x40490FDBu, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x7F000000u,
                        0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0x3EAAAAABu,
                        0x34000000u, 0x4B000000u, 0x4B7FFFFFu, 0x33800000u};
  std::vector<float> v;
  for (uint32_t x : b) v.push_back(bitsf(x));
  return v;
}

// ---- host reference arithmetic in a given rounding mode ----
// The operands go through volatile so that the operation happens between the two fesetround calls.
enum Rnd { RN = FE_TONEAREST, RZ = FE_TOWARDZERO, RM = FE_DOWNWARD, RP = FE_UPWARD };
template <class T, class F>
inline T in_mode(int mode, F f) {
  int old = std::fegetround();
  std::fesetround(mode);
  volatile T r = f();
  std::fesetround(old);
  return r;
}
inline float h_add(float a, float b, int m) { volatile float x = a, y = b; return in_mode<float>(m, [&] { return x + y; }); }
inline float h_sub(float a, float b, int m) { volatile float x = a, y = b; return in_mode<float>(m, [&] { return x - y; }); }
inline float h_mul(float a, float b, int m) { volatile float x = a, y = b; return in_mode<float>(m, [&] { return x * y; }); }
inline float h_div(float a, float b, int m) { volatile float x = a, y = b; return in_mode<float>(m, [&] { return x / y; }); }
inline float h_fma(float a, float b, float c, int m) {
  volatile float x = a, y = b, z = c;
  return in_mode<float>(m, [&] { return std::fma((float)x, (float)y, (float)z); });
}
inline float h_sqrt(float a, int m) { volatile float x = a; return in_mode<float>(m, [&] { return std::sqrt((float)x); }); }
inline double h_add(double a, double b, int m) { volatile double x = a, y = b; return in_mode<double>(m, [&] { return x + y; }); }
inline double h_sub(double a, double b, int m) { volatile double x = a, y = b; return in_mode<double>(m, [&] { return x - y; }); }
inline double h_mul(double a, double b, int m) { volatile double x = a, y = b; return in_mode<double>(m, [&] { return x * y; }); }
inline double h_div(double a, double b, int m) { volatile double x = a, y = b; return in_mode<double>(m, [&] { return x / y; }); }
inline double h_fma(double a, double b, double c, int m) {
  volatile double x = a, y = b, z = c;
  return in_mode<double>(m, [&] { return std::fma((double)x, (double)y, (double)z); });
}
inline double h_sqrt(double a, int m) { volatile double x = a; return in_mode<double>(m, [&] { return std::sqrt((double)x); }); }

// PTX result conventions on the host value: canonical NaN, flush-to-zero, saturation to [0, 1].
inline float canon(float f) { return std::isnan(f) ? bitsf(kNaN32) : f; }
inline double canon(double d) { return std::isnan(d) ? bitsd(kNaN64) : d; }
inline float ftz(float f) { return (f != 0.0f && std::fabs(f) < 0x1.0p-126f) ? std::copysign(0.0f, f) : f; }
inline float sat01(float f) { return std::isnan(f) ? 0.0f : f < 0.0f ? 0.0f : f > 1.0f ? 1.0f : f; }

// Distance in units in the last place between two finite floats of the same sign (or zeros).
inline int64_t ulp_diff(float a, float b) {
  auto key = [](float f) -> int64_t {
    int32_t i = (int32_t)fbits(f);
    return i < 0 ? -(int64_t)(i & 0x7FFFFFFF) : (int64_t)i;
  };
  int64_t d = key(a) - key(b);
  return d < 0 ? -d : d;
}

// ---- checks ----
// One Check is one named property (usually one instruction variant over all its inputs). It counts as
// one pass or one fail in the final line; its first few mismatches are printed.
class Check {
 public:
  explicit Check(std::string name) : name_(std::move(name)) {}
  Check(const Check&) = delete;
  ~Check() { done(); }
  void done() {
    if (finished_) return;
    finished_ = true;
    if (bad_ == 0 && total_ > 0) {
      ++g_passed;
    } else {
      ++g_failed;
      if (total_ == 0)
        std::printf("FAIL %s: nothing was checked\n", name_.c_str());
      else
        std::printf("FAIL %s: %ld of %ld mismatched\n", name_.c_str(), bad_, total_);
    }
  }
  // A mismatch at index i, described printf-style.
  void fail(long i, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
    ++total_;
    if (bad_++ < kShown) {
      char buf[512];
      va_list ap;
      va_start(ap, fmt);
      std::vsnprintf(buf, sizeof buf, fmt, ap);
      va_end(ap);
      std::printf("  %s [%ld]: %s\n", name_.c_str(), i, buf);
    }
  }
  void ok() { ++total_; }
  bool expect(bool cond, long i, const char* what) {
    if (cond) ok(); else fail(i, "%s", what);
    return cond;
  }
  bool u32(long i, uint32_t got, uint32_t want, const char* ctx = "") {
    if (got == want) { ok(); return true; }
    fail(i, "%s got 0x%08x (%d) want 0x%08x (%d)", ctx, got, (int)got, want, (int)want);
    return false;
  }
  bool u64(long i, uint64_t got, uint64_t want, const char* ctx = "") {
    if (got == want) { ok(); return true; }
    fail(i, "%s got 0x%016llx want 0x%016llx", ctx, (unsigned long long)got, (unsigned long long)want);
    return false;
  }
  // Bit-exact float comparison (a NaN must match the expected NaN bit for bit).
  bool f32(long i, float got, float want, const char* ctx = "") {
    if (fbits(got) == fbits(want)) { ok(); return true; }
    fail(i, "%s got %a (0x%08x) want %a (0x%08x)", ctx, got, fbits(got), want, fbits(want));
    return false;
  }
  bool f64(long i, double got, double want, const char* ctx = "") {
    if (dbits(got) == dbits(want)) { ok(); return true; }
    fail(i, "%s got %a (0x%016llx) want %a (0x%016llx)", ctx, got, (unsigned long long)dbits(got), want,
         (unsigned long long)dbits(want));
    return false;
  }
  // |got - want| <= tol, both finite (NaN never passes here).
  bool near(long i, double got, double want, double tol, const char* ctx = "") {
    if (!std::isnan(got) && !std::isnan(want) && std::fabs(got - want) <= tol) { ok(); return true; }
    fail(i, "%s got %.9g (%a) want %.9g, tolerance %.3g", ctx, got, got, want, tol);
    return false;
  }
  long failures() const { return bad_; }

 private:
  static constexpr long kShown = 6;
  std::string name_;
  long bad_ = 0, total_ = 0;
  bool finished_ = false;
};

// The last line of every program; returns the exit status.
inline int finish() {
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

// ---- device buffers: every buffer starts poisoned (0xFF bytes) ----
template <class T>
struct DevBuf {
  T* d = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&d, bytes()));
    CUDA_CHECK(cudaMemset(d, 0xFF, bytes()));
  }
  explicit DevBuf(const std::vector<T>& host) : DevBuf(host.size()) { upload(host); }
  ~DevBuf() { cudaFree(d); }
  DevBuf(const DevBuf&) = delete;
  size_t bytes() const { return n * sizeof(T); }
  void upload(const std::vector<T>& host) {
    CUDA_CHECK(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> h(n);
    CUDA_CHECK(cudaMemcpy(h.data(), d, bytes(), cudaMemcpyDeviceToHost));
    return h;
  }
  operator T*() const { return d; }
};

// Runs `launch` (which writes `out`) twice: once on the 0xFF poison, once on 0x00 bytes. An output that
// the kernel does not write differs between the runs, so checks that accept "any NaN" (which the 0xFF
// poison is) cannot pass on an unwritten output. Returns the first run's output.
template <class T, class F>
std::vector<T> run_twice(DevBuf<T>& out, F launch, const char* what) {
  CUDA_CHECK(cudaMemset(out.d, 0xFF, out.bytes()));
  launch();
  LAUNCH_CHECK();
  std::vector<T> first = out.download();
  CUDA_CHECK(cudaMemset(out.d, 0x00, out.bytes()));
  launch();
  LAUNCH_CHECK();
  std::vector<T> second = out.download();
  Check ck(std::string("every output written (") + what + ")");
  for (size_t i = 0; i < first.size(); ++i)
    if (std::memcmp(&first[i], &second[i], sizeof(T)) == 0) ck.ok();
    else ck.fail((long)i, "differs between a 0xFF and a 0x00 poisoned run");
  return first;
}

}  // namespace kt
