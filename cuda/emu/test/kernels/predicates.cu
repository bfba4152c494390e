// predicates.cu: comparison and selection (PTX ISA 9.0 section 9.7.7 "Comparison and Selection
// Instructions": setp with every integer and floating-point comparison incl. the unordered ones and NaN,
// the .and/.or/.xor boolean combination and the p|q pair, set, selp) and 9.7.8 / 8.3 predicate logic
// (and/or/xor/not.pred), guarded execution (@p, @!p) incl. guarded stores and atomics, testp and
// copysign (9.7.3); against host comparisons.
#include "common.cuh"

using namespace kt;

constexpr int N = 2048;

#define FCMPS(X) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(equ) X(neu) X(ltu) X(leu) X(gtu) X(geu) X(num) X(nan)
#define STR(x) #x
enum FCmp {
#define E(c) F_##c,
  FCMPS(E)
#undef E
  NFCMP
};
const char* kFCmp[] = {
#define E(c) STR(c),
    FCMPS(E)
#undef E
};

static bool fcmp_ref(int k, double a, double b) {
  bool un = std::isnan(a) || std::isnan(b);
  switch (k) {
    case F_eq: return !un && a == b;
    case F_ne: return !un && a != b;
    case F_lt: return !un && a < b;
    case F_le: return !un && a <= b;
    case F_gt: return !un && a > b;
    case F_ge: return !un && a >= b;
    case F_equ: return un || a == b;
    case F_neu: return un || a != b;
    case F_ltu: return un || a < b;
    case F_leu: return un || a <= b;
    case F_gtu: return un || a > b;
    case F_geu: return un || a >= b;
    case F_num: return !un;
    case F_nan: return un;
  }
  return false;
}

// out layout per element: [0, NFCMP) setp.f32, [NFCMP, 2*NFCMP) setp.f64, then set.u32.f32 (NFCMP),
// then set.f32.f32 (NFCMP)
__global__ void k_fcmp(const float* X, const float* Y, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = X[i], y = Y[i];
  double dx = x, dy = y;
  uint32_t r;
  float f;
#define E(c)                                                                                        \
  asm volatile("{ .reg .pred p; setp." #c ".f32 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "f"(x), "f"(y));                                                                   \
  out[F_##c * n + i] = r;                                                                           \
  asm volatile("{ .reg .pred p; setp." #c ".f64 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "d"(dx), "d"(dy));                                                                 \
  out[(NFCMP + F_##c) * n + i] = r;                                                                 \
  asm volatile("set." #c ".u32.f32 %0, %1, %2;" : "=r"(r) : "f"(x), "f"(y));                       \
  out[(2 * NFCMP + F_##c) * n + i] = r;                                                             \
  asm volatile("set." #c ".f32.f32 %0, %1, %2;" : "=f"(f) : "f"(x), "f"(y));                       \
  out[(3 * NFCMP + F_##c) * n + i] = __float_as_uint(f);
  FCMPS(E)
#undef E
}

#define ICMPS(X) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)
#define UCMPS(X) X(eq) X(ne) X(lt) X(le) X(gt) X(ge) X(lo) X(ls) X(hi) X(hs)
enum ICmp { I_eq, I_ne, I_lt, I_le, I_gt, I_ge, I_lo, I_ls, I_hi, I_hs, NICMP };
const char* kICmp[] = {"eq", "ne", "lt", "le", "gt", "ge", "lo", "ls", "hi", "hs"};
template <class T>
static bool icmp_ref(int k, T a, T b) {
  switch (k) {
    case I_eq: return a == b;
    case I_ne: return a != b;
    case I_lt: case I_lo: return a < b;
    case I_le: case I_ls: return a <= b;
    case I_gt: case I_hi: return a > b;
    case I_ge: case I_hs: return a >= b;
  }
  return false;
}

// out per element: [s32 x 6][u32 x 10][s64 x 6][u64 x 10][b32 eq, ne][s16 lt][u16 lt]
constexpr int IOUT = 6 + 10 + 6 + 10 + 2 + 2;
__global__ void k_icmp(const uint64_t* X, const uint64_t* Y, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint64_t x = X[i], y = Y[i];
  uint32_t x32 = (uint32_t)x, y32 = (uint32_t)y, r;
  int o = 0;
#define S32(c)                                                                                      \
  asm volatile("{ .reg .pred p; setp." #c ".s32 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "r"(x32), "r"(y32));                                                               \
  out[(o++) * n + i] = r;
#define U32(c)                                                                                      \
  asm volatile("{ .reg .pred p; setp." #c ".u32 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "r"(x32), "r"(y32));                                                               \
  out[(o++) * n + i] = r;
#define S64(c)                                                                                      \
  asm volatile("{ .reg .pred p; setp." #c ".s64 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "l"(x), "l"(y));                                                                   \
  out[(o++) * n + i] = r;
#define U64(c)                                                                                      \
  asm volatile("{ .reg .pred p; setp." #c ".u64 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r)       \
               : "l"(x), "l"(y));                                                                   \
  out[(o++) * n + i] = r;
  ICMPS(S32) UCMPS(U32) ICMPS(S64) UCMPS(U64)
#undef S32
#undef U32
#undef S64
#undef U64
  asm volatile("{ .reg .pred p; setp.eq.b32 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r) : "r"(x32), "r"(y32));
  out[(o++) * n + i] = r;
  asm volatile("{ .reg .pred p; setp.ne.b32 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r) : "r"(x32), "r"(y32));
  out[(o++) * n + i] = r;
  unsigned short xs = (unsigned short)x, ys = (unsigned short)y;
  asm volatile("{ .reg .pred p; setp.lt.s16 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r) : "h"(xs), "h"(ys));
  out[(o++) * n + i] = r;
  asm volatile("{ .reg .pred p; setp.lt.u16 p, %1, %2; selp.u32 %0, 1, 0, p; }" : "=r"(r) : "h"(xs), "h"(ys));
  out[(o++) * n + i] = r;
}

// Boolean combinations, p|q pairs, predicate logic, guarded execution, selp with arbitrary bits.
// out per element (u32): 0..5 setp.lt.{and,or,xor}.f32 with c and with !c (p only), 6..11 the same q,
// 12 and.pred, 13 or.pred, 14 xor.pred, 15 not.pred, 16 guarded adds, 17 selp.b32, 18 selp.f32,
// 19 setp.ltu.and.f32 with NaN, 20 setp.lt.s32 p|q (q), 21 set.lt.and.u32.s32
constexpr int BOUT = 22;
__global__ void k_bool(const float* X, const float* Y, const uint32_t* B, const uint32_t* V,
                       const uint32_t* W, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = X[i], y = Y[i];
  uint32_t bits = B[i], r, q;
#define BOP(k, bop, neg)                                                                            \
  asm volatile(                                                                                     \
      "{ .reg .pred c, p, q; .reg .u32 t; and.b32 t, %3, 1; setp.ne.u32 c, t, 0;\n\t"               \
      "setp.lt." bop ".f32 p|q, %2, %4, " neg "c; selp.u32 %0, 1, 0, p; selp.u32 %1, 1, 0, q; }"    \
      : "=r"(r), "=r"(q) : "f"(x), "r"(bits), "f"(y));                                              \
  out[(k) * n + i] = r;                                                                             \
  out[(6 + (k)) * n + i] = q;
  BOP(0, "and", "") BOP(1, "or", "") BOP(2, "xor", "") BOP(3, "and", "!") BOP(4, "or", "!") BOP(5, "xor", "!")
#undef BOP
#define PLOG(k, ins)                                                                                \
  asm volatile(                                                                                     \
      "{ .reg .pred a, b, d; .reg .u32 t; and.b32 t, %1, 2; setp.ne.u32 a, t, 0;\n\t"               \
      "and.b32 t, %1, 4; setp.ne.u32 b, t, 0; " ins "; selp.u32 %0, 1, 0, d; }"                     \
      : "=r"(r) : "r"(bits));                                                                       \
  out[(k) * n + i] = r;
  PLOG(12, "and.pred d, a, b") PLOG(13, "or.pred d, a, b") PLOG(14, "xor.pred d, a, b")
  PLOG(15, "not.pred d, a")
#undef PLOG
  // Guarded execution: bits 3..5 choose which of three adds run.
  asm volatile(
      "{ .reg .pred a, b, c; .reg .u32 t;\n\t"
      "and.b32 t, %1, 8; setp.ne.u32 a, t, 0;\n\t"
      "and.b32 t, %1, 16; setp.ne.u32 b, t, 0;\n\t"
      "and.b32 t, %1, 32; setp.eq.u32 c, t, 0;\n\t"
      "mov.u32 %0, 1000;\n\t"
      "@a add.u32 %0, %0, 1;\n\t"
      "@!b add.u32 %0, %0, 20;\n\t"
      "@c add.u32 %0, %0, 300;\n\t"
      "@!a mul.lo.u32 %0, %0, 2; }"
      : "=&r"(r) : "r"(bits));
  out[16 * n + i] = r;
  uint32_t v = V[i], w = W[i];
  asm volatile("{ .reg .pred p; .reg .u32 t; and.b32 t, %1, 64; setp.ne.u32 p, t, 0; selp.b32 %0, %2, %3, p; }"
               : "=r"(r) : "r"(bits), "r"(v), "r"(w));
  out[17 * n + i] = r;
  float fr;
  asm volatile("{ .reg .pred p; .reg .u32 t; and.b32 t, %1, 128; setp.ne.u32 p, t, 0; selp.f32 %0, %2, %3, p; }"
               : "=f"(fr) : "r"(bits), "f"(__uint_as_float(v)), "f"(__uint_as_float(w)));
  out[18 * n + i] = __float_as_uint(fr);
  asm volatile(
      "{ .reg .pred c, p; .reg .u32 t; and.b32 t, %1, 1; setp.ne.u32 c, t, 0;\n\t"
      "setp.ltu.and.f32 p, %2, %3, c; selp.u32 %0, 1, 0, p; }"
      : "=r"(r) : "r"(bits), "f"(x), "f"(y));
  out[19 * n + i] = r;
  asm volatile("{ .reg .pred p, q; setp.lt.s32 p|q, %1, %2; selp.u32 %0, 7, 9, q; }" : "=r"(r) : "r"(v), "r"(w));
  out[20 * n + i] = r;
  asm volatile(
      "{ .reg .pred c; .reg .u32 t; and.b32 t, %1, 1; setp.ne.u32 c, t, 0;\n\t"
      "set.lt.and.u32.s32 %0, %2, %3, c; }"
      : "=r"(r) : "r"(bits), "r"(v), "r"(w));
  out[21 * n + i] = r;
}

// Guarded memory operations: a false guard must leave memory alone. mem[i] starts poisoned; thread i
// stores (bit 0), adds atomically to its own counter (bit 1) and stores through a negated guard (bit 2).
__global__ void k_guarded_mem(const uint32_t* B, uint32_t* mem, uint32_t* cnt, uint32_t* mem2, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t b = B[i];
  asm volatile(
      "{ .reg .pred p, q, r; .reg .u32 t, old;\n\t"
      "and.b32 t, %3, 1; setp.ne.u32 p, t, 0;\n\t"
      "and.b32 t, %3, 2; setp.ne.u32 q, t, 0;\n\t"
      "and.b32 t, %3, 4; setp.ne.u32 r, t, 0;\n\t"
      "@p st.global.u32 [%0], %3;\n\t"
      "@q atom.global.add.u32 old, [%1], 5;\n\t"
      "@!r st.global.u32 [%2], 77; }"
      :: "l"(mem + i), "l"(cnt + i), "l"(mem2 + i), "r"(b) : "memory");
}

// testp and copysign (launched last): out[k * n + i]
const char* kTestp[] = {"testp.finite.f32", "testp.infinite.f32", "testp.number.f32", "testp.notanumber.f32",
                        "testp.normal.f32", "testp.subnormal.f32", "testp.normal.f64", "copysign.f32"};
__global__ void k_testp(const float* X, const float* Y, uint32_t* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float x = X[i], y = Y[i];
  double dx = x;
  uint32_t r;
#define TP(k, ins, c, v)                                                                            \
  asm volatile("{ .reg .pred p; " ins " p, %1; selp.u32 %0, 1, 0, p; }" : "=r"(r) : c(v));           \
  out[(k) * n + i] = r;
  TP(0, "testp.finite.f32", "f", x) TP(1, "testp.infinite.f32", "f", x) TP(2, "testp.number.f32", "f", x)
  TP(3, "testp.notanumber.f32", "f", x) TP(4, "testp.normal.f32", "f", x) TP(5, "testp.subnormal.f32", "f", x)
  TP(6, "testp.normal.f64", "d", dx)
#undef TP
  float c;
  asm volatile("copysign.f32 %0, %1, %2;" : "=f"(c) : "f"(y), "f"(x));  // magnitude of x, sign of y
  out[7 * n + i] = __float_as_uint(c);
}

int main() {
  Rng g(0x9ED);
  std::vector<float> sp = f32_specials();
  std::vector<float> x(N), y(N);
  for (int i = 0; i < N; ++i) {
    int k = (int)g.below(4);
    x[i] = k == 0 ? sp[g.below((uint32_t)sp.size())] : g.f32_exp(-3, 3);
    k = (int)g.below(4);
    y[i] = k == 0 ? sp[g.below((uint32_t)sp.size())] : k == 1 ? x[i] : g.f32_exp(-3, 3);
  }
  // Every pair of specials in the upper half.
  for (size_t k = 0; k < sp.size() * sp.size() && N / 2 + k < (size_t)N; ++k) {
    x[N / 2 + k] = sp[k / sp.size()];
    y[N / 2 + k] = sp[k % sp.size()];
  }
  {
    DevBuf<float> dx(x), dy(y);
    DevBuf<uint32_t> out((size_t)4 * NFCMP * N);
    k_fcmp<<<N / 128, 128>>>(dx, dy, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int k = 0; k < NFCMP; ++k) {
      Check c32(std::string("setp.") + kFCmp[k] + ".f32");
      Check c64(std::string("setp.") + kFCmp[k] + ".f64");
      Check cs(std::string("set.") + kFCmp[k] + ".u32.f32");
      Check cf(std::string("set.") + kFCmp[k] + ".f32.f32");
      for (int i = 0; i < N; ++i) {
        bool want = fcmp_ref(k, x[i], y[i]);
        char ctx[96];
        snprintf(ctx, sizeof ctx, "%a vs %a:", x[i], y[i]);
        c32.u32(i, o[(size_t)k * N + i], want, ctx);
        c64.u32(i, o[(size_t)(NFCMP + k) * N + i], want, ctx);
        cs.u32(i, o[(size_t)(2 * NFCMP + k) * N + i], want ? 0xFFFFFFFFu : 0u, ctx);
        cf.u32(i, o[(size_t)(3 * NFCMP + k) * N + i], want ? 0x3F800000u : 0u, ctx);
      }
    }
  }
  {
    std::vector<uint64_t> a(N), b(N);
    const uint64_t edge[] = {0, 1, ~0ull, 0x7FFFFFFFull, 0x80000000ull, 0xFFFFFFFF80000000ull,
                             0x8000000000000000ull, 0x7FFFFFFFFFFFFFFFull, 0xFFFFFFFFull, 0x8000ull};
    for (int i = 0; i < N; ++i) {
      a[i] = g.below(3) == 0 ? edge[g.below(10)] : g.u64();
      b[i] = g.below(4) == 0 ? a[i] : g.below(3) == 0 ? edge[g.below(10)] : g.u64();
      if (g.below(3) == 0) b[i] = (b[i] & ~0xFFFFull) | (a[i] & 0xFFFFull);  // equal low halves
    }
    DevBuf<uint64_t> da(a), db(b);
    DevBuf<uint32_t> out((size_t)IOUT * N);
    k_icmp<<<N / 128, 128>>>(da, db, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    int slot = 0;
    auto run = [&](const char* ty, int ncmp, auto conv) {
      for (int k = 0; k < ncmp; ++k, ++slot) {
        Check ck(std::string("setp.") + kICmp[k] + "." + ty);
        for (int i = 0; i < N; ++i)
          ck.u32(i, o[(size_t)slot * N + i], icmp_ref(k, conv(a[i]), conv(b[i])));
      }
    };
    run("s32", 6, [](uint64_t v) { return (int32_t)v; });
    run("u32", 10, [](uint64_t v) { return (uint32_t)v; });
    run("s64", 6, [](uint64_t v) { return (int64_t)v; });
    run("u64", 10, [](uint64_t v) { return v; });
    {
      Check e("setp.eq.b32"), ne("setp.ne.b32"), s16("setp.lt.s16"), u16("setp.lt.u16");
      for (int i = 0; i < N; ++i) {
        e.u32(i, o[(size_t)(slot + 0) * N + i], (uint32_t)a[i] == (uint32_t)b[i]);
        ne.u32(i, o[(size_t)(slot + 1) * N + i], (uint32_t)a[i] != (uint32_t)b[i]);
        s16.u32(i, o[(size_t)(slot + 2) * N + i], (int16_t)a[i] < (int16_t)b[i]);
        u16.u32(i, o[(size_t)(slot + 3) * N + i], (uint16_t)a[i] < (uint16_t)b[i]);
      }
    }
  }
  {
    std::vector<uint32_t> bits(N), v(N), w(N);
    for (int i = 0; i < N; ++i) {
      bits[i] = g.u32();
      v[i] = g.below(4) == 0 ? 0x7F800001u + g.below(5) : g.u32();  // NaN payloads must survive selp
      w[i] = g.below(4) == 0 ? 0xFFC00000u | g.below(1000) : g.u32();
    }
    DevBuf<float> dx(x), dy(y);
    DevBuf<uint32_t> db(bits), dv(v), dw(w), out((size_t)BOUT * N);
    k_bool<<<N / 128, 128>>>(dx, dy, db, dv, dw, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* bops[] = {"and", "or", "xor", "and !c", "or !c", "xor !c"};
    for (int k = 0; k < 6; ++k) {
      Check cp(std::string("setp.lt.") + bops[k] + ".f32 p"), cq(std::string("setp.lt.") + bops[k] + ".f32 q");
      for (int i = 0; i < N; ++i) {
        bool c = bits[i] & 1;
        if (k >= 3) c = !c;
        bool t = fcmp_ref(F_lt, x[i], y[i]);
        auto comb = [&](bool u) { return k % 3 == 0 ? (u && c) : k % 3 == 1 ? (u || c) : (u != c); };
        // q = BoolOp(!(a < b), c): for NaN operands !(a < b) is true.
        cp.u32(i, o[(size_t)k * N + i], comb(t));
        cq.u32(i, o[(size_t)(6 + k) * N + i], comb(!t));
      }
    }
    Check pa("and.pred"), po("or.pred"), px("xor.pred"), pn("not.pred"), gd("guarded @p/@!p"),
        sb("selp.b32"), sf("selp.f32 (bits kept)"), lu("setp.ltu.and.f32"), pq("setp.lt.s32 p|q"),
        sa("set.lt.and.u32.s32");
    for (int i = 0; i < N; ++i) {
      uint32_t bb = bits[i];
      bool A = bb & 2, B = bb & 4;
      pa.u32(i, o[12 * (size_t)N + i], A && B);
      po.u32(i, o[13 * (size_t)N + i], A || B);
      px.u32(i, o[14 * (size_t)N + i], A != B);
      pn.u32(i, o[15 * (size_t)N + i], !A);
      uint32_t r = 1000;
      if (bb & 8) r += 1;
      if (!(bb & 16)) r += 20;
      if (!(bb & 32)) r += 300;
      if (!(bb & 8)) r *= 2;
      gd.u32(i, o[16 * (size_t)N + i], r);
      sb.u32(i, o[17 * (size_t)N + i], (bb & 64) ? v[i] : w[i]);
      sf.u32(i, o[18 * (size_t)N + i], (bb & 128) ? v[i] : w[i]);
      lu.u32(i, o[19 * (size_t)N + i], fcmp_ref(F_ltu, x[i], y[i]) && (bb & 1));
      pq.u32(i, o[20 * (size_t)N + i], (int32_t)v[i] < (int32_t)w[i] ? 9u : 7u);
      sa.u32(i, o[21 * (size_t)N + i], ((int32_t)v[i] < (int32_t)w[i] && (bb & 1)) ? 0xFFFFFFFFu : 0u);
    }
  }
  {
    std::vector<uint32_t> bits(N);
    for (auto& v : bits) v = g.u32() | 0x100u;  // never equal to the poison
    DevBuf<uint32_t> db(bits), mem(N), mem2(N), cnt(std::vector<uint32_t>(N, 1000u));
    k_guarded_mem<<<N / 128, 128>>>(db, mem, cnt, mem2, N);
    LAUNCH_CHECK();
    auto m = mem.download(), m2 = mem2.download(), c = cnt.download();
    Check cs("@p st.global (false guard stores nothing)"), ca("@q atom.global.add"), cn("@!r st.global");
    for (int i = 0; i < N; ++i) {
      cs.u32(i, m[i], (bits[i] & 1) ? bits[i] : 0xFFFFFFFFu);
      ca.u32(i, c[i], (bits[i] & 2) ? 1005u : 1000u);
      cn.u32(i, m2[i], (bits[i] & 4) ? 0xFFFFFFFFu : 77u);
    }
  }
  {
    DevBuf<float> dx(x), dy(y);
    DevBuf<uint32_t> out((size_t)8 * N);
    k_testp<<<N / 128, 128>>>(dx, dy, out, N);
    LAUNCH_CHECK();
    auto o = out.download();
    for (int k = 0; k < 8; ++k) {
      Check ck(kTestp[k]);
      for (int i = 0; i < N; ++i) {
        float v = x[i];
        uint32_t want = 0;
        switch (k) {
          case 0: want = std::isfinite(v); break;
          case 1: want = std::isinf(v); break;
          case 2: want = !std::isnan(v); break;
          case 3: want = std::isnan(v); break;
          case 4: want = std::fpclassify(v) == FP_NORMAL; break;
          case 5: want = std::fpclassify(v) == FP_SUBNORMAL; break;
          case 6: want = std::fpclassify((double)v) == FP_NORMAL; break;  // f32 subnormals are f64 normals
          case 7: want = (fbits(v) & 0x7FFFFFFFu) | (fbits(y[i]) & 0x80000000u); break;
        }
        char ctx[64];
        snprintf(ctx, sizeof ctx, "x=%a y=%a:", v, y[i]);
        if (k == 7 && std::isnan(v)) {  // copysign of a NaN: some NaN with the sign of y
          uint32_t gb = o[(size_t)k * N + i];
          ck.expect(std::isnan(bitsf(gb)) && (gb >> 31) == (fbits(y[i]) >> 31), i, "copysign of NaN");
          continue;
        }
        ck.u32(i, o[(size_t)k * N + i], want, ctx);
      }
    }
  }
  return finish();
}
