// The three sm90 models together, used the way cuda/fp8_gemm.cu's wgmma kernel uses them: a producer
// streams weight and token tiles with TMA (128B swizzle, 128 K bytes per row) through a ring of
// full/empty mbarriers (full: 1 arrival + tx bytes; empty: one arrival per consumer warp, the producer
// waiting with parity phase^1 so that a fresh barrier lets it through), two consumer warpgroups run
// 4 wgmma m64nBTk32 per K block ("swap AB": weights as A, tokens as B) and promote the block into their
// accumulators. Actors are interleaved in a random order and TMA copies complete at random later times.
// The result must equal the CPU GEMM exactly (small integers), for several schedules and tile widths;
// a producer that waits on the wrong parity must deadlock (every actor blocked), not pass.
#include <cstring>
#include <deque>
#include <vector>

#include "src/fp/fp.h"
#include "src/sm90/mbarrier.h"
#include "src/sm90/tma.h"
#include "src/sm90/wgmma.h"
#include "test/unit/check.h"
#include "test/unit/sm90_views.h"

using namespace emu::sm90;
using sm90test::Rng;
using sm90test::VecGlobal;
using sm90test::VecSmem;

namespace {

constexpr uint64_t kWeights = 0x7f0001000000ull, kTokens = 0x7f0002000000ull;
constexpr uint32_t kTileN = 128, kBlockK = 128, kStages = 4;

struct TwoTensors : GlobalView {
  VecGlobal *w, *t;
  GlobalView& pick(uint64_t a) { return w->in(a, 1) ? static_cast<GlobalView&>(*w) : *t; }
  bool read(uint64_t a, void* d, uint32_t n) override { return pick(a).read(a, d, n); }
  bool write(uint64_t a, const void* s, uint32_t n) override { return pick(a).write(a, s, n); }
};

struct Copy { const TensorMap* map; int32_t c[2]; uint32_t dst, bar; };

// Runs the pipeline; returns 0 on an exact match, 1 on a mismatch or model error, 2 on deadlock.
int run(uint32_t bt, uint32_t k, uint64_t seed, bool wrong_parity) {
  Rng rng(seed);
  const uint32_t pitch = (k + 15) / 16 * 16, kblocks = (k + kBlockK - 1) / kBlockK;
  VecGlobal gw(kWeights, kTileN * pitch), gt(kTokens, bt * pitch);
  std::vector<int> w(kTileN * k), t(bt * k);
  for (uint32_t r = 0; r < kTileN; ++r)
    for (uint32_t i = 0; i < k; ++i) {
      w[r * k + i] = static_cast<int>(rng.below(9)) - 4;
      gw.bytes[r * pitch + i] = emu::fp::f32_to_e4m3(static_cast<float>(w[r * k + i]), false);
    }
  for (uint32_t r = 0; r < bt; ++r)
    for (uint32_t i = 0; i < k; ++i) {
      t[r * k + i] = static_cast<int>(rng.below(9)) - 4;
      gt.bytes[r * pitch + i] = emu::fp::f32_to_e4m3(static_cast<float>(t[r * k + i]), false);
    }
  TwoTensors global;
  global.w = &gw;
  global.t = &gt;
  auto map_of = [&](uint64_t base, uint32_t rows) {
    TensorMap m;
    m.dtype = TmaDataType::u8;
    m.rank = 2;
    m.global_address = base;
    m.global_dim[0] = k;
    m.global_dim[1] = rows;
    m.global_strides[0] = pitch;
    m.box_dim[0] = kBlockK;
    m.box_dim[1] = rows;
    m.swizzle = TmaSwizzle::b128;
    m.l2_promotion = 3;
    return m;
  };
  const TensorMap map_b = map_of(kWeights, kTileN), map_a = map_of(kTokens, bt);
  const uint32_t weight_bytes = kTileN * kBlockK, token_bytes = bt * kBlockK;
  const uint32_t stage_bytes = weight_bytes + token_bytes;
  // shared memory: [stages][128 rows][128 B] weights, [stages][bt rows][128 B] tokens, barriers
  const uint32_t s_b = 1024, s_a = s_b + kStages * weight_bytes;
  const uint32_t bars = (s_a + kStages * token_bytes + 7) / 8 * 8;
  VecSmem smem(bars + 2 * kStages * 8 + 64, 0xFF);
  MbarrierUnit mb(smem);
  auto full = [&](uint32_t s) { return bars + 8 * s; };
  auto empty = [&](uint32_t s) { return bars + 8 * (kStages + s); };
  for (uint32_t s = 0; s < kStages; ++s) {
    if (mb.init(full(s), 1).error != MbarError::none) return 1;
    if (mb.init(empty(s), 8).error != MbarError::none) return 1;  // lane 0 of each of the 8 consumer warps
  }

  std::deque<Copy> tma;  // issued, not yet performed
  struct Producer { uint32_t kb = 0, s = 0, phase = 0; } prod;
  struct Consumer {
    uint32_t kb = 0, s = 0, phase = 0;
    std::vector<float> acc;
  } cons[2];
  const uint32_t nregs = bt / 2;
  for (auto& c : cons) c.acc.assign(128 * nregs, 0.0f);
  int errors = 0;
  auto ok = [&](const MbarResult& r) { if (r.error != MbarError::none) ++errors; return r; };

  for (int steps = 0; steps < 100000; ++steps) {
    // runnable actors: 0 producer, 1/2 consumers, 3 the TMA unit
    int runnable[4], n = 0;
    if (prod.kb < kblocks && ok(mb.test_wait_parity(empty(prod.s), wrong_parity ? prod.phase : prod.phase ^ 1)).ready)
      runnable[n++] = 0;
    for (int c = 0; c < 2; ++c)
      if (cons[c].kb < kblocks && ok(mb.test_wait_parity(full(cons[c].s), cons[c].phase)).ready) runnable[n++] = 1 + c;
    if (!tma.empty()) runnable[n++] = 3;
    if (n == 0) break;
    const int who = runnable[rng.below(n)];
    if (who == 0) {
      ok(mb.arrive_expect_tx(full(prod.s), stage_bytes));
      const int32_t kx = static_cast<int32_t>(prod.kb * kBlockK);
      tma.push_back({&map_b, {kx, 0}, s_b + prod.s * weight_bytes, full(prod.s)});
      tma.push_back({&map_a, {kx, 0}, s_a + prod.s * token_bytes, full(prod.s)});
      ++prod.kb;
      if (++prod.s == kStages) prod.s = 0, prod.phase ^= 1;
    } else if (who == 3) {  // perform one pending copy, not necessarily the oldest
      const size_t i = rng.below(static_cast<uint32_t>(tma.size()));
      const Copy cp = tma[i];
      tma.erase(tma.begin() + static_cast<long>(i));
      const TmaStatus st = tma_load_tile(*cp.map, 2, cp.c, cp.dst, global, smem);
      if (!st.ok) return 1;
      ok(mb.complete_tx(cp.bar, st.bytes));
    } else {
      Consumer& c = cons[who - 1];
      const uint32_t wg = who - 1;
      std::vector<uint32_t> tmp(128 * nregs, 0xFFFFFFFFu);  // poison: scale_d = 0 must ignore it
      for (uint32_t ks = 0; ks < kBlockK / 32; ++ks) {
        WgmmaOp op;
        op.n = bt;
        op.atype = op.btype = WgType::e4m3;
        auto desc = [](uint32_t addr) {  // cuda/sm90.cuh smem_desc_k128_sw128
          return ((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) | (uint64_t{1024 >> 4} << 32) | (uint64_t{1} << 62);
        };
        op.desc_a = desc(s_b + c.s * weight_bytes + wg * 64 * kBlockK + ks * 32);
        op.desc_b = desc(s_a + c.s * token_bytes + ks * 32);
        op.scale_d = ks > 0;
        if (!wgmma_mma_async(op, smem, nullptr, tmp.data()).ok) return 1;
      }
      for (uint32_t i = 0; i < 128 * nregs; ++i) c.acc[i] += emu::fp::f32_from_bits(tmp[i]);  // promotion (scales 1)
      for (int warp = 0; warp < 4; ++warp) ok(mb.arrive(empty(c.s)));
      ++c.kb;
      if (++c.s == kStages) c.s = 0, c.phase ^= 1;
    }
  }
  if (errors) return 1;
  if (prod.kb < kblocks || cons[0].kb < kblocks || cons[1].kb < kblocks) return 2;  // everyone blocked
  for (uint32_t wg = 0; wg < 2; ++wg)
    for (uint32_t th = 0; th < 128; ++th)
      for (uint32_t i = 0; i < nregs; ++i) {
        const RowCol rc = d_fragment(th, i);
        const uint32_t row = wg * 64 + rc.row, col = rc.col;
        long want = 0;
        for (uint32_t x = 0; x < k; ++x) want += long{w[row * k + x]} * t[col * k + x];
        if (cons[wg].acc[th * nregs + i] != static_cast<float>(want)) return 1;
      }
  return 0;
}

}  // namespace

int main() {
  int runs = 0;
  for (uint32_t bt : {8u, 16u, 32u, 64u, 128u})
    for (uint32_t k : {128u, 640u, 1000u})
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        const int r = run(bt, k, seed * 101 + bt + k, false);
        if (r) std::fprintf(stderr, "pipeline bt=%u k=%u seed=%llu: %s\n", bt, k, static_cast<unsigned long long>(seed),
                            r == 2 ? "deadlock" : "mismatch or model error");
        CHECK_EQ(r, 0);
        ++runs;
      }
  // The classic bug: waiting on `empty` with the phase's own parity. A fresh barrier is in phase 0, so
  // the producer never gets its first stage: every actor blocks.
  CHECK_EQ(run(32, 640, 5, true), 2);
  std::printf("pipeline runs: %d (+1 expected deadlock)\n", runs);
  return check::finish();
}
