// dsv3-emu runtime: the registration entry points nvcc's host code calls (crt/host_runtime.h:
// __cudaRegisterFatBinary with the {magic 0x466243b1, version, data} wrapper, __cudaRegisterFunction,
// __cudaRegisterVar, __cudaUnregisterFatBinary, __cudaInitModule; managed variables are refused) and
// the lazy loading of each fatbinary's PTX into an emu::Module.
#include "src/runtime/registry.h"

#include <dlfcn.h>

#include <cstring>
#include <unordered_map>

#include "src/ptx/ast.h"
#include "src/runtime/fatbin.h"

namespace emu::rt {
namespace {

constexpr int kWrapperMagic = 0x466243B1;

struct Wrapper {  // fatbinary_section.h's __fatBinC_Wrapper_t
  int magic;
  int version;
  const unsigned long long* data;
  void* filename_or_fatbins;
};

struct Var {
  FatBinary* fb;
  std::string name;
  uint64_t size;
  bool constant;
};

// Never destroyed: registrations are undone at exit while the executor may still run.
std::mutex& reg_mu() {
  static auto* m = new std::mutex;
  return *m;
}
std::unordered_map<const void*, Kernel*>& kernels() {
  static auto* m = new std::unordered_map<const void*, Kernel*>;
  return *m;
}
std::unordered_map<const void*, Var>& vars() {
  static auto* m = new std::unordered_map<const void*, Var>;
  return *m;
}
int g_fatbins = 0;

int ptx_version(const std::string& ptx) {
  const size_t v = ptx.find(".version");
  if (v == std::string::npos) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(ptx.c_str() + v, ".version %d.%d", &major, &minor) != 2) return 0;
  return major * 10 + minor;
}

}  // namespace

cudaError_t ensure_loaded(FatBinary* fb) {
  std::lock_guard<std::mutex> l(reg_mu());
  if (fb->tried) return fb->error;
  fb->tried = true;
  std::string error;
  int arch = 0;
  if (!fatbin_ptx(fb->data, &fb->ptx, &arch, &error)) {
    report("dsv3-emu: " + fb->origin + ": " + error);
    return fb->error = cudaErrorNoKernelImageForDevice;
  }
  fb->ptx_version = ptx_version(fb->ptx);
  try {
    fb->module = emu::Module::load(emu::ptx::parse(fb->ptx, fb->origin), gmem());
  } catch (const emu::ptx::ParseError& e) {  // its message names the origin and the PTX line
    report(std::string("dsv3-emu: PTX syntax error: ") + e.what());
    return fb->error = cudaErrorInvalidPtx;
  } catch (const std::exception& e) {  // DecodeError: an instruction the interpreter cannot run
    report("dsv3-emu: " + fb->origin + ": " + e.what());
    return fb->error = cudaErrorInvalidPtx;
  }
  for (auto& [host, k] : kernels())
    if (k->fb == fb) k->info = fb->module->kernel(k->name);
  return cudaSuccess;
}

Kernel* kernel_of(const void* host_fun) {
  std::lock_guard<std::mutex> l(reg_mu());
  auto it = kernels().find(host_fun);
  return it == kernels().end() ? nullptr : it->second;
}

cudaError_t ensure_kernel(Kernel* k) {
  if (!k) return cudaErrorInvalidDeviceFunction;
  if (cudaError_t e = ensure_loaded(k->fb)) return e;
  if (!k->info) {
    report("dsv3-emu: kernel " + k->name + " is registered but not in the PTX of " + k->fb->origin);
    return cudaErrorInvalidDeviceFunction;
  }
  return cudaSuccess;
}

uint32_t max_dyn_smem(const Kernel* k) {
  if (k->max_dyn_smem >= 0) return static_cast<uint32_t>(k->max_dyn_smem);
  const uint32_t st = k->info ? k->info->static_smem : 0;
  return st >= emu::DeviceLimits::smem_per_block_default ? 0 : emu::DeviceLimits::smem_per_block_default - st;
}

cudaError_t symbol_lookup(const void* host_var, uint64_t* addr, uint64_t* size) {
  Var v;
  {
    std::lock_guard<std::mutex> l(reg_mu());
    auto it = vars().find(host_var);
    if (it == vars().end()) return cudaErrorInvalidSymbol;
    v = it->second;
  }
  if (cudaError_t e = ensure_loaded(v.fb)) return e;
  uint64_t sz = 0;
  const uint64_t a = v.fb->module->symbol_address(v.name, &sz);
  if (!a) return cudaErrorInvalidSymbol;
  *addr = a;
  *size = sz ? sz : v.size;
  return cudaSuccess;
}

}  // namespace emu::rt

using namespace emu::rt;

extern "C" {

void** __cudaRegisterFatBinary(void* fat_cubin) {
  auto* fb = new FatBinary;
  fb->slot = fb;
  const auto* w = static_cast<const Wrapper*>(fat_cubin);
  Dl_info info{};
  const char* file = dladdr(fat_cubin, &info) && info.dli_fname ? info.dli_fname : "program";
  std::lock_guard<std::mutex> l(reg_mu());
  fb->origin = std::string(file) + " (fatbinary #" + std::to_string(++g_fatbins) + ")";
  if (!w || w->magic != kWrapperMagic) {
    fb->tried = true;  // nothing to load: launches fail with cudaErrorInvalidKernelImage
    fb->error = cudaErrorInvalidKernelImage;
    std::fprintf(stderr, "dsv3-emu: %s: not a fatbinary wrapper (magic 0x%x)\n", fb->origin.c_str(), w ? w->magic : 0);
  } else {
    fb->data = w->data;
  }
  return &fb->slot;
}

void __cudaRegisterFatBinaryEnd(void**) {}

// Modules stay loaded: at exit the executor may still run one of their kernels.
void __cudaUnregisterFatBinary(void**) {}

void __cudaRegisterFunction(void** handle, const char* host_fun, char* device_fun, const char* device_name,
                            int, uint3*, uint3*, dim3*, dim3*, int*) {
  auto* fb = static_cast<FatBinary*>(*handle);
  auto* k = new Kernel;
  k->fb = fb;
  k->name = device_name ? device_name : device_fun;
  k->host_fun = host_fun;
  std::lock_guard<std::mutex> l(reg_mu());
  kernels()[host_fun] = k;
}

void __cudaRegisterVar(void** handle, char* host_var, char* device_address, const char* device_name, int ext,
                       size_t size, int constant, int global) {
  auto* fb = static_cast<FatBinary*>(*handle);
  std::lock_guard<std::mutex> l(reg_mu());
  vars()[host_var] = Var{fb, device_name ? device_name : device_address, size, constant != 0};
}

void __cudaRegisterManagedVar(void** handle, void** host_ptr_address, char* device_address, const char* device_name,
                              int ext, size_t size, int constant, int global) {
  report(std::string("dsv3-emu: __managed__ variable ") + (device_name ? device_name : "?") +
         " is not supported by the emulator (managed memory is not emulated); its host pointer stays NULL");
}

void __cudaRegisterHostVar(void**, const char*, char*, size_t) {}

char __cudaInitModule(void** handle) {
  auto* fb = static_cast<FatBinary*>(*handle);
  return ensure_loaded(fb) == cudaSuccess ? 1 : 0;
}

}  // extern "C"
