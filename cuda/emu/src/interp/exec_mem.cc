// dsv3-emu: memory instructions (PTX ISA 9.0 §9.7.9: ld, st, cvta, atom, red, prefetch) and the checked
// address translation every access goes through: natural alignment of the access size, the whole
// access inside one live allocation (global, via GlobalMemory with a per-warp cache of the last
// allocation) or inside the CTA's shared / thread's local / the kernel's param space. Generic addresses
// are classified by window (shared, local, param) or else treated as global.
#include <cinttypes>

#include "src/fp/fp.h"
#include "src/interp/module.h"

namespace emu::interp {

uint64_t to_generic(const Launch& L, Space s, uint64_t a) {
  switch (s) {
    case Space::Shared: return L.win_shared + a;
    case Space::Local: return L.win_local + a;
    case Space::Param: return L.win_param + a;
    default: return a;
  }
}
bool from_generic(const Launch& L, Space s, uint64_t g, uint64_t* a) {
  uint64_t base = s == Space::Shared ? L.win_shared : s == Space::Local ? L.win_local : s == Space::Param ? L.win_param : 0;
  if (!base) {
    *a = g;
    return true;
  }
  *a = g - base;
  return g >= base && g - base < L.win_size;
}

namespace {

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

bool oob(Warp& w, const Insn& in, int lane, Space s, uint64_t addr, uint32_t size, bool write, bool atomic,
         const std::string& why) {
  report(w, &in, lane, Report::Kind::OutOfBounds,
         std::string("Invalid ") + space_name(s) + (atomic ? " atomic" : write ? " write" : " read") + " of size " +
             std::to_string(size) + " bytes",
         {"Address " + hex(addr) + " " + why});
  return false;
}

}  // namespace

uint8_t* access(Warp& w, const Insn& in, int lane, Space space, uint64_t addr, uint32_t size, bool write,
                bool atomic, uint32_t align) {
  Cta& C = *w.cta;
  Launch& L = *C.L;
  const uint32_t al = align ? align : size;
  if (space == Space::Generic) {
    uint64_t a;
    if (from_generic(L, Space::Shared, addr, &a)) return access(w, in, lane, Space::Shared, a, size, write, atomic, align);
    if (from_generic(L, Space::Local, addr, &a)) return access(w, in, lane, Space::Local, a, size, write, atomic, align);
    if (from_generic(L, Space::Param, addr, &a)) return access(w, in, lane, Space::Param, a, size, write, atomic, align);
    if (!L.mem->in_device_range(addr)) {
      if (addr & (al - 1)) {
        report(w, &in, lane, Report::Kind::Misaligned,
               std::string("Invalid generic ") + (write ? "write" : "read") + " of size " + std::to_string(size) + " bytes",
               {"Address " + hex(addr) + " is misaligned"});
        return nullptr;
      }
      oob(w, in, lane, Space::Generic, addr, size, write, atomic,
          "is in no state space (not global, shared, local or param memory): " + L.mem->describe(addr, size));
      return nullptr;
    }
    space = Space::Global;
  }
  if (addr & (al - 1)) {
    report(w, &in, lane, Report::Kind::Misaligned,
           std::string("Invalid ") + space_name(space) + (write ? " write" : " read") + " of size " + std::to_string(size) +
               " bytes",
           {"Address " + hex(addr) + " is misaligned (an access of " + std::to_string(size) + " bytes needs " +
            std::to_string(al) + "-byte alignment)"});
    return nullptr;
  }
  switch (space) {
    case Space::Global:
    case Space::Const: {
      if (space == Space::Const && write) {
        oob(w, in, lane, space, addr, size, write, atomic, "is in constant memory, which is read-only");
        return nullptr;
      }
      if (write || atomic) C.work = true;
      if (addr >= w.gbase && addr + size <= w.gend && !((write || atomic) && w.gro))
        return reinterpret_cast<uint8_t*>(addr + w.gdelta);
      const Allocation* a = L.mem->find(addr);
      if (!a || addr + size > a->base + a->size) {
        oob(w, in, lane, space, addr, size, write, atomic, "is " + L.mem->describe(addr, size));
        return nullptr;
      }
      const bool ro = std::strcmp(a->kind, kConstKind) == 0;
      if (ro && (write || atomic)) {
        oob(w, in, lane, space, addr, size, write, atomic,
            "is in a .const variable (" + L.mem->describe(addr, size) + "): constant memory is read-only");
        return nullptr;
      }
      w.gro = ro;
      w.gbase = a->base;
      w.gend = a->base + a->size;
      w.gdelta = int64_t(reinterpret_cast<uint64_t>(a->host) - a->base);
      return reinterpret_cast<uint8_t*>(addr + w.gdelta);
    }
    case Space::Shared: {
      if (addr >> kClusterRankShift) {  // another CTA of the cluster (rank + 1 in bits 24..)
        const uint64_t rank = (addr >> kClusterRankShift) - 1;
        const uint64_t off = addr & ((1ull << kClusterRankShift) - 1);
        if (rank >= C.cl->ctas.size() || off + size > C.cl->ctas[rank]->smem.size()) {
          oob(w, in, lane, space, addr, size, write, atomic,
              "is outside the shared memory of the cluster's CTAs (rank " + std::to_string(rank) + " of " +
                  std::to_string(C.cl->ctas.size()) + ", offset " + std::to_string(off) + ")");
          return nullptr;
        }
        Cta& T = *C.cl->ctas[rank];
        if (&T != &C) {  // distributed shared memory: not race-checked (per-CTA clocks)
          if (!T.smem_init.empty() && (write || atomic)) std::memset(&T.smem_init[off], 1, size);
          return &T.smem[off];
        }
        addr = off;
      }
      if (addr + size > C.smem.size() || addr + size < addr) {
        oob(w, in, lane, space, addr, size, write, atomic,
            "is out of bounds of the CTA's " + std::to_string(C.smem.size()) + " bytes of shared memory (" +
                std::to_string(C.k->smem_static) + " static, " + std::to_string(L.dyn_smem) + " dynamic)");
        return nullptr;
      }
      const uint32_t pc = pc_of(w, in);
      if (L.opt->racecheck) {
        RaceCheck::Conflict cf{};
        if (!C.race.access(w.id, uint32_t(addr), size, write || atomic, atomic, pc, &cf)) {
          if (L.race_seen.emplace(std::make_pair(pc, cf.pc), 1).second) {
            const Insn& other = C.k->code[cf.pc];
            report(w, &in, lane, Report::Kind::Race,
                   std::string("Race reported between ") + (cf.was_write ? "Write" : "Read") + " access by warp " +
                       std::to_string(cf.warp) + " and " + (cf.now_write ? "Write" : "Read") + " access by warp " +
                       std::to_string(w.id),
                   {"Shared address " + hex(cf.addr) + ", earlier access `" + C.k->text[cf.pc] + "` " +
                        where_line(*C.k, other),
                    "no barrier orders the two accesses"});
          }
        }
      }
      if (C.proxy_on && (write || atomic)) {
        if (C.proxy_io == kProxyGeneric) C.proxy.write(uint32_t(w.id) * 32 + uint32_t(lane), uint32_t(addr), size, pc);
        else if (C.proxy_io == kProxyAsync) C.proxy.async_write(uint32_t(addr), size);
      }
      if (!C.smem_init.empty()) {
        if (write || atomic) {
          std::memset(&C.smem_init[addr], 1, size);
        }
        if (!write) {
          for (uint32_t i = 0; i < size; ++i)
            if (C.smem_init[addr + i] != 1) {  // 0: never written; 2: destination of a bulk copy in flight;
                                               // 3: landed early, its mbarrier phase not yet observed
              if (L.race_seen.emplace(std::make_pair(pc, 0xFFFFFFFEu), 1).second)
                report(w, &in, lane, Report::Kind::Uninitialized,
                       "Uninitialized __shared__ read of size " + std::to_string(size) + " bytes",
                       {"Shared address " + hex(addr + i) +
                        (C.smem_init[addr + i] ? " is the destination of a bulk / tensor copy (TMA) that has not "
                                                 "landed: the copy is complete only for a thread that observed its "
                                                 "mbarrier phase complete (it holds poison until then)"
                                               : " was never written in this CTA")});
              break;
            }
        }
      }
      return &C.smem[addr];
    }
    case Space::Local: {
      const uint32_t lb = C.k->info.local_bytes;
      if (addr + size > lb || addr + size < addr) {
        oob(w, in, lane, space, addr, size, write, atomic,
            "is out of bounds of the thread's " + std::to_string(lb) + " bytes of local memory");
        return nullptr;
      }
      return &C.local[size_t(uint32_t(w.id) * 32 + uint32_t(lane)) * lb + addr];
    }
    case Space::Param: {
      if (write || atomic) {
        oob(w, in, lane, space, addr, size, write, atomic, "is in the kernel's parameter space, which is read-only");
        return nullptr;
      }
      if (addr + size > C.k->info.param_bytes || addr + size < addr) {
        oob(w, in, lane, space, addr, size, write, atomic,
            "is out of bounds of the kernel's " + std::to_string(C.k->info.param_bytes) + " parameter bytes");
        return nullptr;
      }
      return const_cast<uint8_t*>(L.params->data() + addr);
    }
    default: break;
  }
  return nullptr;
}

bool proxy_check(Warp& w, const Insn& in, int lane, uint64_t addr, uint32_t n, const char* what) {
  Cta& C = *w.cta;
  if (!C.proxy_on || (addr >> kClusterRankShift) || addr >= C.smem.size()) return true;
  ProxyCheck::Unfenced u{};
  if (C.proxy.check(uint32_t(addr), n, &u)) return true;
  Launch& L = *C.L;
  const uint32_t pc = pc_of(w, in);
  if (!L.proxy_seen.emplace(pc, 0xFFFFFFFFu).second) return false;  // one report per async instruction
  const Dim3& b = L.cfg->block;
  const std::string thread = "(" + std::to_string(u.thread % b.x) + "," + std::to_string(u.thread / b.x % b.y) + "," +
                             std::to_string(u.thread / (b.x * b.y)) + ")";
  report(w, &in, lane, Report::Kind::Race,
         "Missing fence.proxy.async between a generic-proxy write of shared memory and an async-proxy access",
         {std::string("Shared address ") + hex(u.addr) + " (" + what + ") was written through the generic proxy by thread " +
              thread + " with `" + C.k->text[u.pc] + "` " + where_line(*C.k, C.k->code[u.pc]),
          "and that thread executed no fence.proxy.async (e.g. fence.proxy.async.shared::cta) between its write and "
          "this async-proxy access (PTX ISA memory consistency model, proxies)"});
  return false;
}

namespace {

inline uint64_t addr_of(const Warp& w, const Opd& a, int l) {
  return addr_at(w, a, l);
}

// The fast path of a global access: aligned and inside the warp's cached allocation (writable for
// stores). Anything else goes through access(), which checks, reports and refills the cache.
inline uint8_t* cached_global(const Warp& w, uint64_t addr, uint32_t size, bool write) {
  if ((addr & (size - 1)) == 0 && addr >= w.gbase && addr + size <= w.gend && !(write && w.gro))
    return reinterpret_cast<uint8_t*>(addr + w.gdelta);
  return nullptr;
}

inline uint64_t load_elem(const uint8_t* p, int eb) {
  switch (eb) {
    case 1: return *p;
    case 2: { uint16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; std::memcpy(&v, p, 4); return v; }
    default: { uint64_t v; std::memcpy(&v, p, 8); return v; }
  }
}
inline void store_elem(uint8_t* p, int eb, uint64_t v) {
  switch (eb) {
    case 1: *p = uint8_t(v); break;
    case 2: { const uint16_t x = uint16_t(v); std::memcpy(p, &x, 2); break; }
    case 4: { const uint32_t x = uint32_t(v); std::memcpy(p, &x, 4); break; }
    default: std::memcpy(p, &v, 8); break;
  }
}

// in.t: type; in.a: Space; in.b: vector count; in.c: element bytes
bool h_ld(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const int n = in.b, eb = in.c;
  const uint32_t size = uint32_t(n * eb);
  const bool sgn = ty_signed(Ty(in.t));
  const bool global = Space(in.a) == Space::Global || Space(in.a) == Space::Const;
  const Opd* d = in.op[0].kind == Opd::Vec ? &K.vec[in.op[0].slot] : &in.op[0];
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t addr = addr_of(w, in.op[1], l);
    const uint8_t* p = global ? cached_global(w, addr, size, false) : nullptr;
    if (!p) p = access(w, in, l, Space(in.a), addr, size, false, false);
    if (!p) { ok = false; return; }
    for (int e = 0; e < n; ++e) {
      uint64_t v = load_elem(p + e * eb, eb);
      if (sgn) v = sext(v, eb * 8);
      const Opd& o = d[e];
      if (o.kind == Opd::Reg) w.regs[size_t(o.slot) * 32 + l] = v & zmask(std::max<int>(o.bits, eb * 8));
    }
  });
  return ok;
}

bool h_st(Warp& w, const Insn& in, uint32_t m) {
  const Kernel& K = *w.cta->k;
  const int n = in.b, eb = in.c;
  const uint32_t size = uint32_t(n * eb);
  const bool global = Space(in.a) == Space::Global;
  if (global) w.cta->work = true;
  const Opd* s = in.op[1].kind == Opd::Vec ? &K.vec[in.op[1].slot] : &in.op[1];
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    const uint64_t addr = addr_of(w, in.op[0], l);
    uint8_t* p = global ? cached_global(w, addr, size, true) : nullptr;
    if (!p) p = access(w, in, l, Space(in.a), addr, size, true, false);
    if (!p) { ok = false; return; }
    for (int e = 0; e < n; ++e) store_elem(p + e * eb, eb, src(w, s[e])[l]);
  });
  return ok;
}

// cvta: in.a = space, in.b = 1 for cvta.to
bool h_cvta(Warp& w, const Insn& in, uint32_t m) {
  const Launch& L = *w.cta->L;
  Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  const uint64_t mask = zmask(in.c * 8);
  each(m, [&](int l) {
    uint64_t v = a[l], r;
    if (in.b) from_generic(L, Space(in.a), v, &r);
    else r = to_generic(L, Space(in.a), v);
    d[l] = r & mask;
  });
  return true;
}

enum AtomOp : uint8_t { A_add, A_min, A_max, A_inc, A_dec, A_and, A_or, A_xor, A_exch, A_cas };

uint64_t atom_apply(AtomOp op, Ty t, uint64_t old, uint64_t b, uint64_t c) {
  const int bits = ty_bits(t);
  const uint64_t mk = zmask(bits);
  old &= mk;
  b &= mk;
  switch (op) {
    case A_add:
      if (t == T_f32) {
        float r = fp::add(fp::f32_from_bits(uint32_t(old)), fp::f32_from_bits(uint32_t(b)), fp::Round::rn, true, false);
        return fp::bits_of(r);
      }
      if (t == T_f64) return fp::bits_of(fp::add(fp::f64_from_bits(old), fp::f64_from_bits(b), fp::Round::rn));
      return (old + b) & mk;
    case A_min:
      if (ty_signed(t)) return int64_t(sext(old, bits)) < int64_t(sext(b, bits)) ? old : b;
      return old < b ? old : b;
    case A_max:
      if (ty_signed(t)) return int64_t(sext(old, bits)) > int64_t(sext(b, bits)) ? old : b;
      return old > b ? old : b;
    case A_inc: return old >= b ? 0 : old + 1;
    case A_dec: return (old == 0 || old > b) ? b : old - 1;
    case A_and: return old & b;
    case A_or: return old | b;
    case A_xor: return old ^ b;
    case A_exch: return b;
    case A_cas: return old == b ? (c & mk) : old;
  }
  return old;
}

// atom (in.x = 1) / red (in.x = 0): in.t type, in.a space, in.d op, in.c bytes
bool h_atom(Warp& w, const Insn& in, uint32_t m) {
  const bool has_d = in.x == 1;
  const int ai = has_d ? 1 : 0;
  Src b = src(w, in.op[ai + 1]);
  Src c = in.d == A_cas ? src(w, in.op[ai + 2]) : b;
  uint64_t* d = has_d ? dst(w, in.op[0]) : nullptr;
  const int eb = in.c;
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint8_t* p = access(w, in, l, Space(in.a), addr_of(w, in.op[ai], l), uint32_t(eb), true, true);
    if (!p) { ok = false; return; }
    uint64_t old;
    if (eb == 4) {
      uint32_t* q = reinterpret_cast<uint32_t*>(p);
      uint32_t o = __atomic_load_n(q, __ATOMIC_RELAXED), nv;
      do {
        nv = uint32_t(atom_apply(AtomOp(in.d), Ty(in.t), o, b[l], c[l]));
      } while (!__atomic_compare_exchange_n(q, &o, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
      old = o;
    } else {
      uint64_t* q = reinterpret_cast<uint64_t*>(p);
      uint64_t o = __atomic_load_n(q, __ATOMIC_RELAXED), nv;
      do {
        nv = atom_apply(AtomOp(in.d), Ty(in.t), o, b[l], c[l]);
      } while (!__atomic_compare_exchange_n(q, &o, nv, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
      old = o;
    }
    if (d) d[l] = old;
  });
  return ok;
}

bool h_nop(Warp&, const Insn&, uint32_t) { return true; }

bool h_policy(Warp& w, const Insn& in, uint32_t m) {
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = uint64_t(in.op[1].imm); });
  return true;
}

// isspacep.space p, a: whether generic address a lies in the space's window (global: the device range;
// const: a .const variable's allocation). in.a: Space
bool h_isspacep(Warp& w, const Insn& in, uint32_t m) {
  const Launch& L = *w.cta->L;
  const Src a = src(w, in.op[1]);
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) {
    const uint64_t g = a[l];
    uint64_t off;
    bool r = false;
    switch (Space(in.a)) {
      case Space::Global: r = L.mem->in_device_range(g); break;
      case Space::Const: {
        const Allocation* al = L.mem->find(g);
        r = al && std::strcmp(al->kind, kConstKind) == 0;
        break;
      }
      default: r = from_generic(L, Space(in.a), g, &off); break;
    }
    d[l] = r;
  });
  return true;
}

Space parse_space(const BindCtx& c, bool* found) {
  *found = true;
  for (auto& p : c.pi.parts) {
    if (p == "global") return Space::Global;
    if (p == "shared" || p == "shared::cta" || p == "shared::cluster") return Space::Shared;
    if (p == "local") return Space::Local;
    if (p == "param" || p == "param::entry" || p == "param::func") return Space::Param;
    if (p == "const") return Space::Const;
  }
  *found = false;
  return Space::Generic;
}

// qualifiers of ld/st/atom/red that change nothing in a sequential memory model
bool ignorable(const std::string& p) {
  static const char* k[] = {"weak", "volatile", "relaxed", "acquire", "release", "acq_rel", "sc", "mmio", "cta", "gpu",
                            "sys", "cluster", "nc", "ca", "cg", "cs", "lu", "cv", "wb", "wt", "L1::evict_normal",
                            "L1::evict_unchanged", "L1::evict_first", "L1::evict_last", "L1::no_allocate",
                            "L2::evict_normal", "L2::evict_first", "L2::evict_last", "L2::64B", "L2::128B", "L2::256B",
                            "global", "shared", "shared::cta", "shared::cluster", "local", "param", "param::entry", "param::func", "const"};
  for (auto* s : k)
    if (p == s) return true;
  return false;
}

// The space an instruction accesses: written, or (for a symbol operand) the symbol's.
Space access_space(BindCtx& c, int ai) {
  bool found;
  Space s = parse_space(c, &found);
  Opd& a = c.in.op[ai];
  if (a.n == 1 && a.slot == kNoSlot) {  // [symbol(+off)]
    if (!found) {
      // generic access to a symbol: its generic address
      a.imm = int64_t(c.k.generic_of(a.space, uint64_t(a.imm)));
      return Space::Generic;
    }
    if (s == Space::Param && a.space == Space::Local) return Space::Local;  // call-site .param
    if (s != a.space && !(s == Space::Const && a.space == Space::Const) && !(s == Space::Global && a.space == Space::Const))
      c.fail(std::string("address names a ") + space_name(a.space) + " symbol in a " + space_name(s) + " access");
  }
  return s;
}

}  // namespace

bool bind_mem(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  if (op == "ld" || op == "st" || op == "ldu") {
    const bool st = op == "st";
    Ty t = c.type_at(0);
    if (t == T_none || t == T_pred || t == T_b128) return false;
    int vec = 1;
    bool hint = false;
    for (size_t i = 1; i + 1 < P.size(); ++i) {
      if (P[i] == "v2") vec = 2;
      else if (P[i] == "v4") vec = 4;
      else if (P[i] == "v8") vec = 8;
      else if (P[i] == "L2::cache_hint") hint = true;  // a cache-policy operand follows: a hint, ignored
      else if (!ignorable(P[i])) return false;
    }
    if (hint) {
      c.need(3);
      c.regimm(2);
      in.nops = 2;
    }
    c.need(2);
    const int ai = st ? 0 : 1, vi = st ? 1 : 0;
    c.addr(ai);
    const Opd& v = in.op[vi];
    if (vec > 1 ? (v.kind != Opd::Vec || int(v.n) != vec) : v.kind == Opd::Vec || v.kind == Opd::Addr)
      c.fail("the data operand does not match the vector width");
    if (!st && vec == 1) c.reg(0);
    if (st && vec == 1) c.fimm(1, t);
    in.a = uint8_t(access_space(c, ai));
    in.t = t;
    in.b = uint8_t(vec);
    in.c = uint8_t(ty_bits(t) / 8);
    in.fn = st ? h_st : h_ld;
    in.ndst = st ? 0 : 1;
    return true;
  }
  if (op == "cvta") {
    // cvta.space.size d, a / cvta.to.space.size d, a
    c.need(2);
    c.reg(0);
    bool found;
    Space s = parse_space(c, &found);
    if (!found) return false;
    Ty t = c.type_at(0);
    if (t != T_u32 && t != T_u64) return false;
    if (s == Space::Const) s = Space::Global;  // .const variables live in global memory
    in.a = uint8_t(s);
    in.b = c.has("to") ? 1 : 0;
    in.c = uint8_t(ty_bits(t) / 8);
    if (in.op[1].kind == Opd::Imm && in.op[1].n == 1 && !in.b) {
      // cvta.space d, symbol: the symbol's address in its own space
    } else {
      c.regimm(1);
    }
    in.fn = h_cvta;
    in.ndst = 1;
    return true;
  }
  if (op == "atom" || op == "red") {
    const bool has_d = op == "atom";
    Ty t = c.type_at(0);
    AtomOp ao = A_add;
    bool have = false;
    for (size_t i = 1; i + 1 < P.size(); ++i) {
      const std::string& p = P[i];
      static const std::pair<const char*, AtomOp> ops[] = {{"add", A_add}, {"min", A_min}, {"max", A_max}, {"inc", A_inc},
                                                           {"dec", A_dec}, {"and", A_and}, {"or", A_or}, {"xor", A_xor},
                                                           {"exch", A_exch}, {"cas", A_cas}};
      bool hit = false;
      for (auto& [n, o] : ops)
        if (p == n) { ao = o; have = hit = true; }
      if (!hit && !ignorable(p)) return false;
    }
    if (!have) return false;
    switch (t) {
      case T_b32: case T_u32: case T_s32: case T_b64: case T_u64: case T_s64: break;
      case T_f32: case T_f64: if (ao != A_add && ao != A_exch) return false; break;
      default: return false;
    }
    if ((ao == A_inc || ao == A_dec) && t != T_u32) return false;
    if ((ao == A_and || ao == A_or || ao == A_xor || ao == A_exch || ao == A_cas) && ty_signed(t)) return false;
    const int nsrc = ao == A_cas ? 2 : 1;
    c.need((has_d ? 1 : 0) + 1 + nsrc);
    if (has_d) c.reg(0);
    const int ai = has_d ? 1 : 0;
    c.addr(ai);
    for (int i = 0; i < nsrc; ++i) {
      c.regimm(ai + 1 + i);
      c.fimm(ai + 1 + i, t);
    }
    bool found;
    parse_space(c, &found);
    in.a = uint8_t(access_space(c, ai));
    if (Space(in.a) == Space::Local || Space(in.a) == Space::Param || Space(in.a) == Space::Const)
      c.fail("atomics operate on global or shared memory");
    in.t = t;
    in.d = ao;
    in.c = uint8_t(ty_bits(t) / 8);
    in.x = has_d ? 1 : 0;
    in.fn = h_atom;
    in.ndst = has_d ? 1 : 0;
    return true;
  }
  if (op == "createpolicy") {
    // createpolicy.fractional.L2::evict_*{.L2::evict_*}.b64 d{, fraction}: an opaque cache policy for the
    // .L2::cache_hint forms, which treat it as a hint; a fixed non-zero value stands for it
    if (P.back() != "b64" || in.nops < 1 || in.nops > 3) return false;
    c.reg(0);
    in.op[1] = Opd{};
    in.op[1].kind = Opd::Imm;
    in.op[1].imm = 0x1000000000000000ll;
    in.nops = 2;
    in.c = 64;
    in.fn = h_policy;
    in.ndst = 1;
    return true;
  }
  if (op == "isspacep") {
    bool found;
    const Space s = parse_space(c, &found);
    if (!found || P.size() != 2) return false;
    c.need(2);
    c.reg(0);
    c.regimm(1);
    in.a = uint8_t(s);
    in.fn = h_isspacep;
    in.ndst = 1;
    return true;
  }
  if (op == "prefetch" || op == "prefetchu") {
    if (c.has("tensormap")) return false;  // Hopper TMA descriptor prefetch: with the async units
    c.need(1);
    c.addr(0);
    in.fn = h_nop;  // a hint: no architectural effect, and no fault on a bad address
    in.ndst = 0;
    return true;
  }
  return false;
}

}  // namespace emu::interp
