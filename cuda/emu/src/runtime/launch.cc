// dsv3-emu runtime: kernel launches. <<<>>> (the call-configuration stack and __cudaGetKernel /
// __cudaLaunchKernel of CUDA 13's stubs), cudaLaunchKernel and cudaLaunchKernelExC (cluster dimension).
// The configuration is checked at the call, as the real runtime does (errors returned there and kept
// as the last error); the kernel then runs on the executor thread through emu::Module::launch, and a
// fault becomes the device's sticky error. Also cudaFuncSetAttribute / GetAttributes and occupancy.
#include <cstring>

#include "src/runtime/registry.h"

namespace emu::rt {
namespace {

using L = emu::DeviceLimits;

struct CallConfig {
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
};
thread_local std::vector<CallConfig> t_configs;

cudaError_t to_error(const emu::LaunchResult& r) {
  using S = emu::LaunchResult::Status;
  switch (r.status) {
    case S::Ok: return cudaSuccess;
    case S::IllegalAddress: return cudaErrorIllegalAddress;
    case S::MisalignedAddress: return cudaErrorMisalignedAddress;
    case S::IllegalInstruction: return cudaErrorIllegalInstruction;
    case S::Trap:  // __assertfail is an assertion; a bare trap is an unspecified launch failure
      return r.message.find("assert") != std::string::npos ? cudaErrorAssert : cudaErrorLaunchFailure;
    case S::InvalidConfig: return cudaErrorInvalidConfiguration;
    case S::LaunchFailure: default: return cudaErrorLaunchFailure;
  }
}

// Runs on the executor thread.
void run_kernel(emu::Module* module, const emu::KernelInfo* info, emu::LaunchConfig cfg, uint32_t max_dyn,
                const std::shared_ptr<std::vector<uint8_t>>& params) {
  cfg.params = params->data();
  cfg.params_size = params->size();
  uint64_t printed = 0;
  emu::Options opt = interp_options();
  opt.on_report = [&printed](const emu::Report& r) {
    ++printed;
    report(r.text);
  };
  const emu::LaunchResult r = module->launch(*info, cfg, max_dyn, gmem(), opt);
  Stats& s = stats();
  ++s.kernels;
  s.thread_instructions += r.thread_instructions;
  s.warp_instructions += r.warp_instructions;
  s.kernel_seconds += r.seconds;
  Stats::Kernel& k = s.per_kernel[info->name];
  ++k.launches;
  k.ctas += r.ctas;
  k.ctas_with_work += r.ctas_with_work;
  k.thread_instructions += r.thread_instructions;
  k.seconds += r.seconds;
  if (r.reports > printed) {
    report("dsv3-emu: kernel " + info->name + ": " + std::to_string(r.reports - printed) + " more reports not printed",
           r.reports - printed);
  }
  if (r.status != emu::LaunchResult::Status::Ok) {
    if (r.reports == 0) report("dsv3-emu: kernel " + info->name + " failed: " + r.message);
    set_sticky(to_error(r));
  }
}

bool dims_ok(const dim3& d, const uint32_t* max) { return d.x && d.y && d.z && d.x <= max[0] && d.y <= max[1] && d.z <= max[2]; }

// The checks the real runtime makes before a launch is queued.
cudaError_t validate(const Kernel* k, const dim3& grid, const dim3& block, size_t smem, const uint32_t cluster[3]) {
  const emu::KernelInfo& info = *k->info;
  const uint32_t max_block[3] = {uint32_t(L::max_block_dim[0]), uint32_t(L::max_block_dim[1]), uint32_t(L::max_block_dim[2])};
  if (!dims_ok(block, max_block) || uint64_t{block.x} * block.y * block.z > uint64_t(L::max_threads_per_block))
    return cudaErrorInvalidConfiguration;
  if (!dims_ok(grid, L::max_grid_dim)) return cudaErrorInvalidConfiguration;
  const uint64_t threads = uint64_t{block.x} * block.y * block.z;
  if (info.reqntid[0]) {
    const uint64_t req = uint64_t(info.reqntid[0]) * std::max(info.reqntid[1], 1) * std::max(info.reqntid[2], 1);
    if (threads != req) return cudaErrorInvalidValue;
  }
  if (info.maxntid[0]) {  // __launch_bounds__: more threads than the kernel was compiled for
    const uint64_t max = uint64_t(info.maxntid[0]) * std::max(info.maxntid[1], 1) * std::max(info.maxntid[2], 1);
    if (threads > max) return cudaErrorLaunchOutOfResources;
  }
  if (smem > max_dyn_smem(k) || info.static_smem + smem > L::smem_per_block_optin) return cudaErrorInvalidValue;
  if (cluster[0]) {
    if (grid.x % cluster[0] || grid.y % cluster[1] || grid.z % cluster[2]) return cudaErrorInvalidClusterSize;
    const uint64_t size = uint64_t{cluster[0]} * cluster[1] * cluster[2];
    if (size > uint64_t(k->non_portable_cluster ? 16 : L::max_cluster_size)) return cudaErrorInvalidClusterSize;
  }
  return cudaSuccess;
}

cudaError_t launch(Kernel* k, dim3 grid, dim3 block, void** args, size_t smem, cudaStream_t h, const uint32_t* want_cluster) {
  if (cudaError_t s = sticky()) return s;
  if (cudaError_t e = ensure_kernel(k)) return e;
  const emu::KernelInfo& info = *k->info;
  // The cluster shape: the launch attribute, else the kernel's compile-time one, else cudaFuncSetAttribute's.
  uint32_t cluster[3] = {0, 0, 0};
  if (want_cluster) {
    std::memcpy(cluster, want_cluster, sizeof cluster);
    if (info.cluster[0] && (int(cluster[0]) != info.cluster[0] || int(cluster[1]) != std::max(info.cluster[1], 1) ||
                            int(cluster[2]) != std::max(info.cluster[2], 1)))
      return cudaErrorInvalidClusterSize;  // a compile-time cluster shape cannot be changed at launch
  } else if (info.cluster[0]) {
    cluster[0] = info.cluster[0];
    cluster[1] = std::max(info.cluster[1], 1);
    cluster[2] = std::max(info.cluster[2], 1);
  } else if (k->cluster[0]) {
    cluster[0] = k->cluster[0];
    cluster[1] = std::max(k->cluster[1], 1);
    cluster[2] = std::max(k->cluster[2], 1);
  }
  if (cluster[0] && (!cluster[1] || !cluster[2])) return cudaErrorInvalidClusterSize;
  if (cudaError_t e = validate(k, grid, block, smem, cluster)) return e;
  if (!info.params.empty() && !args) return cudaErrorInvalidValue;

  // The parameter buffer, copied now: the caller's arguments may change as soon as the call returns.
  auto params = std::make_shared<std::vector<uint8_t>>(info.param_bytes, 0);
  for (size_t i = 0; i < info.params.size(); ++i) {
    const emu::KernelParam& p = info.params[i];
    if (!args[i]) return cudaErrorInvalidValue;
    std::memcpy(params->data() + p.offset, args[i], p.size);
  }
  emu::LaunchConfig cfg;
  cfg.grid = {grid.x, grid.y, grid.z};
  cfg.block = {block.x, block.y, block.z};
  if (cluster[0]) cfg.cluster = {cluster[0], cluster[1], cluster[2]};
  cfg.dyn_smem = static_cast<uint32_t>(smem);
  const uint32_t max_dyn = max_dyn_smem(k);
  emu::Module* module = k->fb->module.get();
  const emu::KernelInfo* ip = k->info;

  std::lock_guard<std::mutex> l(mu());
  CUstream_st* s = resolve_locked(h);
  if (!s) return cudaErrorInvalidResourceHandle;
  Node n;
  n.kind = Node::Kind::Kernel;
  n.run = [module, ip, cfg, max_dyn, params] { run_kernel(module, ip, cfg, max_dyn, params); };
  return submit_locked(s, std::move(n), "kernel launch");
}

Kernel* kernel_arg(const void* func) { return kernel_of(func); }

}  // namespace
}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t smem, struct CUstream_st* stream) {
  t_configs.push_back({grid, block, smem, stream});
  return 0;
}

cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* smem, void* stream) {
  if (t_configs.empty()) return cudaErrorMissingConfiguration;
  const CallConfig c = t_configs.back();
  t_configs.pop_back();
  *grid = c.grid;
  *block = c.block;
  *smem = c.smem;
  *static_cast<cudaStream_t*>(stream) = c.stream;
  return cudaSuccess;
}

cudaError_t __cudaGetKernel(cudaKernel_t* out, const void* func) {
  Kernel* k = kernel_arg(func);
  if (!out || !k) return fail(cudaErrorInvalidDeviceFunction);
  *out = k;
  return cudaSuccess;
}

cudaError_t __cudaLaunchKernel(cudaKernel_t k, dim3 grid, dim3 block, void** args, size_t smem, cudaStream_t s) {
  return fail(launch(k, grid, block, args, smem, s, nullptr));
}

cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t k, dim3 grid, dim3 block, void** args, size_t smem, cudaStream_t s) {
  return fail(launch(k, grid, block, args, smem, s ? s : cudaStreamPerThread, nullptr));
}

cudaError_t cudaLaunchKernel(const void* func, dim3 grid, dim3 block, void** args, size_t smem, cudaStream_t s) {
  return fail(launch(kernel_arg(func), grid, block, args, smem, s, nullptr));
}

cudaError_t cudaLaunchKernel_ptsz(const void* func, dim3 grid, dim3 block, void** args, size_t smem, cudaStream_t s) {
  return fail(launch(kernel_arg(func), grid, block, args, smem, s ? s : cudaStreamPerThread, nullptr));
}

cudaError_t cudaLaunchKernelExC(const cudaLaunchConfig_t* config, const void* func, void** args) {
  if (!config) return fail(cudaErrorInvalidValue);
  uint32_t cluster[3] = {0, 0, 0};
  bool has_cluster = false;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    const cudaLaunchAttribute& a = config->attrs[i];
    switch (a.id) {
      case cudaLaunchAttributeClusterDimension:
        cluster[0] = a.val.clusterDim.x;
        cluster[1] = a.val.clusterDim.y;
        cluster[2] = a.val.clusterDim.z;
        has_cluster = true;
        if (!cluster[0] || !cluster[1] || !cluster[2]) return fail(cudaErrorInvalidClusterSize);
        break;
      case cudaLaunchAttributeCooperative:
        if (a.val.cooperative) return fail(cudaErrorNotSupported);  // CTAs run one after another here
        break;
      // Scheduling hints: honouring them by running in stream order is always allowed.
      case cudaLaunchAttributeIgnore:
      case cudaLaunchAttributeAccessPolicyWindow:
      case cudaLaunchAttributeClusterSchedulingPolicyPreference:
      case cudaLaunchAttributeProgrammaticStreamSerialization:
      case cudaLaunchAttributePriority:
      case cudaLaunchAttributeMemSyncDomainMap:
      case cudaLaunchAttributeMemSyncDomain:
      case cudaLaunchAttributePreferredSharedMemoryCarveout:
        break;
      default:
        return fail(cudaErrorNotSupported);
    }
  }
  return fail(launch(kernel_arg(func), config->gridDim, config->blockDim, args, config->dynamicSmemBytes,
                     config->stream, has_cluster ? cluster : nullptr));
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  RT_STICKY();
  Kernel* k = kernel_arg(func);
  if (cudaError_t e = ensure_kernel(k)) return fail(e);
  switch (attr) {
    case cudaFuncAttributeMaxDynamicSharedMemorySize:
      if (value < 0 || uint64_t(value) + k->info->static_smem > emu::DeviceLimits::smem_per_block_optin)
        return fail(cudaErrorInvalidValue);
      k->max_dyn_smem = value;
      return cudaSuccess;
    case cudaFuncAttributePreferredSharedMemoryCarveout:
      if (value < -1 || value > 100) return fail(cudaErrorInvalidValue);
      k->carveout = value;
      return cudaSuccess;
    case cudaFuncAttributeRequiredClusterWidth:
    case cudaFuncAttributeRequiredClusterHeight:
    case cudaFuncAttributeRequiredClusterDepth:
      if (value < 0 || k->info->cluster[0]) return fail(cudaErrorInvalidValue);
      k->cluster[attr - cudaFuncAttributeRequiredClusterWidth] = value;
      return cudaSuccess;
    case cudaFuncAttributeNonPortableClusterSizeAllowed:
      if (value != 0 && value != 1) return fail(cudaErrorInvalidValue);
      k->non_portable_cluster = value;
      return cudaSuccess;
    case cudaFuncAttributeClusterSchedulingPolicyPreference:
      k->cluster_policy = value;
      return cudaSuccess;
    default:
      return fail(cudaErrorInvalidValue);
  }
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, const void* func) {
  RT_STICKY();
  if (!a) return fail(cudaErrorInvalidValue);
  Kernel* k = kernel_arg(func);
  if (cudaError_t e = ensure_kernel(k)) return fail(e);
  const emu::KernelInfo& info = *k->info;
  std::memset(a, 0, sizeof *a);
  a->sharedSizeBytes = info.static_smem;
  a->localSizeBytes = info.local_bytes;
  int max_threads = emu::DeviceLimits::max_threads_per_block;
  if (info.maxntid[0]) max_threads = info.maxntid[0] * std::max(info.maxntid[1], 1) * std::max(info.maxntid[2], 1);
  if (info.reqntid[0]) max_threads = info.reqntid[0] * std::max(info.reqntid[1], 1) * std::max(info.reqntid[2], 1);
  a->maxThreadsPerBlock = max_threads;
  a->numRegs = static_cast<int>(std::min<uint32_t>(info.num_regs, 255));  // decoded slots, capped as hardware's
  a->ptxVersion = k->fb->ptx_version;
  a->binaryVersion = 90;
  a->maxDynamicSharedSizeBytes = static_cast<int>(max_dyn_smem(k));
  a->preferredShmemCarveout = k->carveout;
  a->clusterDimMustBeSet = 0;
  a->requiredClusterWidth = info.cluster[0] ? info.cluster[0] : k->cluster[0];
  a->requiredClusterHeight = info.cluster[0] ? std::max(info.cluster[1], 1) : k->cluster[1];
  a->requiredClusterDepth = info.cluster[0] ? std::max(info.cluster[2], 1) : k->cluster[2];
  a->clusterSchedulingPolicyPreference = k->cluster_policy;
  a->nonPortableClusterSizeAllowed = k->non_portable_cluster;
  return cudaSuccess;
}

// Blocks per SM from the thread, block and shared-memory limits of sm_90 (registers are not modelled:
// the decoded register slots are not the hardware allocation).
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* n, const void* func, int block, size_t smem,
                                                                   unsigned flags) {
  RT_STICKY();
  if (!n || block <= 0) return fail(cudaErrorInvalidValue);
  Kernel* k = kernel_arg(func);
  if (cudaError_t e = ensure_kernel(k)) return fail(e);
  if (block > emu::DeviceLimits::max_threads_per_block) {
    *n = 0;
    return cudaSuccess;
  }
  const int warps = (block + 31) / 32;
  int blocks = std::min(emu::DeviceLimits::max_blocks_per_sm, emu::DeviceLimits::max_threads_per_sm / (warps * 32));
  const uint64_t per_block = k->info->static_smem + smem + 1024;  // + the reserved 1 KB per block
  if (k->info->static_smem + smem > emu::DeviceLimits::smem_per_block_optin) blocks = 0;
  else blocks = std::min<int>(blocks, static_cast<int>(emu::DeviceLimits::smem_per_sm / per_block));
  *n = blocks;
  return cudaSuccess;
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, const void* func, int block, size_t smem) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(n, func, block, smem, 0);
}

}  // extern "C"
