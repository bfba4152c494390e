// atomics.cu: atomic and reduction operations (PTX ISA 9.0 sections 9.7.13.5 atom and 9.7.13.6 red) on
// .global and .shared: add/min/max/inc/dec/and/or/xor/exch/cas in u32/s32/u64/s64/f32/f64 with heavy
// contention (thousands of threads on 4 addresses per operation). Final values are computed on the host
// (float sums use exactly representable values, so the order does not matter); the values returned by
// atom.add (tickets), atom.exch (a permutation) and atom.cas retry loops are checked too.
#include <algorithm>

#include "common.cuh"

using namespace kt;

constexpr int kBlocks = 8, kThreads = 256, T = kBlocks * kThreads, kSlots = 4;

enum Op {
  ADD_U32, ADD_U64, ADD_S32, ADD_F32, ADD_F64, MIN_U32, MAX_U32, MIN_S32, MAX_S32, MIN_U64, MAX_S64, INC,
  DEC, AND32, OR32, XOR32, AND64, OR64, XOR64, EXCH32, EXCH64, CAS32, CAS64, RED_ADD_U32, RED_ADD_F32,
  RED_MAX_S32, RED_XOR_B64, RED_ADD_U64, RED_MIN_U32, ADD_U32_SCOPED, NOPS
};
const char* kNames[] = {"atom.add.u32", "atom.add.u64", "atom.add.s32", "atom.add.f32", "atom.add.f64",
                        "atom.min.u32", "atom.max.u32", "atom.min.s32", "atom.max.s32", "atom.min.u64",
                        "atom.max.s64", "atom.inc.u32", "atom.dec.u32", "atom.and.b32", "atom.or.b32",
                        "atom.xor.b32", "atom.and.b64", "atom.or.b64", "atom.xor.b64", "atom.exch.b32",
                        "atom.exch.b64", "atom.cas.b32", "atom.cas.b64", "red.add.u32", "red.add.f32",
                        "red.max.s32", "red.xor.b64", "red.add.u64", "red.min.u32",
                        "atom.relaxed.{gpu,cta}.add.u32"};
constexpr uint32_t kIncBound = 37, kDecBound = 41;

// The operand of thread g for op k, 64 bits (32-bit ops use the low word).
__host__ __device__ inline uint64_t operand(int k, uint64_t v) {
  switch (k) {
    case ADD_U32: case RED_ADD_U32: case ADD_U32_SCOPED: return 1;
    case ADD_F32: case RED_ADD_F32: {  // a multiple of 1/8 in [-8, 8): sums stay exact
      float f = (float)((int)(v % 128) - 64) * 0.125f;
      uint32_t b;
      memcpy(&b, &f, 4);
      return b;
    }
    case ADD_F64: {
      double d = (double)((int64_t)(v % 2048) - 1024) * 0x1p-20;
      uint64_t b;
      memcpy(&b, &d, 8);
      return b;
    }
    case ADD_U64: case RED_ADD_U64: return v >> 20;
    case ADD_S32: return (uint32_t)((int32_t)(v % 2001) - 1000);
    case INC: case DEC: return k == INC ? kIncBound : kDecBound;
    default: return v;
  }
}

// Global atomics: slots[k * kSlots + g % kSlots] (64-bit slots; 32-bit ops use the low word),
// ret[k * T + g] = the returned old value.
template <bool kShared>
__device__ void run_ops(uint64_t* slots, uint64_t* ret, const uint64_t* vals, int g) {
  uint64_t v = vals[g];
  int s = g % kSlots;
#define A32(k, ins)                                                                                   \
  {                                                                                                   \
    uint32_t r;                                                                                       \
    uint32_t x = (uint32_t)operand(k, v);                                                             \
    if (kShared)                                                                                      \
      asm volatile("atom.shared." ins " %0, [%1], %2;" : "=r"(r)                                      \
                   : "r"((uint32_t)__cvta_generic_to_shared(&slots[k * kSlots + s])), "r"(x) : "memory"); \
    else                                                                                              \
      asm volatile("atom.global." ins " %0, [%1], %2;" : "=r"(r) : "l"(&slots[k * kSlots + s]), "r"(x) : "memory"); \
    ret[k * T + g] = r;                                                                               \
  }
#define A64(k, ins)                                                                                   \
  {                                                                                                   \
    uint64_t r;                                                                                       \
    uint64_t x = operand(k, v);                                                                       \
    if (kShared)                                                                                      \
      asm volatile("atom.shared." ins " %0, [%1], %2;" : "=l"(r)                                      \
                   : "r"((uint32_t)__cvta_generic_to_shared(&slots[k * kSlots + s])), "l"(x) : "memory"); \
    else                                                                                              \
      asm volatile("atom.global." ins " %0, [%1], %2;" : "=l"(r) : "l"(&slots[k * kSlots + s]), "l"(x) : "memory"); \
    ret[k * T + g] = r;                                                                               \
  }
#define R32(k, ins)                                                                                   \
  {                                                                                                   \
    uint32_t x = (uint32_t)operand(k, v);                                                             \
    if (kShared)                                                                                      \
      asm volatile("red.shared." ins " [%0], %1;" :: "r"((uint32_t)__cvta_generic_to_shared(&slots[k * kSlots + s])), "r"(x) : "memory"); \
    else                                                                                              \
      asm volatile("red.global." ins " [%0], %1;" :: "l"(&slots[k * kSlots + s]), "r"(x) : "memory"); \
  }
#define R64(k, ins)                                                                                   \
  {                                                                                                   \
    uint64_t x = operand(k, v);                                                                       \
    if (kShared)                                                                                      \
      asm volatile("red.shared." ins " [%0], %1;" :: "r"((uint32_t)__cvta_generic_to_shared(&slots[k * kSlots + s])), "l"(x) : "memory"); \
    else                                                                                              \
      asm volatile("red.global." ins " [%0], %1;" :: "l"(&slots[k * kSlots + s]), "l"(x) : "memory"); \
  }
  A32(ADD_U32, "add.u32") A64(ADD_U64, "add.u64") A32(ADD_S32, "add.s32") A32(ADD_F32, "add.f32")
  A64(ADD_F64, "add.f64") A32(MIN_U32, "min.u32") A32(MAX_U32, "max.u32") A32(MIN_S32, "min.s32")
  A32(MAX_S32, "max.s32") A64(MIN_U64, "min.u64") A64(MAX_S64, "max.s64") A32(INC, "inc.u32")
  A32(DEC, "dec.u32") A32(AND32, "and.b32") A32(OR32, "or.b32") A32(XOR32, "xor.b32") A64(AND64, "and.b64")
  A64(OR64, "or.b64") A64(XOR64, "xor.b64") A32(EXCH32, "exch.b32") A64(EXCH64, "exch.b64")
  R32(RED_ADD_U32, "add.u32") R32(RED_ADD_F32, "add.f32") R32(RED_MAX_S32, "max.s32")
  R64(RED_XOR_B64, "xor.b64") R64(RED_ADD_U64, "add.u64") R32(RED_MIN_U32, "min.u32")
  {  // with a memory-ordering semantics and scope: atom{.sem}{.scope}{.space}.op.type
    uint32_t r;
    if (kShared)
      asm volatile("atom.relaxed.cta.shared.add.u32 %0, [%1], 1;" : "=r"(r)
                   : "r"((uint32_t)__cvta_generic_to_shared(&slots[ADD_U32_SCOPED * kSlots + s])) : "memory");
    else
      asm volatile("atom.relaxed.gpu.global.add.u32 %0, [%1], 1;" : "=r"(r) : "l"(&slots[ADD_U32_SCOPED * kSlots + s]) : "memory");
    ret[ADD_U32_SCOPED * T + g] = r;
  }
#undef A32
#undef A64
#undef R32
#undef R64
  // cas retry loops: each thread increments its slot once; the old value it swapped is its ticket.
  {
    uint32_t* p = (uint32_t*)&slots[CAS32 * kSlots + s];
    uint32_t cur = 0, old;
    for (;;) {
      if (kShared)
        asm volatile("atom.shared.cas.b32 %0, [%1], %2, %3;" : "=r"(old)
                     : "r"((uint32_t)__cvta_generic_to_shared(p)), "r"(cur), "r"(cur + 1) : "memory");
      else
        asm volatile("atom.global.cas.b32 %0, [%1], %2, %3;" : "=r"(old) : "l"(p), "r"(cur), "r"(cur + 1) : "memory");
      if (old == cur) break;
      cur = old;
    }
    ret[CAS32 * T + g] = cur;
  }
  {
    uint64_t* p = &slots[CAS64 * kSlots + s];
    uint64_t cur = 0, old;
    const uint64_t step = 0x100000001ull;  // both halves move: a 32-bit cas would not do
    for (;;) {
      if (kShared)
        asm volatile("atom.shared.cas.b64 %0, [%1], %2, %3;" : "=l"(old)
                     : "r"((uint32_t)__cvta_generic_to_shared(p)), "l"(cur), "l"(cur + step) : "memory");
      else
        asm volatile("atom.global.cas.b64 %0, [%1], %2, %3;" : "=l"(old) : "l"(p), "l"(cur), "l"(cur + step) : "memory");
      if (old == cur) break;
      cur = old;
    }
    ret[CAS64 * T + g] = cur;
  }
}

__global__ void k_global(uint64_t* slots, uint64_t* ret, const uint64_t* vals) {
  run_ops<false>(slots, ret, vals, blockIdx.x * blockDim.x + threadIdx.x);
}

// Shared: each block works on its own shared copy of the slots (initialised from `init`), then writes
// them to slots_out[block].
__global__ void k_shared(const uint64_t* init, uint64_t* slots_out, uint64_t* ret, const uint64_t* vals) {
  __shared__ uint64_t sl[NOPS * kSlots];
  for (int k = threadIdx.x; k < NOPS * kSlots; k += blockDim.x) sl[k] = init[k];
  __syncthreads();
  run_ops<true>(sl, ret, vals, blockIdx.x * blockDim.x + threadIdx.x);
  __syncthreads();
  for (int k = threadIdx.x; k < NOPS * kSlots; k += blockDim.x) slots_out[blockIdx.x * NOPS * kSlots + k] = sl[k];
}

// The split-K "last block" pattern: every block publishes a partial sum, fences (membar.gl), takes a
// ticket; the block that draws the last ticket adds up all partials (they must all be visible to it).
constexpr int kTicketBlocks = 16;
__global__ void k_last_block(const uint32_t* in, uint32_t* partial, uint32_t* ticket, uint32_t* total) {
  __shared__ uint32_t s[kThreads];
  __shared__ bool last;
  int t = threadIdx.x;
  s[t] = in[blockIdx.x * kThreads + t];
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w >>= 1) {
    if (t < w) s[t] += s[t + w];
    __syncthreads();
  }
  if (t == 0) {
    partial[blockIdx.x] = s[0];
    __threadfence();
    last = atomicAdd(ticket, 1u) == gridDim.x - 1;
  }
  __syncthreads();
  if (last && t == 0) {
    __threadfence_block();
    uint32_t sum = 0;
    for (uint32_t b = 0; b < gridDim.x; ++b) sum += ((volatile uint32_t*)partial)[b];
    *total = sum;
  }
}

// Host: the final value of one slot after the threads `members` applied op k, starting from `init`.
static uint64_t final_value(int k, uint64_t init, const std::vector<uint64_t>& xs) {
  uint64_t a = init;
  for (uint64_t x : xs) {
    uint32_t a32 = (uint32_t)a, x32 = (uint32_t)x;
    switch (k) {
      case ADD_U32: case RED_ADD_U32: case ADD_S32: case ADD_U32_SCOPED: a = (a & ~0xFFFFFFFFull) | (uint32_t)(a32 + x32); break;
      case ADD_U64: case RED_ADD_U64: a += x; break;
      case ADD_F32: case RED_ADD_F32: {
        float f = bitsf(a32) + bitsf(x32);  // exact by construction
        a = (a & ~0xFFFFFFFFull) | fbits(f);
        break;
      }
      case ADD_F64: a = dbits(bitsd(a) + bitsd(x)); break;
      case MIN_U32: case RED_MIN_U32: a = (a & ~0xFFFFFFFFull) | (a32 < x32 ? a32 : x32); break;
      case MAX_U32: a = (a & ~0xFFFFFFFFull) | (a32 > x32 ? a32 : x32); break;
      case MIN_S32: a = (a & ~0xFFFFFFFFull) | (uint32_t)((int32_t)a32 < (int32_t)x32 ? a32 : x32); break;
      case MAX_S32: case RED_MAX_S32: a = (a & ~0xFFFFFFFFull) | (uint32_t)((int32_t)a32 > (int32_t)x32 ? a32 : x32); break;
      case MIN_U64: a = a < x ? a : x; break;
      case MAX_S64: a = (int64_t)a > (int64_t)x ? a : x; break;
      case INC: a = (a & ~0xFFFFFFFFull) | (a32 >= x32 ? 0u : a32 + 1); break;
      case DEC: a = (a & ~0xFFFFFFFFull) | ((a32 == 0 || a32 > x32) ? x32 : a32 - 1); break;
      case AND32: a &= 0xFFFFFFFF00000000ull | x32; break;
      case OR32: a |= x32; break;
      case XOR32: a ^= x32; break;
      case AND64: a &= x; break;
      case OR64: a |= x; break;
      case XOR64: case RED_XOR_B64: a ^= x; break;
      default: break;
    }
  }
  return a;
}

static void check_all(const char* space, const std::vector<uint64_t>& init, const std::vector<uint64_t>& vals,
                      const uint64_t* fin, const std::vector<uint64_t>& ret, int g0, int g1) {
  // threads g0..g1-1 worked on the slots `fin` (which started as `init`)
  for (int k = 0; k < NOPS; ++k) {
    Check ck(std::string(space) + " " + kNames[k]);
    for (int s = 0; s < kSlots; ++s) {
      std::vector<uint64_t> xs, olds;
      for (int g = g0; g < g1; ++g)
        if (g % kSlots == s) { xs.push_back(operand(k, vals[g])); olds.push_back(ret[(size_t)k * T + g]); }
      uint64_t in = init[k * kSlots + s], got = fin[k * kSlots + s];
      bool is32 = k != ADD_U64 && k != ADD_F64 && k != MIN_U64 && k != MAX_S64 && k != AND64 && k != OR64 &&
                  k != XOR64 && k != EXCH64 && k != CAS64 && k != RED_XOR_B64 && k != RED_ADD_U64;
      size_t n = xs.size();
      if (k == EXCH32 || k == EXCH64) {
        // the returned values and the final value are a permutation of the initial value and the operands
        std::vector<uint64_t> a = olds, b = xs;
        a.push_back(got);
        b.push_back(in);
        if (is32) { for (auto& v : a) v &= 0xFFFFFFFFull; for (auto& v : b) v &= 0xFFFFFFFFull; }
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        ck.expect(a == b && (got >> 32) == (is32 ? in >> 32 : got >> 32), s, "exchanged values are not a permutation");
        continue;
      }
      if (k == CAS32 || k == CAS64) {
        uint64_t step = k == CAS32 ? 1 : 0x100000001ull;
        std::vector<uint64_t> t = olds;
        std::sort(t.begin(), t.end());
        bool ok = true;
        for (size_t j = 0; j < n; ++j) ok &= t[j] == j * step;  // init is 0
        uint64_t want = k == CAS32 ? (in & ~0xFFFFFFFFull) | (uint32_t)n : n * step;
        ck.expect(ok, s, "cas tickets are not 0..n-1");
        ck.u64(s, got, want, "final:");
        continue;
      }
      uint64_t want = final_value(k, in, xs);
      char ctx[64];
      snprintf(ctx, sizeof ctx, "slot %d final:", s);
      ck.u64(s, got, want, ctx);
      if (k == ADD_U32 || k == ADD_U32_SCOPED) {  // tickets: the old values are in, in+1, ..., in+n-1
        std::vector<uint64_t> t = olds, w;
        for (size_t j = 0; j < n; ++j) w.push_back((uint32_t)((uint32_t)in + j));  // wraps past 2^32
        std::sort(t.begin(), t.end());
        std::sort(w.begin(), w.end());
        ck.expect(t == w, s, "atom.add returned values are not distinct consecutive tickets");
      }
      if (k == INC) {  // every returned value is in [0, bound]
        bool ok = true;
        for (auto o : olds) ok &= o <= kIncBound || o == (uint32_t)in;
        ck.expect(ok, s, "atom.inc returned a value above the bound");
      }
    }
  }
}

int main() {
  Rng g(0xA7031C);
  std::vector<uint64_t> vals(T), init(NOPS * kSlots);
  for (auto& v : vals) {
    v = g.u64();
    if (g.below(4) == 0) v |= 0x8000000080000000ull;  // negatives for the signed ops
  }
  for (int k = 0; k < NOPS; ++k)
    for (int s = 0; s < kSlots; ++s) {
      uint64_t x = g.u64();
      switch (k) {
        case ADD_F32: case RED_ADD_F32: x = (x & ~0xFFFFFFFFull) | fbits((float)(s * 3) - 1.5f); break;
        case ADD_F64: x = dbits(0.25 * s); break;
        case INC: x = (x & ~0xFFFFFFFFull) | (uint32_t)(s * 5); break;      // below the bound
        case DEC: x = (x & ~0xFFFFFFFFull) | (s == 3 ? 1000u : (uint32_t)s); break;  // above the bound: wraps to it
        case CAS32: x = x & ~0xFFFFFFFFull; break;
        case CAS64: x = 0; break;
        case ADD_U32: case ADD_U32_SCOPED: x = (x & ~0xFFFFFFFFull) | (0xFFFFFF00u + s); break;  // wraps around
        default: break;
      }
      init[k * kSlots + s] = x;
    }
  {
    DevBuf<uint64_t> slots(init), ret((size_t)NOPS * T), dv(vals);
    k_global<<<kBlocks, kThreads>>>(slots, ret, dv);
    LAUNCH_CHECK();
    auto fin = slots.download();
    auto r = ret.download();
    check_all("global", init, vals, fin.data(), r, 0, T);
  }
  {
    DevBuf<uint64_t> dinit(init), out((size_t)kBlocks * NOPS * kSlots), ret((size_t)NOPS * T), dv(vals);
    k_shared<<<kBlocks, kThreads>>>(dinit, out, ret, dv);
    LAUNCH_CHECK();
    auto fin = out.download();
    auto r = ret.download();
    // one check set per block would be 8x the lines; blocks 0 and 5 are checked
    for (int b : {0, 5}) {
      char name[32];
      snprintf(name, sizeof name, "shared (block %d)", b);
      check_all(name, init, vals, fin.data() + (size_t)b * NOPS * kSlots, r, b * kThreads, (b + 1) * kThreads);
    }
  }
  {
    std::vector<uint32_t> in(kTicketBlocks * kThreads);
    uint32_t want = 0;
    for (auto& v : in) { v = g.u32() >> 8; want += v; }
    DevBuf<uint32_t> din(in), partial(kTicketBlocks), ticket(std::vector<uint32_t>{0}), total(1);
    k_last_block<<<kTicketBlocks, kThreads>>>(din, partial, ticket, total);
    LAUNCH_CHECK();
    Check ck("last-block reduction (__threadfence + atomicAdd ticket)");
    ck.u32(0, total.download()[0], want);
    ck.u32(1, ticket.download()[0], kTicketBlocks);
  }
  return finish();
}
