// dsv3-emu: Module::launch: validates the launch configuration against the sm_90 limits (emu.h
// DeviceLimits, CUDA programming guide "compute capability 9.0" table; .reqntid / .maxntid from PTX ISA
// §11.4), then runs the CTAs of the grid one after another on the calling thread. All state is per
// launch (Launch, Cta), so CTAs could later run on several host threads.
#include <chrono>
#include <cstring>

#include "src/interp/module.h"

namespace emu::interp {

namespace {

std::string check_config(const Kernel& K, const LaunchConfig& c, uint32_t max_dyn_smem) {
  using D = DeviceLimits;
  const Dim3& b = c.block;
  const Dim3& g = c.grid;
  if (!b.x || !b.y || !b.z || int64_t(b.x) > D::max_block_dim[0] || int64_t(b.y) > D::max_block_dim[1] ||
      int64_t(b.z) > D::max_block_dim[2] || b.count() > uint64_t(D::max_threads_per_block))
    return "invalid block dimensions (" + std::to_string(b.x) + "," + std::to_string(b.y) + "," + std::to_string(b.z) +
           "): at most (1024,1024,64) and 1024 threads";
  if (!g.x || !g.y || !g.z || g.x > D::max_grid_dim[0] || g.y > D::max_grid_dim[1] || g.z > D::max_grid_dim[2])
    return "invalid grid dimensions (" + std::to_string(g.x) + "," + std::to_string(g.y) + "," + std::to_string(g.z) + ")";
  const KernelInfo& k = K.info;
  if (k.reqntid[0] && (int(b.x) != k.reqntid[0] || int(b.y) != std::max(1, k.reqntid[1]) ||
                       int(b.z) != std::max(1, k.reqntid[2])))
    return "block dimensions differ from the kernel's .reqntid " + std::to_string(k.reqntid[0]) + "," +
           std::to_string(std::max(1, k.reqntid[1])) + "," + std::to_string(std::max(1, k.reqntid[2]));
  if (k.maxntid[0]) {
    const uint64_t mx = uint64_t(k.maxntid[0]) * std::max(1, k.maxntid[1]) * std::max(1, k.maxntid[2]);
    if (b.count() > mx) return "block of " + std::to_string(b.count()) + " threads exceeds the kernel's .maxntid (" +
                               std::to_string(mx) + " threads)";
  }
  const uint32_t st = k.static_smem;
  const uint32_t cap_default = st >= D::smem_per_block_default ? 0 : D::smem_per_block_default - st;
  const uint32_t cap = std::max(cap_default, max_dyn_smem);
  const uint64_t dyn_start = (uint64_t(st) + k.dyn_smem_align - 1) / k.dyn_smem_align * k.dyn_smem_align;
  if (c.dyn_smem > cap || dyn_start + c.dyn_smem > D::smem_per_block_optin)
    return "too much shared memory: " + std::to_string(st) + " static + " + std::to_string(c.dyn_smem) +
           " dynamic bytes (dynamic limit " + std::to_string(cap) + ", at most " +
           std::to_string(D::smem_per_block_optin) + " in all)";
  if (k.param_bytes && (!c.params || c.params_size < k.param_bytes))
    return "parameter buffer of " + std::to_string(c.params_size) + " bytes, the kernel needs " +
           std::to_string(k.param_bytes);
  if (k.cluster[0]) {
    const int cx = k.cluster[0], cy = std::max(1, k.cluster[1]), cz = std::max(1, k.cluster[2]);
    if (g.x % cx || g.y % cy || g.z % cz) return "grid not a multiple of the kernel's cluster dimensions";
  }
  // 16: the non-portable maximum of sm_90 (the runtime enforces the portable 8 unless the kernel opted in)
  if (!c.cluster.x || !c.cluster.y || !c.cluster.z || c.cluster.count() > 16 ||
      g.x % c.cluster.x || g.y % c.cluster.y || g.z % c.cluster.z)
    return "invalid cluster dimensions (" + std::to_string(c.cluster.x) + "," + std::to_string(c.cluster.y) + "," +
           std::to_string(c.cluster.z) + ") for grid (" + std::to_string(g.x) + "," + std::to_string(g.y) + "," +
           std::to_string(g.z) + ")";
  if (k.cluster[0] && c.cluster.count() > 1 &&
      (int(c.cluster.x) != k.cluster[0] || int(c.cluster.y) != std::max(1, k.cluster[1]) ||
       int(c.cluster.z) != std::max(1, k.cluster[2])))
    return "launch cluster dimensions differ from the kernel's .reqnctapercluster";
  return "";
}

uint64_t sreg_value(Sreg s, const Cta& C, const Warp& w, int lane, const LaunchConfig& cfg, const Kernel& K,
                    uint64_t cta_linear) {
  const Dim3& b = cfg.block;
  const uint32_t t = uint32_t(w.id) * 32 + uint32_t(lane);
  Dim3 cl = cfg.cluster;
  if (K.info.cluster[0]) cl = Dim3{uint32_t(K.info.cluster[0]), uint32_t(std::max(1, K.info.cluster[1])),
                                  uint32_t(std::max(1, K.info.cluster[2]))};
  switch (s) {
    case Sreg::tid_x: return t % b.x;
    case Sreg::tid_y: return t / b.x % b.y;
    case Sreg::tid_z: return t / (b.x * b.y);
    case Sreg::ntid_x: return b.x;
    case Sreg::ntid_y: return b.y;
    case Sreg::ntid_z: return b.z;
    case Sreg::ctaid_x: return C.ctaid.x;
    case Sreg::ctaid_y: return C.ctaid.y;
    case Sreg::ctaid_z: return C.ctaid.z;
    case Sreg::nctaid_x: return cfg.grid.x;
    case Sreg::nctaid_y: return cfg.grid.y;
    case Sreg::nctaid_z: return cfg.grid.z;
    case Sreg::laneid: return uint32_t(lane);
    case Sreg::warpid: return uint32_t(w.id);
    case Sreg::nwarpid: return 64;
    case Sreg::smid: return cta_linear % DeviceLimits::sm_count;
    case Sreg::nsmid: return DeviceLimits::sm_count;
    case Sreg::gridid: return 1;
    case Sreg::lanemask_eq: return 1u << lane;
    case Sreg::lanemask_le: return uint32_t((2ull << lane) - 1);
    case Sreg::lanemask_lt: return (1u << lane) - 1;
    case Sreg::lanemask_ge: return ~((1u << lane) - 1);
    case Sreg::lanemask_gt: return uint32_t(~((2ull << lane) - 1));
    case Sreg::dynamic_smem_size: return cfg.dyn_smem;
    case Sreg::total_smem_size: return uint32_t(C.smem.size());
    case Sreg::cluster_ctarank:
      return (C.ctaid.x % cl.x) + (C.ctaid.y % cl.y) * cl.x + (C.ctaid.z % cl.z) * cl.x * cl.y;
    case Sreg::cluster_nctarank: return cl.count();
    case Sreg::clusterid_x: return C.ctaid.x / cl.x;
    case Sreg::clusterid_y: return C.ctaid.y / cl.y;
    case Sreg::clusterid_z: return C.ctaid.z / cl.z;
    case Sreg::nclusterid_x: return cfg.grid.x / cl.x;
    case Sreg::nclusterid_y: return cfg.grid.y / cl.y;
    case Sreg::nclusterid_z: return cfg.grid.z / cl.z;
    case Sreg::cluster_ctaid_x: return C.ctaid.x % cl.x;
    case Sreg::cluster_ctaid_y: return C.ctaid.y % cl.y;
    case Sreg::cluster_ctaid_z: return C.ctaid.z % cl.z;
    case Sreg::cluster_nctaid_x: return cl.x;
    case Sreg::cluster_nctaid_y: return cl.y;
    case Sreg::cluster_nctaid_z: return cl.z;
    case Sreg::is_explicit_cluster: return (K.info.cluster[0] || cfg.cluster.count() > 1) ? 1 : 0;
    case Sreg::count: break;
  }
  return 0;
}

uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

LaunchResult ModuleImpl::launch(const KernelInfo& info, const LaunchConfig& cfg, uint32_t max_dyn_smem,
                                GlobalMemory& gm, const Options& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  LaunchResult bad;
  const Kernel* K = decoded(info);
  if (!K) {
    auto it = kernels.find(info.name);
    if (it != kernels.end()) K = it->second.get();
  }
  if (!K) {
    bad.status = LaunchResult::Status::InvalidConfig;
    bad.message = "no kernel " + info.name + " in this module";
    return bad;
  }
  const std::string err = check_config(*K, cfg, max_dyn_smem);
  if (!err.empty()) {
    bad.status = LaunchResult::Status::InvalidConfig;
    bad.message = K->display + ": " + err;
    return bad;
  }

  Launch L;
  L.k = K;
  L.cfg = &cfg;
  L.opt = &opt;
  L.mem = &gm;
  L.mod = this;
  L.dyn_smem = cfg.dyn_smem;
  L.win_shared = win_shared();
  L.win_local = win_local();
  L.win_param = win_param();
  L.win_size = kWindow;
  L.rng.seed(opt.seed);
  L.land_rng.seed(opt.seed ^ 0x9E3779B97F4A7C15ull);
  L.t0_ns = now_ns();
  // the parameter buffer, read-only for the kernel
  std::vector<uint8_t> params(std::max<uint32_t>(K->info.param_bytes, 1), 0xFF);
  if (cfg.params) std::memcpy(params.data(), cfg.params, std::min<size_t>(cfg.params_size, K->info.param_bytes));
  L.params = &params;

  const uint32_t nthreads = uint32_t(cfg.block.count());
  const int nwarps = int((nthreads + 31) / 32);
  const uint32_t smem_bytes = cfg.dyn_smem ? K->dyn_base + cfg.dyn_smem : K->smem_static;
  // the CTAs of one cluster run together; most launches have clusters of one CTA
  Dim3 cd = cfg.cluster;
  if (K->info.cluster[0])
    cd = Dim3{uint32_t(K->info.cluster[0]), uint32_t(std::max(1, K->info.cluster[1])), uint32_t(std::max(1, K->info.cluster[2]))};
  const uint32_t ncl = uint32_t(cd.count());
  std::vector<std::unique_ptr<Cta>> ctas(ncl);
  Cluster cl;
  cl.threads = nthreads * ncl;
  for (uint32_t r = 0; r < ncl; ++r) {
    ctas[r] = std::make_unique<Cta>();
    Cta& C = *ctas[r];
    C.L = &L;
    C.k = K;
    C.nthreads = nthreads;
    C.cl = &cl;
    C.rank = r;
    C.warps.resize(size_t(nwarps));
    C.smem.resize(smem_bytes);
    if (opt.strict) C.smem_init.resize(smem_bytes);
    C.local.resize(size_t(K->info.local_bytes) * nthreads);
    for (int i = 0; i < nwarps; ++i) {
      Warp& w = C.warps[size_t(i)];
      w.cta = &C;
      w.id = i;
      w.reg_store.resize(size_t(K->nslots) * 32);
      w.regs = w.reg_store.data();
      if (opt.strict) w.written.resize(K->nslots);
      const uint32_t n = std::min<uint32_t>(32, nthreads - uint32_t(i) * 32);
      w.exists = n == 32 ? 0xFFFFFFFFu : (1u << n) - 1;
    }
    cl.ctas.push_back(&C);
  }

  auto reset = [&](Cta& C, Dim3 ctaid, uint64_t linear) {
    C.ctaid = ctaid;
    C.work = false;
    C.exited_threads = 0;
    for (auto& b : C.bars) b = Barrier{};
    std::memset(C.smem.data(), 0xFF, C.smem.size());  // poison
    if (opt.strict) std::memset(C.smem_init.data(), 0, C.smem_init.size());
    std::memset(C.local.data(), 0xFF, C.local.size());
    if (opt.racecheck) C.race.reset(smem_bytes, nwarps);
    C.proxy_on = opt.proxycheck && K->async_proxy;
    C.proxy_io = kProxyGeneric;
    if (C.proxy_on) C.proxy.reset(smem_bytes, nthreads);
    for (auto& w : C.warps) {
      std::memset(w.regs, 0xFF, w.reg_store.size() * 8);  // fresh registers hold poison
      std::memset(w.pc, 0, sizeof w.pc);
      std::memset(w.st, 0, sizeof w.st);
      for (int l = 0; l < 32; ++l)
        if (!(w.exists >> l & 1)) w.st[l] = kExited;
      w.carry = 0;
      w.cl_arrived = 0;
      w.wg = {};
      w.wg_ops.clear();
      w.wg_fences = 0;
      w.wg_busy.assign(K->wg_role.size(), 0);
      w.wg_touch.assign(K->wg_role.size(), {0u, 0u});
      for (int l = 0; l < 32; ++l) {
        w.bs_open[l].clear();
        w.bs_groups[l].clear();
        w.cp_open[l].clear();
        w.cp_groups[l].clear();
      }
      w.exited = 0;
      w.gbase = 1;
      w.gend = 0;
      if (opt.strict) {
        std::fill(w.written.begin(), w.written.end(), 0u);
        w.written[0] = 0xFFFFFFFFu;  // the sink
      }
      for (auto& [s, slot] : K->sregs) {
        for (int l = 0; l < 32; ++l) w.regs[size_t(slot) * 32 + l] = sreg_value(s, C, w, l, cfg, *K, linear);
        if (opt.strict) w.written[slot] = 0xFFFFFFFFu;
      }
    }
    C.mbar.reset();
    C.mbar_ids.clear();
    C.bulk.clear();
    C.landed.clear();
  };

  for (uint32_t z0 = 0; z0 < cfg.grid.z && !L.stop; z0 += cd.z)
    for (uint32_t y0 = 0; y0 < cfg.grid.y && !L.stop; y0 += cd.y)
      for (uint32_t x0 = 0; x0 < cfg.grid.x && !L.stop; x0 += cd.x) {
        cl.exited = cl.arrived = cl.phase = 0;
        for (uint32_t r = 0; r < ncl; ++r) {
          const Dim3 id{x0 + r % cd.x, y0 + r / cd.x % cd.y, z0 + r / (cd.x * cd.y)};
          reset(*ctas[r], id, (uint64_t(id.z) * cfg.grid.y + id.y) * cfg.grid.x + id.x);
        }
        run_cluster(cl);
        for (auto& c : ctas) {
          if (!L.stop) drain_async(*c);  // copies still in flight complete before the CTA's end
          ++L.res.ctas;
          if (c->work) ++L.res.ctas_with_work;
        }
      }
  LaunchResult r = L.res;
  if (r.status == LaunchResult::Status::Ok && L.failed) r.status = LaunchResult::Status::LaunchFailure;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace emu::interp
