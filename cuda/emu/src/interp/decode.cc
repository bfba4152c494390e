// dsv3-emu: decoding a parsed PTX module, once, into flat instruction arrays (DESIGN.md "Decode once").
// Registers become 64-bit slots (brace scopes get fresh ones), .func calls are inlined with their .param
// arguments aliased to the caller's call-site .param variables (PTX ISA 9.0 §5.1.6, §9.7.13.4 call),
// labels become instruction indices, symbols become addresses in their state space, and each
// instruction is bound to a handler by the per-family binders (bind_* in exec_*.cc).
#include <cxxabi.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "src/interp/module.h"

namespace emu::interp {

const char* space_name(Space s) {
  switch (s) {
    case Space::Generic: return "generic";
    case Space::Global: return "__global__";
    case Space::Shared: return "__shared__";
    case Space::Local: return "__local__";
    case Space::Param: return "__param__";
    case Space::Const: return "__constant__";
  }
  return "?";
}

static const char* kTyNames[T_count] = {"",     "pred", "b8",    "b16",    "b32",  "b64",  "b128",
                                         "u8",   "u16",  "u32",   "u64",    "s8",   "s16",  "s32",
                                         "s64",  "f16",  "f16x2", "bf16",   "bf16x2", "f32", "f64",
                                         "e4m3", "e5m2", "e4m3x2", "e5m2x2", "tf32"};
Ty parse_ty(const std::string& s) {
  for (int i = 1; i < T_count; ++i)
    if (s == kTyNames[i]) return Ty(i);
  return T_none;
}
const char* ty_name(Ty t) { return kTyNames[t]; }
int ty_bits(Ty t) {
  switch (t) {
    case T_pred: return 1;
    case T_b8: case T_u8: case T_s8: case T_e4m3: case T_e5m2: return 8;
    case T_b16: case T_u16: case T_s16: case T_f16: case T_bf16: case T_e4m3x2: case T_e5m2x2: return 16;
    case T_b32: case T_u32: case T_s32: case T_f32: case T_f16x2: case T_bf16x2: case T_tf32: return 32;
    case T_b64: case T_u64: case T_s64: case T_f64: return 64;
    case T_b128: return 128;
    default: return 0;
  }
}

std::string demangle(const std::string& mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status);
  if (!d) return mangled;
  std::string s(d);
  std::free(d);
  return s;
}

// ---- BindCtx helpers ----
void BindCtx::fail(const std::string& why) const { throw DecodeError(why + ": " + where); }
void BindCtx::need(int n) const {
  if (in.nops != n) fail("expected " + std::to_string(n) + " operands, got " + std::to_string(in.nops));
}
void BindCtx::reg(int i) const {
  if (in.op[i].kind != Opd::Reg) fail("operand " + std::to_string(i + 1) + " must be a register");
}
void BindCtx::regimm(int i) const {
  if (in.op[i].kind != Opd::Reg && in.op[i].kind != Opd::Imm)
    fail("operand " + std::to_string(i + 1) + " must be a register or an immediate");
}
void BindCtx::addr(int i) const {
  if (in.op[i].kind != Opd::Addr) fail("operand " + std::to_string(i + 1) + " must be an address");
  if (in.op[i].coords != kNoSlot) fail("operand " + std::to_string(i + 1) + ": this instruction takes no coordinates");
}
bool BindCtx::has(const char* part) const {
  for (auto& p : pi.parts)
    if (p == part) return true;
  return false;
}
Ty BindCtx::type_at(int from_end) const {
  const int i = int(pi.parts.size()) - 1 - from_end;
  return i >= 1 ? parse_ty(pi.parts[i]) : T_none;
}
void BindCtx::fimm(int i, Ty t) const {
  Opd& o = in.op[i];
  if (o.kind != Opd::Imm) return;
  if (t == T_f32) {
    if (o.bits == 64) {
      double d;
      std::memcpy(&d, &o.imm, 8);
      float f = float(d);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      o.imm = b;
    } else if (o.bits == 0) {  // integer literal used as a float value
      float f = float(o.imm);
      uint32_t b;
      std::memcpy(&b, &f, 4);
      o.imm = b;
    }
  } else if (t == T_f64) {
    if (o.bits == 32) {
      float f;
      uint32_t b = uint32_t(o.imm);
      std::memcpy(&f, &b, 4);
      double d = f;
      std::memcpy(&o.imm, &d, 8);
    } else if (o.bits == 0) {
      double d = double(o.imm);
      std::memcpy(&o.imm, &d, 8);
    }
  }
  o.bits = 0;
}

// ---- the decoder ----
namespace {

int elem_bytes(const std::string& type) {
  Ty t = parse_ty(type);
  if (t == T_none) return 8;  // texref etc.: not used by data access
  int b = ty_bits(t);
  return b < 8 ? 1 : b / 8;
}
uint64_t var_size(const ptx::VarDecl& v) {
  uint64_t n = uint64_t(elem_bytes(v.type)) * std::max(1, v.vec);
  for (int64_t d : v.dims) n *= uint64_t(d);
  return n;
}
uint32_t var_align(const ptx::VarDecl& v) {
  if (v.align > 0) return uint32_t(v.align);
  return uint32_t(elem_bytes(v.type) * std::max(1, v.vec));
}
uint64_t align_up(uint64_t v, uint64_t a) { return a ? (v + a - 1) / a * a : v; }

struct SregName { const char* name; Sreg id; int bits; };
const SregName kSregs[] = {
    {"%tid.x", Sreg::tid_x, 32}, {"%tid.y", Sreg::tid_y, 32}, {"%tid.z", Sreg::tid_z, 32},
    {"%ntid.x", Sreg::ntid_x, 32}, {"%ntid.y", Sreg::ntid_y, 32}, {"%ntid.z", Sreg::ntid_z, 32},
    {"%ctaid.x", Sreg::ctaid_x, 32}, {"%ctaid.y", Sreg::ctaid_y, 32}, {"%ctaid.z", Sreg::ctaid_z, 32},
    {"%nctaid.x", Sreg::nctaid_x, 32}, {"%nctaid.y", Sreg::nctaid_y, 32}, {"%nctaid.z", Sreg::nctaid_z, 32},
    {"%laneid", Sreg::laneid, 32}, {"%warpid", Sreg::warpid, 32}, {"%nwarpid", Sreg::nwarpid, 32},
    {"%smid", Sreg::smid, 32}, {"%nsmid", Sreg::nsmid, 32}, {"%gridid", Sreg::gridid, 64},
    {"%lanemask_eq", Sreg::lanemask_eq, 32}, {"%lanemask_le", Sreg::lanemask_le, 32},
    {"%lanemask_lt", Sreg::lanemask_lt, 32}, {"%lanemask_ge", Sreg::lanemask_ge, 32},
    {"%lanemask_gt", Sreg::lanemask_gt, 32}, {"%dynamic_smem_size", Sreg::dynamic_smem_size, 32},
    {"%total_smem_size", Sreg::total_smem_size, 32}, {"%cluster_ctarank", Sreg::cluster_ctarank, 32},
    {"%cluster_nctarank", Sreg::cluster_nctarank, 32}, {"%clusterid.x", Sreg::clusterid_x, 32},
    {"%clusterid.y", Sreg::clusterid_y, 32}, {"%clusterid.z", Sreg::clusterid_z, 32},
    {"%nclusterid.x", Sreg::nclusterid_x, 32}, {"%nclusterid.y", Sreg::nclusterid_y, 32},
    {"%nclusterid.z", Sreg::nclusterid_z, 32}, {"%cluster_ctaid.x", Sreg::cluster_ctaid_x, 32},
    {"%cluster_ctaid.y", Sreg::cluster_ctaid_y, 32}, {"%cluster_ctaid.z", Sreg::cluster_ctaid_z, 32},
    {"%cluster_nctaid.x", Sreg::cluster_nctaid_x, 32}, {"%cluster_nctaid.y", Sreg::cluster_nctaid_y, 32},
    {"%cluster_nctaid.z", Sreg::cluster_nctaid_z, 32}, {"%is_explicit_cluster", Sreg::is_explicit_cluster, 1},
};
// Special registers whose value changes while a thread runs: read by a pseudo-instruction (h_dynsreg).
enum DynSreg : uint32_t { kClock, kClockHi, kClock64, kGlobaltimer, kGlobaltimerLo, kGlobaltimerHi };

std::string operand_text(const ptx::Operand& o) {
  using K = ptx::Operand::Kind;
  switch (o.kind) {
    case K::Reg: case K::Special: case K::Symbol: return (o.neg ? "!" : "") + o.name;
    case K::Imm: return std::to_string(o.imm);
    case K::FImm: {
      char b[40];
      std::snprintf(b, sizeof b, o.fbits == 32 ? "0f%08llX" : "0d%016llX", (unsigned long long)o.imm);
      return b;
    }
    case K::Sink: return "_";
    case K::Vec: {
      std::string s = o.pair ? "" : "{";
      for (size_t i = 0; i < o.elems.size(); ++i) s += (i ? (o.pair ? "|" : ", ") : "") + operand_text(o.elems[i]);
      return s + (o.pair ? "" : "}");
    }
    case K::Addr: {
      std::string s = "[" + (o.base_kind == K::Imm ? std::to_string(o.imm) : o.name);
      if (o.base_kind != K::Imm && o.imm) s += (o.imm > 0 ? "+" : "") + std::to_string(o.imm);
      if (!o.elems.empty()) {
        s += ", {";
        for (size_t i = 0; i < o.elems.size(); ++i) s += (i ? ", " : "") + operand_text(o.elems[i]);
        s += "}";
      }
      return s + "]";
    }
  }
  return "?";
}

}  // namespace

std::string instr_text(const ptx::Instr& pi) {
  std::string s;
  if (!pi.guard.empty()) s += std::string("@") + (pi.guard_neg ? "!" : "") + pi.guard + " ";
  s += pi.opcode;
  for (size_t i = 0; i < pi.ops.size(); ++i) s += (i ? ", " : " ") + operand_text(pi.ops[i]);
  return s + ";";
}

bool h_unsupported(Warp&, const Insn&, uint32_t);
bool h_dynsreg(Warp& w, const Insn& in, uint32_t m);
bool h_vprintf(Warp& w, const Insn& in, uint32_t m);
bool h_assertfail(Warp& w, const Insn& in, uint32_t m);

class Decoder {
 public:
  Decoder(ModuleImpl& M, Kernel& K) : M_(M), K_(K) {
    for (auto& f : M.ast.functions) funcs_[f.name] = &f;
    for (int i = 0; i < int(Sreg::count); ++i) sreg_slot_[i] = kNoSlot;
  }

  void run(const ptx::Function& f) {
    K_.info.name = f.name;
    K_.display = demangle(f.name);
    K_.files = &M_.ast.files;
    for (int i = 0; i < 3; ++i) {
      K_.info.reqntid[i] = f.reqntid[i];
      K_.info.maxntid[i] = f.maxntid[i];
      K_.info.cluster[i] = f.reqnctapercluster[i];
    }
    where_fn_ = f.name;
    sink_ = new_slot(64);
    // kernel parameters: laid out in order at their alignment
    scopes_.emplace_back();
    uint32_t off = 0;
    for (auto& p : f.params) {
      const uint32_t al = std::max<uint32_t>(1, var_align(p));
      off = uint32_t(align_up(off, al));
      const uint32_t sz = uint32_t(var_size(p));
      K_.info.params.push_back(KernelParam{p.name, off, sz, al});
      scopes_.back().syms[p.name] = Sym{Space::Param, off, sz, false};
      off += sz;
    }
    K_.info.param_bytes = off;
    body(f, {}, {});
    scopes_.pop_back();
    // final layout: static shared, then dynamic at its alignment
    K_.smem_static = shared_top_;
    K_.info.static_smem = shared_top_;
    K_.info.dyn_smem_align = dyn_align_;
    K_.dyn_base = uint32_t(align_up(shared_top_, dyn_align_));
    for (auto& [pc, i] : dyn_patches_) {
      Opd& o = K_.code[pc].op[i];
      o.imm += K_.dyn_base;
    }
    K_.info.local_bytes = uint32_t(align_up(local_top_, 16));
    K_.nslots = uint32_t(K_.slot_bits.size());
    K_.info.num_regs = K_.nslots;
    mark_wgmma_registers(K_);
  }

 private:
  struct Scope {
    std::unordered_map<std::string, uint32_t> regs;
    std::unordered_map<std::string, Sym> syms;
  };
  // Labels are scoped by { } blocks (PTX ISA §4.4: a label is visible in its block and the blocks inside
  // it), so inline asm may repeat one: a branch resolves to the innermost enclosing definition.
  struct LabelScope {
    std::unordered_map<std::string, uint32_t> labels;
    // pc, op index (-1: Insn::target; <= -2: Kernel::vec[-2 - i], a brx.idx table entry), label, line
    std::vector<std::tuple<uint32_t, int, std::string, int>> fixes;
    std::unordered_map<std::string, std::vector<std::string>> tables;  // `tbl: .branchtargets L0, L1, ...;`
  };
  struct Frame {
    std::string name;
    std::vector<LabelScope> lscopes;
    std::vector<uint32_t> rets;  // pcs of `ret` (inlined: branch to end)
  };

  // Closes the innermost label scope: its branches to its own labels resolve, the others move outwards.
  void close_label_scope(bool last) {
    Frame& fr = frames_.back();
    LabelScope sc = std::move(fr.lscopes.back());
    fr.lscopes.pop_back();
    for (auto& fx : sc.fixes) {
      auto& [pc, opi, name, line] = fx;
      auto l = sc.labels.find(name);
      if (l == sc.labels.end()) {
        if (last) fail(line, "unknown label " + name);
        fr.lscopes.back().fixes.push_back(fx);
        continue;
      }
      if (opi == -1) K_.code[pc].target = l->second;
      else if (opi <= -2) K_.vec[size_t(-2 - int64_t(opi))].slot = l->second;
      else K_.code[pc].op[opi].slot = l->second;
    }
  }

  uint32_t new_slot(int bits) {
    K_.slot_bits.push_back(uint8_t(bits));
    return uint32_t(K_.slot_bits.size() - 1);
  }

  [[noreturn]] void fail(int line, const std::string& msg) {
    throw DecodeError(msg + " (PTX line " + std::to_string(line) + " of " + M_.ast.origin + ", in " + where_fn_ + ")");
  }

  const Sym* find_sym(const std::string& name) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->syms.find(name);
      if (f != it->syms.end()) return &f->second;
    }
    auto g = M_.globals.find(name);
    if (g != M_.globals.end()) return &g->second;
    // module-scope .shared: placed in this kernel's static shared memory at first use
    auto ms = module_shared_.find(name);
    if (ms != module_shared_.end()) return &ms->second;
    for (auto& v : M_.ast.globals) {
      if (v.name != name || v.space != "shared") continue;
      return &(module_shared_[name] = place_shared(v));
    }
    return nullptr;
  }

  Sym place_shared(const ptx::VarDecl& v) {
    Sym s;
    s.space = Space::Shared;
    if (v.is_extern || (!v.dims.empty() && v.dims[0] == 0)) {
      s.dyn_shared = true;
      s.addr = 0;
      dyn_align_ = std::max<uint32_t>(dyn_align_, var_align(v));
      return s;
    }
    shared_top_ = uint32_t(align_up(shared_top_, var_align(v)));
    s.addr = shared_top_;
    s.size = var_size(v);
    shared_top_ += uint32_t(s.size);
    return s;
  }

  void declare_var(const ptx::VarDecl& v, int line) {
    Sym s;
    if (v.space == "shared") {
      s = place_shared(v);
    } else if (v.space == "local" || v.space == "param") {
      // .local frames and call-site .param variables live in per-thread local memory
      local_top_ = uint32_t(align_up(local_top_, std::max<uint32_t>(1, var_align(v))));
      s.space = Space::Local;
      s.addr = local_top_;
      s.size = var_size(v);
      local_top_ += uint32_t(s.size);
    } else {
      fail(line, "unsupported ." + v.space + " variable `" + v.name + "` inside a function");
    }
    scopes_.back().syms[v.name] = s;
  }

  void declare_reg(const ptx::RegDecl& r, int line) {
    Ty t = parse_ty(r.type);
    if (t == T_none) fail(line, "unknown register type ." + r.type);
    int bits = ty_bits(t);
    if (r.vec) bits = 64;  // vector registers are not used by nvcc; one slot each (element access unsupported)
    if (r.count < 0) {
      scopes_.back().regs[r.name] = new_slot(bits);
    } else {
      for (int i = 0; i < r.count; ++i) scopes_.back().regs[r.name + std::to_string(i)] = new_slot(bits);
    }
  }

  uint32_t lookup_reg(const std::string& name, int line, int* bits) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->regs.find(name);
      if (f != it->regs.end()) {
        *bits = K_.slot_bits[f->second];
        return f->second;
      }
    }
    fail(line, "undeclared register " + name);
  }

  uint32_t sreg_slot(Sreg s, int bits) {
    uint32_t& sl = sreg_slot_[int(s)];
    if (sl == kNoSlot) {
      sl = new_slot(bits);
      K_.sregs.push_back({s, sl});
    }
    return sl;
  }

  // Converts one syntax operand; may emit a pseudo-instruction (dynamic special register) first.
  Opd operand(const ptx::Operand& o, const ptx::Instr& pi, std::vector<std::pair<int, std::string>>& labels, int idx) {
    using K = ptx::Operand::Kind;
    Opd r;
    r.neg = o.neg;
    const int line = pi.loc.ptx_line;
    switch (o.kind) {
      case K::Reg: {
        int bits = 0;
        // inline-asm scopes and call blocks sometimes name a .param variable where a register is expected
        bool found = false;
        for (auto it = scopes_.rbegin(); it != scopes_.rend() && !found; ++it) found = it->regs.count(o.name) != 0;
        if (!found) {
          if (const Sym* s = find_sym(o.name)) return sym_imm(*s, 0, idx);
        }
        r.kind = Opd::Reg;
        r.slot = lookup_reg(o.name, line, &bits);
        r.bits = uint8_t(bits);
        return r;
      }
      case K::Special: {
        for (auto& s : kSregs)
          if (o.name == s.name) {
            r.kind = Opd::Reg;
            r.slot = sreg_slot(s.id, s.bits);
            r.bits = uint8_t(s.bits == 1 ? 1 : s.bits);
            return r;
          }
        uint32_t dk;
        int bits = 32;
        if (o.name == "%clock") dk = kClock;
        else if (o.name == "%clock_hi") dk = kClockHi;
        else if (o.name == "%clock64") dk = kClock64, bits = 64;
        else if (o.name == "%globaltimer") dk = kGlobaltimer, bits = 64;
        else if (o.name == "%globaltimer_lo") dk = kGlobaltimerLo;
        else if (o.name == "%globaltimer_hi") dk = kGlobaltimerHi;
        else fail(line, "unknown special register " + o.name);
        Insn ps;
        ps.fn = h_dynsreg;
        ps.x = dk;
        ps.nops = 1;
        ps.ndst = 1;
        ps.op[0].kind = Opd::Reg;
        ps.op[0].slot = new_slot(bits);
        ps.op[0].bits = uint8_t(bits);
        set_loc(ps, pi);
        emit(ps, "mov " + o.name + " (read)");
        r = ps.op[0];
        r.neg = false;
        return r;
      }
      case K::Imm:
        r.kind = Opd::Imm;
        r.imm = o.imm;
        return r;
      case K::FImm:
        r.kind = Opd::Imm;
        r.imm = o.imm;
        r.bits = uint8_t(o.fbits);
        return r;
      case K::Sink:
        r.kind = Opd::Reg;
        r.slot = sink_;
        r.bits = 64;
        return r;
      case K::Symbol: {
        if (const Sym* s = find_sym(o.name)) return sym_imm(*s, o.imm, idx);  // `smem+8`: the offset in imm
        r.kind = Opd::Label;  // a label (bra target) or a function name; resolved by the caller
        labels.push_back({idx, o.name});
        return r;
      }
      case K::Vec: {
        r.kind = Opd::Vec;
        std::vector<Opd> el;
        for (auto& e : o.elems) el.push_back(operand(e, pi, labels, -1));
        r.slot = uint32_t(K_.vec.size());
        r.n = uint32_t(el.size());
        for (auto& e : el) K_.vec.push_back(e);
        return r;
      }
      case K::Addr: {
        r.kind = Opd::Addr;
        r.imm = o.imm;
        if (!o.elems.empty()) {  // tensor coordinates (cp.async.bulk.tensor): a Vec kept beside the address
          ptx::Operand v;
          v.kind = K::Vec;
          v.elems = o.elems;
          Opd vo = operand(v, pi, labels, -1);
          r.coords = uint32_t(K_.vec.size());
          K_.vec.push_back(vo);
        }
        if (o.base_kind == K::Reg) {
          int bits = 0;
          bool is_reg = false;
          for (auto it = scopes_.rbegin(); it != scopes_.rend() && !is_reg; ++it) is_reg = it->regs.count(o.name) != 0;
          if (is_reg) {
            r.slot = lookup_reg(o.name, line, &bits);
            r.bits = uint8_t(bits);
            return r;
          }
        }
        if (o.base_kind == K::Reg || o.base_kind == K::Symbol) {
          const Sym* s = find_sym(o.name);
          if (!s) fail(line, "unknown symbol " + o.name + " in address");
          r.space = s->space;
          r.imm = int64_t(s->addr) + o.imm;
          r.n = 1;  // the address names a symbol
          if (s->dyn_shared && idx >= 0) dyn_patches_.push_back({uint32_t(K_.code.size()), idx});
          return r;
        }
        return r;  // absolute address
      }
    }
    fail(line, "bad operand");
  }

  Opd sym_imm(const Sym& s, int64_t add, int idx) {
    Opd r;
    r.kind = Opd::Imm;
    r.space = s.space;
    r.imm = int64_t(s.addr) + add;
    r.n = 1;  // names a symbol
    if (s.dyn_shared && idx >= 0) dyn_patches_.push_back({uint32_t(K_.code.size()), idx});
    return r;
  }

  void set_loc(Insn& in, const ptx::Instr& pi) {
    in.ptx_line = pi.loc.ptx_line;
    in.file = int16_t(pi.loc.file);
    in.line = pi.loc.line;
  }
  void emit(const Insn& in, const std::string& text) {
    K_.code.push_back(in);
    K_.text.push_back(text);
  }

  // Decodes the statements of `f` (a kernel, or a callee being inlined).
  void body(const ptx::Function& f, const std::vector<Sym>& args, const std::vector<Sym>& rets) {
    frames_.push_back(Frame{f.name, {LabelScope{}}, {}});
    scopes_.emplace_back();
    if (frames_.size() > 1) {
      for (size_t i = 0; i < f.params.size(); ++i) scopes_.back().syms[f.params[i].name] = args[i];
      for (size_t i = 0; i < f.rets.size(); ++i) scopes_.back().syms[f.rets[i].name] = rets[i];
    }
    for (auto& st : f.body) {
      switch (st.kind) {
        case ptx::Statement::Kind::Reg: declare_reg(st.reg, st.ptx_line); break;
        case ptx::Statement::Kind::Var: declare_var(st.var, st.ptx_line); break;
        case ptx::Statement::Kind::BlockBegin:
          scopes_.emplace_back();
          frames_.back().lscopes.emplace_back();
          break;
        case ptx::Statement::Kind::BlockEnd:
          if (scopes_.size() <= 2 || frames_.back().lscopes.size() <= 1) fail(st.ptx_line, "unbalanced }");
          scopes_.pop_back();
          close_label_scope(false);
          break;
        case ptx::Statement::Kind::Label: {
          auto& labels = frames_.back().lscopes.back().labels;
          if (labels.count(st.label)) fail(st.ptx_line, "label " + st.label + " defined twice");
          labels[st.label] = uint32_t(K_.code.size());
          break;
        }
        case ptx::Statement::Kind::BranchTargets: {
          auto& tables = frames_.back().lscopes.back().tables;
          if (tables.count(st.label)) fail(st.ptx_line, ".branchtargets " + st.label + " defined twice");
          tables[st.label] = st.targets;
          break;
        }
        case ptx::Statement::Kind::Instr: instr(st.instr); break;
      }
    }
    Frame& fr = frames_.back();
    const uint32_t end = uint32_t(K_.code.size());
    if (frames_.size() == 1) {
      // falling off the end of a kernel exits
      Insn ex;
      ex.flow = Flow::Exit;
      ex.ptx_line = f.ptx_line;
      emit(ex, "(end of kernel)");
    }
    if (fr.lscopes.size() != 1) fail(f.ptx_line, "unbalanced { in " + f.name);
    close_label_scope(true);
    for (uint32_t pc : fr.rets) K_.code[pc].target = end;
    scopes_.pop_back();
    frames_.pop_back();
  }

  void instr(const ptx::Instr& pi) {
    const int line = pi.loc.ptx_line;
    const std::string& op0 = pi.parts.empty() ? pi.opcode : pi.parts[0];
    if (op0 == "call") return call(pi);
    Insn in;
    set_loc(in, pi);
    std::vector<std::pair<int, std::string>> labels;
    // operands; `d|p` pairs become two operands
    std::vector<Opd> ops;
    const size_t patches_before = dyn_patches_.size();
    for (auto& o : pi.ops) {
      if (o.kind == ptx::Operand::Kind::Vec && o.pair) {
        for (auto& e : o.elems) ops.push_back(operand(e, pi, labels, int(ops.size())));
      } else {
        ops.push_back(operand(o, pi, labels, int(ops.size())));
      }
    }
    if (!pi.guard.empty()) {
      int bits = 0;
      in.guard = lookup_reg(pi.guard, line, &bits);
      in.guard_neg = pi.guard_neg;
      if (bits != 1) fail(line, "guard " + pi.guard + " is not a predicate");
    }
    if (ops.size() > 8) {  // no implemented instruction takes more: decodes as unsupported
      dyn_patches_.resize(patches_before);
      in.nops = 0;
      unsupported(in, pi);
      return;
    }
    // pseudo-instructions emitted while converting operands moved this instruction's pc
    for (size_t i = patches_before; i < dyn_patches_.size(); ++i) dyn_patches_[i].first = uint32_t(K_.code.size());
    in.nops = uint8_t(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) in.op[i] = ops[i];
    const uint32_t pc = uint32_t(K_.code.size());
    if (op0 == "brx") return brx_idx(pi, in, labels, pc);
    if (op0 == "bra") {
      if (in.nops != 1 || labels.size() != 1) {
        unsupported(in, pi);
        return;
      }
      in.flow = Flow::Bra;
      frames_.back().lscopes.back().fixes.push_back({pc, -1, labels[0].second, line});
      emit(in, instr_text(pi));
      return;
    }
    if (!labels.empty()) fail(line, "unknown symbol " + labels[0].second);
    if (op0 == "ret") {
      if (frames_.size() > 1) {
        in.flow = Flow::Bra;
        frames_.back().rets.push_back(pc);
      } else {
        in.flow = Flow::Exit;
      }
      emit(in, instr_text(pi));
      return;
    }
    if (op0 == "exit") {
      in.flow = Flow::Exit;
      emit(in, instr_text(pi));
      return;
    }
    BindCtx c{pi, in, K_, "`" + instr_text(pi) + "` at PTX line " + std::to_string(line) + " of " + M_.ast.origin};
    bool ok = bind_cmp(c) || bind_int(c) || bind_float(c) || bind_half(c) || bind_cvt(c) || bind_mem(c) || bind_warp(c) ||
              bind_mma(c) || bind_cluster(c) || bind_ctl(c) || bind_async(c) || bind_wgmma(c);
    if (!ok) {
      unsupported(in, pi);
      return;
    }
    emit(in, instr_text(pi));
  }

  // brx.idx{.uni} index, tlist (PTX ISA 9.0 §9.7.12.3): tlist names a .branchtargets list declared before,
  // in this function's scope (or an enclosing block). op[1] becomes a Vec of the target pcs (Label
  // entries in Kernel::vec, resolved like bra targets, in the scope of the list's declaration).
  void brx_idx(const ptx::Instr& pi, Insn& in, const std::vector<std::pair<int, std::string>>& labels, uint32_t pc) {
    const int line = pi.loc.ptx_line;
    const auto& P = pi.parts;
    const bool form = P.size() >= 2 && P[1] == "idx" && (P.size() == 2 || (P.size() == 3 && P[2] == "uni"));
    if (!form || in.nops != 2 || labels.size() != 1 || labels[0].first != 1 ||
        (in.op[0].kind != Opd::Reg && in.op[0].kind != Opd::Imm)) {
      unsupported(in, pi);
      return;
    }
    const std::string& name = labels[0].second;
    auto& scopes = frames_.back().lscopes;
    const std::vector<std::string>* tl = nullptr;
    size_t si = scopes.size();  // the scope the list was found in
    while (!tl && si > 0) {
      auto f = scopes[--si].tables.find(name);
      if (f != scopes[si].tables.end()) tl = &f->second;
    }
    if (!tl) fail(line, "brx.idx: " + name + " is not a .branchtargets list declared before it in this function");
    Opd v;
    v.kind = Opd::Vec;
    v.slot = uint32_t(K_.vec.size());
    v.n = uint32_t(tl->size());
    for (const std::string& target : *tl) {
      Opd e;
      e.kind = Opd::Label;
      scopes[si].fixes.push_back({pc, -2 - int(K_.vec.size()), target, line});
      K_.vec.push_back(e);
    }
    in.op[1] = v;
    in.flow = Flow::Brx;
    emit(in, instr_text(pi));
  }

  void unsupported(Insn& in, const ptx::Instr& pi) {
    in.fn = h_unsupported;
    in.flow = Flow::Unsupported;
    emit(in, instr_text(pi));
  }

  // call: inline the callee (or bind vprintf / __assertfail).
  void call(const ptx::Instr& pi) {
    using K = ptx::Operand::Kind;
    const int line = pi.loc.ptx_line;
    int ci = -1;
    for (size_t i = 0; i < pi.ops.size(); ++i)
      if (pi.ops[i].kind == K::Symbol) { ci = int(i); break; }
    Insn in;
    set_loc(in, pi);
    if (ci < 0) {  // indirect call through a register
      unsupported(in, pi);
      return;
    }
    const std::string& callee = pi.ops[ci].name;
    std::vector<Sym> rets, args;
    auto syms_of = [&](const ptx::Operand& v, std::vector<Sym>& out) {
      if (v.kind != K::Vec) fail(line, "call: expected a parameter list");
      for (auto& e : v.elems) {
        if (e.kind != K::Symbol && e.kind != K::Reg) fail(line, "call: arguments must be .param variables");
        const Sym* s = nullptr;
        for (auto it = scopes_.rbegin(); it != scopes_.rend() && !s; ++it) {
          auto f = it->syms.find(e.name);
          if (f != it->syms.end()) s = &f->second;
        }
        if (!s || s->space != Space::Local)
          fail(line, "call: argument " + e.name + " is not a call-site .param variable (register arguments are not supported)");
        out.push_back(*s);
      }
    };
    if (ci > 0) syms_of(pi.ops[0], rets);
    if (ci + 1 < int(pi.ops.size()) && pi.ops[ci + 1].kind == K::Vec) syms_of(pi.ops[ci + 1], args);
    if (!pi.guard.empty()) {
      int bits = 0;
      in.guard = lookup_reg(pi.guard, line, &bits);
      in.guard_neg = pi.guard_neg;
    }
    if (callee == "vprintf" || callee == "__assertfail") {
      // parameters: addresses (local space) of the call-site .param variables
      in.fn = callee == "vprintf" ? h_vprintf : h_assertfail;
      in.nops = 0;
      for (auto& s : args) {
        if (in.nops == 5) break;
        in.op[in.nops].kind = Opd::Imm;
        in.op[in.nops].imm = int64_t(s.addr);
        ++in.nops;
      }
      in.x = rets.empty() ? kNoSlot : uint32_t(rets[0].addr);
      if (callee == "__assertfail") in.flow = Flow::Trap;
      emit(in, instr_text(pi));
      return;
    }
    auto f = funcs_.find(callee);
    if (f == funcs_.end() || !f->second->has_body) {
      unsupported(in, pi);  // extern function without a body in this module
      return;
    }
    const ptx::Function& fn = *f->second;
    for (auto& fr : frames_)
      if (fr.name == callee) fail(line, "recursive call of " + callee + " (recursion cannot be inlined)");
    if (args.size() != fn.params.size() || rets.size() != fn.rets.size())
      fail(line, "call of " + callee + ": argument count does not match its declaration");
    uint32_t skip = kNoSlot;
    if (!pi.guard.empty()) {
      // a guarded call: branch around the inlined body when the guard is false
      skip = uint32_t(K_.code.size());
      Insn br;
      set_loc(br, pi);
      br.flow = Flow::Bra;
      int bits = 0;
      br.guard = lookup_reg(pi.guard, line, &bits);
      br.guard_neg = !pi.guard_neg;
      emit(br, "(guarded call: skip)");
    }
    body(fn, args, rets);
    if (skip != kNoSlot) K_.code[skip].target = uint32_t(K_.code.size());
  }

  ModuleImpl& M_;
  Kernel& K_;
  std::unordered_map<std::string, const ptx::Function*> funcs_;
  std::vector<Scope> scopes_;
  std::vector<Frame> frames_;
  std::map<std::string, Sym> module_shared_;
  std::vector<std::pair<uint32_t, int>> dyn_patches_;
  uint32_t sreg_slot_[int(Sreg::count)];
  uint32_t sink_ = 0, local_top_ = 0, shared_top_ = 0, dyn_align_ = 16;
  std::string where_fn_;
};

// ---- the module ----

ModuleImpl::ModuleImpl(ptx::Module a, GlobalMemory& m) : ast(std::move(a)), mem(m) {
  // generic windows for shared, local and param space: reserved, never accessible from the host
  void* p = mmap(nullptr, 3 * kWindow, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw DecodeError("cannot reserve the generic address windows");
  win_base = reinterpret_cast<uint64_t>(p);
}

ModuleImpl::~ModuleImpl() {
  for (uint64_t a : allocations) mem.release(a);
  munmap(reinterpret_cast<void*>(win_base), 3 * kWindow);
}

void ModuleImpl::load_globals() {
  for (auto& v : ast.globals) {
    if (v.space != "global" && v.space != "const") continue;
    if (v.is_extern) continue;
    uint64_t sz = var_size(v);
    uint64_t a = mem.allocate(std::max<uint64_t>(sz, 1), v.space == "const" ? kConstKind : "module variable");
    if (!a) throw DecodeError("out of device memory for module variable " + v.name);
    allocations.push_back(a);
    globals[v.name] = Sym{v.space == "const" ? Space::Const : Space::Global, a, sz, false};
  }
  // initialisers (after every address is known: they may name each other)
  for (auto& v : ast.globals) {
    auto g = globals.find(v.name);
    if (g == globals.end()) continue;
    uint8_t* h = mem.translate(g->second.addr, std::max<uint64_t>(g->second.size, 1));
    // PTX: .global/.const variables without an initialiser start at zero
    std::memset(h, 0, g->second.size);
    std::memcpy(h, v.init.data(), std::min<size_t>(v.init.size(), g->second.size));
    for (auto& si : v.init_symbols) {
      auto t = globals.find(si.symbol);
      if (t == globals.end()) throw DecodeError("initialiser of " + v.name + " names unknown symbol " + si.symbol);
      uint64_t val = t->second.addr + uint64_t(si.addend);
      if (si.offset + si.size > g->second.size) throw DecodeError("initialiser of " + v.name + " out of range");
      std::memcpy(h + si.offset, &val, std::min(si.size, 8));
    }
  }
}

void ModuleImpl::decode_all() {
  for (auto& f : ast.functions) {
    if (!f.is_entry || !f.has_body) continue;
    auto k = std::make_unique<Kernel>();
    k->win_shared = win_shared();
    k->win_local = win_local();
    k->win_param = win_param();
    Decoder d(*this, *k);
    d.run(f);
    kernels[f.name] = std::move(k);
  }
}

const KernelInfo* ModuleImpl::kernel(const std::string& name) const {
  auto it = kernels.find(name);
  return it == kernels.end() ? nullptr : &it->second->info;
}
std::vector<std::string> ModuleImpl::kernel_names() const {
  std::vector<std::string> v;
  for (auto& [n, k] : kernels) v.push_back(n);
  return v;
}
uint64_t ModuleImpl::symbol_address(const std::string& name, uint64_t* size) const {
  auto it = globals.find(name);
  if (it == globals.end()) {
    if (size) *size = 0;
    return 0;
  }
  if (size) *size = it->second.size;
  return it->second.addr;
}
const Kernel* ModuleImpl::decoded(const KernelInfo& info) const {
  auto it = kernels.find(info.name);
  return it == kernels.end() || &it->second->info != &info ? nullptr : it->second.get();
}

}  // namespace emu::interp

namespace emu {
std::unique_ptr<Module> Module::load(ptx::Module ast, GlobalMemory& mem) {
  auto m = std::make_unique<interp::ModuleImpl>(std::move(ast), mem);
  m->load_globals();
  m->decode_all();
  return m;
}
}  // namespace emu
