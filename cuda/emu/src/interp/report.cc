// dsv3-emu: reports in compute-sanitizer's format ("========= Invalid __global__ read of size 4 bytes",
// then where, which thread, what). Counted per launch; at most Options::max_reports delivered. Fatal
// kinds (out of bounds, misaligned, trap, unsupported, deadlock) stop the launch with the matching status.
#include <cstdio>

#include "src/interp/module.h"

namespace emu::interp {

std::string where_line(const Kernel& k, const Insn& in) {
  std::string s = "at " + k.display + " (PTX line " + std::to_string(in.ptx_line) + ")";
  if (in.file >= 0 && k.files && size_t(in.file) < k.files->size() && !(*k.files)[in.file].empty())
    s += " " + (*k.files)[in.file] + ":" + std::to_string(in.line);
  return s;
}

namespace {

LaunchResult::Status status_of(Report::Kind k) {
  switch (k) {
    case Report::Kind::OutOfBounds: return LaunchResult::Status::IllegalAddress;
    case Report::Kind::Misaligned: return LaunchResult::Status::MisalignedAddress;
    case Report::Kind::Trap: return LaunchResult::Status::Trap;
    case Report::Kind::Unsupported: return LaunchResult::Status::IllegalInstruction;
    default: return LaunchResult::Status::LaunchFailure;
  }
}
bool fatal(Report::Kind k) {
  return k == Report::Kind::OutOfBounds || k == Report::Kind::Misaligned || k == Report::Kind::Trap ||
         k == Report::Kind::Unsupported || k == Report::Kind::Deadlock;
}

void deliver(Launch& L, Report::Kind kind, std::string text) {
  ++L.res.reports;
  if (L.res.message.empty()) L.res.message = text;
  if (fatal(kind)) {
    L.stop = true;
    if (L.res.status == LaunchResult::Status::Ok) L.res.status = status_of(kind);
  } else {
    L.failed = true;
  }
  if (int64_t(L.res.reports) > L.opt->max_reports) return;
  Report r{kind, std::move(text)};
  if (L.opt->on_report) {
    L.opt->on_report(r);
  } else {
    std::fputs(r.text.c_str(), stderr);
    std::fflush(stderr);
  }
}

std::string dim(uint32_t x, uint32_t y, uint32_t z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

}  // namespace

void report(Warp& w, const Insn* in, int lane, Report::Kind kind, const std::string& headline,
            const std::vector<std::string>& detail) {
  Cta& C = *w.cta;
  Launch& L = *C.L;
  const Dim3& b = L.cfg->block;
  const uint32_t t = uint32_t(w.id) * 32 + uint32_t(lane);
  std::string s = "========= " + headline + "\n";
  if (in) s += "=========     " + where_line(*C.k, *in) + "\n";
  else s += "=========     in " + C.k->display + "\n";
  s += "=========     by thread " + dim(t % b.x, t / b.x % b.y, t / (b.x * b.y)) + " in block " +
       dim(C.ctaid.x, C.ctaid.y, C.ctaid.z) + "\n";
  for (auto& d : detail) s += "=========     " + d + "\n";
  deliver(L, kind, std::move(s));
}

void report_cta(Cta& C, Report::Kind kind, const std::string& headline, const std::vector<std::string>& detail) {
  std::string s = "========= " + headline + "\n";
  s += "=========     in " + C.k->display + ", block " + dim(C.ctaid.x, C.ctaid.y, C.ctaid.z) + "\n";
  for (auto& d : detail) s += "=========     " + d + "\n";
  deliver(*C.L, kind, std::move(s));
}

}  // namespace emu::interp
