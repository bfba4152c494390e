// dsv3-emu: the directed-rounding (.rz/.rm/.rp) f32 and f64 arithmetic of PTX (add, sub, mul, fma, div,
// sqrt, rcp, cvt.f32.f64), done by the host FPU under fesetround: x86-64 SSE arithmetic is IEEE 754
// with a single rounding in the current mode. This file is compiled with -frounding-math (CMakeLists)
// and every operand and result goes through a volatile so nothing moves across the mode switch.
#include <cfenv>
#include <cmath>

#include "src/fp/fp_impl.h"

namespace emu::fp::detail {
namespace {

int host_mode(Round r) {
  switch (r) {
    case Round::rz: return FE_TOWARDZERO;
    case Round::rm: return FE_DOWNWARD;
    case Round::rp: return FE_UPWARD;
    default: return FE_TONEAREST;  // rna is not an arithmetic mode in PTX; callers never pass it here
  }
}

// Sets the host rounding mode for one operation and restores the caller's afterwards.
struct ModeGuard {
  int old;
  explicit ModeGuard(Round r) : old(std::fegetround()) { std::fesetround(host_mode(r)); }
  ~ModeGuard() { std::fesetround(old); }
};

template <typename T, typename Op>
T in_mode(Round r, T a, T b, Op op) {
  volatile T va = a, vb = b;
  volatile T res;
  {
    ModeGuard g(r);
    res = op(static_cast<T>(va), static_cast<T>(vb));
  }
  return res;
}

}  // namespace

float add_dir(float a, float b, Round r) { return in_mode(r, a, b, [](float x, float y) { return x + y; }); }
float sub_dir(float a, float b, Round r) { return in_mode(r, a, b, [](float x, float y) { return x - y; }); }
float mul_dir(float a, float b, Round r) { return in_mode(r, a, b, [](float x, float y) { return x * y; }); }
float div_dir(float a, float b, Round r) { return in_mode(r, a, b, [](float x, float y) { return x / y; }); }
float sqrt_dir(float a, Round r) { return in_mode(r, a, 0.0f, [](float x, float) { return std::sqrt(x); }); }
double add_dir(double a, double b, Round r) { return in_mode(r, a, b, [](double x, double y) { return x + y; }); }
double sub_dir(double a, double b, Round r) { return in_mode(r, a, b, [](double x, double y) { return x - y; }); }
double mul_dir(double a, double b, Round r) { return in_mode(r, a, b, [](double x, double y) { return x * y; }); }
double div_dir(double a, double b, Round r) { return in_mode(r, a, b, [](double x, double y) { return x / y; }); }
double sqrt_dir(double a, Round r) { return in_mode(r, a, 0.0, [](double x, double) { return std::sqrt(x); }); }

float f64_to_f32_dir(double a, Round r) {
  volatile double va = a;
  volatile float res;
  {
    ModeGuard g(r);
    res = static_cast<float>(va);
  }
  return res;
}

// fma.f32 with one rounding: the product of two floats is exact in double; the sum is rounded to odd
// in double (truncate, then set the last bit if inexact), and rounding that to float in the target mode
// gives the correctly rounded result because double has more than 24 + 1 bits (Boldo & Melquiond).
// An exact zero sum is redone in the target mode for its sign (x + -x is -0 under .rm only).
float fma_dir(float a, float b, float c, Round r) {
  volatile double vp = static_cast<double>(a) * static_cast<double>(b), vc = c;
  volatile double s;
  volatile int inexact;
  {
    ModeGuard g(Round::rz);
    std::feclearexcept(FE_INEXACT);
    s = vp + vc;
    inexact = std::fetestexcept(FE_INEXACT);
  }
  double odd = s;
  if (std::isfinite(odd) && inexact) {
    uint64_t bits = bits_of(odd);
    bits |= 1;
    odd = f64_from_bits(bits);
  }
  volatile double vodd = odd;
  volatile float res;
  {
    ModeGuard g(r);
    if (vodd == 0) res = static_cast<float>(vp + vc);
    else res = static_cast<float>(vodd);
  }
  return res;
}

// fma.f64: the C library's fma is IEEE fused multiply-add in the current rounding mode (hardware FMA
// where the CPU has it, glibc's exact software fallback otherwise); fp_test checks it against exact sums.
double fma_dir(double a, double b, double c, Round r) {
  volatile double va = a, vb = b, vc = c;
  volatile double res;
  {
    ModeGuard g(r);
    res = std::fma(static_cast<double>(va), static_cast<double>(vb), static_cast<double>(vc));
  }
  return res;
}

}  // namespace emu::fp::detail
