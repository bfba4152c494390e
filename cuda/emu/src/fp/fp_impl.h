// dsv3-emu (private to src/fp): helpers shared by fp.cc, fp_round.cc and approx.cc: the directed-rounding
// kernels (fp_round.cc, host FPU under fesetround) and the PTX result modifiers (.ftz, .sat, canonical
// NaN) of PTX ISA 9.0 section 9.7.3 ("Floating-Point Instructions").
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "src/fp/fp.h"

namespace emu::fp::detail {

float add_dir(float a, float b, Round r);
float sub_dir(float a, float b, Round r);
float mul_dir(float a, float b, Round r);
float div_dir(float a, float b, Round r);
float sqrt_dir(float a, Round r);
float fma_dir(float a, float b, float c, Round r);
double add_dir(double a, double b, Round r);
double sub_dir(double a, double b, Round r);
double mul_dir(double a, double b, Round r);
double div_dir(double a, double b, Round r);
double sqrt_dir(double a, Round r);
double fma_dir(double a, double b, double c, Round r);
float f64_to_f32_dir(double a, Round r);

inline bool is_rn(Round r) { return r == Round::rn || r == Round::rna; }

inline bool is_subnormal(float x) { return x != 0 && std::fabs(x) < 0x1p-126f; }
inline bool is_subnormal(double x) { return x != 0 && std::fabs(x) < 0x1p-1022; }

// The result modifiers, applied in PTX order: NaN -> canonical, .ftz, then .sat (NaN -> +0, clamp to
// [0, 1]; -0 becomes +0 because saturation is max(+0, min(x, 1)) with -0 < +0).
inline float finish(float d, bool ftz_, bool sat) {
  if (std::isnan(d)) return sat ? 0.0f : f32_from_bits(kCanonicalNaN32);
  if (ftz_ && is_subnormal(d)) d = std::copysign(0.0f, d);
  if (sat) {
    if (!(d > 0)) return 0.0f;
    if (d > 1) return 1.0f;
  }
  return d;
}
inline double finish(double d) { return std::isnan(d) ? f64_from_bits(kCanonicalNaN64) : d; }

}  // namespace emu::fp::detail
