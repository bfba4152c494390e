// dsv3-emu: the asynchronous units that need no tensor core: mbarrier objects (PTX ISA 9.0 §9.7.13.15:
// init, inval, arrive{.expect_tx,.noComplete}, expect_tx, complete_tx, test_wait / try_wait{.parity},
// pending_count), cp.async with commit/wait groups (§9.7.9.25.3), cp.async.bulk global -> shared
// completed through an mbarrier's transaction count (§9.7.9.25.4.1), and its tensor form (TMA,
// §9.7.9.25.5: .tile boxes of 1..5 dimensions, out-of-bound elements filled, 32/64/128-byte swizzle). Copies complete as late as the ISA
// allows (hostile): cp.async at the thread's wait_group / wait_all, bulk copies when a thread waits on
// their mbarrier, when the CTA would otherwise stall, or at the CTA's end. try_wait blocks the lane until
// the phase completes (the ISA lets it wait up to an implementation-defined time), so deadlocks are seen.
#include <cinttypes>

#include "src/interp/interp.h"
#include "src/runtime/tensormap.h"

namespace emu::interp {

namespace {

constexpr uint32_t kMaxMbarCount = (1u << 20) - 1;
constexpr uint64_t kStateTag = 0x5Aull << 56;  // arrive's opaque state: tag | pending << 32 | phase

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

// The shared-memory offset of the mbarrier operand `o` for lane l (generic addresses converted), checked
// like an 8-byte access (bounds, alignment, race detection as an atomic unless `write`).
bool mbar_addr(Warp& w, const Insn& in, int l, const Opd& o, bool write, uint32_t* off) {
  const Launch& L = *w.cta->L;
  uint64_t a = (o.slot == kNoSlot ? 0 : w.regs[size_t(o.slot) * 32 + l]) + uint64_t(o.imm);
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
  if (!access(w, in, l, Space::Shared, a, 8, write, !write)) return false;
  *off = uint32_t(a);
  return true;
}

Cta::Mbar* find_mbar(Warp& w, const Insn& in, int l, uint32_t off) {
  auto it = w.cta->mbars.find(off);
  if (it != w.cta->mbars.end()) return &it->second;
  report(w, &in, l, Report::Kind::InvalidArgument, "mbarrier used before mbarrier.init",
         {"No mbarrier object was initialised at shared address " + hex(off)});
  w.cta->L->stop = true;
  return nullptr;
}

void complete_phase(Cta& C, uint32_t off, Cta::Mbar& mb) {
  mb.phase += 1;
  mb.pending = mb.expected;
  mb.tx = 0;
  if (C.L->opt->racecheck) C.race.complete(16 + mb.id, {});
  for (auto& w : C.warps)
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] == kMbarWait && w.wait_addr[l] == off) w.st[l] = kRun;  // re-executes its try_wait
    }
}
void maybe_complete(Cta& C, uint32_t off, Cta::Mbar& mb) {
  if (mb.pending == 0 && mb.tx == 0) complete_phase(C, off, mb);
}

// Writes the object's state into its 8 bytes (programs treat them as opaque; keeps the strict shadow).
void store_state(Warp& w, uint32_t off, const Cta::Mbar& mb) {
  const uint64_t v = uint64_t(mb.pending) | (uint64_t(mb.expected) << 20) | (uint64_t(mb.phase & 1) << 63);
  std::memcpy(&w.cta->smem[off], &v, 8);
}

bool h_mbar_init(Warp& w, const Insn& in, uint32_t m) {
  const Src cnt = src(w, in.op[1]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[0], true, &off)) { ok = false; return; }
    const uint64_t n = cnt[l] & 0xFFFFFFFFu;
    if (n < 1 || n > kMaxMbarCount) {
      report(w, &in, l, Report::Kind::InvalidArgument, "Invalid mbarrier.init count",
             {"count " + std::to_string(n) + " is outside 1.." + std::to_string(kMaxMbarCount)});
      w.cta->L->stop = true;
      ok = false;
      return;
    }
    auto& mbs = w.cta->mbars;
    auto it = mbs.find(off);
    Cta::Mbar mb;
    mb.id = it != mbs.end() ? it->second.id : uint32_t(mbs.size());
    mb.expected = mb.pending = uint32_t(n);
    mbs[off] = mb;
    store_state(w, off, mb);
  });
  return ok;
}

bool h_mbar_inval(Warp& w, const Insn& in, uint32_t m) {
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[0], true, &off) || !find_mbar(w, in, l, off)) { ok = false; return; }
    w.cta->mbars.erase(off);
  });
  return ok;
}

// arrive: op0 state (or sink), op1 [addr], op2 optional count / txCount. in.a: 1 expect_tx; in.b: 1
// noComplete; in.c: index of the count operand (0xFF: none)
bool h_mbar_arrive(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  uint64_t* d = dst(w, in.op[0]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    Cta::Mbar* mb;
    if (!mbar_addr(w, in, l, in.op[1], false, &off) || !(mb = find_mbar(w, in, l, off))) { ok = false; return; }
    uint64_t count = 1;
    if (in.c != 0xFF) {
      const uint64_t v = src(w, in.op[in.c])[l] & 0xFFFFFFFFu;
      if (in.a) mb->tx += int64_t(v);  // arrive.expect_tx: the transaction count first
      else count = v;
    }
    if (count > mb->pending) {
      report(w, &in, l, Report::Kind::InvalidArgument, "mbarrier arrival beyond the expected count",
             {"mbarrier at shared address " + hex(off) + " has " + std::to_string(mb->pending) +
              " pending arrivals in this phase, " + std::to_string(count) + " arrived"});
      C.L->stop = true;
      ok = false;
      return;
    }
    mb->pending -= uint32_t(count);
    d[l] = kStateTag | (uint64_t(mb->pending) << 32) | mb->phase;
    if (C.L->opt->racecheck) C.race.release(w.id, 16 + mb->id);
    if (in.b) {
      if (mb->pending == 0) {
        report(w, &in, l, Report::Kind::InvalidArgument, "mbarrier.arrive.noComplete completed the phase",
               {"the ISA leaves this undefined: mbarrier at shared address " + hex(off)});
        C.L->stop = true;
        ok = false;
        return;
      }
    } else {
      maybe_complete(C, off, *mb);
    }
    store_state(w, off, *mb);
  });
  return ok;
}

// expect_tx (in.a = 1) / complete_tx (in.a = 0): [addr], txCount
bool h_mbar_tx(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Src n = src(w, in.op[1]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint32_t off;
    Cta::Mbar* mb;
    if (!mbar_addr(w, in, l, in.op[0], false, &off) || !(mb = find_mbar(w, in, l, off))) { ok = false; return; }
    const int64_t v = int64_t(n[l] & 0xFFFFFFFFu);
    if (in.a) {
      mb->tx += v;
    } else {
      mb->tx -= v;
      maybe_complete(C, off, *mb);
    }
    store_state(w, off, *mb);
  });
  return ok;
}

// ---- TMA ----
uint32_t box_count(const tma::TensorMap& t, int d) { return (t.box[d] + t.elem_strides[d] - 1) / t.elem_strides[d]; }

// The byte offset of a dense box offset after the shared-memory swizzle (CUTLASS Swizzle<B,4,3>: the
// 16-byte chunk index, bits 4.., XORed with the 128-byte row index bits 7..)
uint32_t swizzle(uint8_t mode, uint32_t off) {
  switch (mode) {
    case tma::kSwizzle32B: return off ^ (((off >> 7) & 1) << 4);
    case tma::kSwizzle64B: return off ^ (((off >> 7) & 3) << 4);
    case tma::kSwizzle128B: return off ^ (((off >> 7) & 7) << 4);
    default: return off;
  }
}

// Copies one box: element by element along dim 0 runs. Loads fill elements outside the tensor with zero
// (or NaN); stores skip them.
bool tma_copy(Warp& w, const Insn& in, const Cta::BulkOp& op) {
  const bool store = op.store;
  const tma::TensorMap& t = *static_cast<const tma::TensorMap*>(op.map.get());
  const uint32_t eb = tma::element_bits(t.data_type) / 8;
  const int rank = int(t.rank);
  uint32_t n[5];
  for (int d = 0; d < 5; ++d) n[d] = d < rank ? box_count(t, d) : 1;
  const uint32_t row_bytes = n[0] * eb;
  uint8_t* base = access(w, in, op.lane, Space::Shared, op.dst, op.size, !store, false, 16);
  if (!base) return false;
  const bool nan_fill = t.oob == tma::kOobNanRequestZeroFma &&
                        (t.data_type == tma::kF16 || t.data_type == tma::kBF16 || t.data_type == tma::kF32 ||
                         t.data_type == tma::kF64 || t.data_type == tma::kF32Ftz);
  std::vector<uint8_t> row(row_bytes);
  uint32_t rowi = 0;
  for (uint32_t i4 = 0; i4 < n[4]; ++i4)
    for (uint32_t i3 = 0; i3 < n[3]; ++i3)
      for (uint32_t i2 = 0; i2 < n[2]; ++i2)
        for (uint32_t i1 = 0; i1 < n[1]; ++i1, ++rowi) {
          const uint32_t idx[5] = {0, i1, i2, i3, i4};
          int64_t c[5];
          bool inside = true;
          uint64_t addr = t.address;
          for (int d = 1; d < rank; ++d) {
            c[d] = int64_t(op.coords[d]) + int64_t(idx[d]) * t.elem_strides[d];
            inside &= c[d] >= 0 && uint64_t(c[d]) < t.dims[d];
            addr += uint64_t(c[d]) * t.strides[d - 1];
          }
          const uint32_t off = rowi * row_bytes;
          if (store) {
            for (uint32_t b = 0; b < row_bytes; b += 16)
              std::memcpy(row.data() + b, base + swizzle(t.swizzle, off + b), std::min<uint32_t>(16, row_bytes - b));
            for (uint32_t i0 = 0; i0 < n[0]; ++i0) {
              const int64_t c0 = int64_t(op.coords[0]) + int64_t(i0) * t.elem_strides[0];
              if (!inside || c0 < 0 || uint64_t(c0) >= t.dims[0]) continue;
              uint8_t* g = access(w, in, op.lane, Space::Global, addr + uint64_t(c0) * eb, eb, true, false);
              if (!g) return false;
              std::memcpy(g, row.data() + size_t(i0) * eb, eb);
            }
            continue;
          }
          for (uint32_t i0 = 0; i0 < n[0]; ++i0) {
            const int64_t c0 = int64_t(op.coords[0]) + int64_t(i0) * t.elem_strides[0];
            uint8_t* dst = row.data() + size_t(i0) * eb;
            if (inside && c0 >= 0 && uint64_t(c0) < t.dims[0]) {
              const uint8_t* s = access(w, in, op.lane, Space::Global, addr + uint64_t(c0) * eb, eb, false, false);
              if (!s) return false;
              std::memcpy(dst, s, eb);
            } else if (nan_fill) {
              const uint64_t nanbits = eb == 2 ? 0x7FFF : eb == 4 ? 0x7FFFFFFF : 0x7FFFFFFFFFFFFFFFull;
              std::memcpy(dst, &nanbits, eb);
            } else {
              std::memset(dst, 0, eb);
            }
          }
          for (uint32_t b = 0; b < row_bytes; b += 16) {
            const uint32_t chunk = std::min<uint32_t>(16, row_bytes - b);
            std::memcpy(base + swizzle(t.swizzle, off + b), row.data() + b, chunk);
          }
        }
  return true;
}

// cp.async.bulk.tensor.Nd.shared::cluster.global.tile.mbarrier::complete_tx::bytes [dst], [map, {c..}], [mbar]
// and (in.b = 1) cp.async.bulk.tensor.Nd.global.shared::cta.tile.bulk_group [map, {c..}], [src]. in.a: rank
bool h_tma_load(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Kernel& K = *C.k;
  const bool store = in.b;
  const Opd& mop = in.op[store ? 0 : 1];
  const Opd& sop = in.op[store ? 1 : 0];
  const Opd& coords = K.vec[mop.coords];
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t maddr = (mop.slot == kNoSlot ? 0 : w.regs[size_t(mop.slot) * 32 + l]) + uint64_t(mop.imm);
    const uint8_t* raw = access(w, in, l, Space::Generic, maddr, 128, false, false, 64);
    if (!raw) { ok = false; return; }
    auto map = std::make_shared<tma::TensorMap>();
    if (!tma::decode(raw, map.get())) {
      report(w, &in, l, Report::Kind::InvalidArgument, "Invalid tensor map",
             {"the 128 bytes at " + hex(maddr) + " are not a CUtensorMap made by cuTensorMapEncodeTiled (or were changed)"});
      C.L->stop = true;
      ok = false;
      return;
    }
    if (int(map->rank) != in.a || map->interleave != tma::kInterleaveNone || map->swizzle > tma::kSwizzle128B) {
      report(w, &in, l, Report::Kind::InvalidArgument, "Tensor map does not fit this copy",
             {"map of rank " + std::to_string(map->rank) + " (interleave " + std::to_string(map->interleave) +
              ", swizzle " + std::to_string(map->swizzle) + ") used by a " + std::to_string(in.a) + "d tile copy"});
      C.L->stop = true;
      ok = false;
      return;
    }
    Cta::BulkOp op{};
    op.dst = uint32_t((sop.slot == kNoSlot ? 0 : w.regs[size_t(sop.slot) * 32 + l]) + uint64_t(sop.imm));
    op.store = store;
    op.tensor_rank = in.a;
    for (int d = 0; d < in.a; ++d) op.coords[d] = int32_t(src(w, K.vec[coords.slot + uint32_t(d)])[l]);
    uint32_t bytes = tma::element_bits(map->data_type) / 8;
    for (int d = 0; d < in.a; ++d) bytes *= box_count(*map, d);
    const uint32_t align = map->swizzle == tma::kSwizzle128B ? 1024 : map->swizzle == tma::kSwizzle64B ? 512
                           : map->swizzle == tma::kSwizzle32B ? 256 : 128;
    if (op.dst % align) {
      report(w, &in, l, Report::Kind::Misaligned, "Misaligned cp.async.bulk.tensor destination",
             {"shared address " + hex(op.dst) + " must be " + std::to_string(align) + "-byte aligned for this swizzle"});
      ok = false;
      return;
    }
    if (op.dst + bytes > C.smem.size()) {
      access(w, in, l, Space::Shared, op.dst, bytes, true, false, 16);
      ok = false;
      return;
    }
    uint32_t off = 0;
    if (!store && (!mbar_addr(w, in, l, in.op[2], false, &off) || !find_mbar(w, in, l, off))) { ok = false; return; }
    op.size = bytes;
    op.mbar = off;
    op.pc = pc_of(w, in);
    op.warp = w.id;
    op.lane = l;
    op.map = map;
    if (store) w.bs_open[l].push_back(op);
    else C.bulk.push_back(op);
    C.work = true;
  });
  return ok;
}

// Completes the bulk copies in flight (all, or those signalling mbarrier `only`).
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
    Warp& w = C.warps[size_t(op.warp)];
    const Insn& in = C.k->code[op.pc];
    if (op.tensor_rank) {
      if (!tma_copy(w, in, op)) return true;
    } else {
      const uint8_t* s = access(w, in, op.lane, Space::Global, op.src, op.size, false, false, 16);
      if (!s) return true;
      uint8_t* d = access(w, in, op.lane, Space::Shared, op.dst, op.size, true, false, 16);
      if (!d) return true;
      std::memcpy(d, s, op.size);
    }
    auto it = C.mbars.find(op.mbar);
    if (it == C.mbars.end()) {
      report(w, &in, op.lane, Report::Kind::InvalidArgument, "Bulk copy completed on an mbarrier that no longer exists",
             {"mbarrier at shared address " + hex(op.mbar) + " was invalidated while the copy was in flight"});
      C.L->stop = true;
      return true;
    }
    if (C.L->opt->racecheck) C.race.release(op.warp, 16 + it->second.id);
    it->second.tx -= int64_t(op.size);
    maybe_complete(C, op.mbar, it->second);
    store_state(w, op.mbar, it->second);
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
    Cta::Mbar* mb = find_mbar(w, in, l, off);
    if (!mb) { ok = false; return; }
    bool done;
    if (in.a) {
      done = (mb->phase & 1) != (sv[l] & 1);
    } else {
      const uint64_t st = sv[l];
      if ((st & (0xFFull << 56)) != kStateTag) {
        report(w, &in, l, Report::Kind::InvalidArgument, "mbarrier wait with a state not returned by mbarrier.arrive",
               {"state " + hex(st)});
        C.L->stop = true;
        ok = false;
        return;
      }
      done = mb->phase > uint32_t(st);
    }
    if (done) {
      p[l] = 1;
      if (C.L->opt->racecheck) C.race.acquire(w.id, 16 + mb->id);
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
  each(m, [&](int l) { d[l] = (sv[l] >> 32) & 0xFFFFF; });
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
    uint64_t d = (in.op[0].slot == kNoSlot ? 0 : w.regs[size_t(in.op[0].slot) * 32 + l]) + uint64_t(in.op[0].imm);
    const uint64_t s = (in.op[1].slot == kNoSlot ? 0 : w.regs[size_t(in.op[1].slot) * 32 + l]) + uint64_t(in.op[1].imm);
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
    const uint64_t d = (in.op[0].slot == kNoSlot ? 0 : w.regs[size_t(in.op[0].slot) * 32 + l]) + uint64_t(in.op[0].imm);
    const uint64_t s = (in.op[1].slot == kNoSlot ? 0 : w.regs[size_t(in.op[1].slot) * 32 + l]) + uint64_t(in.op[1].imm);
    const uint32_t n = uint32_t(sz[l]);
    if (n == 0 || n % 16 || (d & 15) || (s & 15)) {
      report(w, &in, l, Report::Kind::Misaligned, "Invalid cp.async.bulk operands",
             {"size " + std::to_string(n) + " (a positive multiple of 16), shared " + hex(d) + " and global " + hex(s) +
              " (16-byte aligned)"});
      ok = false;
      return;
    }
    uint32_t off;
    if (!mbar_addr(w, in, l, in.op[3], false, &off) || !find_mbar(w, in, l, off)) { ok = false; return; }
    // addresses valid at issue; the bytes move at completion
    if (!access(w, in, l, Space::Global, s, 16, false, false)) { ok = false; return; }
    if (d + n > C.smem.size()) {
      access(w, in, l, Space::Shared, d, n, true, false, 16);
      ok = false;
      return;
    }
    C.bulk.push_back(Cta::BulkOp{uint32_t(d), s, n, off, pc_of(w, in), w.id, l});
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
    const uint64_t d = (in.op[0].slot == kNoSlot ? 0 : w.regs[size_t(in.op[0].slot) * 32 + l]) + uint64_t(in.op[0].imm);
    const uint64_t s = (in.op[1].slot == kNoSlot ? 0 : w.regs[size_t(in.op[1].slot) * 32 + l]) + uint64_t(in.op[1].imm);
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
  const Insn& in = w.cta->k->code[op.pc];
  if (op.tensor_rank) return tma_copy(w, in, op);
  const uint8_t* s = access(w, in, op.lane, Space::Shared, op.dst, op.size, false, false, 16);
  if (!s) return false;
  uint8_t* d = access(w, in, op.lane, Space::Global, op.src, op.size, true, false, 16);
  if (!d) return false;
  std::memcpy(d, s, op.size);
  return true;
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

Space mbar_space(const BindCtx& c) {
  for (auto& p : c.pi.parts)
    if (p == "shared" || p == "shared::cta" || p == "shared::cluster") return Space::Shared;
  return Space::Generic;
}

}  // namespace

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
    // proxy fences order generic-proxy accesses with the async proxy; the async copies here read and
    // write at completion, after everything the issuing thread did before, so they hold trivially
    if (c.has("proxy") || c.has("mbarrier_init")) {
      for (auto& p : P)
        if (p == "tensormap" || p.rfind("proxy::tensormap", 0) == 0) return false;
      c.need(0);
      in.fn = h_nop;
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
    if (P.size() < 3 || P.back() != "b64") return false;
    const std::string& op = P[1];
    in.t = uint8_t(mbar_space(c));
    if (c.has("shared::cluster") && op != "arrive") return false;  // another CTA's mbarrier: clusters later
    if (op == "init") {
      c.need(2); c.addr(0); c.regimm(1);
      in.fn = h_mbar_init;
      return true;
    }
    if (op == "inval") {
      c.need(1); c.addr(0);
      in.fn = h_mbar_inval;
      return true;
    }
    if (op == "arrive") {
      in.a = c.has("expect_tx");
      in.b = c.has("noComplete");
      if (c.has("arrive_drop")) return false;
      if (in.a && in.b) return false;
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
    }
    if (op == "expect_tx" || op == "complete_tx") {
      c.need(2); c.addr(0); c.regimm(1);
      in.a = op == "expect_tx";
      in.fn = h_mbar_tx;
      return true;
    }
    if (op == "test_wait" || op == "try_wait") {
      if (in.nops < 3 || in.nops > 4) c.fail("mbarrier wait: expected p, [addr], state|parity{, hint}");
      c.reg(0); c.addr(1); c.regimm(2);
      in.a = c.has("parity");
      in.b = op == "try_wait";
      in.ndst = 1;
      in.fn = h_mbar_wait;
      if (in.b) in.flow = Flow::Wait;
      return true;
    }
    if (op == "pending_count") {
      c.need(2); c.reg(0); c.regimm(1);
      in.ndst = 1;
      in.fn = h_mbar_pending;
      return true;
    }
    return false;
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
      in.fn = h_bulk_s2g;
      return true;
    }
    if (P[2] == "bulk" && P.size() == 9 && P[3] == "tensor" && P[5] == "global" && P[6] == "shared::cta" &&
        P[7] == "tile" && P[8] == "bulk_group") {
      const int rank = P[4].size() == 2 && P[4][1] == 'd' ? P[4][0] - '0' : 0;
      if (rank < 1 || rank > 5) return false;
      c.need(2);
      c.addr(1);
      const Opd& mo = in.op[0];
      if (mo.kind != Opd::Addr || mo.coords == kNoSlot || int(c.k.vec[mo.coords].n) != rank)
        c.fail("cp.async.bulk.tensor: expected [tensorMap, {" + std::to_string(rank) + " coordinates}]");
      in.a = uint8_t(rank);
      in.b = 1;
      in.t = uint8_t(Space::Shared);
      in.fn = h_tma_load;
      return true;
    }
    if (P[2] == "bulk" && P.size() >= 9 && P[3] == "tensor" && (P[5] == "shared::cluster" || P[5] == "shared::cta") &&
        P[6] == "global" && P[7] == "tile" && P[8] == "mbarrier::complete_tx::bytes" && P.size() == 9) {
      const int rank = P[4].size() == 2 && P[4][1] == 'd' ? P[4][0] - '0' : 0;
      if (rank < 1 || rank > 5) return false;
      c.need(3);
      c.addr(0);
      c.addr(2);
      const Opd& mo = in.op[1];
      if (mo.kind != Opd::Addr || mo.coords == kNoSlot || int(c.k.vec[mo.coords].n) != rank)
        c.fail("cp.async.bulk.tensor: expected [tensorMap, {" + std::to_string(rank) + " coordinates}]");
      in.a = uint8_t(rank);
      in.t = uint8_t(Space::Shared);
      in.fn = h_tma_load;
      return true;
    }
    if (P[2] == "bulk" && P.size() == 6 && (P[3] == "shared::cluster" || P[3] == "shared::cta") && P[4] == "global" &&
        P[5] == "mbarrier::complete_tx::bytes") {
      c.need(4); c.addr(0); c.addr(1); c.regimm(2); c.addr(3);
      in.t = uint8_t(Space::Shared);
      in.fn = h_bulk_g2s;
      return true;
    }
    return false;
  }
  return false;
}

}  // namespace emu::interp
