// dsv3-emu: a small harness for the interpreter's unit tests (interp_*.cc): parses a PTX string, loads
// it against a real GlobalMemory, builds the parameter buffer from KernelInfo, launches, and collects
// the reports instead of printing them.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "src/interp/emu.h"
#include "src/ptx/ast.h"
#include "src/runtime/memory.h"
#include "test/unit/check.h"

namespace itest {

struct Harness {
  emu::GlobalMemory mem{1ull << 32};
  std::unique_ptr<emu::Module> mod;
  std::vector<emu::Report> reports;
  emu::Options opt;
  uint32_t max_dyn_smem = 0;

  explicit Harness(const std::string& ptx) {
    mod = emu::Module::load(emu::ptx::parse(ptx, "test.ptx"), mem);
    opt.on_report = [this](const emu::Report& r) { reports.push_back(r); };
  }
  uint64_t alloc(size_t bytes) { return mem.allocate(bytes, "cudaMalloc"); }
  template <class T>
  uint64_t upload(const std::vector<T>& v) {
    const uint64_t a = alloc(v.size() * sizeof(T));
    std::memcpy(mem.host_of(a), v.data(), v.size() * sizeof(T));
    return a;
  }
  template <class T>
  std::vector<T> download(uint64_t a, size_t n) {
    std::vector<T> v(n);
    std::memcpy(v.data(), mem.host_of(a), n * sizeof(T));
    return v;
  }
  // Parameters in declaration order, each written with its declared size (little-endian).
  emu::LaunchResult run(const std::string& kernel, emu::Dim3 grid, emu::Dim3 block, const std::vector<uint64_t>& args,
                        uint32_t dyn = 0) {
    const emu::KernelInfo* k = mod->kernel(kernel);
    if (!k) {
      std::fprintf(stderr, "no kernel %s\n", kernel.c_str());
      emu::LaunchResult r;
      r.status = emu::LaunchResult::Status::InvalidConfig;
      return r;
    }
    std::vector<uint8_t> buf(k->param_bytes, 0);
    for (size_t i = 0; i < k->params.size() && i < args.size(); ++i)
      std::memcpy(buf.data() + k->params[i].offset, &args[i], std::min<size_t>(8, k->params[i].size));
    emu::LaunchConfig cfg;
    cfg.grid = grid;
    cfg.block = block;
    cfg.dyn_smem = dyn;
    cfg.params = buf.data();
    cfg.params_size = buf.size();
    reports.clear();
    return mod->launch(*k, cfg, max_dyn_smem, mem, opt);
  }
  // A raw parameter buffer (structs passed by value).
  emu::LaunchResult run_raw(const std::string& kernel, emu::Dim3 grid, emu::Dim3 block, const std::vector<uint8_t>& buf,
                            uint32_t dyn = 0) {
    const emu::KernelInfo* k = mod->kernel(kernel);
    emu::LaunchResult r;
    if (!k) {
      r.status = emu::LaunchResult::Status::InvalidConfig;
      return r;
    }
    emu::LaunchConfig cfg;
    cfg.grid = grid;
    cfg.block = block;
    cfg.dyn_smem = dyn;
    cfg.params = buf.data();
    cfg.params_size = buf.size();
    reports.clear();
    return mod->launch(*k, cfg, max_dyn_smem, mem, opt);
  }
  bool reported(emu::Report::Kind kind) const {
    for (auto& r : reports)
      if (r.kind == kind) return true;
    return false;
  }
  std::string all_reports() const {
    std::string s;
    for (auto& r : reports) s += r.text;
    return s;
  }
};

inline const char* kHeader = ".version 9.0\n.target sm_90a\n.address_size 64\n";

inline uint32_t fbits(float f) { uint32_t b; std::memcpy(&b, &f, 4); return b; }
inline float bitsf(uint32_t b) { float f; std::memcpy(&f, &b, 4); return f; }

}  // namespace itest
