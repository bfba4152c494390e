// warp.cu: warp-level collectives (PTX ISA 9.0 sections 9.7.9.6 shfl.sync, 9.7.13.9 vote.sync,
// 9.7.13.11 match.sync, 9.7.13.12 redux.sync, 9.7.13.4 bar.warp.sync, 10.x %lanemask / activemask):
// shfl.sync up/down/bfly/idx with every segment width, clamp values and per-lane source operands
// (checked against the ISA's pseudo-code, incl. the predicate output), vote.sync all/any/uni/ballot,
// redux.sync, match.any/all with full and partial member masks in divergent code, activemask, __syncwarp.
#include "common.cuh"

using namespace kt;

constexpr int kWarps = 4, kThreads = 32 * kWarps;

// ---- shfl.sync ----
constexpr int kCases = 40;
// out[((case * 4 + mode) * kThreads + tid)] = d | (p << 32)
__global__ void k_shfl(const uint32_t* val, const uint32_t* bsrc, const uint32_t* cval, uint64_t* out) {
  int tid = threadIdx.x;
  uint32_t a = val[tid];
  for (int cs = 0; cs < kCases; ++cs) {
    uint32_t b = bsrc[cs * kThreads + tid], c = cval[cs], d, p;
#define SH(mode, m)                                                                                   \
    asm volatile("{ .reg .pred q; shfl.sync." mode ".b32 %0|q, %2, %3, %4, 0xffffffff; selp.u32 %1, 1, 0, q; }" \
                 : "=r"(d), "=r"(p) : "r"(a), "r"(b), "r"(c));                                        \
    out[(size_t)(cs * 4 + (m)) * kThreads + tid] = d | ((uint64_t)p << 32);
    SH("up", 0) SH("down", 1) SH("bfly", 2) SH("idx", 3)
#undef SH
  }
}

static uint64_t shfl_ref(int mode, int lane, const uint32_t* R, uint32_t b, uint32_t c) {
  int bval = b & 31, cval = c & 31, segmask = (c >> 8) & 31;
  int maxLane = (lane & segmask) | (cval & ~segmask);
  int minLane = lane & segmask;
  int j = 0;
  bool pval = false;
  switch (mode) {
    case 0: j = lane - bval; pval = j >= maxLane; break;
    case 1: j = lane + bval; pval = j <= maxLane; break;
    case 2: j = lane ^ bval; pval = j <= maxLane; break;
    case 3: j = minLane | (bval & ~segmask); pval = j <= maxLane; break;
  }
  if (!pval) j = lane;
  return R[j] | ((uint64_t)pval << 32);
}

// ---- vote, redux, match, activemask, syncwarp ----
// out[k * kThreads + tid], k:
//  0 vote.all  1 vote.any  2 vote.uni  3 vote.ballot (full mask)
//  4 ballot, 5 vote.any, 6 vote.all on odd lanes only (mask 0xAAAAAAAA, inside a branch)
//  7 redux.add.u32 8 redux.min.u32 9 redux.max.s32 10 redux.and 11 redux.or 12 redux.xor 13 redux.min.s32
//  14 redux.add.u32 on lanes < 20 (mask 0x000FFFFF)
//  15 match.any.b32 16 match.all.b32 (mask | p << 32) 17 match.any.b64 18 match.any on lanes >= 8
//  19 activemask inside if (lane % 3 == 0), 20 __syncwarp exchange between two divergent halves
//  21 shfl.sync.idx inside if (lane < 16) with mask 0xFFFF
//  22 elect.sync full mask (d | p << 32), 23 elect.sync among lanes with lane % 4 == 1 (mask 0x22222222)
constexpr int kOuts = 24;
__global__ void k_coll(const uint32_t* pattern, const uint32_t* val, const uint64_t* v64, uint64_t* out) {
  __shared__ uint32_t sx[kThreads];
  int tid = threadIdx.x, lane = tid & 31, w = tid >> 5;
  uint32_t x = val[tid], r, q;
  uint32_t pred = (pattern[w] >> lane) & 1;
  auto put = [&](int k, uint64_t v) { out[(size_t)k * kThreads + tid] = v; };
#define VOTE(k, ins)                                                                                  \
  asm volatile("{ .reg .pred p, d; setp.ne.u32 p, %1, 0; vote.sync." ins ".pred d, p, 0xffffffff; selp.u32 %0, 1, 0, d; }" \
               : "=r"(r) : "r"(pred));                                                                \
  put(k, r);
  VOTE(0, "all") VOTE(1, "any") VOTE(2, "uni")
#undef VOTE
  asm volatile("{ .reg .pred p; setp.ne.u32 p, %1, 0; vote.sync.ballot.b32 %0, p, 0xffffffff; }" : "=r"(r) : "r"(pred));
  put(3, r);
  if (lane & 1) {
    asm volatile("{ .reg .pred p; setp.ne.u32 p, %1, 0; vote.sync.ballot.b32 %0, p, 0xaaaaaaaa; }" : "=r"(r) : "r"(pred));
    put(4, r);
    asm volatile("{ .reg .pred p, d; setp.ne.u32 p, %1, 0; vote.sync.any.pred d, p, 0xaaaaaaaa; selp.u32 %0, 1, 0, d; }" : "=r"(r) : "r"(pred));
    put(5, r);
    asm volatile("{ .reg .pred p, d; setp.ne.u32 p, %1, 0; vote.sync.all.pred d, p, 0xaaaaaaaa; selp.u32 %0, 1, 0, d; }" : "=r"(r) : "r"(pred));
    put(6, r);
  }
#define RED(k, ins) asm volatile("redux.sync." ins " %0, %1, 0xffffffff;" : "=r"(r) : "r"(x)); put(k, r);
  RED(7, "add.u32") RED(8, "min.u32") RED(9, "max.s32") RED(10, "and.b32") RED(11, "or.b32")
  RED(12, "xor.b32") RED(13, "min.s32")
#undef RED
  if (lane < 20) {
    asm volatile("redux.sync.add.u32 %0, %1, 0x000fffff;" : "=r"(r) : "r"(x));
    put(14, r);
  }
  uint32_t key = x % 5;
  asm volatile("match.any.sync.b32 %0, %1, 0xffffffff;" : "=r"(r) : "r"(key));
  put(15, r);
  uint32_t allkey = (w == 1) ? 7u : key;  // warp 1: all equal
  asm volatile("{ .reg .pred p; match.all.sync.b32 %0|p, %2, 0xffffffff; selp.u32 %1, 1, 0, p; }" : "=r"(r), "=r"(q) : "r"(allkey));
  put(16, r | ((uint64_t)q << 32));
  uint64_t k64 = v64[tid];
  asm volatile("match.any.sync.b64 %0, %1, 0xffffffff;" : "=r"(r) : "l"(k64));
  put(17, r);
  if (lane >= 8) {
    asm volatile("match.any.sync.b32 %0, %1, 0xffffff00;" : "=r"(r) : "r"(key));
    put(18, r);
  }
  if (lane % 3 == 0) {
    asm volatile("activemask.b32 %0;" : "=r"(r));
    put(19, r);
  }
  // divergent halves write, bar.warp.sync, then read the other half's value
  if (lane < 16) sx[tid] = x * 3u;
  else sx[tid] = x * 5u + 1u;
  __syncwarp();
  put(20, sx[(w << 5) | (31 - lane)]);
  if (lane < 16) {
    asm volatile("shfl.sync.idx.b32 %0, %1, %2, 0x1f, 0x0000ffff;" : "=r"(r) : "r"(x), "r"((uint32_t)(15 - lane)));
    put(21, r);
  }
  asm volatile("{ .reg .pred p; elect.sync %0|p, 0xffffffff; selp.u32 %1, 1, 0, p; }" : "=r"(r), "=r"(q));
  put(22, r | ((uint64_t)q << 32));
  if (lane % 4 == 1) {
    asm volatile("{ .reg .pred p; elect.sync %0|p, 0x22222222; selp.u32 %1, 1, 0, p; }" : "=r"(r), "=r"(q));
    put(23, r | ((uint64_t)q << 32));
  }
}

int main() {
  Rng g(0x3A4B);
  // shfl
  {
    std::vector<uint32_t> val(kThreads), b((size_t)kCases * kThreads), c(kCases);
    for (auto& v : val) v = g.u32();
    const int widths[] = {32, 16, 8, 4, 2, 1};
    for (int cs = 0; cs < kCases; ++cs) {
      int wdt = widths[cs % 6];
      uint32_t seg = (uint32_t)(32 - wdt) << 8;
      if (cs < 12) c[cs] = seg | (cs < 6 ? 0x1fu : 0u);  // CUDA's __shfl_*: 0x1f clamp; __shfl_up: 0
      else c[cs] = seg | g.below(32) | (g.below(4) == 0 ? (g.u32() & 0xFFFF0000u) : 0);  // any clamp, junk above
      bool uniform = g.below(2);
      uint32_t bu = g.below(4) == 0 ? g.below(64) : g.below(8);
      for (int t = 0; t < kThreads; ++t) b[(size_t)cs * kThreads + t] = uniform ? bu : g.u32() >> g.below(32);
    }
    DevBuf<uint32_t> dv(val), db(b), dc(c);
    DevBuf<uint64_t> out((size_t)kCases * 4 * kThreads);
    k_shfl<<<1, kThreads>>>(dv, db, dc, out);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* modes[] = {"shfl.sync.up.b32", "shfl.sync.down.b32", "shfl.sync.bfly.b32", "shfl.sync.idx.b32"};
    for (int m = 0; m < 4; ++m) {
      Check ck(modes[m]);
      for (int cs = 0; cs < kCases; ++cs)
        for (int t = 0; t < kThreads; ++t) {
          const uint32_t* R = &val[t & ~31];
          uint32_t bb = b[(size_t)cs * kThreads + t];
          char ctx[64];
          snprintf(ctx, sizeof ctx, "lane %d b=0x%x c=0x%x (d | p << 32):", t & 31, bb, c[cs]);
          ck.u64(cs * kThreads + t, o[(size_t)(cs * 4 + m) * kThreads + t], shfl_ref(m, t & 31, R, bb, c[cs]), ctx);
        }
    }
  }
  // the rest
  {
    std::vector<uint32_t> pattern = {0u, 0xFFFFFFFFu, g.u32(), 0x00010000u};
    std::vector<uint32_t> val(kThreads);
    std::vector<uint64_t> v64(kThreads);
    for (int t = 0; t < kThreads; ++t) {
      val[t] = g.u32();
      if ((t >> 5) == 2) val[t] = 0x80000000u | g.below(1000);  // negative for the signed reductions
      v64[t] = (uint64_t)g.below(3) << 32 | 5u;                  // equal low words, different high words
    }
    DevBuf<uint32_t> dp(pattern), dv(val);
    DevBuf<uint64_t> d64(v64), out((size_t)kOuts * kThreads);
    k_coll<<<1, kThreads>>>(dp, dv, d64, out);
    LAUNCH_CHECK();
    auto o = out.download();
    const char* names[kOuts] = {"vote.sync.all", "vote.sync.any", "vote.sync.uni", "vote.sync.ballot",
                                "vote.sync.ballot (odd lanes)", "vote.sync.any (odd lanes)", "vote.sync.all (odd lanes)",
                                "redux.sync.add.u32", "redux.sync.min.u32", "redux.sync.max.s32", "redux.sync.and.b32",
                                "redux.sync.or.b32", "redux.sync.xor.b32", "redux.sync.min.s32",
                                "redux.sync.add.u32 (lanes < 20)", "match.any.sync.b32", "match.all.sync.b32",
                                "match.any.sync.b64", "match.any.sync.b32 (lanes >= 8)", "activemask (lane % 3 == 0)",
                                "__syncwarp between divergent halves", "shfl.sync.idx (mask 0xffff)",
                                "elect.sync (full mask)", "elect.sync (mask 0x22222222)"};
    for (int k = 0; k < kOuts; ++k) {
      Check ck(names[k]);
      for (int t = 0; t < kThreads; ++t) {
        int lane = t & 31, w = t >> 5;
        const uint32_t* V = &val[w * 32];
        uint32_t pat = pattern[w];
        uint64_t want = 0;
        bool skip = false;
        switch (k) {
          case 0: want = pat == 0xFFFFFFFFu; break;
          case 1: want = pat != 0; break;
          case 2: want = pat == 0 || pat == 0xFFFFFFFFu; break;
          case 3: want = pat; break;
          case 4: if (!(lane & 1)) skip = true; want = pat & 0xAAAAAAAAu; break;
          case 5: if (!(lane & 1)) skip = true; want = (pat & 0xAAAAAAAAu) != 0; break;
          case 6: if (!(lane & 1)) skip = true; want = (pat & 0xAAAAAAAAu) == 0xAAAAAAAAu; break;
          case 7: case 8: case 9: case 10: case 11: case 12: case 13: case 14: {
            if (k == 14 && lane >= 20) { skip = true; break; }
            int n = k == 14 ? 20 : 32;
            uint32_t acc = V[0];
            for (int l = 1; l < n; ++l) {
              uint32_t y = V[l];
              switch (k) {
                case 7: case 14: acc += y; break;
                case 8: acc = acc < y ? acc : y; break;
                case 9: acc = (int32_t)acc > (int32_t)y ? acc : y; break;
                case 10: acc &= y; break;
                case 11: acc |= y; break;
                case 12: acc ^= y; break;
                case 13: acc = (int32_t)acc < (int32_t)y ? acc : y; break;
              }
            }
            want = acc;
            break;
          }
          case 15: case 18: {
            if (k == 18 && lane < 8) { skip = true; break; }
            uint32_t m = 0;
            for (int l = (k == 18 ? 8 : 0); l < 32; ++l) if (V[l] % 5 == V[lane] % 5) m |= 1u << l;
            want = m;
            break;
          }
          case 16: {
            bool all = w == 1;
            if (!all) { all = true; for (int l = 0; l < 32; ++l) all &= V[l] % 5 == V[0] % 5; }
            want = all ? (0xFFFFFFFFull | (1ull << 32)) : 0;
            break;
          }
          case 17: {
            uint32_t m = 0;
            for (int l = 0; l < 32; ++l) if (v64[w * 32 + l] == v64[t]) m |= 1u << l;
            want = m;
            break;
          }
          case 19: {
            if (lane % 3) { skip = true; break; }
            uint32_t m = 0;
            for (int l = 0; l < 32; l += 3) m |= 1u << l;
            want = m;
            break;
          }
          case 20: {
            int src = 31 - lane;
            want = src < 16 ? V[src] * 3u : V[src] * 5u + 1u;
            break;
          }
          case 21: if (lane >= 16) skip = true; want = V[15 - lane]; break;
          case 22: case 23: {
            // the ISA names no particular leader: one lane of the mask, the same d in every member lane
            if (k == 23 && lane % 4 != 1) { skip = true; break; }
            uint32_t mask = k == 22 ? 0xFFFFFFFFu : 0x22222222u;
            uint64_t first = o[(size_t)k * kThreads + (w * 32 + (k == 22 ? 0 : 1))];
            uint32_t leader = (uint32_t)first;
            int leaders = 0;
            for (int l = 0; l < 32; ++l)
              if ((mask >> l) & 1) leaders += (o[(size_t)k * kThreads + w * 32 + l] >> 32) == 1;
            bool ok = leader < 32 && ((mask >> leader) & 1) && leaders == 1;
            want = ok ? ((uint64_t)leader | ((uint64_t)(lane == (int)leader) << 32)) : ~0ull - 1;
            break;
          }
        }
        uint64_t got = o[(size_t)k * kThreads + t];
        if (skip) {
          // lanes that did not take part must leave the poison alone
          ck.u64(t, got, ~0ull, "untouched:");
          continue;
        }
        ck.u64(t, got, want);
      }
    }
  }
  return finish();
}
