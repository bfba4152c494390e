// dsv3-emu: warpgroup MMA (PTX ISA 9.0 §9.7.15: wgmma.mma_async with A and B from shared-memory matrix
// descriptors, K-major, no swizzle or 32/64/128-byte swizzle; .f32 accumulators; e4m3/e5m2 (k32) and
// f16/bf16 (k16) inputs; scale-d, imm-scale-a/b; wgmma.fence / commit_group / wait_group). Each warp of
// the warpgroup owns 16 rows of the 64-row tile, so a warp computes its part alone. Asynchronous and
// hostile: the product is computed at wgmma.wait_group (reading shared memory then), and the accumulator
// registers hold poison from issue to completion, so a read before the wait shows. Products are exact in
// double and each result is rounded once to f32 (the hardware's narrower FP8 accumulation is not modelled).
#include "src/fp/fp.h"
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

// in.x: N; in.b: K (elements); in.t: A/B element type; in.d: imm-scale-a = -1; in.t2: imm-scale-b = -1
int elem_bytes(Ty t) { return t == T_e4m3 || t == T_e5m2 ? 1 : 2; }
double elem(Ty t, const uint8_t* p) {
  switch (t) {
    case T_e4m3: return fp::e4m3_to_f32(*p);
    case T_e5m2: return fp::e5m2_to_f32(*p);
    case T_bf16: { uint16_t h; std::memcpy(&h, p, 2); return fp::bf16_to_f32(h); }
    default: { uint16_t h; std::memcpy(&h, p, 2); return fp::f16_to_f32(h); }
  }
}

// Shared address of the 16-byte chunk holding (row, kbyte) of a K-major operand (kbyte a multiple of 16).
uint64_t chunk_addr(uint64_t desc, uint32_t row, uint32_t kbyte) {
  const uint64_t start = (desc & 0x3FFF) << 4, lbo = ((desc >> 16) & 0x3FFF) << 4, sbo = ((desc >> 32) & 0x3FFF) << 4;
  const uint32_t mode = uint32_t(desc >> 62);
  if (mode == 0)  // core matrices of 8 rows x 16 bytes: LBO between K neighbours, SBO between 8-row groups
    return start + (row / 8) * sbo + (kbyte / 16) * lbo + (row % 8) * 16;
  const uint32_t span = mode == 1 ? 128 : mode == 2 ? 64 : 32;  // bytes of K per swizzled row
  uint64_t a = start + (row / 8) * sbo + (kbyte / span) * lbo + (row % 8) * span + kbyte % span;
  const uint32_t bits = mode == 1 ? 7 : mode == 2 ? 3 : 1;
  return a ^ (((a >> 7) & bits) << 4);
}

bool complete(Warp& w, const Warp::WgOp& op) {
  const Kernel& K = *w.cta->k;
  const Insn& in = K.code[op.pc];
  const uint32_t N = in.x, KE = in.b;
  const Ty t = Ty(in.t);
  const int eb = elem_bytes(t);
  const uint32_t kbytes = KE * uint32_t(eb);
  const int l0 = 0;
  if (((op.adesc >> 49) & 7) || ((op.bdesc >> 49) & 7)) {
    report(w, &in, l0, Report::Kind::Unsupported, "wgmma matrix descriptor with a base offset",
           {"descriptors " + std::to_string(op.adesc) + ", " + std::to_string(op.bdesc) +
            ": the emulator supports base offset 0 (swizzle atoms aligned)"});
    return false;
  }
  const uint32_t r0 = uint32_t(w.id % 4) * 16;  // this warp's rows of the 64-row tile
  std::vector<double> a(16 * KE), b(size_t(N) * KE);
  auto load = [&](uint64_t desc, uint32_t row, double* out) -> bool {
    for (uint32_t kb = 0; kb < kbytes; kb += 16) {
      const uint8_t* p = access(w, in, l0, Space::Shared, chunk_addr(desc, row, kb), 16, false, false);
      if (!p) return false;
      for (uint32_t i = 0; i < 16; i += uint32_t(eb)) out[(kb + i) / uint32_t(eb)] = elem(t, p + i);
    }
    return true;
  };
  for (uint32_t r = 0; r < 16; ++r)
    if (!load(op.adesc, r0 + r, &a[r * KE])) return false;
  for (uint32_t n = 0; n < N; ++n)
    if (!load(op.bdesc, n, &b[n * KE])) return false;
  const double sa = in.d ? -1.0 : 1.0, sb = in.t2 ? -1.0 : 1.0;
  const Opd* D = &K.vec[in.op[0].slot];
  for (int lane = 0; lane < 32; ++lane) {
    const uint32_t g = uint32_t(lane) >> 2, tig = uint32_t(lane) & 3;
    for (uint32_t i = 0; i < N / 2; ++i) {
      const uint32_t row = g + ((i % 4) >= 2 ? 8 : 0), col = (i / 4) * 8 + 2 * tig + (i & 1);
      double s = 0;
      for (uint32_t k = 0; k < KE; ++k) s += a[row * KE + k] * b[col * KE + k];
      s *= sa * sb;
      uint64_t& reg = w.regs[size_t(D[i].slot) * 32 + lane];
      if (op.scale_d) {
        const uint64_t old = op.d_in.empty() ? reg : op.d_in[i * 32 + uint32_t(lane)];
        s += fp::f32_from_bits(uint32_t(old));
      }
      reg = fp::bits_of(fp::f64_to_f32(s, fp::Round::rn, false, false));
    }
  }
  return true;
}

bool h_wgmma(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const int l = __builtin_ctz(m);
  Warp::WgOp op;
  op.pc = pc_of(w, in);
  op.adesc = src(w, in.op[1])[l];
  op.bdesc = src(w, in.op[2])[l];
  op.scale_d = in.op[3].kind == Opd::Imm ? in.op[3].imm != 0 : pred(w, in.op[3], l);
  bool pending = !w.wg_open.empty();
  for (auto& gq : w.wg_groups) pending |= !gq.empty();
  const Opd* D = &K.vec[in.op[0].slot];
  const uint32_t n = in.op[0].n;
  if (!pending) {  // not chained on a pending op: take the accumulators now, poison them until the wait
    op.d_in.resize(size_t(n) * 32);
    for (uint32_t i = 0; i < n; ++i)
      for (int lane = 0; lane < 32; ++lane) {
        uint64_t& reg = w.regs[size_t(D[i].slot) * 32 + lane];
        op.d_in[i * 32 + uint32_t(lane)] = reg;
        reg = 0xFFFFFFFFu;
      }
  }
  w.wg_open.push_back(std::move(op));
  return true;
}

bool h_wg_fence(Warp&, const Insn&, uint32_t) { return true; }
bool h_wg_commit(Warp& w, const Insn&, uint32_t) {
  w.wg_groups.push_back(std::move(w.wg_open));
  w.wg_open.clear();
  return true;
}
bool h_wg_wait(Warp& w, const Insn& in, uint32_t) {
  const size_t keep = size_t(in.op[0].imm);
  while (w.wg_groups.size() > keep) {
    for (auto& op : w.wg_groups.front())
      if (!complete(w, op)) return false;
    w.wg_groups.erase(w.wg_groups.begin());
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
  if (P.size() != 8 || P[1] != "mma_async" || P[2] != "sync" || P[3] != "aligned") return false;
  unsigned M = 0, N = 0, KK = 0;
  if (std::sscanf(P[4].c_str(), "m%un%uk%u", &M, &N, &KK) != 3 || M != 64 || N < 8 || N > 256 || N % 8) return false;
  const Ty dt = parse_ty(P[5]), at = parse_ty(P[6]), bt = parse_ty(P[7]);
  if (dt != T_f32 || at != bt) return false;
  const bool f8 = at == T_e4m3 || at == T_e5m2, f16 = at == T_bf16 || at == T_f16;
  if (!(f8 && KK == 32) && !(f16 && KK == 16)) return false;
  if (in.nops != (f8 ? 6 : 8)) return false;
  if (in.op[1].kind != Opd::Reg) return false;  // A from registers: not yet
  if (in.op[0].kind != Opd::Vec || in.op[0].n != N / 2) c.fail("wgmma: the accumulator vector must hold N/2 registers");
  for (uint32_t e = 0; e < in.op[0].n; ++e)
    if (c.k.vec[in.op[0].slot + e].kind != Opd::Reg) c.fail("wgmma: accumulators must be registers");
  c.reg(2);
  c.regimm(3);
  for (int i = 4; i < in.nops; ++i)
    if (in.op[i].kind != Opd::Imm) c.fail("wgmma: imm-scale / imm-trans operands must be immediates");
  if ((in.op[4].imm != 1 && in.op[4].imm != -1) || (in.op[5].imm != 1 && in.op[5].imm != -1))
    c.fail("wgmma: imm-scale-a / imm-scale-b must be 1 or -1");
  if (!f8 && (in.op[6].imm != 0 || in.op[7].imm != 0)) return false;  // transposed (MN-major) operands: not yet
  in.x = N;
  in.b = uint8_t(KK);
  in.t = at;
  in.d = in.op[4].imm == -1;
  in.t2 = in.op[5].imm == -1;
  in.ndst = 1;
  in.fn = h_wgmma;
  return true;
}

}  // namespace emu::interp
