// dsv3-emu: the SIMT executor and CTA scheduler (DESIGN.md "Execution model"). A warp runs the group of
// its lanes at the lowest PC (independent thread scheduling in a deterministic order), the group
// continues until it reaches the PC of other lanes (they merge), diverges, or blocks. Barriers follow
// PTX ISA 9.0 §9.7.13.1 (bar / barrier: named barriers 0..15, thread counts); warp collectives wait for
// every lane of their member mask at the same instruction. All-warps-blocked is a deadlock report.
#include <algorithm>
#include <chrono>

#include "src/interp/module.h"

namespace emu::interp {

bool Warp::done() const {
  for (uint32_t m = exists; m; m &= m - 1)
    if (st[__builtin_ctz(m)] != kExited) return false;
  return true;
}

uint32_t pc_of(const Warp& w, const Insn& in) { return uint32_t(&in - w.cta->k->code.data()); }

namespace {

enum class Run { Progress, Blocked, Finished, Stopped };

std::string lanes_text(uint32_t m) {
  if (m == 0xFFFFFFFFu) return "all 32 lanes";
  std::string s;
  int i = 0;
  while (i < 32) {
    if (!(m >> i & 1)) { ++i; continue; }
    int j = i;
    while (j + 1 < 32 && (m >> (j + 1) & 1)) ++j;
    if (!s.empty()) s += ",";
    s += j > i ? std::to_string(i) + "-" + std::to_string(j) : std::to_string(i);
    i = j + 1;
  }
  return "lane" + std::string(__builtin_popcount(m) > 1 ? "s " : " ") + s;
}

// Strict mode: registers read by `in` for lanes `m` must have been written.
bool check_uninit(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  auto chk = [&](const Opd& o) -> bool {
    if ((o.kind == Opd::Reg || o.kind == Opd::Addr) && o.slot != kNoSlot) {
      uint32_t bad = m & ~w.written[o.slot];
      if (bad) {
        Launch& L = *w.cta->L;
        if (L.race_seen.emplace(std::make_pair(pc_of(w, in), 0xFFFFFFFFu), 1).second) {
          report(w, &in, __builtin_ctz(bad), Report::Kind::Uninitialized,
                 "Uninitialized register read",
                 {"Register slot " + std::to_string(o.slot) + " read by " + lanes_text(bad) + " before any write: `" +
                  K.text[pc_of(w, in)] + "`"});
        }
        return false;
      }
    }
    return true;
  };
  if (in.guard != kNoSlot) {
    Opd g;
    g.slot = in.guard;
    chk(g);
  }
  for (int i = in.ndst; i < in.nops; ++i) {
    const Opd& o = in.op[i];
    if (o.kind == Opd::Vec) {
      for (uint32_t e = 0; e < o.n; ++e) chk(K.vec[o.slot + e]);
    } else {
      chk(o);
    }
  }
  // a st/atom/mma source vector listed as the first operand (ndst == 0) is covered above; destinations:
  for (int i = 0; i < in.ndst && i < in.nops; ++i) {
    const Opd& o = in.op[i];
    if (o.kind == Opd::Vec) {
      for (uint32_t e = 0; e < o.n; ++e)
        if (K.vec[o.slot + e].kind == Opd::Reg) w.written[K.vec[o.slot + e].slot] |= m;
    } else if (o.kind == Opd::Reg) {
      w.written[o.slot] |= m;
    }
  }
  return true;
}

uint32_t guard_mask(const Warp& w, const Insn& in, uint32_t g) {
  const uint64_t* p = w.regs + size_t(in.guard) * 32;
  uint32_t m = 0;
  for (uint32_t t = g; t; t &= t - 1) {
    const int l = __builtin_ctz(t);
    if ((p[l] != 0) != in.guard_neg) m |= 1u << l;
  }
  return m;
}

// The member mask of a collective for lanes `m`: from its operand (in.c: operand index; 0xFF: the whole
// warp, for .aligned instructions without a mask). Differing masks among lanes are reported.
bool member_mask(Warp& w, const Insn& in, uint32_t m, uint32_t* out) {
  if (in.c == 0xFF) {
    *out = w.exists;
    return true;
  }
  Src s = src(w, in.op[in.c]);
  const int l0 = __builtin_ctz(m);
  const uint32_t mm = uint32_t(s[l0]);
  bool ok = true;
  each(m, [&](int l) { ok &= uint32_t(s[l]) == mm; });
  if (!ok) {
    report(w, &in, l0, Report::Kind::InvalidArgument, "Warp collective with different member masks",
           {"The lanes executing it (" + lanes_text(m) + ") pass different membermask values"});
    return false;
  }
  if ((mm & m) != m) {
    report(w, &in, __builtin_ctz(m & ~mm), Report::Kind::InvalidArgument,
           "Warp collective executed by a lane outside its member mask",
           {"membermask 0x" + [&] { char b[16]; std::snprintf(b, 16, "%08x", mm); return std::string(b); }() +
            " does not contain " + lanes_text(m & ~mm)});
    return false;
  }
  *out = mm;
  return true;
}

// ---- barriers ----

void release_barrier(Cta& C, int id) {
  Barrier& B = C.bars[id];
  std::vector<int> parts;
  uint32_t first_pc = kNoSlot;
  bool diverged = false;
  for (auto& w : C.warps) {
    bool any = false;
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] != kBarWait || w.bar_id[l] != id) continue;
      any = true;
      const Insn& in = C.k->code[w.pc[l]];
      if (first_pc == kNoSlot) first_pc = w.pc[l];
      else if (w.pc[l] != first_pc) diverged = true;
      if (in.t == 2) {  // bar.red: the reduction result to this thread's destination
        uint64_t v = in.b == 0 ? B.red_popc : in.b == 1 ? B.red_and : B.red_or;
        w.regs[size_t(in.op[0].slot) * 32 + l] = v;
        if (!w.written.empty()) w.written[in.op[0].slot] |= 1u << l;
      }
      w.st[l] = kRun;
      w.pc[l] += 1;
    }
    if (any) parts.push_back(w.id);
  }
  if (C.L->opt->racecheck) C.race.complete(uint32_t(id), parts);
  if (diverged && B.full_cta) {
    const Insn& a = C.k->code[first_pc];
    report_cta(C, Report::Kind::BarrierDivergence, "Barrier divergence",
               {"bar.sync " + std::to_string(id) + " of the whole CTA completed by threads waiting at different "
                "instructions (one is " + where_line(*C.k, a) + ")"});
  }
  B = Barrier{};
}

// bar.sync / barrier.sync / bar.arrive / bar.red for the guard-true lanes `m`. in.t: 0 sync, 1 arrive,
// 2 red; in.b: red op (0 popc, 1 and, 2 or); in.c: id operand; in.d: count operand (0xFF none);
// in.t2: red predicate operand.
bool bar_exec(Warp& w, const Insn& in, uint32_t m) {
  Cta& C = *w.cta;
  Src ids = src(w, in.op[in.c]);
  const int l0 = __builtin_ctz(m);
  const uint32_t id = uint32_t(ids[l0]);
  uint32_t count = 0;
  bool uniform = true;
  each(m, [&](int l) { uniform &= uint32_t(ids[l]) == id; });
  if (in.d != 0xFF) {
    Src cs = src(w, in.op[in.d]);
    count = uint32_t(cs[l0]);
    each(m, [&](int l) { uniform &= uint32_t(cs[l]) == count; });
  }
  if (!uniform || id >= 16 || (in.d != 0xFF && (count == 0 || count % 32 != 0 || count > 1024))) {
    report(w, &in, l0, Report::Kind::InvalidArgument, "Invalid barrier operands",
           {"barrier id " + std::to_string(id) + ", thread count " + std::to_string(count) +
            (uniform ? "" : " (not uniform across the warp)") +
            ": ids are 0..15, counts positive multiples of 32 (PTX ISA, bar)"});
    w.cta->L->stop = true;
    return false;
  }
  Barrier& B = C.bars[id];
  const uint32_t expect = in.d != 0xFF ? count : C.nthreads;
  if (B.expected == 0) {
    B.expected = expect;
    B.full_cta = in.d == 0xFF;
  } else if (B.expected != expect) {
    report(w, &in, l0, Report::Kind::BarrierDivergence, "Barrier used with different thread counts",
           {"barrier " + std::to_string(id) + " expects " + std::to_string(B.expected) + " threads, this instruction says " +
            std::to_string(expect)});
  }
  if (in.t == 2) {
    each(m, [&](int l) {
      const bool p = pred(w, in.op[in.t2], l);
      B.red_popc += p;
      B.red_and &= p;
      B.red_or |= p;
    });
  }
  B.arrived += __builtin_popcount(m);
  if (C.L->opt->racecheck) C.race.arrive(w.id, id);
  if (in.t == 1) {
    each(m, [&](int l) { w.pc[l] += 1; });
  } else {
    each(m, [&](int l) {
      w.st[l] = kBarWait;
      w.bar_id[l] = uint8_t(id);
    });
  }
  if (B.arrived >= B.expected) release_barrier(C, int(id));
  return true;
}

// Lanes wait at a collective whose other members have exited (PTX: undefined; on hardware the wait
// would never end or read garbage): reported, then the collective runs for the lanes present, and
// values read from the exited lanes are whatever their registers hold. Only when no lane of the warp
// can still arrive (none runnable, none at a CTA barrier). Returns true when it released lanes.
bool release_orphaned_collective(Warp& w) {
  uint32_t cw = 0, bw = 0, ex = 0;
  uint32_t pc0 = 0xFFFFFFFFu;
  for (uint32_t t = w.exists; t; t &= t - 1) {
    const int l = __builtin_ctz(t);
    if (w.st[l] == kCollWait) {
      cw |= 1u << l;
      pc0 = std::min(pc0, w.pc[l]);
    } else if (w.st[l] == kBarWait) {
      bw |= 1u << l;
    } else if (w.st[l] == kExited) {
      ex |= 1u << l;
    }
  }
  if (!cw || bw) return false;
  uint32_t g = 0;
  each(cw, [&](int l) { if (w.pc[l] == pc0) g |= 1u << l; });
  const Insn& in = w.cta->k->code[pc0];
  uint32_t mm = w.exists;
  if (in.c != 0xFF) mm = uint32_t(src(w, in.op[in.c])[__builtin_ctz(g)]);
  const uint32_t missing = mm & ~g;
  if (missing & ~ex & w.exists) return false;  // members waiting at another instruction: a deadlock
  report(w, &in, __builtin_ctz(g), Report::Kind::InvalidArgument,
         "Warp collective whose member mask names exited or nonexistent threads",
         {"membermask includes " + lanes_text(missing) + ", which exited or are not threads of the CTA"});
  if (!in.fn(w, in, g)) w.cta->L->stop = true;
  each(g, [&](int l) {
    w.st[l] = kRun;
    w.pc[l] = pc0 + 1;
  });
  return true;
}

// Runs warp `w` for at most `budget` instructions.
Run run_warp(Warp& w, int budget) {
  Cta& C = *w.cta;
  Launch& L = *C.L;
  const Kernel& K = *C.k;
  const Insn* code = K.code.data();
  const bool strict = L.opt->strict;
  uint64_t ti = 0, wi = 0;
  bool progressed = false;
  Run result = Run::Progress;
  while (budget > 0) {
    // the group: runnable lanes at the lowest pc (collective waiters at that pc rejoin it)
    uint32_t minpc = 0xFFFFFFFFu;
    uint32_t runm = 0;
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] == kRun) {
        runm |= 1u << l;
        minpc = std::min(minpc, w.pc[l]);
      }
    }
    if (!runm) {
      if (release_orphaned_collective(w)) continue;
      result = w.done() ? Run::Finished : Run::Blocked;
      break;
    }
    uint32_t g = 0, next = 0xFFFFFFFFu;
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] == kExited || w.st[l] == kBarWait) continue;
      if (w.pc[l] == minpc) {
        g |= 1u << l;
        w.st[l] = kRun;  // a collective waiter rejoins and retries
      } else if (w.pc[l] > minpc) {
        next = std::min(next, w.pc[l]);  // run lanes and collective waiters: merge when reached
      }
    }
    uint32_t pc = minpc;
    bool reselect = false;
    while (!reselect) {
      const Insn& in = code[pc];
      uint32_t m = in.guard == kNoSlot ? g : guard_mask(w, in, g);
      ++wi;
      ti += uint64_t(popc(g));
      --budget;
      if (__builtin_expect(in.wgr, 0) && m) wg_access(w, in, m);  // a register some wgmma.mma_async uses
      switch (in.flow) {
        case Flow::Plain:
          if (m) {
            if (strict) check_uninit(w, in, m);
            if (!in.fn(w, in, m)) {
              L.stop = true;
              result = Run::Stopped;
            }
          }
          ++pc;
          break;
        case Flow::Bra:
          if (m == g) {
            pc = in.target;
          } else if (m == 0) {
            ++pc;
          } else {  // divergence
            each(m, [&](int l) { w.pc[l] = in.target; });
            each(g & ~m, [&](int l) { w.pc[l] = pc + 1; });
            g = 0;
            reselect = true;
          }
          break;
        case Flow::Brx: {  // brx.idx: each lane to its table entry; an index past the table is undefined (reported)
          if (!m) {
            ++pc;
            break;
          }
          if (strict) check_uninit(w, in, m);
          const Opd& tb = in.op[1];
          const Src ix = src(w, in.op[0]);
          uint32_t first = kNoSlot;
          bool same = true;
          int bad = -1;
          each(m, [&](int l) {
            const uint64_t i = uint32_t(ix[l]);
            if (i >= tb.n) {
              if (bad < 0) bad = l;
              return;
            }
            const uint32_t t = K.vec[tb.slot + i].slot;
            w.pc[l] = t;
            if (first == kNoSlot) first = t;
            else if (t != first) same = false;
          });
          if (bad >= 0) {
            report(w, &in, bad, Report::Kind::InvalidArgument, "brx.idx index out of range",
                   {"index " + std::to_string(uint32_t(ix[bad])) + " of a .branchtargets list of " + std::to_string(tb.n) +
                    " labels (the PTX ISA leaves the target undefined): `" + K.text[pc] + "`"});
            L.stop = true;
            result = Run::Stopped;
            ++pc;
            break;
          }
          if (m == g && same) {
            pc = first;
          } else {  // divergence: the lanes of m have their targets, the others go on
            each(g & ~m, [&](int l) { w.pc[l] = pc + 1; });
            g = 0;
            reselect = true;
          }
          break;
        }
        case Flow::Exit:
          if (m) {
            if (!K.wgmma.empty()) wg_exit(w, in, m);
            each(m, [&](int l) { w.st[l] = kExited; });
            w.exited |= m;
            C.exited_threads += __builtin_popcount(m);
            cluster_exited(C, uint32_t(__builtin_popcount(m)));
            g &= ~m;
            if (!g) reselect = true;
          }
          ++pc;
          break;
        case Flow::Bar:
          each(g, [&](int l) { w.pc[l] = pc; });
          each(g & ~m, [&](int l) { w.pc[l] = pc + 1; });
          if (m) {
            if (strict) check_uninit(w, in, m);
            if (!bar_exec(w, in, m)) result = Run::Stopped;
          }
          g = 0;
          reselect = true;
          break;
        case Flow::Wait:
          each(g, [&](int l) { w.pc[l] = pc; });
          each(g & ~m, [&](int l) { w.pc[l] = pc + 1; });
          if (m) {
            if (strict) check_uninit(w, in, m);
            w.blocked = 0;
            if (!in.fn(w, in, m)) result = Run::Stopped;
            each(m & ~w.blocked, [&](int l) { w.pc[l] = pc + 1; });
            each(m & w.blocked, [&](int l) {
              if (w.st[l] == kRun) w.st[l] = kMbarWait;  // unless the handler named another wait
            });
          }
          g = 0;
          reselect = true;
          break;
        case Flow::Coll: {
          if (!m) {
            ++pc;
            break;
          }
          uint32_t mm;
          if (!member_mask(w, in, m, &mm)) {
            // reported; an invalid mask is undefined behaviour: execute for the lanes present
            mm = m;
          }
          const uint32_t gone = mm & (w.exited | ~w.exists);
          if (gone) {
            L.failed = true;
            report(w, &in, __builtin_ctz(m), Report::Kind::InvalidArgument,
                   "Warp collective whose member mask names exited or nonexistent threads",
                   {"membermask includes " + lanes_text(gone) + ", which exited or are not threads of the CTA"});
            mm &= ~gone;
          }
          if ((mm & ~m) != 0) {  // members not here yet: wait for them
            each(g, [&](int l) { w.pc[l] = pc; });
            each(m, [&](int l) { w.st[l] = kCollWait; });
            each(g & ~m, [&](int l) { w.pc[l] = pc + 1; });
            g = 0;
            reselect = true;
            break;
          }
          if (strict) check_uninit(w, in, m);
          if (!in.fn(w, in, m)) {
            L.stop = true;
            result = Run::Stopped;
          }
          ++pc;
          break;
        }
        case Flow::Trap:
          if (m) {
            if (in.fn) in.fn(w, in, m);  // __assertfail prints its message
            else report(w, &in, __builtin_ctz(m), Report::Kind::Trap, "Trap instruction executed",
                        {"`" + K.text[pc] + "`"});
            L.stop = true;
            result = Run::Stopped;
          }
          ++pc;
          break;
        case Flow::Unsupported:
          if (m) {
            report(w, &in, __builtin_ctz(m), Report::Kind::Unsupported, "Unsupported instruction",
                   {"`" + K.text[pc] + "` is not implemented by the emulator"});
            L.stop = true;
            result = Run::Stopped;
          }
          ++pc;
          break;
      }
      progressed = true;
      if (L.stop) {
        result = Run::Stopped;
        reselect = true;
        break;
      }
      if (pc >= next || budget <= 0) reselect = true;
    }
    each(g, [&](int l) { w.pc[l] = pc; });
    if (result == Run::Stopped) break;
  }
  L.res.thread_instructions += ti;
  L.res.warp_instructions += wi;
  if (result == Run::Stopped || result == Run::Finished) return result;
  if (result == Run::Blocked && !progressed) return Run::Blocked;
  if (w.done()) return Run::Finished;
  return progressed ? Run::Progress : Run::Blocked;
}

// Every unfinished warp is blocked: barrier divergence or deadlock.
void stalled(Cta& C) {
  const Kernel& K = *C.k;
  std::vector<std::string> lines;
  bool divergence = false;
  for (int id = 0; id < 16; ++id) {
    const Barrier& B = C.bars[id];
    if (!B.expected) continue;
    if (B.arrived + C.exited_threads >= B.expected) {
      divergence = true;
      lines.push_back("barrier " + std::to_string(id) + " expects " + std::to_string(B.expected) + " threads: " +
                      std::to_string(B.arrived) + " arrived, " + std::to_string(C.exited_threads) +
                      " exited without arriving");
    }
  }
  for (auto& w : C.warps) {
    if (w.done()) continue;
    std::map<std::pair<uint32_t, int>, uint32_t> at;  // (pc, state) -> lanes
    for (uint32_t t = w.exists; t; t &= t - 1) {
      const int l = __builtin_ctz(t);
      if (w.st[l] == kExited) continue;
      at[{w.pc[l], w.st[l]}] |= 1u << l;
    }
    for (auto& [k, lanes] : at) {
      const Insn& in = K.code[k.first];
      std::string what = k.second == kBarWait ? "waits at barrier " + std::to_string(w.bar_id[__builtin_ctz(lanes)])
                         : k.second == kCollWait ? "waits for the other lanes of a warp collective"
                         : k.second == kMbarWait ? "waits on the mbarrier at shared address " +
                                                       std::to_string(w.wait_addr[__builtin_ctz(lanes)])
                         : k.second == kClusterWait ? "waits at the cluster barrier"
                                                 : "is runnable";
      lines.push_back("warp " + std::to_string(w.id) + ", " + lanes_text(lanes) + ": " + what + ", `" +
                      K.text[k.first] + "` " + where_line(K, in));
    }
  }
  if (divergence) {
    report_cta(C, Report::Kind::BarrierDivergence, "Barrier divergence: threads exited before a barrier others wait at",
               lines);
  } else {
    report_cta(C, Report::Kind::Deadlock, "Deadlock: every unfinished warp of the CTA is blocked", lines);
  }
  C.L->stop = true;
  if (C.L->res.status == LaunchResult::Status::Ok) C.L->res.status = LaunchResult::Status::LaunchFailure;
}

}  // namespace

void run_cluster(Cluster& cl) {
  Launch& L = *cl.ctas[0]->L;
  std::vector<Warp*> ws;
  for (Cta* c : cl.ctas)
    for (auto& w : c->warps) ws.push_back(&w);
  const int nw = int(ws.size());
  const bool rnd = L.opt->random_schedule;
  std::vector<uint8_t> finished(nw, 0), idle(nw, 0);
  int unfinished = nw;
  int idle_count = 0;
  constexpr int kQuantum = 512;
  int cur = 0;
  while (unfinished > 0 && !L.stop) {
    int wi;
    int quantum = kQuantum;
    if (rnd) {
      wi = int(L.rng() % uint64_t(nw));
      if (finished[wi]) {
        // pick the next unfinished one from there (keeps the choice cheap and still random)
        while (finished[wi]) wi = (wi + 1) % nw;
      }
      quantum = 1 + int(L.rng() % 64);
    } else {
      while (finished[cur]) cur = (cur + 1) % nw;
      wi = cur;
      cur = (cur + 1) % nw;
    }
    Run r = run_warp(*ws[size_t(wi)], quantum);
    if (r == Run::Stopped) break;
    // a warp switch: the loads in flight whose seeded landing point has come land now
    ++L.switches;
    bool landed = false;
    for (Cta* c : cl.ctas)
      if (!c->bulk.empty()) landed |= land_due(*c);
    if (L.stop) break;
    if (landed) {  // waiters may have been woken
      std::fill(idle.begin(), idle.end(), 0);
      idle_count = 0;
    }
    if (r == Run::Finished) {
      finished[wi] = 1;
      --unfinished;
      // progress was made: everyone may be runnable again
      std::fill(idle.begin(), idle.end(), 0);
      idle_count = 0;
      continue;
    }
    if (r == Run::Progress) {
      std::fill(idle.begin(), idle.end(), 0);
      idle_count = 0;
    } else if (!idle[wi]) {
      idle[wi] = 1;
      if (++idle_count == unfinished) {
        // asynchronous copies complete as late as possible: now, before calling it a deadlock
        bool drained = false;
        for (Cta* c : cl.ctas) drained |= drain_async(*c);
        if (drained) {
          std::fill(idle.begin(), idle.end(), 0);
          idle_count = 0;
          continue;
        }
        if (L.stop) break;
        for (Cta* c : cl.ctas) {
          bool open = false;
          for (auto& w : c->warps) open |= !w.done();
          if (open) stalled(*c);
        }
        break;
      }
    }
  }
}

}  // namespace emu::interp
