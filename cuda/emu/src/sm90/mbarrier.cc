// dsv3-emu sm90: the mbarrier object state machine (PTX ISA 9.0, 9.7.13.15). See mbarrier.h.
#include "src/sm90/mbarrier.h"

#include <cstdio>

namespace emu::sm90 {

const char* to_string(MbarError e) {
  switch (e) {
    case MbarError::none: return "none";
    case MbarError::misaligned: return "mbarrier object not 8-byte aligned";
    case MbarError::smem_fault: return "mbarrier object outside shared memory";
    case MbarError::not_initialized: return "mbarrier used before mbarrier.init (or after mbarrier.inval)";
    case MbarError::corrupted: return "mbarrier object overwritten by a non-mbarrier store";
    case MbarError::bad_count: return "mbarrier count or transaction count out of range";
    case MbarError::arrival_underflow: return "more arrivals on an mbarrier phase than it has pending";
    case MbarError::tx_overflow: return "mbarrier tx-count above 2^20-1";
    case MbarError::tx_underflow: return "mbarrier tx-count below -(2^20-1)";
    case MbarError::nocomplete_completed: return "mbarrier.arrive.noComplete completed the phase";
    case MbarError::bad_token: return "mbarrier wait on a state token not from the current or the previous phase";
    case MbarError::reinit_active: return "mbarrier.init on an mbarrier whose current phase has arrivals or tx pending";
    case MbarError::bad_parity: return "mbarrier wait parity is not 0 or 1";
  }
  return "?";
}

namespace {
constexpr uint64_t kTag = 2;            // bits 62-63 of a valid object
constexpr uint64_t kTokenTag = 0xA;     // bits 60-63 of a state token
constexpr uint64_t kMask20 = (1u << 20) - 1;
constexpr uint64_t kMask21 = (1u << 21) - 1;
constexpr uint64_t kPhaseMask = (uint64_t{1} << 40) - 1;
}  // namespace

uint64_t MbarrierUnit::pack(uint32_t pending, uint32_t expected, int32_t tx, uint32_t parity) {
  return (pending & kMask20) | ((expected & kMask20) << 20) | ((static_cast<uint64_t>(tx) & kMask21) << 40) |
         (uint64_t{parity & 1u} << 61) | (kTag << 62);
}

void MbarrierUnit::unpack(uint64_t w, uint32_t* pending, uint32_t* expected, int32_t* tx, uint32_t* parity) {
  *pending = static_cast<uint32_t>(w & kMask20);
  *expected = static_cast<uint32_t>((w >> 20) & kMask20);
  int32_t t = static_cast<int32_t>((w >> 40) & kMask21);
  if (t & (1 << 20)) t -= (1 << 21);  // sign-extend the 21-bit field
  *tx = t;
  *parity = static_cast<uint32_t>((w >> 61) & 1);
}

uint32_t MbarrierUnit::pending_count(uint64_t state) { return static_cast<uint32_t>((state >> 40) & kMask20); }

MbarResult MbarrierUnit::load(uint32_t addr, Side** side, bool must_exist) {
  MbarResult r;
  if (addr % 8) { r.error = MbarError::misaligned; return r; }
  uint64_t w;
  if (!smem_.read(addr, &w, 8)) { r.error = MbarError::smem_fault; return r; }
  auto it = side_.find(addr);
  if (it == side_.end()) {
    if (must_exist) r.error = MbarError::not_initialized;
    *side = nullptr;
    return r;
  }
  if (it->second.word != w) {
    r.error = MbarError::corrupted;
    char buf[96];
    std::snprintf(buf, sizeof buf, "expected 0x%016llx, found 0x%016llx", static_cast<unsigned long long>(it->second.word),
                  static_cast<unsigned long long>(w));
    r.detail = buf;
  }
  *side = &it->second;
  return r;
}

MbarResult MbarrierUnit::store(uint32_t addr, Side* side, uint64_t word) {
  MbarResult r;
  if (!smem_.write(addr, &word, 8)) { r.error = MbarError::smem_fault; return r; }
  side->word = word;
  return r;
}

MbarResult MbarrierUnit::init(uint32_t addr, uint32_t count) {
  if (count < 1 || count > kMbarMaxCount) return {MbarError::bad_count, false, false, 0, "init count " + std::to_string(count)};
  Side* side = nullptr;
  MbarResult r = load(addr, &side, false);
  if (r.error == MbarError::misaligned || r.error == MbarError::smem_fault) return r;
  if (side && r.error == MbarError::none) {  // still a valid object, untouched since its last operation
    uint32_t pending, expected, parity;
    int32_t tx;
    unpack(side->word, &pending, &expected, &tx, &parity);
    if (pending != expected || tx != 0) {
      r.error = MbarError::reinit_active;
      r.detail = describe(addr);
      return r;
    }
  }
  Side& s = side_[addr];
  s.phase = 0;
  return store(addr, &s, pack(count, count, 0, 0));
}

MbarResult MbarrierUnit::inval(uint32_t addr) {
  Side* side = nullptr;
  MbarResult r = load(addr, &side, true);
  if (r.error != MbarError::none) return r;
  side_.erase(addr);  // the bytes are the program's again; any later use is use-before-init
  return r;
}

MbarResult MbarrierUnit::apply(uint32_t addr, int64_t tx_delta, uint32_t arrivals, bool drop, bool no_complete) {
  Side* side = nullptr;
  MbarResult r = load(addr, &side, true);
  if (r.error != MbarError::none) return r;
  uint32_t pending, expected, parity;
  int32_t tx;
  unpack(side->word, &pending, &expected, &tx, &parity);
  const int64_t ntx = int64_t{tx} + tx_delta;
  if (ntx > kMbarMaxTx) { r.error = MbarError::tx_overflow; r.detail = describe(addr); return r; }
  if (ntx < -kMbarMaxTx) { r.error = MbarError::tx_underflow; r.detail = describe(addr); return r; }
  if (arrivals > pending) { r.error = MbarError::arrival_underflow; r.detail = describe(addr); return r; }
  uint32_t npending = pending - arrivals;
  uint32_t nexpected = drop ? expected - arrivals : expected;  // arrivals <= pending <= expected
  const bool completes = npending == 0 && ntx == 0;
  if (completes && no_complete) { r.error = MbarError::nocomplete_completed; r.detail = describe(addr); return r; }
  // The token names the phase this arrival belongs to, and what it left pending.
  r.state = (side->phase & kPhaseMask) | (uint64_t{npending} << 40) | (kTokenTag << 60);
  int32_t stx = static_cast<int32_t>(ntx);
  if (completes) {  // the phase completes: the next one starts with the expected count and no tx
    ++side->phase;
    parity ^= 1;
    npending = nexpected;
    stx = 0;
    r.phase_completed = true;
  }
  MbarResult w = store(addr, side, pack(npending, nexpected, stx, parity));
  if (w.error != MbarError::none) return w;
  return r;
}

MbarResult MbarrierUnit::arrive(uint32_t addr, uint32_t count, bool drop, bool no_complete) {
  if (count < 1 || count > kMbarMaxCount) return {MbarError::bad_count, false, false, 0, "arrive count " + std::to_string(count)};
  return apply(addr, 0, count, drop, no_complete);
}

MbarResult MbarrierUnit::expect_tx(uint32_t addr, uint32_t tx) {
  if (tx > kMbarMaxTx) return {MbarError::bad_count, false, false, 0, "expect_tx " + std::to_string(tx)};
  return apply(addr, tx, 0, false, false);
}

MbarResult MbarrierUnit::arrive_expect_tx(uint32_t addr, uint32_t tx, uint32_t count) {
  if (tx > kMbarMaxTx) return {MbarError::bad_count, false, false, 0, "expect_tx " + std::to_string(tx)};
  if (count < 1 || count > kMbarMaxCount) return {MbarError::bad_count, false, false, 0, "arrive count " + std::to_string(count)};
  return apply(addr, tx, count, false, false);
}

MbarResult MbarrierUnit::complete_tx(uint32_t addr, uint32_t tx) {
  if (tx > kMbarMaxTx) return {MbarError::bad_count, false, false, 0, "complete_tx " + std::to_string(tx)};
  return apply(addr, -int64_t{tx}, 0, false, false);
}

MbarResult MbarrierUnit::test_wait(uint32_t addr, uint64_t state) {
  Side* side = nullptr;
  MbarResult r = load(addr, &side, true);
  if (r.error != MbarError::none) return r;
  const uint64_t cur = side->phase & kPhaseMask, tok = state & kPhaseMask;
  // Valid tokens come from an arrive on this object in the current or the immediately preceding phase.
  if ((state >> 60) != kTokenTag || !(tok == cur || tok + 1 == cur)) {
    r.error = MbarError::bad_token;
    r.detail = "token phase " + std::to_string(tok) + ", " + describe(addr);
    return r;
  }
  r.ready = tok != cur;
  return r;
}

MbarResult MbarrierUnit::test_wait_parity(uint32_t addr, uint32_t parity) {
  if (parity > 1) return {MbarError::bad_parity, false, false, 0, "parity " + std::to_string(parity)};
  Side* side = nullptr;
  MbarResult r = load(addr, &side, true);
  if (r.error != MbarError::none) return r;
  // .parity waits for the completion of the phase with that parity: the current phase (not complete) or
  // the immediately preceding one (complete).
  r.ready = (side->phase & 1) != parity;
  return r;
}

bool MbarrierUnit::view(uint32_t addr, View* out) {
  auto it = side_.find(addr);
  if (it == side_.end()) return false;
  uint32_t parity;
  unpack(it->second.word, &out->pending, &out->expected, &out->tx, &parity);
  out->phase = it->second.phase;
  return true;
}

std::string MbarrierUnit::describe(uint32_t addr) {
  View v;
  if (!view(addr, &v)) return "no mbarrier initialized at this address";
  return "phase " + std::to_string(v.phase) + " (parity " + std::to_string(v.phase & 1) + "): " +
         std::to_string(v.pending) + " of " + std::to_string(v.expected) + " arrivals and " + std::to_string(v.tx) +
         " tx bytes outstanding";
}

}  // namespace emu::sm90
