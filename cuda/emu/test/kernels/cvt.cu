// cvt.cu: conversions (PTX ISA 9.0 section 9.7.9.21 cvt, and 9.7.9.22 cvt.pack is not covered): every
// integer<->integer pair of widths and signs (truncation, sign/zero extension, .sat), float->integer with
// .rni/.rzi/.rmi/.rpi (always saturating, NaN -> 0), integer->float in every rounding mode, float->float
// integral rounding, f32->f16/bf16 in every rounding mode and the x2 packings (a -> upper half),
// f32->e4m3x2/e5m2x2 .satfinite, e4m3x2/e5m2x2->f16x2, f16/bf16->f32; against host computations.
#include "common.cuh"

using namespace kt;

constexpr int N = 4096;

typedef unsigned short h_t;
typedef unsigned int r_t;
typedef unsigned long long l_t;

// ---- integer <-> integer: all 64 pairs; 8-bit values live in 16-bit registers ----
#define SRCS(X, dt, dc, db, ds)                                                                    \
  X(dt, dc, db, ds, u8, h, 8, 0) X(dt, dc, db, ds, s8, h, 8, 1) X(dt, dc, db, ds, u16, h, 16, 0)    \
  X(dt, dc, db, ds, s16, h, 16, 1) X(dt, dc, db, ds, u32, r, 32, 0) X(dt, dc, db, ds, s32, r, 32, 1) \
  X(dt, dc, db, ds, u64, l, 64, 0) X(dt, dc, db, ds, s64, l, 64, 1)
#define DSTS(X)                                                                                    \
  X(u8, h, 8, 0) X(s8, h, 8, 1) X(u16, h, 16, 0) X(s16, h, 16, 1) X(u32, r, 32, 0) X(s32, r, 32, 1)  \
  X(u64, l, 64, 0) X(s64, l, 64, 1)
struct IntPair { const char* name; int dbits, dsigned, sbits, ssigned, sat; };
const IntPair kPairs[] = {
#define P(dt, dc, db, ds, st, sc, sb, ss) {"cvt." #dt "." #st, db, ds, sb, ss, 0},
#define ROW(dt, dc, db, ds) SRCS(P, dt, dc, db, ds)
    DSTS(ROW)
#undef ROW
#undef P
#define Q(name, db, ds, sb, ss) {"cvt.sat." name, db, ds, sb, ss, 1},
    Q("s8.s32", 8, 1, 32, 1) Q("u8.s32", 8, 0, 32, 1) Q("u8.u32", 8, 0, 32, 0) Q("s16.s32", 16, 1, 32, 1)
    Q("u16.s32", 16, 0, 32, 1) Q("u32.s32", 32, 0, 32, 1) Q("s32.u32", 32, 1, 32, 0)
    Q("s32.s64", 32, 1, 64, 1) Q("u32.s64", 32, 0, 64, 1) Q("u64.s64", 64, 0, 64, 1)
    Q("s64.u64", 64, 1, 64, 0) Q("s8.u16", 8, 1, 16, 0)
#undef Q
};
constexpr int NPAIRS = sizeof kPairs / sizeof kPairs[0];

__global__ void k_int(const uint64_t* X, uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint64_t x = X[i];
  h_t xh = (h_t)x;
  r_t xr = (r_t)x;
  l_t xl = x;
  int k = 0;
#define P(dt, dc, db, ds, st, sc, sb, ss)                                            \
  {                                                                                  \
    dc##_t d;                                                                        \
    asm volatile("cvt." #dt "." #st " %0, %1;" : "=" #dc(d) : #sc(x##sc));           \
    out[(k++) * n + i] = (uint64_t)d;                                                \
  }
#define ROW(dt, dc, db, ds) SRCS(P, dt, dc, db, ds)
  DSTS(ROW)
#undef ROW
#undef P
#define Q(dt, dc, st, sc)                                                            \
  {                                                                                  \
    dc##_t d;                                                                        \
    asm volatile("cvt.sat." #dt "." #st " %0, %1;" : "=" #dc(d) : #sc(x##sc));       \
    out[(k++) * n + i] = (uint64_t)d;                                                \
  }
  Q(s8, h, s32, r) Q(u8, h, s32, r) Q(u8, h, u32, r) Q(s16, h, s32, r) Q(u16, h, s32, r) Q(u32, r, s32, r)
  Q(s32, r, u32, r) Q(s32, r, s64, l) Q(u32, r, s64, l) Q(u64, l, s64, l) Q(s64, l, u64, l) Q(s8, h, u16, h)
#undef Q
}

// The value an instruction-type-sized integer conversion leaves in a register of `regbits` bits.
static uint64_t int_ref(const IntPair& p, uint64_t x, int regbits) {
  auto ext = [](uint64_t v, int bits, bool sgn) -> uint64_t {
    if (bits == 64) return v;
    uint64_t m = (1ull << bits) - 1;
    v &= m;
    if (sgn && (v >> (bits - 1)) & 1) v |= ~m;
    return v;
  };
  uint64_t v = ext(x, p.sbits, p.ssigned);  // the source value, as a 64-bit two's complement
  if (p.sat) {
    // clamp the mathematical source value to the destination range
    __int128 sv = p.ssigned ? (__int128)(int64_t)v : (__int128)v;
    __int128 lo = p.dsigned ? -((__int128)1 << (p.dbits - 1)) : 0;
    __int128 hi = p.dsigned ? ((__int128)1 << (p.dbits - 1)) - 1 : ((__int128)1 << p.dbits) - 1;
    if (sv < lo) sv = lo;
    if (sv > hi) sv = hi;
    v = (uint64_t)sv;
  }
  uint64_t d = ext(v, p.dbits, p.dsigned);  // truncate to the destination type, extend by its sign
  return regbits == 64 ? d : d & ((1ull << regbits) - 1);
}

// ---- float -> integer ----
#define F2I(X)                                                                                  \
  X(rni, s32, r, f32, f) X(rzi, s32, r, f32, f) X(rmi, s32, r, f32, f) X(rpi, s32, r, f32, f)   \
  X(rni, u32, r, f32, f) X(rzi, u32, r, f32, f) X(rmi, u32, r, f32, f) X(rpi, u32, r, f32, f)   \
  X(rni, s64, l, f32, f) X(rzi, u64, l, f32, f) X(rzi, s16, h, f32, f) X(rni, u16, h, f32, f)   \
  X(rni, s32, r, f64, d) X(rzi, s32, r, f64, d) X(rmi, s64, l, f64, d) X(rpi, u64, l, f64, d)   \
  X(rzi, u32, r, f64, d) X(rni, s64, l, f64, d) X(rzi, s64, l, f64, d) X(rpi, s16, h, f64, d)
struct F2IInfo { const char* name; int rnd, bits, sgn, from64; };
const F2IInfo kF2I[] = {
#define E(r, dt, dc, st, sc) \
  {"cvt." #r "." #dt "." #st, #r[1] == 'n' ? RN : #r[1] == 'z' ? RZ : #r[1] == 'm' ? RM : RP, \
   atoi(#dt + 1), #dt[0] == 's', #st[1] == '6'},
    F2I(E)
#undef E
};
constexpr int NF2I = sizeof kF2I / sizeof kF2I[0];

__global__ void k_f2i(const float* F, const double* D, uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float xf = F[i];
  double xd = D[i];
  int k = 0;
#define E(r, dt, dc, st, sc)                                                    \
  {                                                                             \
    dc##_t d;                                                                   \
    asm volatile("cvt." #r "." #dt "." #st " %0, %1;" : "=" #dc(d) : #sc(x##sc)); \
    out[(k++) * n + i] = (uint64_t)d;                                           \
  }
  F2I(E)
#undef E
}

static uint64_t f2i_ref(const F2IInfo& c, double x) {
  if (std::isnan(x)) return 0;
  double r = c.rnd == RN ? std::nearbyint(x) : c.rnd == RZ ? std::trunc(x) : c.rnd == RM ? std::floor(x) : std::ceil(x);
  long double lo = c.sgn ? -std::ldexp(1.0L, c.bits - 1) : 0.0L;
  long double hi = c.sgn ? std::ldexp(1.0L, c.bits - 1) - 1 : std::ldexp(1.0L, c.bits) - 1;
  long double v = r;
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  uint64_t u = c.sgn ? (uint64_t)(int64_t)v : (uint64_t)v;
  int regbits = c.bits < 16 ? 16 : c.bits;
  return regbits == 64 ? u : u & ((1ull << regbits) - 1);
}

// ---- integer -> float, float -> float integral rounding ----
#define I2F(X)                                                                                   \
  X("cvt.rn.f32.s32", r, f, 0) X("cvt.rz.f32.s32", r, f, 1) X("cvt.rm.f32.u32", r, f, 2)          \
  X("cvt.rp.f32.u32", r, f, 3) X("cvt.rn.f32.s64", l, f, 4) X("cvt.rz.f32.u64", l, f, 5)          \
  X("cvt.rm.f32.s64", l, f, 6) X("cvt.rp.f32.u64", l, f, 7) X("cvt.rn.f64.s64", l, d, 8)          \
  X("cvt.rz.f64.u64", l, d, 9) X("cvt.rm.f64.s64", l, d, 10) X("cvt.rp.f64.u64", l, d, 11)        \
  X("cvt.rn.f64.s32", r, d, 12) X("cvt.rn.f32.u16", h, f, 13)
const char* kI2F[] = {
#define E(name, sc, dc, k) name,
    I2F(E)
#undef E
};
constexpr int NI2F = sizeof kI2F / sizeof kI2F[0];
#define RNDF(X)                                                                                   \
  X("cvt.rni.f32.f32", f, 0) X("cvt.rzi.f32.f32", f, 1) X("cvt.rmi.f32.f32", f, 2)                 \
  X("cvt.rpi.f32.f32", f, 3) X("cvt.rni.ftz.f32.f32", f, 4) X("cvt.rni.f64.f64", d, 5)             \
  X("cvt.rzi.f64.f64", d, 6) X("cvt.rmi.f64.f64", d, 7) X("cvt.rpi.f64.f64", d, 8)
const char* kRndF[] = {
#define E(name, c, k) name,
    RNDF(E)
#undef E
};
constexpr int NRNDF = sizeof kRndF / sizeof kRndF[0];

__global__ void k_i2f(const uint64_t* X, const float* F, const double* D, uint64_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  h_t xh = (h_t)X[i];
  r_t xr = (r_t)X[i];
  l_t xl = X[i];
  float xf = F[i];
  double xd = D[i];
  int k = 0;
#define E(name, sc, dc, kk)                                                          \
  {                                                                                  \
    if (#dc[0] == 'f') {                                                             \
      float d;                                                                       \
      asm volatile(name " %0, %1;" : "=f"(d) : #sc(x##sc));                          \
      out[(k++) * n + i] = __float_as_uint(d);                                       \
    } else {                                                                         \
      double d;                                                                      \
      asm volatile(name " %0, %1;" : "=d"(d) : #sc(x##sc));                          \
      out[(k++) * n + i] = __double_as_longlong(d);                                  \
    }                                                                                \
  }
  I2F(E)
#undef E
#define E(name, c, kk)                                                               \
  {                                                                                  \
    if (#c[0] == 'f') {                                                              \
      float d;                                                                       \
      asm volatile(name " %0, %1;" : "=f"(d) : "f"(xf));                             \
      out[(k++) * n + i] = __float_as_uint(d);                                       \
    } else {                                                                         \
      double d;                                                                      \
      asm volatile(name " %0, %1;" : "=d"(d) : "d"(xd));                             \
      out[(k++) * n + i] = __double_as_longlong(d);                                  \
    }                                                                                \
  }
  RNDF(E)
#undef E
}

// ---- small float formats, host side: round a double to (mantissa bits incl. the implicit one, min
// normal exponent, max exponent) in a rounding mode; encode as bits ----
struct Fmt { int mb, emin, emax, bias, ebits; bool has_inf; };
const Fmt kF16 = {11, -14, 15, 15, 5, true}, kBF16 = {8, -126, 127, 127, 8, true};
const Fmt kE4M3 = {4, -6, 8, 7, 4, false}, kE5M2 = {3, -14, 15, 15, 5, true};
static double max_finite(const Fmt& f) {
  if (!f.has_inf) return 448.0;  // e4m3: S.1111.110
  return std::ldexp((double)((1 << f.mb) - 1), f.emax - f.mb + 1);
}
// Returns the rounded value; +-inf on overflow where the mode says so (or max finite with satfinite).
static double round_fmt(double x, const Fmt& f, int mode, bool satfinite) {
  if (x == 0 || std::isnan(x)) return x;
  bool neg = std::signbit(x);
  double ax = std::fabs(x), mx = max_finite(f);
  if (std::isinf(ax)) return satfinite ? std::copysign(mx, x) : x;
  int e;
  std::frexp(ax, &e);
  int lead = e - 1;
  int q = (lead < f.emin ? f.emin : lead) - (f.mb - 1);
  double s = std::ldexp(ax, -q), r;
  switch (mode) {
    case RN: r = std::nearbyint(s); break;  // host in round-to-nearest-even
    case RZ: r = std::trunc(s); break;
    case RM: r = neg ? std::ceil(s) : std::floor(s); break;
    default: r = neg ? std::floor(s) : std::ceil(s); break;
  }
  double v = std::ldexp(r, q);
  if (v > mx) {
    bool to_inf = mode == RN || (mode == RM && neg) || (mode == RP && !neg);
    if (satfinite || !f.has_inf || !to_inf) v = mx;
    else v = INFINITY;
    if (!f.has_inf && !satfinite && to_inf) v = NAN;  // e4m3 without satfinite: NaN (not used)
  }
  return neg ? -v : v;
}
static uint32_t encode(double v, const Fmt& f) {
  uint32_t sign = std::signbit(v) ? 1u << (f.mb - 1 + f.ebits) : 0;
  double av = std::fabs(v);
  if (av == 0) return sign;
  if (std::isinf(av)) return sign | (((1u << f.ebits) - 1) << (f.mb - 1));
  int e;
  std::frexp(av, &e);
  int lead = e - 1;
  if (lead < f.emin) return sign | (uint32_t)std::ldexp(av, -(f.emin - (f.mb - 1)));
  uint32_t mant = (uint32_t)std::ldexp(av, -(lead - (f.mb - 1))) - (1u << (f.mb - 1));
  return sign | ((uint32_t)(lead + f.bias) << (f.mb - 1)) | mant;
}
static double decode(uint32_t b, const Fmt& f) {
  uint32_t total = f.mb + f.ebits;
  bool neg = (b >> (total - 1)) & 1;
  uint32_t ef = (b >> (f.mb - 1)) & ((1u << f.ebits) - 1), m = b & ((1u << (f.mb - 1)) - 1);
  double v;
  if (!f.has_inf && ef == (1u << f.ebits) - 1 && m == (1u << (f.mb - 1)) - 1) v = NAN;
  else if (f.has_inf && ef == (1u << f.ebits) - 1) v = m ? NAN : INFINITY;
  else if (ef == 0) v = std::ldexp((double)m, f.emin - (f.mb - 1));
  else v = std::ldexp((double)(m | (1u << (f.mb - 1))), (int)ef - f.bias - (f.mb - 1));
  return neg ? -v : v;
}

// ---- f32 -> f16/bf16/fp8 and back ----
// out per element (u32): 0-3 cvt.{rn,rz,rm,rp}.f16.f32, 4-7 cvt.{rn,rz,rm,rp}.bf16.f32 (sm_90),
// 8 cvt.rn.f16x2.f32 (a, b), 9 cvt.rn.bf16x2.f32, 10 cvt.rn.relu.f16x2.f32, 11 cvt.rz.bf16x2.f32,
// 12 cvt.rn.satfinite.e4m3x2.f32, 13 cvt.rn.satfinite.e5m2x2.f32, 14 cvt.rn.f16x2.e4m3x2 (of 12's bits
// input h), 15 cvt.rn.f16x2.e5m2x2, 16 cvt.f32.f16 (of input h lo), 17 cvt.f32.bf16 (of h hi),
// 18 cvt.rn.satfinite.relu.e4m3x2.f32
constexpr int NSMALL = 19;
const char* kSmall[] = {"cvt.rn.f16.f32", "cvt.rz.f16.f32", "cvt.rm.f16.f32", "cvt.rp.f16.f32",
                        "cvt.rn.bf16.f32", "cvt.rz.bf16.f32", "cvt.rm.bf16.f32", "cvt.rp.bf16.f32",
                        "cvt.rn.f16x2.f32", "cvt.rn.bf16x2.f32", "cvt.rn.relu.f16x2.f32",
                        "cvt.rz.bf16x2.f32", "cvt.rn.satfinite.e4m3x2.f32", "cvt.rn.satfinite.e5m2x2.f32",
                        "cvt.rn.f16x2.e4m3x2", "cvt.rn.f16x2.e5m2x2", "cvt.f32.f16", "cvt.f32.bf16",
                        "cvt.rn.satfinite.relu.e4m3x2.f32"};

__global__ void k_small(const float* A, const float* B, const uint32_t* H, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float a = A[i], b = B[i];
  uint32_t hw = H[i], r;
  h_t h16;
  int k = 0;
#define H1(ins)                                                          \
  asm volatile(ins " %0, %1;" : "=h"(h16) : "f"(a));                     \
  out[(k++) * n + i] = h16;
  H1("cvt.rn.f16.f32") H1("cvt.rz.f16.f32") H1("cvt.rm.f16.f32") H1("cvt.rp.f16.f32")
  H1("cvt.rn.bf16.f32") H1("cvt.rz.bf16.f32") H1("cvt.rm.bf16.f32") H1("cvt.rp.bf16.f32")
#undef H1
#define X2(ins)                                                          \
  asm volatile(ins " %0, %1, %2;" : "=r"(r) : "f"(a), "f"(b));           \
  out[(k++) * n + i] = r;
  X2("cvt.rn.f16x2.f32") X2("cvt.rn.bf16x2.f32") X2("cvt.rn.relu.f16x2.f32") X2("cvt.rz.bf16x2.f32")
#undef X2
  asm volatile("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;" : "=h"(h16) : "f"(a), "f"(b));
  out[(k++) * n + i] = h16;
  asm volatile("cvt.rn.satfinite.e5m2x2.f32 %0, %1, %2;" : "=h"(h16) : "f"(a), "f"(b));
  out[(k++) * n + i] = h16;
  asm volatile("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(r) : "h"((h_t)hw));
  out[(k++) * n + i] = r;
  asm volatile("cvt.rn.f16x2.e5m2x2 %0, %1;" : "=r"(r) : "h"((h_t)hw));
  out[(k++) * n + i] = r;
  float f;
  asm volatile("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"((h_t)hw));
  out[(k++) * n + i] = __float_as_uint(f);
  asm volatile("cvt.f32.bf16 %0, %1;" : "=f"(f) : "h"((h_t)(hw >> 16)));
  out[(k++) * n + i] = __float_as_uint(f);
  asm volatile("cvt.rn.satfinite.relu.e4m3x2.f32 %0, %1, %2;" : "=h"(h16) : "f"(a), "f"(b));
  out[(k++) * n + i] = h16;
}

// A NaN of a small format (the ISA's conversions give a NaN; its payload we do not pin down).
static bool is_nan_bits(uint32_t b, const Fmt& f) { return std::isnan(decode(b, f)); }

int main() {
  Rng g(0xC0C7);
  // ---- int <-> int ----
  {
    std::vector<uint64_t> x(N);
    const uint64_t edge[] = {0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                             0xFFFFFFFF, 0x100000000ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, ~0ull,
                             0xFFFFFFFFFFFFFF80ull, 0xFFFFFFFF7FFFFFFFull};
    for (int i = 0; i < N; ++i) {
      x[i] = g.below(4) == 0 ? edge[g.below(sizeof edge / sizeof edge[0])] : g.u64() >> (g.below(4) * 16);
      if (g.below(3) == 0) x[i] = (uint64_t) - (int64_t)x[i];
    }
    DevBuf<uint64_t> dx(x), out((size_t)NPAIRS * N);
    auto o = run_twice(out, [&] { k_int<<<N / 128, 128>>>(dx, out, N); }, "k_int");
    for (int p = 0; p < NPAIRS; ++p) {
      Check ck(kPairs[p].name);
      int regbits = kPairs[p].dbits < 16 ? 16 : kPairs[p].dbits;
      for (int i = 0; i < N; ++i) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "x=0x%016llx:", (unsigned long long)x[i]);
        ck.u64(i, o[(size_t)p * N + i], int_ref(kPairs[p], x[i], regbits), ctx);
      }
    }
  }
  // ---- float -> int ----
  {
    std::vector<float> f(N);
    std::vector<double> d(N);
    const float fe[] = {0.5f, -0.5f, 1.5f, 2.5f, -2.5f, -1.5f, 0.49999997f, -0.0f, 2147483520.0f, 2147483648.0f,
                        -2147483648.0f, -2147483904.0f, 4294967040.0f, 4294967296.0f, 65535.5f, 32767.5f,
                        -32768.5f, 9.3e18f, 1.9e19f, INFINITY, -INFINITY, NAN, -NAN, 1e-40f, -1e-40f, -0.75f};
    const double de[] = {0.5, -0.5, 2.5, -3.5, 2147483647.5, 2147483647.4, -2147483648.5, 4294967295.5,
                         9223372036854775807.0, -9223372036854775808.0, 1.8446744073709552e19, 4e19, -1e-310,
                         INFINITY, -INFINITY, NAN, 32767.2, -32768.7, 0x1.fffffffffffffp52, -0.3};
    for (int i = 0; i < N; ++i) {
      f[i] = g.below(4) == 0 ? fe[g.below(sizeof fe / sizeof fe[0])]
                              : (float)std::ldexp(g.uniform(-1, 1), (int)g.below(66));
      d[i] = g.below(4) == 0 ? de[g.below(sizeof de / sizeof de[0])] : std::ldexp(g.uniform(-1, 1), (int)g.below(66));
      if (g.below(4) == 0) { f[i] = std::round(f[i] * 2) / 2 + 0.5f; d[i] = std::round(d[i] * 2) / 2 + 0.5; }  // ties
    }
    DevBuf<float> df(f);
    DevBuf<double> dd(d);
    DevBuf<uint64_t> out((size_t)NF2I * N);
    auto o = run_twice(out, [&] { k_f2i<<<N / 128, 128>>>(df, dd, out, N); }, "k_f2i");
    for (int c = 0; c < NF2I; ++c) {
      Check ck(kF2I[c].name);
      for (int i = 0; i < N; ++i) {
        double x = kF2I[c].from64 ? d[i] : f[i];
        char ctx[64];
        snprintf(ctx, sizeof ctx, "x=%a:", x);
        ck.u64(i, o[(size_t)c * N + i], f2i_ref(kF2I[c], x), ctx);
      }
    }
  }
  // ---- int -> float, float -> integral float ----
  {
    std::vector<uint64_t> x(N);
    std::vector<float> f(N);
    std::vector<double> d(N);
    for (int i = 0; i < N; ++i) {
      x[i] = g.u64() >> g.below(64);
      if (g.below(2)) x[i] = (uint64_t) - (int64_t)x[i];
      if (g.below(4) == 0) x[i] = (x[i] | 0xFFull) & ~0x7Full;  // halfway-ish bit patterns
      f[i] = g.below(3) == 0 ? (float)std::ldexp(g.uniform(-1, 1), (int)g.below(30)) : g.f32_exp(-5, 30);
      if (g.below(6) == 0) f[i] = f32_specials()[g.below(28)];
      if (g.below(5) == 0) f[i] = std::round(f[i] * 2) / 2 + (g.below(2) ? 0.5f : -0.5f);
      d[i] = g.below(3) == 0 ? std::ldexp(g.uniform(-1, 1), (int)g.below(60)) : g.f64_exp(-5, 60);
      if (g.below(5) == 0) d[i] = std::round(d[i] * 2) / 2 + 0.5;
    }
    f[0] = 0.5f; f[1] = -0.5f; f[2] = 1.5f; f[3] = -2.5f; f[4] = bitsf(0x00000010u); f[5] = -0.0f;
    d[0] = 0.5; d[1] = -0.5; d[2] = 1.5; d[3] = -2.5; d[4] = -0.0; d[5] = 0x1p-1070;
    DevBuf<uint64_t> dx(x), out((size_t)(NI2F + NRNDF) * N);
    DevBuf<float> df(f);
    DevBuf<double> dd(d);
    auto o = run_twice(out, [&] { k_i2f<<<N / 128, 128>>>(dx, df, dd, out, N); }, "k_i2f");
    for (int c = 0; c < NI2F; ++c) {
      Check ck(kI2F[c]);
      const int modes[] = {RN, RZ, RM, RP};
      for (int i = 0; i < N; ++i) {
        uint64_t v = x[i];
        volatile int64_t s64 = (int64_t)v;
        volatile uint64_t u64 = v;
        volatile int32_t s32 = (int32_t)v;
        volatile uint32_t u32 = (uint32_t)v;
        volatile uint16_t u16 = (uint16_t)v;
        int m = modes[c % 4];
        uint64_t got = o[(size_t)c * N + i];
        char ctx[64];
        snprintf(ctx, sizeof ctx, "x=0x%016llx:", (unsigned long long)v);
        switch (c) {
          case 0: case 1: ck.f32(i, bitsf((uint32_t)got), in_mode<float>(m, [&] { return (float)s32; }), ctx); break;
          case 2: case 3: ck.f32(i, bitsf((uint32_t)got), in_mode<float>(m, [&] { return (float)u32; }), ctx); break;
          case 4: case 6: ck.f32(i, bitsf((uint32_t)got), in_mode<float>(m, [&] { return (float)s64; }), ctx); break;
          case 5: case 7: ck.f32(i, bitsf((uint32_t)got), in_mode<float>(m, [&] { return (float)u64; }), ctx); break;
          case 8: case 10: ck.f64(i, bitsd(got), in_mode<double>(m, [&] { return (double)s64; }), ctx); break;
          case 9: case 11: ck.f64(i, bitsd(got), in_mode<double>(m, [&] { return (double)u64; }), ctx); break;
          case 12: ck.f64(i, bitsd(got), (double)s32, ctx); break;
          case 13: ck.f32(i, bitsf((uint32_t)got), (float)u16, ctx); break;
        }
      }
    }
    for (int c = 0; c < NRNDF; ++c) {
      Check ck(kRndF[c]);
      for (int i = 0; i < N; ++i) {
        uint64_t got = o[(size_t)(NI2F + c) * N + i];
        int k = c < 5 ? c : c - 5;
        auto rnd = [&](double v) {
          return k == 0 || k == 4 ? std::nearbyint(v) : k == 1 ? std::trunc(v) : k == 2 ? std::floor(v) : std::ceil(v);
        };
        if (c < 5) {
          float v = c == 4 ? ftz(f[i]) : f[i];
          float want = canon((float)rnd(v));
          char ctx[48];
          snprintf(ctx, sizeof ctx, "x=%a:", f[i]);
          ck.f32(i, bitsf((uint32_t)got), want, ctx);
        } else {
          char ctx[48];
          snprintf(ctx, sizeof ctx, "x=%a:", d[i]);
          ck.f64(i, bitsd(got), canon(rnd(d[i])), ctx);
        }
      }
    }
  }
  // ---- small float formats ----
  {
    std::vector<float> a(N), b(N);
    std::vector<uint32_t> h(N);
    std::vector<float> sp = f32_specials();
    for (int i = 0; i < N; ++i) {
      switch (g.below(6)) {
        case 0: a[i] = g.f32_exp(-30, 17); b[i] = g.f32_exp(-30, 17); break;   // f16 range incl. subnormals
        case 1: a[i] = g.f32_exp(-12, 10); b[i] = g.f32_exp(-20, 17); break;    // fp8 ranges, overflow
        case 2: a[i] = sp[g.below((uint32_t)sp.size())]; b[i] = sp[g.below((uint32_t)sp.size())]; break;
        case 3: {  // exact ties for f16 / bf16 / e4m3: a representable value plus half an ulp
          float base = (float)(1 + g.below(255)) * std::ldexp(1.0f, (int)g.below(20) - 10);
          a[i] = base * (1.0f + std::ldexp(1.0f, -11)); b[i] = base * (1.0f + std::ldexp(1.0f, -8));
          if (g.below(2)) { a[i] = -a[i]; }
          if (g.below(2)) { b[i] = base * (1.0f + std::ldexp(1.0f, -4)); }
          break;
        }
        default: a[i] = g.f32_exp(-140, 127); b[i] = g.f32_exp(-8, 9); break;
      }
      h[i] = g.u32();
    }
    DevBuf<float> da(a), db(b);
    DevBuf<uint32_t> dh(h), out((size_t)NSMALL * N);
    auto o = run_twice(out, [&] { k_small<<<N / 128, 128>>>(da, db, dh, out, N); }, "k_small");
    auto half = [&](float x, const Fmt& f, int mode, bool sat, bool relu, uint32_t* bits) -> bool {
      // returns false when the expected result is a NaN (checked as "a NaN of the format")
      if (std::isnan(x)) return false;
      double v = round_fmt(x, f, mode, sat);
      if (relu && (v < 0 || (v == 0 && std::signbit(v)))) v = 0.0;
      *bits = encode(v, f);
      return true;
    };
    const int modes[] = {RN, RZ, RM, RP};
    for (int c = 0; c < NSMALL; ++c) {
      Check ck(kSmall[c]);
      for (int i = 0; i < N; ++i) {
        uint32_t got = o[(size_t)c * N + i];
        char ctx[96];
        snprintf(ctx, sizeof ctx, "a=%a b=%a h=0x%08x:", a[i], b[i], h[i]);
        uint32_t w0 = 0, w1 = 0;
        if (c < 8) {
          const Fmt& f = c < 4 ? kF16 : kBF16;
          if (half(a[i], f, modes[c % 4], false, false, &w0)) ck.u32(i, got, w0, ctx);
          else if (got <= 0xFFFF && is_nan_bits(got, f)) ck.ok();
          else ck.fail(i, "%s got 0x%x, want a NaN", ctx, got);
        } else if (c <= 11 || c == 12 || c == 13 || c == 18) {
          const Fmt& f = (c == 8 || c == 10) ? kF16 : (c == 9 || c == 11) ? kBF16 : c == 13 ? kE5M2 : kE4M3;
          int mode = c == 11 ? RZ : RN;
          bool sat = c >= 12, relu = c == 10 || c == 18;
          int w = c >= 12 ? 8 : 16;
          uint32_t mask = (1u << w) - 1;
          bool ok = true;
          uint32_t parts[2] = {(got >> w) & mask, got & mask};
          float in[2] = {a[i], b[i]};
          if (w == 8 && (got >> 16) != 0) ok = false;  // the b16 result zero-extended by the store
          for (int p = 0; p < 2 && ok; ++p) {
            uint32_t wb;
            if (half(in[p], f, mode, sat, relu, &wb))
              // .relu: whether a result that rounds to -0 comes out as -0 or +0 the ISA leaves open
              ok = parts[p] == wb || (relu && wb == 0 && parts[p] == 1u << (w - 1) && in[p] <= 0);
            else
              ok = is_nan_bits(parts[p], f);
          }
          if (ok) ck.ok();
          else {
            if (!half(a[i], f, mode, sat, relu, &w0)) w0 = 0xDEAD;
            if (!half(b[i], f, mode, sat, relu, &w1)) w1 = 0xDEAD;
            ck.fail(i, "%s got 0x%x, want hi 0x%x lo 0x%x (0xDEAD: a NaN)", ctx, got, w0, w1);
          }
        } else if (c == 14 || c == 15) {
          const Fmt& f = c == 14 ? kE4M3 : kE5M2;
          bool ok = true;
          for (int p = 0; p < 2; ++p) {
            uint32_t byte = (h[i] >> (8 * p)) & 0xFF, hb = (got >> (16 * p)) & 0xFFFF;
            double v = decode(byte, f);
            if (std::isnan(v)) ok &= is_nan_bits(hb, kF16);
            else ok &= hb == encode(v, kF16);
          }
          if (ok) ck.ok(); else ck.fail(i, "%s got 0x%08x", ctx, got);
        } else {
          const Fmt& f = c == 16 ? kF16 : kBF16;
          uint32_t hb = c == 16 ? (h[i] & 0xFFFF) : (h[i] >> 16);
          double v = decode(hb, f);
          if (std::isnan(v)) { if (std::isnan(bitsf(got))) ck.ok(); else ck.fail(i, "%s want a NaN", ctx); }
          else ck.f32(i, bitsf(got), (float)v, ctx);
        }
      }
    }
  }
  return finish();
}
