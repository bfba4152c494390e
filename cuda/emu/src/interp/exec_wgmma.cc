// dsv3-emu: warpgroup MMA (PTX ISA 9.0 §9.7.15): wgmma.mma_async, wgmma.fence / commit_group /
// wait_group, executed by the sm90 model (src/sm90/wgmma.h: descriptors, canonical K-/MN-major layouts
// and swizzles, fragments, A from registers, f16/f32 accumulators, every N; its WgmmaGroups keeps the
// groups). What stays here is the scheduling: each warp of the warpgroup executes the instruction for its
// own 32 threads (the model is given this warp's A registers and accumulators; the other warps' rows of D
// are computed and dropped, they depend on nothing of this warp's). Asynchronous and hostile: the product
// is computed at wgmma.wait_group, reading shared memory then through UnitSmem (bounds and race checks as
// reads of this warp at the wgmma's pc), and the accumulator registers hold poison from issue to
// completion, so a read before the wait shows. Errors of the model (invalid descriptors...) are reports.
// The shared-memory operands are also read at issue: those bytes are the product's inputs (kept with the
// op), their generic-proxy writes must have been followed by fence.proxy.async in the writing thread
// (proxy_check, proxycheck.h: wgmma reads smem in the async proxy), and a change between the issue and
// the covering wait_group (a store, a TMA landing) is reported, naming both instructions.
// Register rules (reports, non-fatal), from the PTX ISA 9.0 text:
// - wgmma.wait_group (§9.7.15.7.3): "Accessing the accumulator register or the input register containing
//   the fragments of matrix A of a wgmma.mma_async instruction without first performing a
//   wgmma.wait_group instruction that waits on a wgmma-group including that wgmma.mma_async instruction is
//   undefined behavior." Any instruction other than a later wgmma.mma_async (the accumulator chain) that
//   names such a register while the op is in flight is reported (wg_access), and so is a warp that exits
//   with ops in flight or never committed (wg_exit).
// - wgmma.fence (§9.7.15.7.1): it "must be issued by all warps of the warpgroup ... Before the first
//   wgmma.mma_async operation in a warpgroup. Between a register access by a thread in the warpgroup and
//   any wgmma.mma_async instruction that accesses the same registers, either as accumulator or input
//   register containing fragments of matrix A, except when these are accumulator register accesses across
//   multiple wgmma.mma_async instructions of the same shape. In the latter case, an ordering guarantee is
//   provided by default. Otherwise, the behavior is undefined." So a wgmma.mma_async is reported when the
//   warp executed no wgmma.fence before it, when one of its accumulator / A registers was accessed (read or
//   written) by another instruction since the warp's last wgmma.fence, and when it chains on the
//   accumulators of an in-flight wgmma of a different shape with no fence in between. Consecutive
//   wgmma.mma_async of one shape into the same accumulators need no fence (the chain, e.g. cuda/fp8_gemm.cu:
//   one wgmma.fence per K block, then 4 or 8 wgmmas, the first with scale-d 0).
// Only instructions that name such registers (Insn::wgr, marked at decode) pay for the bookkeeping.
#include <algorithm>
#include <cstdio>

#include "src/interp/async_mem.h"
#include "src/interp/interp.h"
#include "src/sm90/forms.h"

namespace emu::interp {

namespace {

// in.x: index of the instruction's WgmmaOp form in Kernel::wgmma; operands: d (vector), a (register:
// descriptor, or vector of 4 registers), b descriptor, scale-d, imm-scale-a, imm-scale-b{, imm-trans-a}{, imm-trans-b}

// Issue: the model's reads of the operands, served from shared memory as it is now, recorded (address,
// length, bytes). No checks here (a refused address reads zeros): the bounds / race checks of these reads
// are made at the wait, through UnitSmem, as before.
struct Capture : sm90::SmemView {
  const Cta& C;
  Warp::WgOp& op;
  Capture(const Cta& c, Warp::WgOp& o) : C(c), op(o) {}
  bool read(uint32_t addr, void* dst, uint32_t n) override {
    if (uint64_t(addr) + n > C.smem.size()) {
      std::memset(dst, 0, n);
      return true;
    }
    std::memcpy(dst, &C.smem[addr], n);
    op.snap_at.emplace_back(addr, n);
    op.snap.insert(op.snap.end(), &C.smem[addr], &C.smem[addr] + n);
    return true;
  }
  bool write(uint32_t, const void*, uint32_t) override { return false; }
};

// Wait: each read goes through UnitSmem (bounds, races) and then gets the bytes recorded at issue (the
// product is the one of the operands at issue). The reads come in the issue's order; a read the cursor
// does not match (it should not happen) is looked up.
struct Replay : sm90::SmemView {
  UnitSmem& smem;
  const Warp::WgOp& op;
  size_t i = 0, off = 0;
  Replay(UnitSmem& s, const Warp::WgOp& o) : smem(s), op(o) {}
  bool read(uint32_t addr, void* dst, uint32_t n) override {
    if (!smem.read(addr, dst, n)) return false;
    if (i >= op.snap_at.size() || op.snap_at[i] != std::make_pair(addr, n)) {
      size_t o = 0, j = 0;
      for (; j < op.snap_at.size() && op.snap_at[j] != std::make_pair(addr, n); ++j) o += op.snap_at[j].second;
      if (j == op.snap_at.size()) return true;  // not read at issue: the bytes as they are
      i = j, off = o;
    }
    std::memcpy(dst, &op.snap[off], n);
    off += n;
    ++i;
    return true;
  }
  bool write(uint32_t, const void*, uint32_t) override { return false; }
};

// Operand bytes that changed between the issue and the covering wait (`wait`): a report naming both.
void check_unchanged(Warp& w, const Warp::WgOp& op, const Insn& wait) {
  Cta& C = *w.cta;
  const Kernel& K = *C.k;
  size_t off = 0;
  for (const auto& [addr, n] : op.snap_at) {
    if (uint64_t(addr) + n <= C.smem.size() && std::memcmp(&C.smem[addr], &op.snap[off], n) != 0) {
      uint32_t b = 0;
      while (C.smem[addr + b] == op.snap[off + b]) ++b;
      if (!C.L->proxy_seen.emplace(op.pc, 0x80000000u | pc_of(w, wait)).second) return;
      char buf[160];
      std::snprintf(buf, sizeof buf, "Shared address 0x%x: byte 0x%02x when the wgmma was issued, 0x%02x at the wait",
                    addr + b, op.snap[off + b], C.smem[addr + b]);
      report(w, &K.code[op.pc], 0, Report::Kind::Race,
             "wgmma.mma_async shared-memory operand written between the wgmma and the wgmma.wait_group that covers it",
             {buf, "issued `" + K.text[op.pc] + "` " + where_line(K, K.code[op.pc]),
              "waited `" + K.text[pc_of(w, wait)] + "` " + where_line(K, wait),
              "the operands must not change until the wait completes (PTX ISA wgmma.mma_async); the product here "
              "uses the bytes as they were at issue"});
      return;
    }
    off += n;
  }
}

bool complete(Warp& w, Warp::WgOp& op, const Insn& wait) {
  const Kernel& K = *w.cta->k;
  const Insn& in = K.code[op.pc];
  check_unchanged(w, op, wait);
  const uint32_t nregs = sm90::d_regs_per_thread(op.op), t0 = uint32_t(w.id % 4) * 32;
  const Opd* D = &K.vec[in.op[0].slot];
  std::vector<uint32_t> d(size_t(128) * nregs, 0);
  for (uint32_t i = 0; i < nregs; ++i)
    for (uint32_t lane = 0; lane < 32; ++lane)
      d[(t0 + lane) * nregs + i] =
          uint32_t(op.d_in.empty() ? w.regs[size_t(D[i].slot) * 32 + lane] : op.d_in[i * 32 + lane]);
  UnitSmem smem(w, in, 0);
  Replay replay(smem, op);
  const sm90::WgmmaStatus st = sm90::wgmma_mma_async(op.op, replay, op.a.empty() ? nullptr : op.a.data(), d.data());
  if (!st.ok) {
    if (!smem.refused) {
      report(w, &in, 0, Report::Kind::InvalidArgument, "Invalid wgmma.mma_async", {st.message});
      w.cta->L->stop = true;
    }
    return false;
  }
  for (uint32_t i = 0; i < nregs; ++i)
    for (uint32_t lane = 0; lane < 32; ++lane) w.regs[size_t(D[i].slot) * 32 + lane] = d[(t0 + lane) * nregs + i];
  return true;
}

std::string reg_name(const Kernel& K, uint32_t slot) {
  auto it = K.wg_names.find(slot);
  return it != K.wg_names.end() ? it->second : "slot " + std::to_string(slot);
}

std::string shape_of(const sm90::WgmmaOp& o) {
  return "m64n" + std::to_string(o.n) + "k" + std::to_string(sm90::wgmma_k(o.atype)) + " (" +
         std::to_string(sm90::d_regs_per_thread(o)) + " accumulator registers)";
}

// The wgmma.fence rule at the issue of `op` (instruction `in`); `prev`: the in-flight op whose
// accumulators it chains on, if any.
void check_fence(Warp& w, const Insn& in, const Warp::WgOp& op, const Warp::WgOp* prev) {
  Launch& L = *w.cta->L;
  const Kernel& K = *w.cta->k;
  const std::string rule =
      "PTX ISA wgmma.fence: it must be executed by the warpgroup before the first wgmma.mma_async and between "
      "a register access by a thread and a wgmma.mma_async that accesses the same registers (accumulators or "
      "A fragment), except accumulator accesses across wgmma.mma_async of the same shape; otherwise undefined";
  if (w.wg_fences == 0) {
    if (L.wg_seen.emplace(0xFFFFFFFFu, 0xFFFFFFFFu).second)  // once a launch: the chain after it is the same bug
      report(w, &in, 0, Report::Kind::Race, "wgmma.mma_async without a wgmma.fence before it",
             {"warp " + std::to_string(w.id) + " executed no wgmma.fence before this wgmma.mma_async: `" +
                  K.text[op.pc] + "`",
              rule});
    return;
  }
  if (prev && prev->fences == w.wg_fences &&
      (prev->op.n != op.op.n || prev->op.dtype != op.op.dtype || prev->op.atype != op.op.atype)) {
    if (L.wg_seen.emplace(op.pc, 0x40000000u | prev->pc).second)
      report(w, &in, 0, Report::Kind::Race,
             "wgmma.mma_async chains on the accumulators of an in-flight wgmma of another shape without wgmma.fence",
             {"this one is " + shape_of(op.op) + ", the in-flight one " + shape_of(prev->op) + ": `" +
                  K.text[prev->pc] + "` " + where_line(K, K.code[prev->pc]),
              rule});
    return;
  }
  auto chk = [&](uint32_t slot, const char* as) {
    const auto& t = w.wg_touch[slot];
    if (t.first != w.wg_fences + 1) return true;
    if (L.wg_seen.emplace(op.pc, t.second).second)
      report(w, &in, 0, Report::Kind::Race,
             "wgmma.mma_async uses a register accessed by another instruction since the last wgmma.fence",
             {"register " + reg_name(K, slot) + " (" + as + " of this wgmma) was accessed by `" + K.text[t.second] +
                  "` " + where_line(K, K.code[t.second]) + " after the warp's last wgmma.fence",
              rule});
    return false;
  };
  const Opd* D = &K.vec[in.op[0].slot];
  for (uint32_t i = 0; i < in.op[0].n; ++i)
    if (!chk(D[i].slot, "accumulator")) return;
  if (op.op.a_in_regs)
    for (uint32_t r = 0; r < 4; ++r)
      if (!chk(K.vec[in.op[1].slot + r].slot, "A fragment element")) return;
}

// Completion of the op with handle h: its registers are the threads' again (unless a later op took them).
void release_registers(Warp& w, const Warp::WgOp& op, uint64_t h) {
  const Kernel& K = *w.cta->k;
  const Insn& in = K.code[op.pc];
  const Opd* D = &K.vec[in.op[0].slot];
  for (uint32_t i = 0; i < in.op[0].n; ++i)
    if (w.wg_busy[D[i].slot] >> 1 == h + 1) w.wg_busy[D[i].slot] = 0;
  if (op.op.a_in_regs)
    for (uint32_t r = 0; r < 4; ++r) {
      uint64_t& b = w.wg_busy[K.vec[in.op[1].slot + r].slot];
      if (b >> 1 == h + 1) b = 0;
    }
}

bool h_wgmma(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const int l = __builtin_ctz(m);
  Warp::WgOp op;
  op.pc = pc_of(w, in);
  op.op = K.wgmma[in.x];
  if (op.op.a_in_regs) {  // this warp's threads of the [128][4] A registers (the others' rows are not ours)
    op.a.assign(128 * 4, 0);
    const uint32_t t0 = uint32_t(w.id % 4) * 32;
    for (uint32_t r = 0; r < 4; ++r) {
      const uint64_t* v = w.regs + size_t(K.vec[in.op[1].slot + r].slot) * 32;
      for (uint32_t lane = 0; lane < 32; ++lane) op.a[(t0 + lane) * 4 + r] = uint32_t(v[lane]);
    }
  } else {
    op.op.desc_a = src(w, in.op[1])[l];
  }
  op.op.desc_b = src(w, in.op[2])[l];
  op.op.scale_d = in.op[3].kind == Opd::Imm ? in.op[3].imm != 0 : pred(w, in.op[3], l);
  const Opd* D = &K.vec[in.op[0].slot];
  const uint32_t n = in.op[0].n;
  const uint64_t h = w.wg_next++;
  op.fences = w.wg_fences;
  // chained: its accumulators are those of an op in flight (completed in order, so they hold that op's
  // result when this one completes); else the accumulators are taken now and poisoned until the wait
  const uint64_t busy = w.wg_busy[D[0].slot];
  const bool chained = busy != 0 && !(busy & 1) && w.wg_ops.count((busy >> 1) - 1);
  check_fence(w, in, op, chained ? &w.wg_ops.at((busy >> 1) - 1) : nullptr);
  if (!chained) {
    op.d_in.resize(size_t(n) * 32);
    for (uint32_t i = 0; i < n; ++i)
      for (int lane = 0; lane < 32; ++lane) {
        uint64_t& reg = w.regs[size_t(D[i].slot) * 32 + lane];
        op.d_in[i * 32 + uint32_t(lane)] = uint32_t(reg);
        reg = 0xFFFFFFFFu;
      }
  }
  {  // the operands' bytes at issue (the product's inputs), and the fence check of these async-proxy reads
    thread_local std::vector<double> scratch;
    scratch.resize(size_t(sm90::wgmma_k(op.op.atype)) * std::max<uint32_t>(64, op.op.n));
    Capture cap(*w.cta, op);
    if (!op.op.a_in_regs) sm90::load_a(op.op, cap, nullptr, scratch.data());
    const size_t a_reads = op.snap_at.size();
    sm90::load_b(op.op, cap, scratch.data());
    for (size_t i = 0; i < op.snap_at.size(); ++i)
      if (!proxy_check(w, in, l, op.snap_at[i].first, op.snap_at[i].second,
                       i < a_reads ? "A operand of the wgmma" : "B operand of the wgmma"))
        break;
  }
  w.wg.issue(h);  // the fence rule is checked above (check_fence), per register
  for (uint32_t i = 0; i < n; ++i) w.wg_busy[D[i].slot] = (h + 1) << 1;
  if (op.op.a_in_regs)
    for (uint32_t r = 0; r < 4; ++r) w.wg_busy[K.vec[in.op[1].slot + r].slot] = ((h + 1) << 1) | 1;
  w.wg_ops.emplace(h, std::move(op));
  return true;
}

bool h_wg_fence(Warp& w, const Insn&, uint32_t) {
  w.wg.fence();
  ++w.wg_fences;
  return true;
}
bool h_wg_commit(Warp& w, const Insn&, uint32_t) {
  w.wg.commit();
  return true;
}
bool h_wg_wait(Warp& w, const Insn& in, uint32_t) {
  for (uint64_t h : w.wg.wait(uint32_t(in.op[0].imm))) {
    auto it = w.wg_ops.find(h);
    release_registers(w, it->second, h);
    const bool ok = complete(w, it->second, in);
    w.wg_ops.erase(it);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void mark_wgmma_registers(Kernel& K) {
  if (K.wgmma.empty()) return;
  K.wg_role.assign(K.nslots, 0);
  for (const Insn& in : K.code) {
    if (in.fn != h_wgmma) continue;
    for (uint32_t e = 0; e < in.op[0].n; ++e) K.wg_role[K.vec[in.op[0].slot + e].slot] |= kWgAcc;
    if (K.wgmma[in.x].a_in_regs)
      for (uint32_t e = 0; e < in.op[1].n; ++e) K.wg_role[K.vec[in.op[1].slot + e].slot] |= kWgA;
  }
  auto role = [&](uint32_t slot) { return slot != kNoSlot && slot < K.nslots && K.wg_role[slot] != 0; };
  for (Insn& in : K.code) {
    if (in.fn == h_wgmma) continue;
    bool any = in.guard != kNoSlot && role(in.guard);
    for (int i = 0; i < in.nops && !any; ++i) {
      const Opd& o = in.op[i];
      if (o.kind == Opd::Reg || o.kind == Opd::Addr) any = role(o.slot);
      if (o.kind == Opd::Vec)
        for (uint32_t e = 0; e < o.n && !any; ++e)
          any = K.vec[o.slot + e].kind == Opd::Reg && role(K.vec[o.slot + e].slot);
      if (o.kind == Opd::Addr && o.coords != kNoSlot) {
        const Opd& cv = K.vec[o.coords];
        for (uint32_t e = 0; e < cv.n && !any; ++e)
          any = K.vec[cv.slot + e].kind == Opd::Reg && role(K.vec[cv.slot + e].slot);
      }
    }
    in.wgr = any;
  }
}

void wg_access(Warp& w, const Insn& in, uint32_t m) {
  if (w.wg_busy.empty()) return;
  const Kernel& K = *w.cta->k;
  const uint32_t pc = pc_of(w, in);
  auto one = [&](uint32_t slot, bool write) {
    if (slot == kNoSlot || slot >= K.nslots || !K.wg_role[slot]) return;
    w.wg_touch[slot] = {w.wg_fences + 1, pc};
    const uint64_t b = w.wg_busy[slot];
    if (!b) return;
    auto it = w.wg_ops.find((b >> 1) - 1);
    const uint32_t issue = it != w.wg_ops.end() ? it->second.pc : pc;
    if (!w.cta->L->wg_seen.emplace(pc, issue).second) return;
    const bool a = b & 1;
    const int l = __builtin_ctz(m);
    report(w, &in, l, Report::Kind::Race,
           std::string("wgmma.mma_async ") + (a ? "A fragment" : "accumulator") + " register " +
               (write ? "written" : "read") + " before the wgmma.wait_group that covers it",
           {"register " + reg_name(K, slot) + ", by warp " + std::to_string(w.id) + " lane " + std::to_string(l) +
                ": `" + K.text[pc] + "`",
            "in flight: `" + K.text[issue] + "` " + where_line(K, K.code[issue]),
            "PTX ISA wgmma.wait_group: accessing the accumulator or A-fragment registers of a wgmma.mma_async "
            "before a wgmma.wait_group that waits on its group is undefined" +
                std::string(a ? "" : "; the register holds poison here until then")});
  };
  if (in.guard != kNoSlot) one(in.guard, false);
  for (int i = 0; i < in.nops; ++i) {
    const Opd& o = in.op[i];
    const bool wr = i < in.ndst;
    if (o.kind == Opd::Reg) one(o.slot, wr);
    else if (o.kind == Opd::Addr) {
      one(o.slot, false);
      if (o.coords != kNoSlot) {
        const Opd& cv = K.vec[o.coords];
        for (uint32_t e = 0; e < cv.n; ++e)
          if (K.vec[cv.slot + e].kind == Opd::Reg) one(K.vec[cv.slot + e].slot, false);
      }
    } else if (o.kind == Opd::Vec) {
      for (uint32_t e = 0; e < o.n; ++e)
        if (K.vec[o.slot + e].kind == Opd::Reg) one(K.vec[o.slot + e].slot, wr);
    }
  }
}

void wg_exit(Warp& w, const Insn& in, uint32_t m) {
  const size_t open = w.wg.uncommitted(), groups = w.wg.pending_groups();
  if (!open && !groups) return;
  const Kernel& K = *w.cta->k;
  const std::vector<uint64_t> fl = w.wg.in_flight();
  const uint32_t first = fl.empty() || !w.wg_ops.count(fl[0]) ? pc_of(w, in) : w.wg_ops.at(fl[0]).pc;
  if (!w.cta->L->wg_seen.emplace(pc_of(w, in), 0x20000000u | first).second) return;
  std::vector<std::string> d;
  if (groups)
    d.push_back(std::to_string(groups) + " wgmma group(s) committed and never waited on (no wgmma.wait_group covers them)");
  if (open) d.push_back(std::to_string(open) + " wgmma.mma_async issued and never committed (no wgmma.commit_group)");
  d.push_back("oldest in flight: `" + K.text[first] + "` " + where_line(K, K.code[first]));
  d.push_back("PTX ISA wgmma.wait_group / commit_group: the accumulators of a wgmma.mma_async are the thread's only "
              "after a wgmma.wait_group that waits on its group (uncommitted ops belong to no group)");
  report(w, &in, __builtin_ctz(m), Report::Kind::Race, "Warp exits with wgmma.mma_async in flight", d);
}

bool bind_wgmma(BindCtx& c) {
  const auto& P = c.pi.parts;
  Insn& in = c.in;
  if (P[0] != "wgmma") return false;
  in.flow = Flow::Coll;  // .sync.aligned: every lane of the warp
  in.c = 0xFF;
  in.ndst = 0;
  if (P.size() == 4 && P[2] == "sync" && P[3] == "aligned") {
    if (P[1] == "fence") { c.need(0); in.fn = h_wg_fence; return true; }
    if (P[1] == "commit_group") { c.need(0); in.fn = h_wg_commit; return true; }
    if (P[1] == "wait_group") {
      c.need(1);
      if (in.op[0].kind != Opd::Imm) c.fail("wgmma.wait_group takes an immediate");
      in.fn = h_wg_wait;
      return true;
    }
    return false;
  }
  sm90::WgmmaOp op;
  std::string why;
  if (!sm90::parse_wgmma(P, &op, &why)) return false;  // not a form the model executes: unsupported
  const bool f8 = op.atype == sm90::WgType::e4m3 || op.atype == sm90::WgType::e5m2;
  op.a_in_regs = in.nops > 1 && in.op[1].kind == Opd::Vec;
  // fp8: d, a, b, scale-d, imm-scale-a, imm-scale-b; f16/bf16 add imm-trans-b, and imm-trans-a with an A descriptor
  const int nops = 6 + (f8 ? 0 : op.a_in_regs ? 1 : 2);
  if (in.nops != nops) c.fail("wgmma.mma_async: expected " + std::to_string(nops) + " operands");
  const uint32_t nd = sm90::d_regs_per_thread(op);
  if (in.op[0].kind != Opd::Vec || in.op[0].n != nd)
    c.fail("wgmma: the accumulator vector must hold " + std::to_string(nd) + " registers");
  for (uint32_t e = 0; e < in.op[0].n; ++e) {
    if (c.k.vec[in.op[0].slot + e].kind != Opd::Reg) c.fail("wgmma: accumulators must be registers");
    if (e < c.pi.ops[0].elems.size()) c.k.wg_names[c.k.vec[in.op[0].slot + e].slot] = c.pi.ops[0].elems[e].name;
  }
  if (op.a_in_regs) {
    if (in.op[1].n != sm90::a_regs_per_thread(op)) c.fail("wgmma: A from registers takes a vector of 4 registers");
    for (uint32_t e = 0; e < in.op[1].n; ++e) {
      if (c.k.vec[in.op[1].slot + e].kind != Opd::Reg) c.fail("wgmma: A fragment elements must be registers");
      if (e < c.pi.ops[1].elems.size()) c.k.wg_names[c.k.vec[in.op[1].slot + e].slot] = c.pi.ops[1].elems[e].name;
    }
  } else {
    c.reg(1);
  }
  c.reg(2);
  c.regimm(3);
  for (int i = 4; i < in.nops; ++i)
    if (in.op[i].kind != Opd::Imm) c.fail("wgmma: imm-scale / imm-trans operands must be immediates");
  op.scale_a = int(in.op[4].imm);
  op.scale_b = int(in.op[5].imm);
  if (!f8) {
    op.trans_b = in.op[in.nops - 1].imm != 0;
    if (!op.a_in_regs) op.trans_a = in.op[6].imm != 0;
    for (int i = 6; i < in.nops; ++i)
      if (in.op[i].imm != 0 && in.op[i].imm != 1) c.fail("wgmma: imm-trans-a / imm-trans-b must be 0 or 1");
  }
  why = sm90::validate(op);  // descriptors are 0 here: only the static part is checked
  if (!why.empty()) c.fail("wgmma: " + why);
  in.x = uint32_t(c.k.wgmma.size());
  c.k.wgmma.push_back(op);
  c.k.async_proxy = true;
  in.ndst = 1;
  in.fn = h_wgmma;
  return true;
}

}  // namespace emu::interp
