// dsv3-emu: warp collectives (PTX ISA 9.0 §9.7.8.6 shfl.sync, §9.7.13.8 vote.sync, §9.7.13.9
// match.sync, §9.7.13.10 redux.sync, §9.7.13.11 elect.sync). The scheduler (cta.cc, Flow::Coll) runs
// them only once every lane of the member mask is at the instruction, so a handler sees all of them.
// Values read from a lane outside the member mask are undefined: poison (all ones).
#include "src/interp/interp.h"

namespace emu::interp {

namespace {

// shfl.sync.{up,down,bfly,idx}.b32 d[|p], a, b, c, membermask. in.a: mode 0 up, 1 down, 2 bfly, 3 idx;
// in.b: 1 when p is present.
bool h_shfl(Warp& w, const Insn& in, uint32_t m) {
  const int o = in.b ? 1 : 0;
  const Src a = src(w, in.op[1 + o]), b = src(w, in.op[2 + o]), c = src(w, in.op[3 + o]), mk = src(w, in.op[4 + o]);
  uint64_t* d = dst(w, in.op[0]);
  uint64_t* p = in.b ? dst(w, in.op[1]) : nullptr;
  uint64_t av[32];
  each(m, [&](int l) { av[l] = uint32_t(a[l]); });
  uint64_t rd[32];
  bool rp[32];
  each(m, [&](int l) {
    const uint32_t bval = uint32_t(b[l]) & 0x1F, cc = uint32_t(c[l]);
    const uint32_t cval = cc & 0x1F, segmask = (cc >> 8) & 0x1F;
    const uint32_t lane = uint32_t(l);
    const uint32_t maxLane = (lane & segmask) | (cval & ~segmask);
    const uint32_t minLane = lane & segmask;
    int32_t j = 0;
    bool pv = false;
    switch (in.a) {
      case 0: j = int32_t(lane) - int32_t(bval); pv = j >= int32_t(maxLane); break;
      case 1: j = int32_t(lane + bval); pv = j <= int32_t(maxLane); break;
      case 2: j = int32_t(lane ^ bval); pv = j <= int32_t(maxLane); break;
      default: j = int32_t(minLane | (bval & ~segmask)); pv = j <= int32_t(maxLane); break;
    }
    if (!pv) j = int32_t(lane);
    const uint32_t members = uint32_t(mk[l]);
    rd[l] = (j >= 0 && j < 32 && (members >> j & 1) && (m >> j & 1)) ? av[j] : 0xFFFFFFFFu;
    rp[l] = pv;
  });
  each(m, [&](int l) {
    d[l] = rd[l];
    if (p) p[l] = rp[l];
  });
  return true;
}

// vote.sync.{all,any,uni}.pred d, {!}a, membermask; vote.sync.ballot.b32 d, {!}a, membermask. in.a: 0 all,
// 1 any, 2 uni, 3 ballot
bool h_vote(Warp& w, const Insn& in, uint32_t m) {
  uint32_t ballot = 0;
  each(m, [&](int l) {
    if (pred(w, in.op[1], l)) ballot |= 1u << l;
  });
  uint64_t r;
  switch (in.a) {
    case 0: r = ballot == m; break;
    case 1: r = ballot != 0; break;
    case 2: r = ballot == 0 || ballot == m; break;
    default: r = ballot; break;
  }
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = r; });
  return true;
}

// redux.sync.op.type d, a, membermask. in.a: 0 add, 1 min, 2 max, 3 and, 4 or, 5 xor; in.t: type
bool h_redux(Warp& w, const Insn& in, uint32_t m) {
  const Src a = src(w, in.op[1]);
  const bool s = in.t == T_s32;
  uint32_t r = 0;
  bool first = true;
  each(m, [&](int l) {
    const uint32_t v = uint32_t(a[l]);
    if (first) { r = v; first = false; return; }
    switch (in.a) {
      case 0: r += v; break;
      case 1: r = s ? uint32_t(std::min(int32_t(r), int32_t(v))) : std::min(r, v); break;
      case 2: r = s ? uint32_t(std::max(int32_t(r), int32_t(v))) : std::max(r, v); break;
      case 3: r &= v; break;
      case 4: r |= v; break;
      default: r ^= v; break;
    }
  });
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = r; });
  return true;
}

// match.any.sync.bN d, a, membermask; match.all.sync.bN d[|p], a, membermask. in.a: 0 any, 1 all;
// in.b: p present; in.c is the member operand index (set by the binder)
bool h_match(Warp& w, const Insn& in, uint32_t m) {
  const int o = in.b ? 1 : 0;
  const Src a = src(w, in.op[1 + o]);
  const uint64_t vm = in.t == T_b32 ? 0xFFFFFFFFull : ~0ull;
  uint64_t* d = dst(w, in.op[0]);
  uint64_t* p = in.b ? dst(w, in.op[1]) : nullptr;
  uint64_t vals[32];
  each(m, [&](int l) { vals[l] = a[l] & vm; });
  if (in.a == 0) {
    uint32_t res[32];
    each(m, [&](int l) {
      uint32_t s = 0;
      each(m, [&](int k) { if (vals[k] == vals[l]) s |= 1u << k; });
      res[l] = s;
    });
    each(m, [&](int l) { d[l] = res[l]; });
  } else {
    bool all = true;
    const uint64_t v0 = vals[__builtin_ctz(m)];
    each(m, [&](int l) { all &= vals[l] == v0; });
    each(m, [&](int l) {
      d[l] = all ? m : 0;
      if (p) p[l] = all;
    });
  }
  return true;
}

// elect.sync d|p, membermask: the lowest lane of the member mask is the leader.
bool h_elect(Warp& w, const Insn& in, uint32_t m) {
  const int leader = __builtin_ctz(m);
  uint64_t* d = dst(w, in.op[0]);
  uint64_t* p = dst(w, in.op[1]);
  each(m, [&](int l) {
    d[l] = uint32_t(leader);
    p[l] = l == leader;
  });
  return true;
}

}  // namespace

bool bind_warp(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  if (op == "shfl") {
    if (P.size() != 4 || P[1] != "sync" || P[3] != "b32") return false;
    static const char* modes[] = {"up", "down", "bfly", "idx"};
    int mode = -1;
    for (int i = 0; i < 4; ++i)
      if (P[2] == modes[i]) mode = i;
    if (mode < 0) return false;
    const bool hp = in.nops == 6;
    if (in.nops != 5 && in.nops != 6) c.fail("shfl.sync: expected d[|p], a, b, c, membermask");
    c.reg(0);
    if (hp) c.reg(1);
    const int o = hp ? 1 : 0;
    for (int i = 1; i <= 4; ++i) c.regimm(i + o);
    c.fimm(1 + o, T_none);
    in.a = uint8_t(mode);
    in.b = hp;
    in.c = uint8_t(4 + o);
    in.ndst = uint8_t(1 + o);
    in.flow = Flow::Coll;
    in.fn = h_shfl;
    return true;
  }
  if (op == "vote") {
    if (P.size() != 4 || P[1] != "sync") return false;
    const Ty t = parse_ty(P[3]);
    if (P[2] == "all" && t == T_pred) in.a = 0;
    else if (P[2] == "any" && t == T_pred) in.a = 1;
    else if (P[2] == "uni" && t == T_pred) in.a = 2;
    else if (P[2] == "ballot" && t == T_b32) in.a = 3;
    else return false;
    c.need(3);
    c.reg(0);
    c.reg(1);
    c.regimm(2);
    in.c = 2;
    in.ndst = 1;
    in.flow = Flow::Coll;
    in.fn = h_vote;
    return true;
  }
  if (op == "redux") {
    if (P.size() != 4 || P[1] != "sync") return false;
    static const char* ops[] = {"add", "min", "max", "and", "or", "xor"};
    int o = -1;
    for (int i = 0; i < 6; ++i)
      if (P[2] == ops[i]) o = i;
    const Ty t = parse_ty(P[3]);
    if (o < 0) return false;
    if (o <= 2 ? (t != T_u32 && t != T_s32) : t != T_b32) return false;
    c.need(3);
    c.reg(0);
    c.regimm(1);
    c.regimm(2);
    in.a = uint8_t(o);
    in.t = t;
    in.c = 2;
    in.ndst = 1;
    in.flow = Flow::Coll;
    in.fn = h_redux;
    return true;
  }
  if (op == "match") {
    if (P.size() != 4 || P[2] != "sync") return false;
    const Ty t = parse_ty(P[3]);
    if (t != T_b32 && t != T_b64) return false;
    if (P[1] == "any") in.a = 0;
    else if (P[1] == "all") in.a = 1;
    else return false;
    const bool hp = in.nops == 4;
    if (hp && in.a == 0) c.fail("match.any has no predicate destination");
    c.need(hp ? 4 : 3);
    c.reg(0);
    if (hp) c.reg(1);
    c.regimm(1 + hp);
    c.regimm(2 + hp);
    in.b = hp;
    in.t = t;
    in.c = uint8_t(2 + hp);
    in.ndst = uint8_t(1 + hp);
    in.flow = Flow::Coll;
    in.fn = h_match;
    return true;
  }
  if (op == "elect") {
    if (P.size() != 2 || P[1] != "sync") return false;
    c.need(3);
    c.reg(0);
    c.reg(1);
    c.regimm(2);
    in.c = 2;
    in.ndst = 2;
    in.flow = Flow::Coll;
    in.fn = h_elect;
    return true;
  }
  return false;
}

}  // namespace emu::interp
