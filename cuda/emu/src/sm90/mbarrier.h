// dsv3-emu sm90: model of the mbarrier object (PTX ISA 9.0, 9.7.13.15 "mbarrier"): phase, pending and
// expected arrival counts, transaction count (tx-count), and the operations init / inval / arrive
// (count, .noComplete, arrive_drop) / expect_tx / arrive.expect_tx / complete_tx (from TMA) /
// test_wait / try_wait with a state token or .parity. Errors come back as values the interpreter turns
// into reports. The state lives in the 8 bytes of shared memory the program allocated (read and written
// through SmemView, so a program that overwrites the object is caught) plus a side table.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>

#include "src/sm90/memview.h"

namespace emu::sm90 {

// Ranges of 9.7.13.15.1 ("Contents of the mbarrier object"): expected and pending arrival counts are in
// [0, 2^20 - 1] (init / arrive counts in [1, 2^20 - 1]), the tx-count in [-(2^20 - 1), 2^20 - 1].
constexpr int64_t kMbarMaxCount = (1 << 20) - 1;
constexpr int64_t kMbarMaxTx = (1 << 20) - 1;

enum class MbarError : uint8_t {
  none,
  misaligned,           // the object must be 8-byte aligned
  smem_fault,           // SmemView refused the 8 bytes
  not_initialized,      // used before mbarrier.init (or after mbarrier.inval)
  corrupted,            // the 8 bytes changed since the last mbarrier operation: overwritten by a store
  bad_count,            // init/arrive count outside [1, 2^20 - 1], expect/complete tx outside [0, 2^20 - 1]
  arrival_underflow,    // more arrivals than the phase has pending
  tx_overflow,          // tx-count above 2^20 - 1
  tx_underflow,         // tx-count below -(2^20 - 1)
  nocomplete_completed, // arrive.noComplete made the phase complete (undefined in the ISA)
  bad_token,            // test_wait / try_wait state token not from this barrier's current or previous phase
  reinit_active,        // mbarrier.init over a valid object that still has pending arrivals or tx
  bad_parity,           // .parity operand not 0 or 1
};
const char* to_string(MbarError e);

struct MbarResult {
  MbarError error = MbarError::none;
  bool phase_completed = false;  // this operation completed the current phase
  bool ready = false;            // test_wait / try_wait: the awaited phase has completed
  uint64_t state = 0;            // arrive: the state token (phase of the arrival, pending count)
  std::string detail;            // with an error: what the object looked like
};

// The mbarriers of one CTA (a new CTA gets a new unit, or reset()).
class MbarrierUnit {
 public:
  explicit MbarrierUnit(SmemView& smem) : smem_(smem) {}

  MbarResult init(uint32_t addr, uint32_t count);
  MbarResult inval(uint32_t addr);
  // mbarrier.arrive{.noComplete} [addr], count  /  mbarrier.arrive_drop: also lowers the expected count
  // of the following phases by `count`.
  MbarResult arrive(uint32_t addr, uint32_t count = 1, bool drop = false, bool no_complete = false);
  MbarResult expect_tx(uint32_t addr, uint32_t tx);
  // mbarrier.arrive.expect_tx: expect_tx(tx) then arrive(count), as one atomic operation.
  MbarResult arrive_expect_tx(uint32_t addr, uint32_t tx, uint32_t count = 1);
  // complete_tx from an asynchronous copy (TMA) or mbarrier.complete_tx.
  MbarResult complete_tx(uint32_t addr, uint32_t tx);
  // test_wait / try_wait (the model is the same; try_wait may suspend, which is the interpreter's business).
  MbarResult test_wait(uint32_t addr, uint64_t state);
  MbarResult test_wait_parity(uint32_t addr, uint32_t parity);
  // mbarrier.pending_count of a state token.
  static uint32_t pending_count(uint64_t state);

  // For deadlock reports: "phase 3 (parity 1): 2 of 128 arrivals and 4096 tx bytes outstanding".
  std::string describe(uint32_t addr);
  // The state as decoded (for tests and reports); false when there is no valid object at addr.
  struct View { uint64_t phase; uint32_t pending, expected; int32_t tx; };
  bool view(uint32_t addr, View* out);

  void reset() { side_.clear(); }

 private:
  struct Side {
    uint64_t word;    // the 8 bytes as the last operation left them
    uint64_t phase;   // full phase number (the object keeps its parity only)
  };
  // The 8-byte object: bits 0-19 pending arrivals, 20-39 expected arrivals, 40-60 tx-count (21-bit two's
  // complement), 61 phase parity, 62-63 a tag (0b10) that marks a valid object.
  static uint64_t pack(uint32_t pending, uint32_t expected, int32_t tx, uint32_t parity);
  static void unpack(uint64_t w, uint32_t* pending, uint32_t* expected, int32_t* tx, uint32_t* parity);

  MbarResult load(uint32_t addr, Side** side, bool must_exist);
  MbarResult store(uint32_t addr, Side* side, uint64_t word);
  MbarResult apply(uint32_t addr, int64_t tx_delta, uint32_t arrivals, bool drop, bool no_complete);

  SmemView& smem_;
  std::unordered_map<uint32_t, Side> side_;
};

}  // namespace emu::sm90
