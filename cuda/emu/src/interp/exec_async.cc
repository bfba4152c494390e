// dsv3-emu: the asynchronous units that need no tensor core: mbarrier objects (PTX ISA 9.0 §9.7.13.15:
// init, inval, arrive{.expect_tx,.noComplete}, arrive_drop, expect_tx, complete_tx, test_wait /
// try_wait{.parity}, pending_count), cp.async with commit/wait groups (§9.7.9.25.3), cp.async.bulk global
// -> shared completed through an mbarrier's transaction count and shared -> global through bulk groups
// (§9.7.9.25.4), and their tensor forms (TMA, §9.7.9.25.5: .tile boxes of 1..5 dimensions, out-of-bound
// elements filled, 32/64/128-byte swizzle). The semantics are the sm90 models' (src/sm90/mbarrier.h: the
// object's state machine and its errors; tma.h: tensor-map decode, box copies, bulk copies; forms.h: the
// spellings); this file keeps the scheduling. Copies complete as late as the ISA allows (hostile):
// cp.async at the thread's wait_group / wait_all, bulk stores at the bulk wait_group, bulk / tensor
// loads when a thread waits on their mbarrier, when the CTA would otherwise stall, or at the CTA's end;
// or, for half of the loads (seeded: pick_landing), earlier, at a randomised warp switch after their
// issue (land_due), the bytes then still counting as unobserved for --strict until that latest point.
// Their bytes move through UnitSmem / UnitGlobal
// (async_mem.h) as accesses of the issuing lane, and a load releases into its mbarrier before its
// complete_tx (racecheck.h). try_wait blocks the lane until the phase completes (the ISA lets it wait up
// to an implementation-defined time), so deadlocks are seen. Errors of the models are reports.
#include <cinttypes>

#include "src/interp/interp.h"
#include "src/interp/async_mem.h"
#include "src/sm90/forms.h"

namespace emu::interp {

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

// The shared-memory offset of the mbarrier operand `o` for lane l (generic addresses converted), checked
// like an 8-byte access (bounds, alignment, race detection as an atomic unless `write`).
bool mbar_addr(Warp& w, const Insn& in, int l, const Opd& o, bool write, uint32_t* off) {
  const Launch& L = *w.cta->L;
  uint64_t a = addr_at(w, o, l);
  Space s = Space(in.t);
  if (s == Space::Generic) {
    uint64_t sh;
    if (!from_generic(L, Space::Shared, a, &sh)) {
      report(w, &in, l, Report::Kind::OutOfBounds, "Invalid mbarrier address",
             {"Address " + hex(a) + " is not in shared memory (an mbarrier object lives in shared memory)"});
      return false;
    }
    a = sh;
  }
  // init / inval write the object through the generic proxy (the proxy check records them); the other
  // mbarrier operations are atomics on it that the mbarrier's own rules order with complete_tx
  Cta& C = *w.cta;
  const uint8_t io = C.proxy_io;
  if (!write) C.proxy_io = kProxyMute;
  const bool ok = access(w, in, l, Space::Shared, a, 8, write, !write) != nullptr;
  C.proxy_io = io;
  if (!ok) return false;
  *off = uint32_t(a);
  return true;
}

// The CTA holding the mbarrier at shared address `off` (another CTA of the cluster when the address
// carries a rank, shared::cluster), `off` made relative to it.
Cta& mbar_cta(Cta& C, uint32_t* off) {
  if (!(*off >> kClusterRankShift)) return C;
  Cta& T = *C.cl->ctas[(*off >> kClusterRankShift) - 1];  // the rank was checked by access()
  *off &= (1u << kClusterRankShift) - 1;
  return T;
}

// The CTA's mbarrier unit (the sm90 model), made at the first use.
sm90::MbarrierUnit& unit(Cta& C) {
  if (!C.mbar) {
    C.mbar_mem = std::make_unique<Cta::MbarMem>();
    C.mbar = std::make_unique<sm90::MbarrierUnit>(*C.mbar_mem);
  }
  C.mbar_mem->c = &C;
  return *C.mbar;
}

// RaceCheck sync id of the object at `off` (16 + its index in the CTA)
uint32_t mbar_sync(Cta& C, uint32_t off) {
  auto it = C.mbar_ids.emplace(off, uint32_t(C.mbar_ids.size())).first;
  return 16 + it->second;
}

// An error of the model as a report (fatal: the object's state is no longer meaningful).
bool mbar_ok(Warp& w, const Insn& in, int l, uint32_t off, const sm90::MbarResult& r) {
  if (r.error == sm90::MbarError::none) return true;
  const Report::Kind kind = r.error == sm90::MbarError::misaligned   ? Report::Kind::Misaligned
                            : r.error == sm90::MbarError::smem_fault ? Report::Kind::OutOfBounds
                                                                     : Report::Kind::InvalidArgument;
  std::string what = sm90::to_string(r.error);
  what[0] = char(std::toupper(what[0]));
  report(w, &in, l, kind, what,
         {"mbarrier at shared address " + hex(off) + (r.detail.empty() ? std::string() : ": " + r.detail)});
  w.cta->L->stop = true;
  return false;
}

// After an operation that completed a phase: publish the releases into it and wake the waiting lanes
// (they re-execute their try_wait).
void phase_done(Cta& C, uint32_t off) {
  if (C.L->opt->racecheck) C.race.complete(mbar_sync(C, off), {});
  for (auto& w : C.warps)
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] == kMbarWait && w.wait_addr[l] == off) w.st[l] = kRun;
    }
}

bool h_mbar_init(Warp& w, const Insn& in, uint32_t m) {
  const Src cnt = src(w, in.op[1]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[0], true, &off)) { ok = false; return; }
    Cta& T = mbar_cta(*w.cta, &off);
    const uint64_t n = cnt[l] & 0xFFFFFFFFu;
    mbar_sync(T, off);
    ok = mbar_ok(w, in, l, off, unit(T).init(off, n > 0xFFFFFFFFu ? 0 : uint32_t(n)));
  });
  return ok;
}

bool h_mbar_inval(Warp& w, const Insn& in, uint32_t m) {
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[0], true, &off)) { ok = false; return; }
    Cta& T = mbar_cta(*w.cta, &off);
    ok = mbar_ok(w, in, l, off, unit(T).inval(off));
  });
  return ok;
}

// arrive / arrive_drop: op0 state (or sink), op1 [addr], op2 optional count / txCount. in.a: 1 expect_tx;
// in.b: 1 noComplete; in.c: index of the count operand (0xFF: none); in.d: 1 arrive_drop
bool h_mbar_arrive(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  uint64_t* d = dst(w, in.op[0]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[1], false, &off)) { ok = false; return; }
    Cta& T = mbar_cta(C, &off);
    const uint32_t v = in.c != 0xFF ? uint32_t(src(w, in.op[in.c])[l]) : 1;
    const sm90::MbarResult r = in.a ? unit(T).arrive_expect_tx(off, v, 1)  // arrive_drop.expect_tx: see bind
                                    : unit(T).arrive(off, v, in.d, in.b);
    if (!mbar_ok(w, in, l, off, r)) { ok = false; return; }
    d[l] = r.state;
    if (&T == &C && C.L->opt->racecheck) C.race.release(w.id, mbar_sync(C, off));
    if (r.phase_completed) phase_done(T, off);
  });
  return ok;
}

// expect_tx (in.a = 1) / complete_tx (in.a = 0): [addr], txCount
bool h_mbar_tx(Warp& w, const Insn& in, uint32_t m) {
  const Src n = src(w, in.op[1]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[0], false, &off)) { ok = false; return; }
    Cta& T = mbar_cta(*w.cta, &off);
    const uint32_t v = uint32_t(n[l]);
    const sm90::MbarResult r = in.a ? unit(T).expect_tx(off, v) : unit(T).complete_tx(off, v);
    if (!mbar_ok(w, in, l, off, r)) { ok = false; return; }
    if (r.phase_completed) phase_done(T, off);
  });
  return ok;
}

// A copy's mbarrier must be a valid object when the copy is issued (its complete_tx comes later).
bool mbar_valid(Warp& w, const Insn& in, int l, uint32_t off) {
  sm90::MbarrierUnit::View v;
  if (unit(*w.cta).view(off, &v)) return true;
  sm90::MbarResult r;
  r.error = sm90::MbarError::not_initialized;
  return mbar_ok(w, in, l, off, r);
}

// An error of the TMA / bulk-copy model that no memory report covered yet.
bool unit_failed(Warp& w, const Insn& in, int l, const std::string& why, bool refused) {
  if (!refused) {
    report(w, &in, l, why.find("aligned") != std::string::npos ? Report::Kind::Misaligned : Report::Kind::InvalidArgument,
           "Invalid asynchronous copy", {why});
    w.cta->L->stop = true;
  }
  return false;
}

// A global -> shared bulk copy (TMA tile or cp.async.bulk) was issued: until it lands its destination
// bytes are undefined for the threads (PTX ISA: the copy's writes are made visible to the waiter of its
// mbarrier phase, nothing is promised before), so they hold poison (0xFF: NaN as f32) from the issue on,
// and under --strict a generic read of them before the landing is reported (smem_init 2: "in flight",
// exec_mem.cc). The race check, proxy shadow and the snapshot of an in-flight wgmma are not touched here:
// the landing is the write they see.
void poison_destination(Cta& C, uint32_t dst, uint32_t n) {
  if (uint64_t(dst) + n > C.smem.size()) return;
  std::memset(&C.smem[dst], 0xFF, n);
  if (!C.smem_init.empty()) std::memset(&C.smem_init[dst], 2, n);
}

// ---- TMA ----
// cp.async.bulk.tensor.Nd.shared::cluster.global.tile.mbarrier::complete_tx::bytes [dst], [map, {c..}], [mbar]
// and (in.b = 1) cp.async.bulk.tensor.Nd.global.shared::cta.tile.bulk_group [map, {c..}], [src]. in.a: rank.
// The map is decoded and the operands checked at issue (sm90/tma.h); the box moves at completion.
bool h_tma(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Kernel& K = *C.k;
  const bool store = in.b;
  const Opd& mop = in.op[store ? 0 : 1];
  const Opd& sop = in.op[store ? 1 : 0];
  const Opd& coords = K.vec[mop.coords];
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t maddr = addr_at(w, mop, l);
    const uint8_t* raw = access(w, in, l, Space::Generic, maddr, 128, false, false, 64);
    if (!raw) { ok = false; return; }
    auto map = std::make_shared<sm90::TensorMap>();
    std::string why;
    if (!sm90::decode_tensor_map(raw, map.get(), &why) || !(why = sm90::validate(*map)).empty()) {
      report(w, &in, l, Report::Kind::InvalidArgument, "Invalid tensor map",
             {"the 128 bytes at " + hex(maddr) + " are not a CUtensorMap made by cuTensorMapEncodeTiled (or were changed)",
              why});
      C.L->stop = true;
      ok = false;
      return;
    }
    Cta::BulkOp op{};
    op.dst = uint32_t(addr_at(w, sop, l));
    if (!(why = sm90::check_tile_operands(*map, uint32_t(in.a), op.dst)).empty()) {
      ok = unit_failed(w, in, l, "cp.async.bulk.tensor: " + why, false);
      return;
    }
    const uint32_t bytes = sm90::box_bytes(*map);
    if (op.dst + bytes > C.smem.size()) {  // the destination must be valid when issued
      access(w, in, l, Space::Shared, op.dst, bytes, true, false, 16);
      ok = false;
      return;
    }
    op.store = store;
    op.tensor_rank = in.a;
    for (int d = 0; d < in.a; ++d) op.coords[d] = int32_t(src(w, K.vec[coords.slot + uint32_t(d)])[l]);
    uint32_t off = 0;
    if (!store && !(mbar_addr(w, in, l, in.op[2], false, &off) && mbar_valid(w, in, l, off))) { ok = false; return; }
    // async-proxy accesses from here on: the box's bytes and (loads) the complete_tx on the mbarrier
    if (store) proxy_check(w, in, l, op.dst, bytes, "source of the tensor copy");
    else if (proxy_check(w, in, l, op.dst, bytes, "destination of the tensor copy"))
      proxy_check(w, in, l, off, 8, "the mbarrier object that the tensor copy's complete_tx updates");
    op.size = bytes;
    op.mbar = off;
    op.pc = pc_of(w, in);
    op.warp = w.id;
    op.lane = l;
    op.map = map;
    if (store) w.bs_open[l].push_back(op);
    else {
      op.land_at = pick_landing(*C.L);
      C.bulk.push_back(op);
      poison_destination(C, op.dst, bytes);
    }
    C.work = true;
  });
  return ok;
}

// Moves the bytes of one copy through the model, as accesses of its issuing lane.
bool land(Warp& w, const Cta::BulkOp& op, uint32_t* bytes) {
  const Insn& in = w.cta->k->code[op.pc];
  UnitSmem s(w, in, op.lane);
  UnitGlobal g(w, in, op.lane);
  sm90::TmaStatus st;
  if (op.tensor_rank)
    st = op.store ? sm90::tma_store_tile(*op.map, uint32_t(op.tensor_rank), op.coords, op.dst, s, g)
                  : sm90::tma_load_tile(*op.map, uint32_t(op.tensor_rank), op.coords, op.dst, g, s);
  else
    st = op.store ? sm90::bulk_copy_shared_to_global(op.dst, op.src, op.size, s, g)
                  : sm90::bulk_copy_global_to_shared(op.src, op.dst, op.size, g, s);
  if (!st.ok) return unit_failed(w, in, op.lane, st.message, s.refused || g.refused);
  *bytes = st.bytes;
  return true;
}

// One load lands: its bytes move, written by the issuing warp, which then releases into the mbarrier
// before its complete_tx. False after a launch-stopping report.
bool land_load(Cta& C, const Cta::BulkOp& op) {
  Warp& w = C.warps[size_t(op.warp)];
  const Insn& in = C.k->code[op.pc];
  uint32_t bytes = 0;
  if (!land(w, op, &bytes)) return false;
  if (C.L->opt->racecheck) C.race.release(op.warp, mbar_sync(C, op.mbar));
  const sm90::MbarResult r = unit(C).complete_tx(op.mbar, bytes);
  if (!mbar_ok(w, in, op.lane, op.mbar, r)) return false;
  if (r.phase_completed) phase_done(C, op.mbar);
  return true;
}

// Completes the bulk copies in flight (all, or those signalling mbarrier `only`): the bytes land
// (land_load). Loads that landed early (land_due) become observed: their bytes no longer count as in
// flight for the strict check. Only landings count in the result.
bool drain(Cta& C, uint32_t only) {
  bool any = false;
  for (size_t i = 0; i < C.bulk.size();) {
    const Cta::BulkOp op = C.bulk[i];
    if (only != kNoSlot && op.mbar != only) {
      ++i;
      continue;
    }
    C.bulk.erase(C.bulk.begin() + long(i));
    any = true;
    if (!land_load(C, op)) return true;
  }
  for (size_t i = 0; i < C.landed.size();) {
    const Cta::Landed e = C.landed[i];
    if (only != kNoSlot && e.mbar != only) {
      ++i;
      continue;
    }
    C.landed.erase(C.landed.begin() + long(i));
    if (!C.smem_init.empty())
      for (uint32_t b = e.dst; b < e.dst + e.size; ++b)
        if (C.smem_init[b] == 3) C.smem_init[b] = 1;
  }
  return any;
}

// test_wait / try_wait{.parity} p, [addr], state|parity{, hint}. in.a: 1 parity; in.b: 1 try_wait (blocks)
bool h_mbar_wait(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Src sv = src(w, in.op[2]);
  uint64_t* p = dst(w, in.op[0]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[1], false, &off)) { ok = false; return; }
    drain(C, off);  // bulk copies signalling this mbarrier complete before the waiter looks
    if (C.L->stop) { ok = false; return; }
    const sm90::MbarResult r = in.a ? unit(C).test_wait_parity(off, uint32_t(sv[l])) : unit(C).test_wait(off, sv[l]);
    if (!mbar_ok(w, in, l, off, r)) { ok = false; return; }
    if (r.ready) {
      p[l] = 1;
      if (C.L->opt->racecheck) C.race.acquire(w.id, mbar_sync(C, off));
    } else if (in.b) {
      w.blocked |= 1u << l;
      w.wait_addr[l] = off;
    } else {
      p[l] = 0;
    }
  });
  return ok;
}

// pending_count.b64 count, state
bool h_mbar_pending(Warp& w, const Insn& in, uint32_t m) {
  const Src sv = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = sm90::MbarrierUnit::pending_count(sv[l]); });
  return true;
}

// ---- cp.async ----
// cp.async.{ca,cg}.shared.global [dst], [src], cp-size{, src-size}: checked at issue, copied at wait
bool h_cp_async(Warp& w, const Insn& in, uint32_t m) {
  const Launch& L = *w.cta->L;
  const uint32_t size = uint32_t(in.op[2].imm);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint64_t d = addr_at(w, in.op[0], l);
    const uint64_t s = addr_at(w, in.op[1], l);
    if (Space(in.t) == Space::Generic && !from_generic(L, Space::Shared, d, &d)) d = ~0ull;
    uint32_t ssz = size;
    if (in.nops > 3) ssz = uint32_t(src(w, in.op[3])[l]);
    if (ssz > size) {
      report(w, &in, l, Report::Kind::InvalidArgument, "cp.async src-size larger than cp-size",
             {"src-size " + std::to_string(ssz) + ", cp-size " + std::to_string(size)});
      w.cta->L->stop = true;
      ok = false;
      return;
    }
    // the addresses must be valid when issued (checked without touching the bytes' race state)
    if (ssz && !access(w, in, l, Space::Global, s, size, false, false)) { ok = false; return; }
    if (d + size > w.cta->smem.size() || (d & (size - 1))) {
      if (!access(w, in, l, Space::Shared, d, size, true, false)) { ok = false; return; }
    }
    w.cp_open[l].push_back(Warp::CpOp{uint32_t(d), s, size, ssz, pc_of(w, in)});
  });
  return ok;
}

bool complete_group(Warp& w, int l, const std::vector<Warp::CpOp>& g) {
  for (const auto& op : g) {
    const Insn& in = w.cta->k->code[op.pc];
    uint8_t* d = access(w, in, l, Space::Shared, op.dst, op.size, true, false);
    if (!d) return false;
    if (op.src_size) {
      const uint8_t* s = access(w, in, l, Space::Global, op.src, op.src_size, false, false);
      if (!s) return false;
      std::memcpy(d, s, op.src_size);
    }
    std::memset(d + op.src_size, 0, op.size - op.src_size);  // zero fill past src-size
  }
  return true;
}

bool h_cp_commit(Warp& w, const Insn&, uint32_t m) {
  each(m, [&](int l) {
    w.cp_groups[l].push_back(std::move(w.cp_open[l]));
    w.cp_open[l].clear();
  });
  return true;
}

// wait_group N (in.a = 0, op0 = N) / wait_all (in.a = 1)
bool h_cp_wait(Warp& w, const Insn& in, uint32_t m) {
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    if (in.a) h_cp_commit(w, in, 1u << l);
    const size_t keep = in.a ? 0 : size_t(in.op[0].imm);
    auto& gs = w.cp_groups[l];
    while (gs.size() > keep && ok) {
      ok = complete_group(w, l, gs.front());
      gs.erase(gs.begin());
    }
  });
  return ok;
}

// cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [dst], [src], size, [mbar]
bool h_bulk_g2s(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Src sz = src(w, in.op[2]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t d = addr_at(w, in.op[0], l);
    const uint64_t s = addr_at(w, in.op[1], l);
    const uint32_t n = uint32_t(sz[l]);
    if (n == 0 || n % 16 || (d & 15) || (s & 15)) {
      report(w, &in, l, Report::Kind::Misaligned, "Invalid cp.async.bulk operands",
             {"size " + std::to_string(n) + " (a positive multiple of 16), shared " + hex(d) + " and global " + hex(s) +
              " (16-byte aligned)"});
      ok = false;
      return;
    }
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[3], false, &off) || !mbar_valid(w, in, l, off)) { ok = false; return; }
    // addresses valid at issue; the bytes move at completion
    if (!access(w, in, l, Space::Global, s, 16, false, false)) { ok = false; return; }
    if (d + n > C.smem.size()) {
      access(w, in, l, Space::Shared, d, n, true, false, 16);
      ok = false;
      return;
    }
    if (proxy_check(w, in, l, d, n, "destination of the bulk copy"))
      proxy_check(w, in, l, off, 8, "the mbarrier object that the bulk copy's complete_tx updates");
    Cta::BulkOp op{uint32_t(d), s, n, off, pc_of(w, in), w.id, l};
    op.land_at = pick_landing(*C.L);
    C.bulk.push_back(op);
    poison_destination(C, uint32_t(d), n);
    C.work = true;
  });
  return ok;
}

// cp.async.bulk.global.shared::cta.bulk_group [dst], [src], size: checked at issue, copied at the wait
bool h_bulk_s2g(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Src sz = src(w, in.op[2]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t d = addr_at(w, in.op[0], l);
    const uint64_t s = addr_at(w, in.op[1], l);
    const uint32_t n = uint32_t(sz[l]);
    if (n == 0 || n % 16 || (d & 15) || (s & 15)) {
      report(w, &in, l, Report::Kind::Misaligned, "Invalid cp.async.bulk operands",
             {"size " + std::to_string(n) + " (a positive multiple of 16), global " + hex(d) + " and shared " + hex(s) +
              " (16-byte aligned)"});
      ok = false;
      return;
    }
    if (!access(w, in, l, Space::Global, d, 16, true, false)) { ok = false; return; }
    if (s + n > C.smem.size()) {
      access(w, in, l, Space::Shared, s, n, false, false, 16);
      ok = false;
      return;
    }
    proxy_check(w, in, l, s, n, "source of the bulk copy");
    Cta::BulkOp op{};
    op.dst = uint32_t(s);  // the shared side
    op.src = d;            // the global side
    op.size = n;
    op.pc = pc_of(w, in);
    op.warp = w.id;
    op.lane = l;
    op.store = true;
    w.bs_open[l].push_back(op);
    C.work = true;
  });
  return ok;
}

bool complete_store(Warp& w, const Cta::BulkOp& op) {
  uint32_t bytes;
  return land(w, op, &bytes);
}

bool h_bulk_commit(Warp& w, const Insn&, uint32_t m) {
  each(m, [&](int l) {
    w.bs_groups[l].push_back(std::move(w.bs_open[l]));
    w.bs_open[l].clear();
  });
  return true;
}

// cp.async.bulk.wait_group{.read} N: the lane's committed groups beyond the N most recent complete
bool h_bulk_wait(Warp& w, const Insn& in, uint32_t m) {
  const size_t keep = size_t(in.op[0].imm);
  bool ok = true;
  each(m, [&](int l) {
    auto& gs = w.bs_groups[l];
    while (ok && gs.size() > keep) {
      for (auto& op : gs.front())
        if (ok) ok = complete_store(w, op);
      gs.erase(gs.begin());
    }
  });
  return ok;
}

bool h_nop(Warp&, const Insn&, uint32_t) { return true; }

// fence.proxy.async covering shared::cta: the executing threads' generic writes so far are ordered
// before their later async-proxy accesses (proxycheck.h)
bool h_proxy_fence(Warp& w, const Insn&, uint32_t m) {
  Cta& C = *w.cta;
  if (C.proxy_on) each(m, [&](int l) { C.proxy.fence(uint32_t(w.id) * 32 + uint32_t(l)); });
  return true;
}

// Does this fence order generic-proxy writes of shared::cta memory before async-proxy accesses? The
// bidirectional fence.proxy.async (no state space: all of them), .shared::cta, .shared::cluster (which
// contains the CTA's window); the one-way fence.proxy.async::generic.release.sync_restrict::shared::cta
// .cluster. Not: fence.proxy.async.global, the acquire direction, fence.mbarrier_init (no proxy).
bool covers_shared_async(const std::vector<std::string>& P) {
  if (P.size() < 3 || P[1] != "proxy") return false;
  if (P[2] == "async")
    return P.size() == 3 || (P.size() == 4 && (P[3] == "shared::cta" || P[3] == "shared::cluster" || P[3] == "shared"));
  if (P[2] == "async::generic") {
    bool release = false, cta = false;
    for (auto& p : P) {
      release |= p == "release";
      cta |= p == "sync_restrict::shared::cta";
    }
    return release && cta;
  }
  return false;
}

Space mbar_space(const BindCtx& c) {
  for (auto& p : c.pi.parts)
    if (p == "shared" || p == "shared::cta" || p == "shared::cluster") return Space::Shared;
  return Space::Generic;
}

}  // namespace

// The mbarrier model's view of the CTA's shared memory: the interpreter checks (bounds, races) every
// mbarrier operand itself before calling the model, so this only keeps the model inside the window.
bool Cta::MbarMem::read(uint32_t addr, void* dst, uint32_t n) {
  if (uint64_t(addr) + n > c->smem.size()) return false;
  std::memcpy(dst, &c->smem[addr], n);
  return true;
}
bool Cta::MbarMem::write(uint32_t addr, const void* src, uint32_t n) {
  if (uint64_t(addr) + n > c->smem.size()) return false;
  std::memcpy(&c->smem[addr], src, n);
  return true;
}

uint64_t pick_landing(Launch& L) {
  ++L.res.bulk_loads;
  const uint64_t r = L.land_rng();
  if (r & 1) return ~0ull;  // half of the loads land at the latest point (the hostile choice)
  // the others at one of the next warp switches (never the one in which they were issued), each switch
  // landing them with probability 1/4 (a geometric choice: early ones more often than late ones)
  uint64_t k = 1, x = r >> 1;
  while ((x & 3) != 0 && k < 31) {
    ++k;
    x >>= 2;
  }
  return L.switches + k;
}

bool land_due(Cta& C) {
  Launch& L = *C.L;
  bool any = false;
  for (size_t i = 0; i < C.bulk.size() && !L.stop;) {
    const Cta::BulkOp op = C.bulk[i];
    if (op.land_at > L.switches) {
      ++i;
      continue;
    }
    C.bulk.erase(C.bulk.begin() + long(i));
    any = true;
    ++L.res.early_landings;
    if (!land_load(C, op)) break;
    // the bytes are in place, but a thread that has not observed the mbarrier phase complete still reads
    // them unsynchronised: under --strict they stay marked in flight (3: landed, not yet observed)
    if (!C.smem_init.empty() && uint64_t(op.dst) + op.size <= C.smem_init.size()) {
      std::memset(&C.smem_init[op.dst], 3, op.size);
      C.landed.push_back(Cta::Landed{op.dst, op.size, op.mbar});
    }
  }
  return any;
}

bool drain_async(Cta& C) {
  bool any = drain(C, kNoSlot);
  if (C.L->stop) return any;
  // bulk stores still pending complete too (their global writes become visible)
  for (auto& w : C.warps)
    for (int l = 0; l < 32; ++l) {
      for (auto& g : w.bs_groups[l])
        for (auto& op : g) {
          any = true;
          if (!complete_store(w, op)) return true;
        }
      for (auto& op : w.bs_open[l]) {
        any = true;
        if (!complete_store(w, op)) return true;
      }
      w.bs_groups[l].clear();
      w.bs_open[l].clear();
    }
  return any;
}

bool bind_async(BindCtx& c) {
  const auto& P = c.pi.parts;
  Insn& in = c.in;
  in.ndst = 0;
  if (P[0] == "fence") {
    // proxy fences order generic-proxy accesses with the async proxy: those covering shared::cta bump the
    // thread's fence epoch of the proxy check (proxycheck.h); the others have no effect here
    if (c.has("proxy") || c.has("mbarrier_init")) {
      for (auto& p : P)
        if (p == "tensormap" || p.rfind("proxy::tensormap", 0) == 0) return false;
      c.need(0);
      in.fn = covers_shared_async(P) ? h_proxy_fence : h_nop;
      return true;
    }
    return false;
  }
  if (P[0] == "prefetch" && c.has("tensormap")) {  // a hint: no architectural effect
    c.need(1);
    c.addr(0);
    in.fn = h_nop;
    return true;
  }
  if (P[0] == "mbarrier") {
    sm90::MbarForm f;
    std::string why;
    if (!sm90::parse_mbarrier(P, &f, &why)) return false;  // a form the model does not know: unsupported
    using O = sm90::MbarOp;
    in.t = uint8_t(mbar_space(c));
    const bool arrive = f.op == O::arrive || f.op == O::arrive_nocomplete || f.op == O::arrive_drop ||
                        f.op == O::arrive_expect_tx;
    if (c.has("shared::cluster") && !arrive) return false;  // only arrivals may name another CTA's object
    switch (f.op) {
      case O::init:
        c.need(2); c.addr(0); c.regimm(1);
        in.fn = h_mbar_init;
        return true;
      case O::inval:
        c.need(1); c.addr(0);
        in.fn = h_mbar_inval;
        return true;
      case O::arrive: case O::arrive_nocomplete: case O::arrive_drop: case O::arrive_expect_tx:
        in.a = f.op == O::arrive_expect_tx;
        in.b = f.op == O::arrive_nocomplete;
        in.d = f.op == O::arrive_drop;
        if (in.nops < 2 || in.nops > 3) c.fail("mbarrier.arrive: expected state, [addr]{, count}");
        c.reg(0); c.addr(1);
        in.c = 0xFF;
        if (in.nops == 3) {
          c.regimm(2);
          in.c = 2;
        } else if (in.a || in.b) {
          c.fail("mbarrier.arrive.expect_tx / .noComplete need a count");
        }
        in.ndst = 1;
        in.fn = h_mbar_arrive;
        return true;
      case O::expect_tx: case O::complete_tx:
        c.need(2); c.addr(0); c.regimm(1);
        in.a = f.op == O::expect_tx;
        in.fn = h_mbar_tx;
        return true;
      case O::test_wait: case O::test_wait_parity: case O::try_wait: case O::try_wait_parity:
        if (in.nops < 3 || in.nops > 4) c.fail("mbarrier wait: expected p, [addr], state|parity{, hint}");
        c.reg(0); c.addr(1); c.regimm(2);
        in.a = f.op == O::test_wait_parity || f.op == O::try_wait_parity;
        in.b = f.op == O::try_wait || f.op == O::try_wait_parity;
        in.ndst = 1;
        in.fn = h_mbar_wait;
        if (in.b) in.flow = Flow::Wait;
        return true;
      case O::pending_count:
        c.need(2); c.reg(0); c.regimm(1);
        in.ndst = 1;
        in.fn = h_mbar_pending;
        return true;
      default:
        return false;  // arrive_drop.expect_tx: not executed
    }
  }
  if (P[0] == "cp" && P.size() >= 3 && P[1] == "async") {
    if (P[2] == "commit_group" && P.size() == 3) {
      c.need(0);
      in.fn = h_cp_commit;
      return true;
    }
    if (P[2] == "wait_group" && P.size() == 3) {
      c.need(1);
      if (in.op[0].kind != Opd::Imm) c.fail("cp.async.wait_group takes an immediate");
      in.fn = h_cp_wait;
      return true;
    }
    if (P[2] == "wait_all" && P.size() == 3) {
      c.need(0);
      in.a = 1;
      in.fn = h_cp_wait;
      return true;
    }
    if ((P[2] == "ca" || P[2] == "cg") && P.size() == 5 && (P[3] == "shared" || P[3] == "shared::cta") && P[4] == "global") {
      if (in.nops < 3 || in.nops > 4) return false;  // ignore-src / cache-policy forms: later
      c.addr(0); c.addr(1);
      if (in.op[2].kind != Opd::Imm) c.fail("cp.async: cp-size must be an immediate");
      const int64_t n = in.op[2].imm;
      if (!(n == 16 || (P[2] == "ca" && (n == 4 || n == 8)))) c.fail("cp.async: cp-size must be 4, 8 or 16 (.cg: 16)");
      if (in.nops == 4) c.regimm(3);
      in.t = uint8_t(Space::Shared);
      in.fn = h_cp_async;
      return true;
    }
    if (P[2] == "bulk" && P.size() == 4 && P[3] == "commit_group") {
      c.need(0);
      in.fn = h_bulk_commit;
      return true;
    }
    if (P[2] == "bulk" && (P.size() == 4 || (P.size() == 5 && P[4] == "read")) && P[3] == "wait_group") {
      c.need(1);
      if (in.op[0].kind != Opd::Imm) c.fail("cp.async.bulk.wait_group takes an immediate");
      in.fn = h_bulk_wait;
      return true;
    }
    if (P[2] == "bulk" && P.size() == 6 && P[3] == "global" && P[4] == "shared::cta" && P[5] == "bulk_group") {
      c.need(3); c.addr(0); c.addr(1); c.regimm(2);
      c.k.async_proxy = true;
      in.fn = h_bulk_s2g;
      return true;
    }
    if (P[2] == "bulk" && P.size() > 3 && P[3] == "tensor") {
      std::vector<std::string> parts = P;  // a load into shared::cta is the same copy (a cluster of one)
      if (parts.size() > 6 && parts[5] == "shared::cta" && parts[6] == "global") parts[5] = "shared::cluster";
      sm90::TensorCopyForm f;
      std::string why;
      if (!sm90::parse_tensor_copy(parts, &f, &why) || f.multicast || f.cache_hint) return false;
      const int rank = int(f.rank), mi = f.load ? 1 : 0;
      c.need(f.load ? 3 : 2);
      c.addr(f.load ? 0 : 1);
      if (f.load) c.addr(2);
      const Opd& mo = in.op[mi];
      if (mo.kind != Opd::Addr || mo.coords == kNoSlot || int(c.k.vec[mo.coords].n) != rank)
        c.fail("cp.async.bulk.tensor: expected [tensorMap, {" + std::to_string(rank) + " coordinates}]");
      in.a = uint8_t(rank);
      in.b = !f.load;
      c.k.async_proxy = true;
      in.t = uint8_t(Space::Shared);
      in.fn = h_tma;
      return true;
    }
    if (P[2] == "bulk" && P.size() == 6 && (P[3] == "shared::cluster" || P[3] == "shared::cta") && P[4] == "global" &&
        P[5] == "mbarrier::complete_tx::bytes") {
      c.need(4); c.addr(0); c.addr(1); c.regimm(2); c.addr(3);
      in.t = uint8_t(Space::Shared);
      c.k.async_proxy = true;
      in.fn = h_bulk_g2s;
      return true;
    }
    return false;
  }
  return false;
}

}  // namespace emu::interp
