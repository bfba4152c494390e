// dsv3-emu: the interpreter's implementations of the sm90 models' memory interfaces (src/sm90/memview.h).
// Every byte an asynchronous unit (wgmma, TMA, cp.async.bulk) reads or writes goes through access()
// (exec_mem.cc) for the instruction that issued it, on behalf of one lane of the issuing warp: bounds,
// the strict shadow, and race detection (attributed to that warp, at the instruction's pc) as for an
// ordinary access, with the usual reports naming the instruction, its PTX line and .cu line. A refusal
// has been reported already (`refused`); errors the model finds itself are the caller's to report. The
// fence check of the async proxy (proxy_check) is made where the unit is issued, not here.
#pragma once
#include <cstring>

#include "src/interp/interp.h"
#include "src/sm90/memview.h"

namespace emu::interp {

struct UnitSmem : sm90::SmemView {
  Warp& w;
  const Insn& in;
  int lane;
  bool refused = false;
  UnitSmem(Warp& w_, const Insn& in_, int lane_) : w(w_), in(in_), lane(lane_) {}
  bool read(uint32_t addr, void* dst, uint32_t n) override {
    const uint8_t* p = access(w, in, lane, Space::Shared, addr, n, false, false, 1);
    if (!p) return !(refused = true);
    std::memcpy(dst, p, n);
    return true;
  }
  // an async-proxy write: it clears the generic-write shadow of its bytes (proxycheck.h)
  bool write(uint32_t addr, const void* src, uint32_t n) override {
    Cta& C = *w.cta;
    const uint8_t io = C.proxy_io;
    C.proxy_io = kProxyAsync;
    uint8_t* p = access(w, in, lane, Space::Shared, addr, n, true, false, 1);
    C.proxy_io = io;
    if (!p) return !(refused = true);
    std::memcpy(p, src, n);
    return true;
  }
};

struct UnitGlobal : sm90::GlobalView {
  Warp& w;
  const Insn& in;
  int lane;
  bool refused = false;
  UnitGlobal(Warp& w_, const Insn& in_, int lane_) : w(w_), in(in_), lane(lane_) {}
  bool read(uint64_t addr, void* dst, uint32_t n) override {
    const uint8_t* p = access(w, in, lane, Space::Global, addr, n, false, false, 1);
    if (!p) return !(refused = true);
    std::memcpy(dst, p, n);
    return true;
  }
  bool write(uint64_t addr, const void* src, uint32_t n) override {
    uint8_t* p = access(w, in, lane, Space::Global, addr, n, true, false, 1);
    if (!p) return !(refused = true);
    std::memcpy(p, src, n);
    return true;
  }
};

}  // namespace emu::interp
