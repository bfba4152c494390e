// dsv3-emu: thread-block clusters (PTX ISA 9.0 §2.2.2; §9.7.13.4 barrier.cluster.arrive / wait, §9.7.9.18
// mapa, §5.1.x .shared::cluster). The CTAs of a cluster run together (launch.cc, cta.cc run_cluster); a
// shared::cluster address carries the target CTA's rank + 1 in bits 24.. (0: the executing CTA, so every
// shared::cta address is also a valid shared::cluster address), generic ones the same inside the shared
// window. The cluster barrier completes when every non-exited thread of the cluster has arrived.
#include "src/interp/module.h"

namespace emu::interp {

namespace {

void complete_cluster_phase(Cluster& cl) {
  cl.phase += 1;
  cl.arrived = 0;
  for (Cta* c : cl.ctas) {
    if (c->L->opt->racecheck) c->race.complete(kClusterSyncId, {});
    for (auto& w : c->warps)
      for (uint32_t t = w.exists; t; t &= t - 1) {
        const int l = __builtin_ctz(t);
        if (w.st[l] == kClusterWait) w.st[l] = kRun;  // re-executes its wait
      }
  }
}

void maybe_complete(Cluster& cl) {
  if (cl.arrived > 0 && cl.arrived + cl.exited >= cl.threads) complete_cluster_phase(cl);
}

// barrier.cluster.arrive{.release,.relaxed}{.aligned}
bool h_cluster_arrive(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  Cluster& cl = *C.cl;
  if (w.cl_arrived & m) {
    report(w, &in, __builtin_ctz(w.cl_arrived & m), Report::Kind::InvalidArgument,
           "barrier.cluster.arrive twice without barrier.cluster.wait", {"the ISA leaves a second arrival undefined"});
    C.L->stop = true;
    return false;
  }
  each(m, [&](int l) { w.cl_target[l] = cl.phase + 1; });
  w.cl_arrived |= m;
  cl.arrived += uint32_t(__builtin_popcount(m));
  if (C.L->opt->racecheck && !in.a) C.race.release(w.id, kClusterSyncId);  // .relaxed: no ordering
  maybe_complete(cl);
  return true;
}

// barrier.cluster.wait{.acquire}{.aligned}: lanes whose arrival's phase has not completed block
bool h_cluster_wait(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  Cluster& cl = *C.cl;
  if (m & ~w.cl_arrived) {
    report(w, &in, __builtin_ctz(m & ~w.cl_arrived), Report::Kind::InvalidArgument,
           "barrier.cluster.wait without a preceding barrier.cluster.arrive", {"the ISA leaves this undefined"});
    C.L->stop = true;
    return false;
  }
  each(m, [&](int l) {
    if (w.cl_target[l] > cl.phase) {
      w.blocked |= 1u << l;
      w.st[l] = kClusterWait;  // (the scheduler sets the waiting state; kClusterWait names what it waits for)
    }
  });
  const uint32_t passed = m & ~w.blocked;
  w.cl_arrived &= ~passed;
  if (passed && C.L->opt->racecheck) C.race.acquire(w.id, kClusterSyncId);
  return true;
}

// mapa{.shared::cluster}.{u32,u64} d, a, rank: the address of the same shared variable in CTA `rank`.
// in.a: 1 generic (no state space)
bool h_mapa(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  const Launch& L = *C.L;
  const Src a = src(w, in.op[1]), r = src(w, in.op[2]);
  uint64_t* d = dst(w, in.op[0]);
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint32_t rank = uint32_t(r[l]);
    uint64_t off = a[l];
    if (in.a && !from_generic(L, Space::Shared, off, &off)) off = ~0ull;
    off &= (1ull << kClusterRankShift) - 1;  // a shared::cluster address of any CTA maps too
    if (rank >= C.cl->ctas.size() || off == ((1ull << kClusterRankShift) - 1)) {
      report(w, &in, l, Report::Kind::InvalidArgument, "Invalid mapa operands",
             {"rank " + std::to_string(rank) + " of a cluster of " + std::to_string(C.cl->ctas.size()) +
              " CTAs, address " + std::to_string(a[l])});
      C.L->stop = true;
      ok = false;
      return;
    }
    const uint64_t cluster_addr = (uint64_t(rank) + 1) << kClusterRankShift | off;
    d[l] = in.a ? to_generic(L, Space::Shared, cluster_addr) : cluster_addr & zmask(in.c * 8);
  });
  return ok;
}

}  // namespace

void cluster_exited(Cta& C, uint32_t n) {
  Cluster& cl = *C.cl;
  cl.exited += n;
  maybe_complete(cl);
}

bool bind_cluster(BindCtx& c) {
  const auto& P = c.pi.parts;
  Insn& in = c.in;
  if (P[0] == "barrier" && P.size() >= 3 && P[1] == "cluster") {
    const bool arrive = P[2] == "arrive", wait = P[2] == "wait";
    if (!arrive && !wait) return false;
    bool relaxed = false;
    for (size_t i = 3; i < P.size(); ++i) {
      if (P[i] == "relaxed" && arrive) relaxed = true;
      else if (P[i] == "release" && arrive) continue;
      else if (P[i] == "acquire" && wait) continue;
      else if (P[i] == "aligned") continue;
      else return false;
    }
    c.need(0);
    in.a = relaxed;
    in.ndst = 0;
    in.fn = arrive ? h_cluster_arrive : h_cluster_wait;
    if (wait) in.flow = Flow::Wait;
    return true;
  }
  if (P[0] == "mapa") {
    const Ty t = c.type_at(0);
    if (t != T_u32 && t != T_u64) return false;
    if (P.size() == 3 && P[1] == "shared::cluster") in.a = 0;
    else if (P.size() == 2 && t == T_u64) in.a = 1;
    else return false;
    c.need(3);
    c.reg(0);
    c.regimm(1);
    c.regimm(2);
    in.c = uint8_t(ty_bits(t) / 8);
    in.ndst = 1;
    in.fn = h_mapa;
    return true;
  }
  return false;
}

}  // namespace emu::interp
