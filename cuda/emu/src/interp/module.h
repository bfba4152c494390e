// dsv3-emu: the interpreter's Module implementation (decode.cc loads it, launch.cc runs it). Holds the
// parsed module, its decoded kernels, module-scope variables in GlobalMemory, and the generic-address
// windows of shared / local / param space (a PROT_NONE host range, so no device address can collide).
#pragma once
#include "src/interp/interp.h"

namespace emu::interp {

class ModuleImpl : public Module {
 public:
  ModuleImpl(ptx::Module ast, GlobalMemory& mem);
  ~ModuleImpl() override;

  const KernelInfo* kernel(const std::string& name) const override;
  std::vector<std::string> kernel_names() const override;
  uint64_t symbol_address(const std::string& name, uint64_t* size) const override;
  LaunchResult launch(const KernelInfo& k, const LaunchConfig& cfg, uint32_t max_dyn_smem, GlobalMemory& mem,
                      const Options& opt) override;

  void load_globals();
  void decode_all();
  const Kernel* decoded(const KernelInfo& info) const;

  ptx::Module ast;
  GlobalMemory& mem;
  std::map<std::string, Sym> globals;          // module .global / .const variables (device addresses)
  std::map<std::string, std::unique_ptr<Kernel>> kernels;
  std::vector<uint64_t> allocations;           // freed with the module
  // generic windows (each kWindow bytes): shared, local, param
  static constexpr uint64_t kWindow = 1ull << 30;  // shared: room for cluster ranks in bits 24..
  uint64_t win_base = 0;
  uint64_t win_shared() const { return win_base; }
  uint64_t win_local() const { return win_base + kWindow; }
  uint64_t win_param() const { return win_base + 2 * kWindow; }
};

std::string demangle(const std::string& mangled);

}  // namespace emu::interp
