// The kernel sandbox's host helpers (docs/kernel-sandbox.md), shared by the cuda/dev/<op>.cu programs:
// command line, random inputs, device buffers, NaN-poisoned outputs, the comparison with the CPU twin
// (test/cases/tolerance.ts's measure ||got - want|| / ||want|| with the GPU suites' tolerances; NaN
// never passes) and the timing (median of CUDA-event intervals) against the H200's peaks. Plain C++ over
// cuda/runtime.h, so a program's only CUDA is the launchers it calls.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuda/runtime.h"
#include "native/dtype.h"
#include "native/ops.h"

namespace dsv3::dev {

constexpr int kDev = 0;
// H200 SXM datasheet peaks (dense): FP8 tensor cores, BF16 tensor cores, FP32 CUDA cores, HBM3e.
constexpr double kPeakFp8 = 1979e12, kPeakBf16 = 989e12, kPeakF32 = 67e12, kPeakHbm = 4.8e12;
// Relative tolerances of a kernel against its CPU twin, those of the GPU suites (test/cases/): FP8 GEMMs
// (TOL_FP8_VS_CPU), the f32 / bf16 gemm by output dtype (TOL_GEMM_VS_CPU).
constexpr double kTolFp8VsCpu = 1e-3;
inline double tol_gemm_vs_cpu(DType out) { return out == DType::f32 ? 1e-4 : 1e-2; }

// ---- command line: --version N (repeatable; default all), --reps N, --v3 / --small (shape set) ----
struct Options {
  std::vector<int> versions;
  int reps = 0;       // 0: 20 on a GPU, 1 on the emulator
  bool v3 = false;    // DeepSeek-V3 shapes (default on a GPU); small shapes otherwise (default on the emulator)
  bool emulator = false;
  bool runs(int v) const { return versions.empty() || std::find(versions.begin(), versions.end(), v) != versions.end(); }
};
inline Options parse(int argc, char** argv, const char* about, const char* versions_help) {
  Options o;
  const std::string name = cuda::device_info(kDev).name;
  o.emulator = name.find("dsv3-emu") != std::string::npos;
  o.v3 = !o.emulator;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--version" && i + 1 < argc) o.versions.push_back(std::atoi(argv[++i]));
    else if (a == "--reps" && i + 1 < argc) o.reps = std::atoi(argv[++i]);
    else if (a == "--v3") o.v3 = true;
    else if (a == "--small") o.v3 = false;
    else {
      std::printf("%s\nusage: %s [--version N]... [--reps N] [--v3 | --small]\nversions:\n%s", about, argv[0], versions_help);
      std::exit(a == "-h" || a == "--help" ? 0 : 2);
    }
  }
  if (o.reps <= 0) o.reps = o.emulator ? 1 : 20;
  std::printf("device: %s; %s shapes; timings: %s\n", name.c_str(), o.v3 ? "DeepSeek-V3" : "small",
              o.emulator ? "EMULATED (interpreter time, says nothing about the GPU)" : "median of CUDA events");
  return o;
}

// ---- random inputs ----
inline std::mt19937_64& rng() { static std::mt19937_64 r(20260); return r; }
// e4m3 codes of magnitude 2^-4 .. 2^4, either sign: no NaN, no saturation.
inline std::vector<uint8_t> random_fp8(size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& c : v) {
    const uint64_t r = rng()();
    c = static_cast<uint8_t>(((r & 1) << 7) | ((3 + (r >> 1) % 9) << 3) | ((r >> 8) & 7));
  }
  return v;
}
inline std::vector<float> random_floats(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}
inline std::vector<uint16_t> to_bf16(const std::vector<float>& v) {  // native/dtype.h's codec
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = f32_to_bf16(v[i]);
  return out;
}

// ---- device buffers ----
struct Buf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Buf(size_t n) : p(cuda::device_alloc(kDev, n ? n : 1)), bytes(n) {}
  template <typename T> explicit Buf(const std::vector<T>& v) : Buf(v.size() * sizeof(T)) {
    cuda::copy_h2d(kDev, p, v.data(), bytes);
  }
  Buf(Buf&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (!p) return;
    try { cuda::device_free(kDev, p); } catch (...) {}  // after a device fault every call fails: already reported
  }
  template <typename T> T* as() const { return static_cast<T*>(p); }
  // NaN in every element of `dtype` (f32 or bf16), so that an output the kernel does not write fails.
  void poison(DType dtype) {
    if (dtype == DType::f32) cuda::fill(kDev, p, 0x7fc00000u, 4, bytes / 4);
    else cuda::fill(kDev, p, 0x7fc0u, 2, bytes / 2);
  }
  std::vector<float> floats(DType dtype, size_t n) const {  // n elements of dtype, as f32
    std::vector<float> out(n);
    if (dtype == DType::f32) {
      cuda::copy_d2h(kDev, out.data(), p, n * 4);
    } else {
      std::vector<uint16_t> h(n);
      cuda::copy_d2h(kDev, h.data(), p, n * 2);
      for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
    }
    return out;
  }
};

// ---- validation: relative error in float64 (NaN or inf where the reference is finite fails) ----
struct Verdict { double rel, max_abs; long nonfinite; bool pass; };
inline Verdict compare(const std::vector<float>& got, const std::vector<float>& want, double tol) {
  double num = 0, den = 0, max_abs = 0;
  long nonfinite = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i]) || !std::isfinite(want[i])) { ++nonfinite; continue; }
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
    max_abs = std::max(max_abs, std::fabs(d));
  }
  const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return {rel, max_abs, nonfinite, nonfinite == 0 && rel <= tol && !want.empty()};
}

// ---- timing ----
// Median over o.reps of the event interval around fn() (one untimed call first, for warm-up). On a GPU a
// spin kernel keeps the stream busy while the events and fn's launches are queued, so the interval is
// device time, not launch latency.
inline double time_ms(const Options& o, const std::function<void()>& fn) {
  fn();
  std::vector<double> ms;
  for (int i = 0; i < o.reps; ++i) {
    if (!o.emulator) cuda::spin(kDev, 100);
    void* a = cuda::event_record(kDev);
    fn();
    void* b = cuda::event_record(kDev);
    ms.push_back(cuda::event_elapsed_ms(a, b));
    cuda::event_destroy(a);
    cuda::event_destroy(b);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// One result line: version, case, error vs the CPU twin, time with TFLOP/s (against `peak_flops`) and
// GB/s (against HBM) where flops / bytes are given.
struct Report {
  int passed = 0, failed = 0;
  bool emulator = false;
  void line(const char* version, const std::string& what, const Verdict& v, double tol, double ms, double flops,
            double peak_flops, double bytes) {
    char t[160] = "";
    if (ms >= 0) {
      int n = std::snprintf(t, sizeof t, "%s %.4f ms", emulator ? "emulated" : "", ms);
      if (emulator) flops = bytes = 0;  // rates of an interpreter would only mislead
      if (flops > 0) n += std::snprintf(t + n, sizeof t - n, ", %.1f TFLOP/s (%.0f%% of peak)", flops / ms * 1e-9, 100 * flops / ms * 1e-3 / peak_flops);
      if (bytes > 0) std::snprintf(t + n, sizeof t - n, ", %.0f GB/s (%.0f%% of HBM)", bytes / ms * 1e-6, 100 * bytes / ms * 1e-3 / kPeakHbm);
    }
    std::printf("%-4s %-10s %-44s rel err %.2e (tol %.0e), max |err| %.3g%s  %s\n", v.pass ? "ok" : "FAIL", version, what.c_str(),
                v.rel, tol, v.max_abs, v.nonfinite ? (" NaN/inf x" + std::to_string(v.nonfinite)).c_str() : "", t);
    (v.pass ? passed : failed)++;
  }
  int finish() const {  // the emulator kernel tests' summary line; exit status
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
  }
};

}  // namespace dsv3::dev
