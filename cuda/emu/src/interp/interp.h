// dsv3-emu interpreter internals: the decoded form of a kernel (flat instruction array with pre-resolved
// operands and one handler per opcode variant) and the per-launch execution state (CTA, warps, lanes).
// Semantics follow the PTX ISA 9.0; the execution model is DESIGN.md "Execution model". Files:
//   decode.cc (module load, slots, inlining, labels, binding)  cta.cc (SIMT executor, scheduler, barriers,
//   collectives, deadlocks)  launch.cc (config checks, clusters of CTAs)  report.cc (report text)
//   exec_int / exec_cmp / exec_float / exec_half / exec_cvt (per-lane arithmetic)  exec_mem (checked
//   ld/st/atom/cvta, generic windows)  exec_warp (shfl/vote/redux/match/elect)  exec_mma (mma.sync,
//   ldmatrix)  exec_ctl (bar, fences, printf, assert)  exec_async (mbarrier, cp.async, bulk, TMA)
//   exec_wgmma (warpgroup MMA)  exec_cluster (cluster barrier, mapa). The async units' semantics are the
//   src/sm90 models', reached through async_mem.h (the views that bounds- and race-check their bytes);
//   proxycheck (generic-proxy writes that an async-proxy access follows without fence.proxy.async).
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "src/interp/emu.h"
#include "src/interp/proxycheck.h"
#include "src/interp/racecheck.h"
#include "src/ptx/ast.h"
#include "src/runtime/memory.h"
#include "src/sm90/mbarrier.h"
#include "src/sm90/tma.h"
#include "src/sm90/wgmma.h"

namespace emu::interp {

struct Warp;
struct Insn;
// A handler runs one instruction for the lanes in `m` (active and guard true). false: the launch stops
// (a report was made).
using Handler = bool (*)(Warp& w, const Insn& in, uint32_t m);

constexpr uint32_t kNoSlot = 0xFFFFFFFFu;
// GlobalMemory allocation kind of module .const variables: writes to them are reported.
constexpr const char* kConstKind = "module constant";

// Address spaces of memory instructions.
enum class Space : uint8_t { Generic, Global, Shared, Local, Param, Const };
const char* space_name(Space s);

// A pre-resolved operand. A register is a slot (64-bit per lane, slot-major per warp); an immediate its
// value (float immediates as raw bits of the instruction's type after decode); a vector an index into
// Kernel::vec; an address a base slot (kNoSlot when absolute) plus a byte offset (symbols resolved).
struct Opd {
  enum Kind : uint8_t { Reg, Imm, Vec, Addr, Label, Sink } kind = Reg;
  bool neg = false;     // predicate written !%p
  uint8_t bits = 0;     // Reg: declared width (1 for .pred); Imm: 0 int, 32/64 float literal width
  Space space = Space::Generic;  // Addr: the space its symbol lives in (when base is a symbol)
  uint32_t slot = kNoSlot;       // Reg, Addr base; Vec: first index into Kernel::vec; Label: target pc
  uint32_t n = 0;                // Vec: element count; Imm / Addr: 1 when it names a symbol
  uint32_t coords = kNoSlot;     // Addr with a coordinate vector [tmap, {x, y}]: index in Kernel::vec of a Vec
  int64_t imm = 0;               // Imm value / Addr offset
};

// Control-flow class of an instruction: what the warp scheduler does besides calling the handler.
enum class Flow : uint8_t {
  Plain,     // handler, then pc + 1
  Bra,       // branch to target (per lane, under guard)
  Brx,       // brx.idx: per lane, to Kernel::vec[op[1].slot + index].slot (op[1]: the table, op[0]: index)
  Exit,      // lanes exit (exit, ret of the kernel)
  Bar,       // bar.sync / barrier.sync / bar.red / bar.arrive: barrier logic in cta.cc
  Coll,      // warp collective: waits for its member mask, then handler for the whole group
  Wait,      // may block lanes (mbarrier.try_wait): the handler sets Warp::blocked (exec_async.cc)
  Trap,      // trap / brkpt
  Unsupported,
};

struct Insn {
  Handler fn = nullptr;
  Flow flow = Flow::Plain;
  uint8_t nops = 0;
  uint8_t ndst = 0;     // the first ndst operands are written (strict-mode bookkeeping)
  bool guard_neg = false;
  uint32_t guard = kNoSlot;  // predicate slot, kNoSlot when unguarded
  uint32_t target = 0;       // Bra: target pc
  // Opcode-variant parameters, meaning per family (types, comparison, rounding, flags...).
  uint8_t t = 0, t2 = 0, a = 0, b = 0, c = 0, d = 0;
  uint8_t wgr = 0;           // names a register that a wgmma.mma_async uses as accumulator / A fragment
                             // (Kernel::wg_role): the executor calls wg_access (exec_wgmma.cc) first
  uint32_t x = 0;            // extra immediate parameter (bar id/count flags, mma shape, ...)
  int ptx_line = 0;
  int16_t file = -1;
  int line = 0;
  Opd op[8];
};

// A symbol as the decoder sees it: where it lives and its address in that space.
struct Sym {
  Space space = Space::Global;
  uint64_t addr = 0, size = 0;
  bool dyn_shared = false;  // extern .shared [] : address patched once the static layout is final
};

// Special registers that are constant per thread for a launch are materialised in reserved slots.
enum class Sreg : uint8_t {
  tid_x, tid_y, tid_z, ntid_x, ntid_y, ntid_z, ctaid_x, ctaid_y, ctaid_z, nctaid_x, nctaid_y, nctaid_z,
  laneid, warpid, nwarpid, smid, nsmid, gridid, lanemask_eq, lanemask_le, lanemask_lt, lanemask_ge,
  lanemask_gt, dynamic_smem_size, total_smem_size, cluster_ctarank, cluster_nctarank, clusterid_x,
  clusterid_y, clusterid_z, nclusterid_x, nclusterid_y, nclusterid_z, cluster_ctaid_x, cluster_ctaid_y,
  cluster_ctaid_z, cluster_nctaid_x, cluster_nctaid_y, cluster_nctaid_z, is_explicit_cluster, count
};

struct Kernel {
  KernelInfo info;
  std::string display;            // demangled name for reports
  std::vector<Insn> code;
  std::vector<Opd> vec;           // vector operand elements
  std::vector<sm90::WgmmaOp> wgmma;  // wgmma.mma_async forms (Insn::x indexes), descriptors filled at issue
  // per slot (empty without wgmma): kWgAcc | kWgA when some wgmma.mma_async uses the register as an
  // accumulator / A fragment element; wg_names: those registers' PTX names (reports)
  std::vector<uint8_t> wg_role;
  std::map<uint32_t, std::string> wg_names;
  std::vector<std::string> text;  // per pc: the instruction as written (reports)
  std::vector<uint8_t> slot_bits; // declared width per slot
  std::vector<std::pair<Sreg, uint32_t>> sregs;  // materialised special registers: which slot
  uint32_t nslots = 0;
  uint32_t smem_static = 0, dyn_base = 0;
  bool async_proxy = false;       // has instructions that access shared memory through the async proxy
                                  // (wgmma.mma_async, cp.async.bulk{.tensor}): the proxy check runs
  const std::vector<std::string>* files = nullptr;
  uint64_t win_shared = 0, win_local = 0, win_param = 0;  // generic windows (module-wide)
  uint64_t generic_of(Space s, uint64_t a) const {
    return s == Space::Shared ? win_shared + a : s == Space::Local ? win_local + a : s == Space::Param ? win_param + a : a;
  }
};

class ModuleImpl;

// Per-launch state shared by the CTAs of a grid.
struct Launch {
  const Kernel* k = nullptr;
  const LaunchConfig* cfg = nullptr;
  const Options* opt = nullptr;
  GlobalMemory* mem = nullptr;
  ModuleImpl* mod = nullptr;
  LaunchResult res;
  bool stop = false;          // a fatal report: no more instructions anywhere
  bool failed = false;        // a non-fatal report (race, divergence) -> LaunchFailure at the end
  uint32_t dyn_smem = 0;
  uint64_t win_shared = 0, win_local = 0, win_param = 0, win_size = 0;  // generic windows
  std::mt19937_64 rng;
  // The landing points of bulk / tensor loads (exec_async.cc, land_due): their own generator, seeded from
  // Options::seed in both schedules (so a round-robin run is reproducible and a random one does not
  // change its warp order), and the warp switches made so far (the clock that landing points are set on).
  std::mt19937_64 land_rng;
  uint64_t switches = 0;
  std::map<std::pair<uint32_t, uint32_t>, int> race_seen;  // (pc, other pc) already reported
  std::set<std::pair<uint32_t, uint32_t>> proxy_seen;      // (async pc, ~0: missing fence / wait pc) reported
  std::set<std::pair<uint32_t, uint32_t>> wg_seen;         // wgmma register-rule reports made: (pc, other pc)
  uint64_t t0_ns = 0;
  const std::vector<uint8_t>* params = nullptr;  // the kernel parameter buffer (param space)
};

struct Barrier {
  uint32_t expected = 0;   // threads; 0 = not in use
  uint32_t arrived = 0;
  bool full_cta = false;   // no explicit count (__syncthreads)
  uint32_t red_and = 1, red_or = 0, red_popc = 0;
};

struct Cta;
// The CTAs of one cluster, run together (PTX ISA §2.2.2): their cluster barrier (barrier.cluster) and
// the ranks that shared::cluster addresses name (rank + 1 in bits 24.. of a shared address, 0: own CTA).
struct Cluster {
  std::vector<Cta*> ctas;
  uint32_t threads = 0, exited = 0, arrived = 0, phase = 0;
};
constexpr uint32_t kClusterRankShift = 24;
constexpr uint32_t kClusterSyncId = 16 + 0xFFFF;  // RaceCheck sync id of the cluster barrier

// One CTA being run.
struct Cta {
  Launch* L = nullptr;
  const Kernel* k = nullptr;
  Dim3 ctaid;
  uint32_t nthreads = 0;
  std::vector<Warp> warps;
  std::vector<uint8_t> smem;        // static + dynamic
  std::vector<uint8_t> smem_init;   // strict: 1 per written byte
  std::vector<uint8_t> local;       // per thread local_bytes, thread-major
  Barrier bars[16];
  RaceCheck race;
  // Generic -> async proxy fences (proxycheck.h), on when the kernel has async-proxy instructions.
  // proxy_io: what access() is doing for the caller: kProxyGeneric (an instruction of a thread),
  // kProxyAsync (bytes an async unit moves: its writes clear the shadow), kProxyMute (mbarrier operations
  // other than init / inval: atomics on the object ordered by the mbarrier's own rules, not recorded).
  ProxyCheck proxy;
  bool proxy_on = false;
  uint8_t proxy_io = 0;
  bool work = false;                // wrote global memory / issued an atomic
  uint32_t exited_threads = 0;
  Cluster* cl = nullptr;
  uint32_t rank = 0;                // in the cluster
  // mbarrier objects (PTX ISA §9.7.13.15): the sm90 model's state machine, its 8 bytes in smem (read and
  // written by exec_async.cc after the interpreter's own bounds / race checks of the object), created at
  // the first mbarrier operation of the CTA; mbar_ids: the RaceCheck sync id (16 + id) of each object.
  struct MbarMem : sm90::SmemView {
    Cta* c = nullptr;
    bool read(uint32_t addr, void* dst, uint32_t n) override;
    bool write(uint32_t addr, const void* src, uint32_t n) override;
  };
  std::unique_ptr<MbarMem> mbar_mem;
  std::unique_ptr<sm90::MbarrierUnit> mbar;
  std::map<uint32_t, uint32_t> mbar_ids;
  // The bulk copies in flight (completed late: when a thread waits on their mbarrier, when the CTA would
  // otherwise stall, or at its end; or at their seeded landing point, land_at).
  struct BulkOp {
    uint32_t dst; uint64_t src; uint32_t size, mbar, pc; int warp, lane;
    bool store = false;             // shared -> global (bulk_group completion), else global -> shared (mbarrier)
    int tensor_rank = 0;            // cp.async.bulk.tensor: the map (decoded at issue) and box coordinates
    std::shared_ptr<const sm90::TensorMap> map;
    int32_t coords[5] = {};
    uint64_t land_at = ~0ull;       // loads: the Launch::switches count at which it lands early (~0: at the latest point)
  };
  std::vector<BulkOp> bulk;
  // Loads landed early (land_due): their bytes are in place, complete_tx performed, but under --strict
  // they stay marked unobserved (smem_init 3) until the point where they would have landed at the latest
  // (a wait on their mbarrier, a stall, the CTA's end): (dst, size, mbar).
  struct Landed { uint32_t dst, size, mbar; };
  std::vector<Landed> landed;
};

// Lane states.
enum LaneSt : uint8_t { kRun = 0, kExited, kBarWait, kCollWait, kMbarWait, kClusterWait };

struct Warp {
  Cta* cta = nullptr;
  int id = 0;
  uint64_t* regs = nullptr;         // nslots * 32
  std::vector<uint64_t> reg_store;
  std::vector<uint32_t> written;    // strict: per slot, lanes that wrote it
  uint32_t pc[32] = {};
  uint8_t st[32] = {};
  uint8_t bar_id[32] = {};
  uint32_t wait_addr[32] = {};      // kMbarWait: the mbarrier's shared address
  uint32_t cl_target[32] = {};      // barrier.cluster: the phase a lane's arrival completes
  uint32_t cl_arrived = 0;          // lanes that arrived at the cluster barrier and have not waited yet
  uint32_t blocked = 0;             // set by a Flow::Wait handler: lanes that must wait
  // cp.async (PTX ISA §9.7.9.25.3): per lane, the copies not yet committed and the committed groups
  struct CpOp { uint32_t dst; uint64_t src; uint32_t size, src_size, pc; };
  std::vector<CpOp> cp_open[32];
  std::vector<std::vector<CpOp>> cp_groups[32];
  // wgmma.mma_async issued by this warp (PTX ISA §9.7.15.5): the sm90 model's group bookkeeping over
  // handles into wg_ops; completed in order at wgmma.wait_group (exec_wgmma.cc). `a`: A registers at
  // issue (A from registers), `d_in`: the accumulators at issue (empty when chained on a pending op).
  // snap / snap_at: the shared-memory operand bytes as read at issue ((address, length) of each read of
  // the model, and the bytes in that order): the product is computed from them, and a change by the
  // covering wait_group is reported (exec_wgmma.cc).
  struct WgOp {
    uint32_t pc; sm90::WgmmaOp op; std::vector<uint32_t> a, d_in;
    uint32_t fences = 0;  // Warp::wg_fences at issue
    std::vector<std::pair<uint32_t, uint32_t>> snap_at;
    std::vector<uint8_t> snap;
  };
  sm90::WgmmaGroups wg;
  std::map<uint64_t, WgOp> wg_ops;
  uint64_t wg_next = 0;
  // The register rules of wgmma (PTX ISA wgmma.fence, wgmma.wait_group; exec_wgmma.cc), per slot when the
  // kernel has wgmma (Kernel::wg_role), else empty. wg_busy: 0, or the in-flight op using the register:
  // (handle + 1) << 1, | 1 when as an A fragment element. wg_touch: (wg_fences + 1, pc) of the last access
  // by an instruction other than wgmma.mma_async ({0, 0}: none). wg_fences: wgmma.fence executed so far.
  std::vector<uint64_t> wg_busy;
  std::vector<std::pair<uint32_t, uint32_t>> wg_touch;
  uint32_t wg_fences = 0;
  // cp.async.bulk shared -> global stores (bulk_group completion, §9.7.9.25.4), per lane: open and committed
  std::vector<Cta::BulkOp> bs_open[32];
  std::vector<std::vector<Cta::BulkOp>> bs_groups[32];
  uint32_t exists = 0;              // lanes that are threads of the CTA
  uint32_t exited = 0;              // lanes that have exited
  uint32_t carry = 0;               // CC.CF per lane
  // last global allocation touched (fast path of address translation)
  uint64_t gbase = 1, gend = 0;
  int64_t gdelta = 0;
  bool gro = false;                 // the cached allocation is a .const variable (read-only)
  bool done() const;
};

// ---- operand access (hot path) ----
struct Src {
  const uint64_t* p;
  uint32_t lm;
  uint64_t operator[](int l) const { return p[l & lm]; }
};
inline Src src(const Warp& w, const Opd& o) {
  return o.kind == Opd::Reg ? Src{w.regs + size_t(o.slot) * 32, 31u} : Src{reinterpret_cast<const uint64_t*>(&o.imm), 0u};
}
inline uint64_t* dst(Warp& w, const Opd& o) { return w.regs + size_t(o.slot) * 32; }
inline bool pred(const Warp& w, const Opd& o, int l) { return (w.regs[size_t(o.slot) * 32 + l] != 0) != o.neg; }

// The address an Addr operand names for lane l: base register (if any) + byte offset. With a 32-bit base
// register the address expression is 32 bits wide (PTX ISA §6.4.1: addresses are zero-extended to the
// space's width, the register+offset sum is computed in the register's width), so it wraps modulo 2^32:
// [%r+1024] with %r = 0xFFFFFC00 + x names shared address x. 64-bit registers are unchanged.
inline uint64_t addr_at(const Warp& w, const Opd& a, int l) {
  if (a.slot == kNoSlot) return uint64_t(a.imm);
  const uint64_t v = w.regs[size_t(a.slot) * 32 + l] + uint64_t(a.imm);
  return a.bits == 32 ? uint64_t(uint32_t(v)) : v;
}

template <class F>
inline void each(uint32_t m, F&& f) {
  if (m == 0xFFFFFFFFu) {  // converged warp: a plain loop the compiler can unroll / vectorise
    for (int l = 0; l < 32; ++l) f(l);
    return;
  }
  while (m) {
    const int l = __builtin_ctz(m);
    m &= m - 1;
    f(l);
  }
}

// Population count without relying on the POPCNT instruction being enabled for the build.
inline int popc(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  return int((((x + (x >> 4)) & 0x0F0F0F0Fu) * 0x01010101u) >> 24);
}

inline uint64_t sext(uint64_t v, int bits) {
  return bits >= 64 ? v : uint64_t(int64_t(v << (64 - bits)) >> (64 - bits));
}
inline uint64_t zmask(int bits) { return bits >= 64 ? ~0ull : ((1ull << bits) - 1); }

// ---- types of opcode variants ----
enum Ty : uint8_t {
  T_none, T_pred, T_b8, T_b16, T_b32, T_b64, T_b128, T_u8, T_u16, T_u32, T_u64, T_s8, T_s16, T_s32, T_s64,
  T_f16, T_f16x2, T_bf16, T_bf16x2, T_f32, T_f64, T_e4m3, T_e5m2, T_e4m3x2, T_e5m2x2, T_tf32, T_count
};
Ty parse_ty(const std::string& s);  // T_none if not a type
int ty_bits(Ty t);
inline bool ty_signed(Ty t) { return t >= T_s8 && t <= T_s64; }
inline bool ty_float(Ty t) { return t >= T_f16 && t <= T_tf32; }
const char* ty_name(Ty t);

// ---- decoding: per-family binders ----
// A binder looks at the instruction's mnemonic parts and its (already resolved) operands, and sets
// in.fn / in.flow and the variant fields. Returns false when the opcode/variant is not implemented
// (decodes to the unsupported handler); throws DecodeError on malformed operands.
struct BindCtx {
  const ptx::Instr& pi;
  Insn& in;
  Kernel& k;
  std::string where;  // "instruction `...` at PTX line N of ORIGIN" for errors
  [[noreturn]] void fail(const std::string& why) const;
  // operand shape checks
  void need(int n) const;
  void reg(int i) const;         // must be a register (or sink for destinations)
  void regimm(int i) const;      // register or immediate
  void addr(int i) const;
  bool has(const char* part) const;  // a mnemonic part is present
  Ty type_at(int from_end) const;     // parse_ty(parts[size-1-from_end])
  // float immediates: convert a decimal/f64 literal to the operand type's bits (f32) in place
  void fimm(int i, Ty t) const;
};
bool bind_int(BindCtx& c);
bool bind_cmp(BindCtx& c);
bool bind_float(BindCtx& c);
bool bind_half(BindCtx& c);
bool bind_cvt(BindCtx& c);
bool bind_mem(BindCtx& c);
bool bind_warp(BindCtx& c);
bool bind_mma(BindCtx& c);
bool bind_ctl(BindCtx& c);

// ---- run time services (cta.cc, report.cc, exec_mem.cc) ----
// A report for lane `l` of warp `w` at instruction `in`; `headline` is the first line without the
// prefix, `detail` extra lines. Fatal kinds stop the launch.
void report(Warp& w, const Insn* in, int lane, Report::Kind kind, const std::string& headline,
            const std::vector<std::string>& detail);
void report_cta(Cta& cta, Report::Kind kind, const std::string& headline, const std::vector<std::string>& detail);
std::string where_line(const Kernel& k, const Insn& in);  // "at KERNEL (PTX line N) file:line"
uint32_t pc_of(const Warp& w, const Insn& in);

// Memory access for one lane: returns the host pointer of [addr, addr+size) in `space`, or nullptr after
// reporting (out of bounds / misaligned). `write`/`atomic` for messages, race check and strict shadow.
// `align`: the alignment required (0: the access size, natural alignment; bulk copies ask for 16).
uint8_t* access(Warp& w, const Insn& in, int lane, Space space, uint64_t addr, uint32_t size, bool write,
                bool atomic, uint32_t align = 0);
// The async-proxy access of [addr, addr + n) of shared memory by the instruction `in` of lane `lane`
// (`what`: which operand, for the report): reports a generic-proxy write of those bytes that its writing
// thread did not follow with fence.proxy.async (proxycheck.h). Non-fatal; false when it reported.
enum : uint8_t { kProxyGeneric = 0, kProxyAsync = 1, kProxyMute = 2 };
bool proxy_check(Warp& w, const Insn& in, int lane, uint64_t addr, uint32_t n, const char* what);
// Generic address of a window-relative offset (cvta) and back.
uint64_t to_generic(const Launch& L, Space s, uint64_t a);
bool from_generic(const Launch& L, Space s, uint64_t g, uint64_t* a);

// The executor: runs the CTAs of a cluster (usually one) to completion, their warps interleaved (cta.cc).
void run_cluster(Cluster& cl);
// A lane exit may complete the cluster barrier (barrier.cluster waits for the non-exited threads).
void cluster_exited(Cta& cta, uint32_t n);
// Async units (exec_async.cc): complete every bulk copy in flight (false if none); a launch-stopping
// report returns through Launch::stop. Called when a CTA would stall and at its end.
bool drain_async(Cta& cta);
// Lands the bulk / tensor loads whose seeded landing point (BulkOp::land_at) has come; called by the
// scheduler at each warp switch. True if any landed (waiters may have been woken).
bool land_due(Cta& cta);
// The landing point of a load issued now (never the issuing switch itself).
uint64_t pick_landing(Launch& L);
bool bind_async(BindCtx& c);
bool bind_wgmma(BindCtx& c);
// wgmma register rules (exec_wgmma.cc). mark_wgmma_registers: after decode, fills Kernel::wg_role and sets
// Insn::wgr on the other instructions that name those registers. wg_access: such an instruction runs for
// lanes m (an access while a wgmma using the register is in flight is reported; the access is recorded
// for the wgmma.fence check). wg_exit: lanes m exit; wgmma ops still in flight or never committed are
// reported.
enum : uint8_t { kWgAcc = 1, kWgA = 2 };
void mark_wgmma_registers(Kernel& k);
void wg_access(Warp& w, const Insn& in, uint32_t m);
void wg_exit(Warp& w, const Insn& in, uint32_t m);
bool bind_cluster(BindCtx& c);

}  // namespace emu::interp
