// dsv3-emu interpreter: every kernel of every PTX file in $EMU_PTX_DIR (the PTX of cuda/*.cu, see
// test/gen-ptx.sh) decodes; prints the instruction variants that decode to the unsupported handler
// (the goal: none outside the Hopper async units: wgmma, cp.async.bulk, mbarrier, fence.proxy.async,
// fence.mbarrier_init, prefetch.tensormap). Without EMU_PTX_DIR it checks nothing and says so.
#include <dirent.h>

#include <fstream>
#include <map>
#include <sstream>

#include "src/interp/module.h"
#include "test/unit/check.h"

int main() {
  const char* dir = std::getenv("EMU_PTX_DIR");
  if (!dir) {
    std::printf("EMU_PTX_DIR not set: skipped\n");
    return check::finish();
  }
  std::vector<std::string> files;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".ptx") files.push_back(std::string(dir) + "/" + n);
    }
    closedir(d);
  }
  CHECK(!files.empty());
  std::map<std::string, int> unsupported;  // opcode -> count
  int kernels = 0, instrs = 0, async_only = 0;
  emu::GlobalMemory mem(1ull << 32);
  for (auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    try {
      auto m = emu::Module::load(emu::ptx::parse(ss.str(), f), mem);
      auto* impl = static_cast<emu::interp::ModuleImpl*>(m.get());
      for (auto& [name, k] : impl->kernels) {
        ++kernels;
        for (size_t pc = 0; pc < k->code.size(); ++pc) {
          ++instrs;
          if (k->code[pc].flow != emu::interp::Flow::Unsupported) continue;
          std::string t = k->text[pc];
          if (t[0] == '@') t = t.substr(t.find(' ') + 1);
          t = t.substr(0, t.find_first_of(" ;"));
          ++unsupported[t];
        }
      }
      CHECK(true);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", f.c_str(), e.what());
      CHECK(false);
    }
  }
  int other = 0;
  for (auto& [op, n] : unsupported) {
    const bool async = op.rfind("wgmma", 0) == 0 || op.rfind("cp.async.bulk", 0) == 0 || op.rfind("mbarrier", 0) == 0 ||
                       op.rfind("fence.proxy.async", 0) == 0 || op.rfind("fence.mbarrier_init", 0) == 0 ||
                       op.rfind("prefetch.tensormap", 0) == 0;
    std::printf("  unsupported%s: %-70s x%d\n", async ? " (Hopper async, next issue)" : "", op.c_str(), n);
    (async ? async_only : other) += 1;
  }
  std::printf("%zu files, %d kernels, %d instructions; unsupported variants: %d Hopper async, %d other\n",
              files.size(), kernels, instrs, async_only, other);
  CHECK_EQ(other, 0);
  return check::finish();
}
