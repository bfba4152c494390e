// dsv3-emu: floating-point semantics of PTX instructions, as the PTX ISA (9.0) defines them: IEEE 754
// arithmetic in every rounding mode, flush-to-zero, saturation, conversions between f64/f32/f16/bf16/
// e4m3/e5m2/tf32 and the integers, and the approximate functions (ex2, lg2, sin, cos, rcp, rsqrt, sqrt,
// tanh, div.approx/full) within their documented error bounds. Used by the interpreter per lane, so the
// common cases (rn, no ftz) must be cheap; the rounding-mode variants may be slower.
#pragma once
#include <cstdint>

namespace emu::fp {

enum class Round : uint8_t { rn, rz, rm, rp, rna };  // rna: to nearest, ties away (cvt.rna.tf32.f32)

// ---- bits ----
float f32_from_bits(uint32_t b);
uint32_t bits_of(float f);
double f64_from_bits(uint64_t b);
uint64_t bits_of(double d);

// The canonical NaN a PTX f32 / f64 / f16x / bf16 arithmetic instruction returns when its result is NaN
// (0x7FFFFFFF for f32, 0x7FFFFFFFFFFFFFFF for f64, 0x7FFF for f16 and bf16): PTX returns canonical NaN,
// not the input payload, except where the ISA says otherwise (mov, neg, abs, min/max with .NaN, ...).
constexpr uint32_t kCanonicalNaN32 = 0x7FFFFFFFu;
constexpr uint64_t kCanonicalNaN64 = 0x7FFFFFFFFFFFFFFFull;
constexpr uint16_t kCanonicalNaN16 = 0x7FFFu;

// Subnormal to sign-preserving zero (.ftz), for inputs and results of .ftz instructions.
float ftz(float x);

// ---- f32 / f64 arithmetic, IEEE 754 with the given rounding ----
// `ftz` flushes subnormal inputs and results; `sat` clamps the result to [0, 1] (NaN -> 0).
float add(float a, float b, Round r, bool ftz, bool sat);
float sub(float a, float b, Round r, bool ftz, bool sat);
float mul(float a, float b, Round r, bool ftz, bool sat);
float fma(float a, float b, float c, Round r, bool ftz, bool sat);  // fma.rn / mad.rn: one rounding
float div_rn(float a, float b, Round r, bool ftz);     // div.{rn,rz,rm,rp}.f32 (IEEE)
float div_full(float a, float b, bool ftz);           // div.full.f32: max 2 ulp
float div_approx(float a, float b, bool ftz);         // div.approx.f32: a * rcp.approx(b), ISA bound
float rcp(float a, Round r, bool ftz);                // rcp.{rn,..}.f32 (IEEE)
float rcp_approx(float a, bool ftz);                  // rcp.approx.f32: max 1 ulp
float sqrt(float a, Round r, bool ftz);               // sqrt.{rn,..}.f32 (IEEE)
float sqrt_approx(float a, bool ftz);                 // sqrt.approx.f32
float rsqrt_approx(float a, bool ftz);                // rsqrt.approx.f32
float ex2_approx(float a, bool ftz);                  // ex2.approx.f32 (and .ftz)
float lg2_approx(float a, bool ftz);                  // lg2.approx.f32
float sin_approx(float a, bool ftz);                  // sin.approx.f32
float cos_approx(float a, bool ftz);                  // cos.approx.f32
float tanh_approx(float a);                           // tanh.approx.f32

double add(double a, double b, Round r);
double sub(double a, double b, Round r);
double mul(double a, double b, Round r);
double fma(double a, double b, double c, Round r);
double div(double a, double b, Round r);              // div.{rn,rz,rm,rp}.f64
double rcp(double a, Round r);                        // rcp.{rn,..}.f64
double rcp_approx_ftz(double a);                      // rcp.approx.ftz.f64
double sqrt(double a, Round r);
double rsqrt_approx(double a);                        // rsqrt.approx.f64 (and .ftz)

// min / max: PTX semantics (a NaN operand is ignored unless both are NaN; -0 < +0). `nan` = the .NaN
// variant (a NaN operand gives canonical NaN). xorsign_abs: max.xorsign.abs.
float fmin(float a, float b, bool ftz, bool nan);
float fmax(float a, float b, bool ftz, bool nan);
double fmin(double a, double b);
double fmax(double a, double b);

// ---- conversions (cvt) ----
// float -> float
float f64_to_f32(double a, Round r, bool ftz, bool sat);
uint16_t f32_to_f16(float a, Round r, bool sat, bool relu);      // cvt.{rn,rz,..}{.relu}{.satfinite}.f16.f32
uint16_t f32_to_bf16(float a, Round r, bool sat, bool relu);
uint16_t f64_to_f16(double a, Round r, bool sat);
uint16_t f64_to_bf16(double a, Round r, bool sat);
float f16_to_f32(uint16_t h);                                    // exact
float bf16_to_f32(uint16_t h);                                   // exact
uint32_t f32_to_tf32(float a, Round r, bool satfinite);          // cvt.{rna,rn,rz}{.satfinite}.tf32.f32 (bits)
// FP8 (e4m3 = e4m3fn: no infinities, NaN = S.1111.111; e5m2: IEEE-like). PTX only has .rn.satfinite for
// f32/f16 -> f8: finite results saturate to +-448 (e4m3) / +-57344 (e5m2); NaN -> NaN.
uint8_t f32_to_e4m3(float a, bool relu);
uint8_t f32_to_e5m2(float a, bool relu);
uint8_t f16_to_e4m3(uint16_t h, bool relu);
uint8_t f16_to_e5m2(uint16_t h, bool relu);
uint16_t e4m3_to_f16(uint8_t v);                                 // exact
uint16_t e5m2_to_f16(uint8_t v);                                 // exact
float e4m3_to_f32(uint8_t v);                                    // exact (wgmma / mma inputs)
float e5m2_to_f32(uint8_t v);
// float -> float rounded to an integral value, same type (cvt.rni.f32.f32 etc.)
float round_int(float a, Round r, bool ftz, bool sat);
double round_int(double a, Round r);
// float -> integer: cvt.{rni,rzi,rmi,rpi}.{s,u}{8,16,32,64}.{f16,f32,f64}. Saturates to the destination
// range always (PTX: float-to-int conversions saturate; NaN -> 0). `bits` = 8/16/32/64.
int64_t to_sint(double a, Round r, int bits);
uint64_t to_uint(double a, Round r, int bits);
int64_t to_sint(float a, Round r, bool ftz, int bits);
uint64_t to_uint(float a, Round r, bool ftz, int bits);
// integer -> float with rounding (cvt.{rn,rz,rm,rp}.f32.s64 etc.)
float sint_to_f32(int64_t v, Round r);
float uint_to_f32(uint64_t v, Round r);
double sint_to_f64(int64_t v, Round r);
double uint_to_f64(uint64_t v, Round r);
uint16_t sint_to_f16(int64_t v, Round r);
uint16_t uint_to_f16(uint64_t v, Round r);

// ---- f16 / bf16 arithmetic (scalar; the interpreter applies these per half of an x2 register) ----
uint16_t hadd(uint16_t a, uint16_t b, Round r, bool ftz, bool sat, bool bf16);
uint16_t hsub(uint16_t a, uint16_t b, Round r, bool ftz, bool sat, bool bf16);
uint16_t hmul(uint16_t a, uint16_t b, Round r, bool ftz, bool sat, bool bf16);
uint16_t hfma(uint16_t a, uint16_t b, uint16_t c, Round r, bool ftz, bool sat, bool relu, bool bf16);
uint16_t hftz(uint16_t h, bool bf16);  // subnormal half -> sign-preserving zero (min/max .ftz inputs)
uint16_t hmin(uint16_t a, uint16_t b, bool nan, bool bf16);
uint16_t hmax(uint16_t a, uint16_t b, bool nan, bool bf16);
uint16_t ex2_approx_h(uint16_t a, bool bf16);  // ex2.approx.{f16,bf16}(.ftz)
uint16_t tanh_approx_h(uint16_t a, bool bf16); // tanh.approx.{f16,bf16}

}  // namespace emu::fp
