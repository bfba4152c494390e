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
  if (w.wg.in_flight().empty()) {  // not chained on a pending op: take the accumulators now, poison them until the wait
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
  const uint64_t h = w.wg_next++;
  w.wg.issue(h);  // a missing wgmma.fence is not reported: register accesses are not tracked here
  w.wg_ops.emplace(h, std::move(op));
  return true;
}

bool h_wg_fence(Warp& w, const Insn&, uint32_t) {
  w.wg.fence();
  return true;
}
bool h_wg_commit(Warp& w, const Insn&, uint32_t) {
  w.wg.commit();
  return true;
}
bool h_wg_wait(Warp& w, const Insn& in, uint32_t) {
  for (uint64_t h : w.wg.wait(uint32_t(in.op[0].imm))) {
    auto it = w.wg_ops.find(h);
    const bool ok = complete(w, it->second, in);
    w.wg_ops.erase(it);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

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
  for (uint32_t e = 0; e < in.op[0].n; ++e)
    if (c.k.vec[in.op[0].slot + e].kind != Opd::Reg) c.fail("wgmma: accumulators must be registers");
  if (op.a_in_regs) {
    if (in.op[1].n != sm90::a_regs_per_thread(op)) c.fail("wgmma: A from registers takes a vector of 4 registers");
    for (uint32_t e = 0; e < in.op[1].n; ++e)
      if (c.k.vec[in.op[1].slot + e].kind != Opd::Reg) c.fail("wgmma: A fragment elements must be registers");
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
