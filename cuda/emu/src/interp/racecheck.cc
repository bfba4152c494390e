// dsv3-emu: shared-memory race detection for one CTA (racecheck.h), after FastTrack (Flanagan & Freund,
// PLDI 2009): one vector clock per warp, and per shared byte a last-write epoch, a last-read epoch and a
// last-atomic epoch; the read (atomic) epoch becomes a set of per-warp epochs only while reads (atomics)
// of different warps are concurrent. Sets are immutable and shared between bytes (copy on write, with a
// small memo of "set + reader -> set"), so a tile read by every warp costs a handful of sets, not one per
// byte. The shadow has one state per 4-byte granule while its bytes agree (the usual case: 4- and
// 16-byte accesses) and splits into 4 byte states when a narrower access makes them differ, so it stays
// exact per byte. It is paged and cleared lazily (a generation per page), so reset() is O(warps).
#include "src/interp/racecheck.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace emu {

namespace {
constexpr uint32_t kMaxClock = (1u << 27) - 2;  // clock 2^27-1 with warp 31 would spell kShared
constexpr uint32_t kMemoSize = 1024;            // power of two

inline uint32_t epoch_clock(uint32_t e) { return e >> 5; }
inline int epoch_warp(uint32_t e) { return static_cast<int>(e & 31); }

inline uint32_t memo_slot(uint32_t from, uint32_t from_pc, uint32_t epoch, uint32_t pc) {
  uint64_t h = (uint64_t{from} * 0x9E3779B97F4A7C15ull) ^ (uint64_t{from_pc} * 0xC2B2AE3D27D4EB4Full) ^
               (uint64_t{epoch} * 0x165667B19E3779F9ull) ^ (uint64_t{pc} * 0x27D4EB2F165667C5ull);
  return static_cast<uint32_t>(h >> 40) & (kMemoSize - 1);
}
}  // namespace

// Field by field, in the 32-bit units the fields are written in (wider loads of narrower stores stall).
inline bool RaceCheck::same(const Cell& x, const Cell& y) {
  return ((x.w ^ y.w) | (x.r ^ y.r) | (x.a ^ y.a) | (x.wpc ^ y.wpc) | (x.rpc ^ y.rpc) | (x.apc ^ y.apc)) == 0;
}

void RaceCheck::reset(uint32_t smem_bytes, int warps) {
  if (warps < 0 || warps > kMaxWarps) throw std::invalid_argument("racecheck: warps per CTA must be 0..32");
  smem_bytes_ = smem_bytes;
  warps_ = warps;
  saturated_ = false;
  const size_t pages = (size_t{smem_bytes} + kPageBytes - 1) / kPageBytes;
  if (page_gen_.size() < pages) {
    page_gen_.resize(pages, 0);       // generation 0 is never current: new pages start stale
    shadow_.resize(pages * (kPageBytes / 4));
  }
  if (++generation_ == 0) {           // wrapped: every page must be seen as stale again
    std::fill(page_gen_.begin(), page_gen_.end(), 0);
    generation_ = 1;
  }
  for (int w = 0; w < kMaxWarps; ++w) {
    std::memset(&clock_[w], 0, sizeof(Clock));
    clock_[w].c[w] = 1;               // epochs with clock 0 mean "no access"
    ++clock_version_[w];
  }
  sets_.clear();
  free_sets_.clear();
  splits_.clear();
  free_splits_.clear();
  memo_.assign(kMemoSize, Memo{0, 0, 0, 0, kShared});
  ord_set_ = kShared;
  run_ok_ = false;
  for (Sync& s : bars_) s = Sync{};
  mbars_.clear();
}

RaceCheck::Cell* RaceCheck::granule(uint32_t addr) {
  const uint32_t page = addr / kPageBytes;
  if (page_gen_[page] != generation_) {
    std::memset(&shadow_[size_t{page} * (kPageBytes / 4)], 0, sizeof(Cell) * (kPageBytes / 4));
    page_gen_[page] = generation_;
  }
  return &shadow_[addr / 4];
}

// A granule's one state becomes 4 byte states (each holding its own set references).
RaceCheck::Cell* RaceCheck::split(Cell& g) {
  uint32_t id;
  if (!free_splits_.empty()) {
    id = free_splits_.back();
    free_splits_.pop_back();
  } else {
    id = static_cast<uint32_t>(splits_.size());
    splits_.emplace_back();
  }
  Split& b = splits_[id];
  for (Cell& c : b.bytes) c = g;
  if (g.r == kShared) sets_[g.rpc].refs += 3;
  if (g.a == kShared) sets_[g.apc].refs += 3;
  g.w = kShared;
  g.wpc = id;
  return b.bytes;
}

// Back to one state when the 4 bytes agree again (after an access that covered them all).
void RaceCheck::merge(Cell& g) {
  const uint32_t id = g.wpc;
  const Cell* b = splits_[id].bytes;
  if (!same(b[0], b[1]) || !same(b[0], b[2]) || !same(b[0], b[3])) return;
  g = b[0];
  if (g.r == kShared) unref(g.rpc, 3);
  if (g.a == kShared) unref(g.apc, 3);
  free_splits_.push_back(id);
}

uint32_t RaceCheck::new_set() {
  if (!free_sets_.empty()) {
    const uint32_t s = free_sets_.back();
    free_sets_.pop_back();
    return s;
  }
  sets_.emplace_back();
  return static_cast<uint32_t>(sets_.size() - 1);
}

void RaceCheck::unref(uint32_t set, uint32_t n) {
  if ((sets_[set].refs -= n) == 0) {
    free_sets_.push_back(set);
    ++frees_;
    if (ord_set_ == set) ord_set_ = kShared;  // the index may come back with other contents
  }
}

// Is every epoch of `set` ordered before warp `warp`'s clock? If not, *racer is a warp that is not.
bool RaceCheck::ordered_set(uint32_t set, int warp, int* racer) {
  if (ord_set_ == set && ord_warp_ == static_cast<uint32_t>(warp) && ord_version_ == clock_version_[warp]) {
    *racer = ord_racer_;
    return ord_racer_ < 0;
  }
  const Set& s = sets_[set];
  const Clock& c = clock_[warp];
  int r = -1;
  for (int u = 0; u < warps_; ++u)
    if (s.clk[u] > c.c[u]) { r = u; break; }
  ord_set_ = set;
  ord_warp_ = static_cast<uint32_t>(warp);
  ord_version_ = clock_version_[warp];
  ord_racer_ = r;
  *racer = r;
  return r < 0;
}

// The set holding the state (from, from_pc) plus warp `warp`'s access at `epoch` from `pc`; the
// returned set's references are the caller's to take.
uint32_t RaceCheck::add_to_set(uint32_t from, uint32_t from_pc, int warp, uint32_t epoch, uint32_t pc) {
  Memo& m = memo_[memo_slot(from, from_pc, epoch, pc)];
  if (m.to != kShared && m.from == from && m.from_pc == from_pc && m.epoch == epoch && m.pc == pc) return m.to;
  const uint32_t id = new_set();
  Set& s = sets_[id];
  if (from == kShared) {
    std::memcpy(s.clk, sets_[from_pc].clk, sizeof s.clk);
    std::memcpy(s.pc, sets_[from_pc].pc, sizeof s.pc);
  } else {
    std::memset(s.clk, 0, sizeof s.clk);
    std::memset(s.pc, 0, sizeof s.pc);
    s.clk[epoch_warp(from)] = epoch_clock(from);
    s.pc[epoch_warp(from)] = from_pc;
  }
  s.clk[warp] = epoch_clock(epoch);
  s.pc[warp] = pc;
  s.refs = 1;  // the memo's reference; it also pins its source set so that the key stays meaningful
  if (from == kShared) ++sets_[from_pc].refs;
  if (m.to != kShared) {
    const uint32_t old_to = m.to, old_from = m.from, old_from_pc = m.from_pc;
    m.to = kShared;
    unref(old_to);
    if (old_from == kShared) unref(old_from_pc);
  }
  m = Memo{from, from_pc, epoch, pc, id};
  return id;
}

bool RaceCheck::access(int warp, uint32_t addr, uint32_t bytes, bool write, bool atomic, uint32_t pc,
                       Conflict* conflict) {
  if (warp < 0 || warp >= warps_) throw std::out_of_range("racecheck: access by a warp outside the CTA");
  if (saturated_ || bytes == 0 || addr >= smem_bytes_) return true;  // bounds are the caller's report
  const uint32_t end = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{addr} + bytes, smem_bytes_));
  const uint32_t now = (clock_[warp].c[warp] << 5) | static_cast<uint32_t>(warp);
  bool ok = true;
  // Neighbouring granules are usually in the same state (within an access, and from lane to lane of one
  // instruction): the first in a state takes the full path; the next ones in an identical state take
  // its result. Within this call a racing result may be reused (its race is reported once); across
  // calls only a race-free one, and only while the verdict cannot have changed: same warp, clock, pc and
  // kind, and no set index freed (sets are immutable, so a live index still means the same set).
  // A byte already in the state this access leaves (the next lane reading the same word) is done: the
  // verdict was the one for `before` (the access itself changes neither w nor, for a read, a), and
  // applying the access again changes nothing.
  Cell before = run_before_, after = run_after_;
  bool have_run = run_ok_ && run_warp_ == warp && run_version_ == clock_version_[warp] && run_pc_ == pc &&
                  run_write_ == write && run_atomic_ == atomic && run_frees_ == frees_;
  auto step = [&](Cell& x, uint32_t a) {
    if (have_run && same(x, after)) return;
    if (have_run && same(x, before)) {
      if (after.r == kShared) ++sets_[after.rpc].refs;
      if (after.a == kShared) ++sets_[after.apc].refs;
      if (before.r == kShared) unref(before.rpc);
      if (before.a == kShared) unref(before.apc);
      x = after;
      return;
    }
    before = x;
    Conflict c;
    const bool fine = record(x, warp, now, write, atomic, pc, &c);
    if (!fine && ok) {
      ok = false;
      c.addr = a;
      if (conflict) *conflict = c;
    }
    after = x;
    have_run = true;
    run_ok_ = fine;
  };
  for (uint32_t a = addr; a < end;) {
    const uint32_t lo = a & ~3u, hi = lo + 4;
    Cell* g = granule(a);
    const bool whole = a == lo && end >= hi;
    if (whole && g->w != kShared) {  // the common case: one state for the 4 bytes, all accessed
      step(*g, a);
      a = hi;
      continue;
    }
    Cell* b = g->w == kShared ? splits_[g->wpc].bytes : split(*g);
    for (const uint32_t stop = std::min(end, hi); a < stop; ++a) step(b[a - lo], a);
    if (whole) merge(*g);
  }
  run_before_ = before, run_after_ = after;
  run_warp_ = warp, run_version_ = clock_version_[warp], run_pc_ = pc;
  run_write_ = write, run_atomic_ = atomic, run_frees_ = frees_;  // frees_ after record(), which may free
  return ok;
}

// Checks one byte's shadow against warp `warp`'s access and records the access; false on a race.
bool RaceCheck::record(Cell& x, int warp, uint32_t now, bool write, bool atomic, uint32_t pc, Conflict* out) {
  const Clock& c = clock_[warp];
  const bool writes = write || atomic;
  // 1. Conflicts: the last plain write; atomics unless this is one; reads if this writes.
  int racer = -1;
  uint32_t racer_pc = 0;
  bool racer_wrote = true;
  if (epoch_clock(x.w) > c.c[epoch_warp(x.w)]) {
    racer = epoch_warp(x.w), racer_pc = x.wpc;
  } else if (!atomic && x.a != 0) {
    if (x.a == kShared) {
      if (!ordered_set(x.apc, warp, &racer)) racer_pc = sets_[x.apc].pc[racer];
    } else if (epoch_clock(x.a) > c.c[epoch_warp(x.a)]) {
      racer = epoch_warp(x.a), racer_pc = x.apc;
    }
  }
  if (racer < 0 && writes && x.r != 0) {
    racer_wrote = false;
    if (x.r == kShared) {
      if (!ordered_set(x.rpc, warp, &racer)) racer_pc = sets_[x.rpc].pc[racer];
    } else if (epoch_clock(x.r) > c.c[epoch_warp(x.r)]) {
      racer = epoch_warp(x.r), racer_pc = x.rpc;
    }
  }
  if (racer >= 0) *out = Conflict{racer, racer_pc, racer_wrote, writes, 0};
  // 2. Record this access. A plain write supersedes the reads and atomics before it: a later access
  // not ordered after them is not ordered after this write either, and races with it.
  if (write && !atomic) {
    if (x.r == kShared) unref(x.rpc);
    if (x.a == kShared) unref(x.apc);
    x.r = x.a = 0;
    x.w = now;
    x.wpc = pc;
    return racer < 0;
  }
  uint32_t& e = atomic ? x.a : x.r;
  uint32_t& epc = atomic ? x.apc : x.rpc;
  if (e == kShared) {
    const Set& s = sets_[epc];
    int r;
    if (s.clk[warp] == c.c[warp] && s.pc[warp] == pc) {
      // already in the set
    } else if (ordered_set(epc, warp, &r)) {  // every earlier one is ordered before this: one epoch again
      unref(epc);
      e = now, epc = pc;
    } else {
      const uint32_t id = add_to_set(e, epc, warp, now, pc);
      ++sets_[id].refs;
      unref(epc);
      epc = id;
    }
  } else if (e == now || epoch_clock(e) <= c.c[epoch_warp(e)]) {
    e = now, epc = pc;
  } else {
    const uint32_t id = add_to_set(e, epc, warp, now, pc);
    ++sets_[id].refs;
    e = kShared, epc = id;
  }
  return racer < 0;
}

void RaceCheck::bump(int warp) {
  if (clock_[warp].c[warp] >= kMaxClock) {
    if (!saturated_)
      std::fprintf(stderr, "dsv3-emu: racecheck: warp %d passed %u synchronisations in one CTA; "
                           "race checking is off for the rest of this CTA\n", warp, kMaxClock);
    saturated_ = true;
    return;
  }
  ++clock_[warp].c[warp];
  ++clock_version_[warp];
}

RaceCheck::Sync& RaceCheck::sync(uint32_t id) { return id < 16 ? bars_[id] : mbars_[id]; }

namespace {
inline void join(uint32_t* into, const uint32_t* from, int n) {
  for (int u = 0; u < n; ++u) into[u] = std::max(into[u], from[u]);
}
}  // namespace

void RaceCheck::arrive(int warp, uint32_t sync_id) {
  if (warp < 0 || warp >= warps_) throw std::out_of_range("racecheck: arrive by a warp outside the CTA");
  join(sync(sync_id).acc.c, clock_[warp].c, warps_);
  bump(warp);  // what this warp does next is not covered by the release
}

void RaceCheck::release(int warp, uint32_t sync_id) { arrive(warp, sync_id); }

void RaceCheck::complete(uint32_t sync_id, const std::vector<int>& participants) {
  Sync& s = sync(sync_id);
  for (int p : participants) {  // a participant that did not call arrive() releases here
    if (p < 0 || p >= warps_) throw std::out_of_range("racecheck: barrier participant outside the CTA");
    join(s.acc.c, clock_[p].c, warps_);
  }
  if (sync_id >= 16) {
    s.published = s.acc;  // cumulative: a later phase completes after the earlier ones
    s.completed = true;
  }
  for (int p : participants) {
    join(clock_[p].c, s.acc.c, warps_);
    ++clock_version_[p];
    bump(p);  // after-barrier accesses are new (harmless twice when arrive() already bumped)
  }
  if (sync_id < 16) s.acc = Clock{};  // the next use of a named barrier may have other participants
}

void RaceCheck::acquire(int warp, uint32_t sync_id) {
  if (warp < 0 || warp >= warps_) throw std::out_of_range("racecheck: acquire by a warp outside the CTA");
  Sync& s = sync(sync_id);
  join(clock_[warp].c, (sync_id >= 16 && s.completed) ? s.published.c : s.acc.c, warps_);
  ++clock_version_[warp];
}

}  // namespace emu
