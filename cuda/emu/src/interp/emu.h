// dsv3-emu: the interpreter's interface to the runtime. A Module is a PTX module decoded once (every
// instruction of every kernel, with calls inlined); launch() runs one grid of one kernel to completion on
// the calling thread and returns what happened. The runtime (src/runtime) owns streams, memory and the
// CUDA API; this layer knows nothing of CUDA's host API.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "src/ptx/ast.h"

namespace emu {

class GlobalMemory;

// Decoding error: an opcode or type variant the interpreter does not implement, an undeclared register,
// an unknown label... `what()` names the instruction, the PTX line and the module.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
  uint64_t count() const { return uint64_t{x} * y * z; }
};

struct KernelParam {
  std::string name;
  uint32_t offset = 0, size = 0, align = 0;  // in the kernel's parameter buffer
};

struct KernelInfo {
  std::string name;                   // the mangled .entry name
  std::vector<KernelParam> params;
  uint32_t param_bytes = 0;           // size of the parameter buffer
  uint32_t static_smem = 0;           // bytes of .shared declared in the kernel (and its callees)
  uint32_t local_bytes = 0;           // per-thread .local bytes (all inlined frames)
  uint32_t dyn_smem_align = 16;       // alignment the extern .shared declaration asks for
  int reqntid[3] = {0, 0, 0}, maxntid[3] = {0, 0, 0};
  int cluster[3] = {0, 0, 0};         // .reqnctapercluster / .explicitcluster
  uint32_t num_regs = 0;              // decoded register slots per thread (for cudaFuncGetAttributes)
};

// What a checking run found: printed to stderr as it happens (compute-sanitizer style) and counted.
// Each report names the kernel, PTX line, .cu file:line (from .loc), block and thread.
struct Report {
  enum class Kind {
    OutOfBounds,      // global / shared / local / param access outside its allocation or window
    Misaligned,       // address not aligned to the access size
    Race,             // shared-memory race between warps with no barrier between them
    BarrierDivergence,// bar.sync reached by some of its threads while the others exited or wait elsewhere
    Deadlock,         // every unfinished thread of a CTA waits on something that can never happen
    Uninitialized,    // --strict: read of an uninitialised register or shared byte
    Trap,             // trap / brkpt / an assertion (__assertfail)
    Unsupported,      // reached an instruction the interpreter cannot execute
    InvalidArgument,  // malformed operands at run time (bad tensor map, shfl mask without self, ...)
  };
  Kind kind;
  std::string text;   // the whole formatted report
};

struct Options {
  bool strict = false;        // report uninitialised reads (registers and shared memory)
  bool racecheck = true;      // shared-memory race detection
  bool proxycheck = true;     // generic-proxy shared writes read / overwritten by the async proxy (wgmma,
                              // TMA, bulk copies, their complete_tx) with no fence.proxy.async by the writer
  bool random_schedule = false;  // seeded random warp order (default: deterministic round robin)
  uint64_t seed = 1;
  int max_reports = 100;      // per launch; further ones are counted, not printed
  std::function<void(const Report&)> on_report;  // default: print to stderr
};

struct LaunchConfig {
  Dim3 grid, block, cluster;     // cluster {1,1,1} unless launched with a cluster dimension
  uint32_t dyn_smem = 0;
  const uint8_t* params = nullptr;  // the parameter buffer laid out per KernelInfo::params
  size_t params_size = 0;
};

struct LaunchResult {
  // 0 = success; otherwise the reason the launch failed, mapped by the runtime to a cudaError_t:
  enum class Status { Ok, IllegalAddress, MisalignedAddress, LaunchFailure, Trap, IllegalInstruction, InvalidConfig };
  Status status = Status::Ok;
  std::string message;            // first report, or the config error
  uint64_t reports = 0;           // number of reports (printed or not)
  uint64_t thread_instructions = 0;  // instructions executed, counted per active thread
  uint64_t warp_instructions = 0;    // instructions executed, counted per warp issue
  uint64_t ctas = 0;                 // CTAs launched
  uint64_t ctas_with_work = 0;       // CTAs that wrote global memory or issued an async copy/mma
  uint64_t bulk_loads = 0;           // bulk / tensor loads (global -> shared) issued
  uint64_t early_landings = 0;       // of them, landed at their seeded point before the latest one
  double seconds = 0;
};

class Module {
 public:
  // Decodes a parsed module; allocates and initialises its .global and .const variables in `mem`.
  // Throws DecodeError naming the first instruction it cannot decode.
  static std::unique_ptr<Module> load(ptx::Module ast, GlobalMemory& mem);
  virtual ~Module() = default;

  virtual const KernelInfo* kernel(const std::string& name) const = 0;  // nullptr if absent
  virtual std::vector<std::string> kernel_names() const = 0;
  // Device address and size of a module-scope .global / .const variable (0 if absent).
  virtual uint64_t symbol_address(const std::string& name, uint64_t* size = nullptr) const = 0;

  // Runs the whole grid; returns after the last CTA. Validates the configuration first (block size,
  // shared memory against `max_dyn_smem` (the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize) and
  // the sm_90 limits) and returns InvalidConfig without running anything when it is wrong.
  virtual LaunchResult launch(const KernelInfo& k, const LaunchConfig& cfg, uint32_t max_dyn_smem,
                              GlobalMemory& mem, const Options& opt) = 0;
};

// The emulated device: limits of an H200 (sm_90), used for launch checks and device properties.
struct DeviceLimits {
  static constexpr int sm_count = 132;
  static constexpr int max_threads_per_block = 1024;
  static constexpr int max_block_dim[3] = {1024, 1024, 64};
  static constexpr uint32_t max_grid_dim[3] = {2147483647u, 65535u, 65535u};
  static constexpr uint32_t smem_per_block_default = 48 * 1024;   // without the opt-in attribute
  static constexpr uint32_t smem_per_block_optin = 227 * 1024;    // 232448 bytes
  static constexpr uint32_t smem_per_sm = 228 * 1024;
  static constexpr int warp_size = 32;
  static constexpr int regs_per_block = 65536;
  static constexpr int max_threads_per_sm = 2048;
  static constexpr int max_blocks_per_sm = 32;
  static constexpr int max_cluster_size = 8;  // portable cluster size
};

}  // namespace emu
