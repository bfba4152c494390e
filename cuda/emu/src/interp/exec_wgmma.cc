// dsv3-emu: warpgroup MMA (PTX ISA 9.0 §9.7.15): wgmma.mma_async, wgmma.fence / commit_group /
// wait_group, executed by the sm90 model (src/sm90/wgmma.h: descriptors, canonical K-/MN-major layouts
// and swizzles, fragments, A from registers, f16/f32 accumulators, every N; its WgmmaGroups keeps the
// groups). What stays here is the scheduling: each warp of the warpgroup executes the instruction for its
// own 32 threads (the model is given this warp's A registers and accumulators; the other warps' rows of D
// are computed and dropped, they depend on nothing of this warp's). Asynchronous and hostile: the product
// is computed at wgmma.wait_group, reading shared memory then through UnitSmem (bounds and race checks as
// reads of this warp at the wgmma's pc), and the accumulator registers hold poison from issue to
// completion, so a read before the wait shows. Errors of the model (invalid descriptors...) are reports.
#include "src/interp/async_mem.h"
#include "src/interp/interp.h"
#include "src/sm90/forms.h"

namespace emu::interp {

namespace {

// in.x: index of the instruction's WgmmaOp form in Kernel::wgmma; operands: d (vector), a (register:
// descriptor, or vector of 4 registers), b descriptor, scale-d, imm-scale-a, imm-scale-b{, imm-trans-a}{, imm-trans-b}

bool complete(Warp& w, Warp::WgOp& op) {
  const Kernel& K = *w.cta->k;
  const Insn& in = K.code[op.pc];
  const uint32_t nregs = sm90::d_regs_per_thread(op.op), t0 = uint32_t(w.id % 4) * 32;
  const Opd* D = &K.vec[in.op[0].slot];
  std::vector<uint32_t> d(size_t(128) * nregs, 0);
  for (uint32_t i = 0; i < nregs; ++i)
    for (uint32_t lane = 0; lane < 32; ++lane)
      d[(t0 + lane) * nregs + i] =
          uint32_t(op.d_in.empty() ? w.regs[size_t(D[i].slot) * 32 + lane] : op.d_in[i * 32 + lane]);
  UnitSmem smem(w, in, 0);
  const sm90::WgmmaStatus st = sm90::wgmma_mma_async(op.op, smem, op.a.empty() ? nullptr : op.a.data(), d.data());
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
    const bool ok = complete(w, it->second);
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
  in.ndst = 1;
  in.fn = h_wgmma;
  return true;
}

}  // namespace emu::interp
