// dsv3-emu: control and synchronisation instructions bound here (PTX ISA 9.0 §9.7.13: bar / barrier,
// bar.warp.sync, membar / fence, nanosleep, trap, brkpt, activemask; §9.7.12.x special registers read
// while running: %clock, %clock64, %globaltimer) and the two extern device functions nvcc calls:
// vprintf (printf: format string + packed argument buffer) and __assertfail (assert()).
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "src/interp/interp.h"

namespace emu::interp {

bool h_unsupported(Warp&, const Insn&, uint32_t) { return false; }

namespace {
uint64_t steady_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count());
}
}  // namespace

// %clock / %clock64 count cycles of a ~1.98 GHz SM; %globaltimer is nanoseconds. Both monotonic.
bool h_dynsreg(Warp& w, const Insn& in, uint32_t m) {
  const uint64_t ns = steady_ns();
  const uint64_t cyc = ns * 2;
  uint64_t v = 0;
  switch (in.x) {
    case 0: v = uint32_t(cyc); break;
    case 1: v = uint32_t(cyc >> 32); break;
    case 2: v = cyc; break;
    case 3: v = ns; break;
    case 4: v = uint32_t(ns); break;
    case 5: v = uint32_t(ns >> 32); break;
  }
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = v; });
  return true;
}

namespace {

bool h_nop(Warp&, const Insn&, uint32_t) { return true; }

bool h_activemask(Warp& w, const Insn& in, uint32_t m) {
  uint64_t* d = dst(w, in.op[0]);
  each(m, [&](int l) { d[l] = m; });
  return true;
}

// Reads a NUL-terminated string at a generic address, every byte checked.
bool read_cstr(Warp& w, const Insn& in, int l, uint64_t addr, std::string* out) {
  out->clear();
  for (int i = 0; i < 65536; ++i) {
    const uint8_t* p = access(w, in, l, Space::Generic, addr + uint64_t(i), 1, false, false);
    if (!p) return false;
    if (!*p) return true;
    out->push_back(char(*p));
  }
  return true;
}
bool read_u64(Warp& w, const Insn& in, int l, Space s, uint64_t addr, int size, uint64_t* v) {
  const uint8_t* p = access(w, in, l, s, addr, uint32_t(size), false, false);
  if (!p) return false;
  *v = 0;
  std::memcpy(v, p, size_t(size));
  return true;
}

// printf formatting of CUDA's vprintf(format, argument buffer): each argument is stored at its natural
// alignment in the buffer (float promoted to double, char/short to int, pointers 8 bytes).
bool format_printf(Warp& w, const Insn& in, int l, const std::string& fmt, uint64_t args, std::string* out, int* nargs) {
  uint64_t off = 0;
  *nargs = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out->push_back(fmt[i]);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      out->push_back('%');
      ++i;
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::strchr("-+ #0", fmt[j])) spec += fmt[j++];
    while (j < fmt.size() && (isdigit(uint8_t(fmt[j])) || fmt[j] == '.')) spec += fmt[j++];
    int longs = 0;
    bool half = false;
    while (j < fmt.size() && std::strchr("hlLzjt", fmt[j])) {
      if (fmt[j] == 'l' || fmt[j] == 'z' || fmt[j] == 'j' || fmt[j] == 't' || fmt[j] == 'L') ++longs;
      if (fmt[j] == 'h') half = true;
      ++j;
    }
    if (j >= fmt.size()) {
      *out += spec;
      break;
    }
    const char conv = fmt[j];
    i = j;
    char buf[512];
    auto arg = [&](int size, uint64_t* v) {
      off = (off + uint64_t(size) - 1) / uint64_t(size) * uint64_t(size);
      const bool ok = read_u64(w, in, l, Space::Generic, args + off, size, v);
      off += uint64_t(size);
      ++*nargs;
      return ok;
    };
    uint64_t v;
    switch (conv) {
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'c': {
        const int size = longs ? 8 : 4;
        if (!arg(size, &v)) return false;
        (void)half;
        if (size == 8) std::snprintf(buf, sizeof buf, (spec + "ll" + conv).c_str(), (long long)v);
        else if (conv == 'd' || conv == 'i') std::snprintf(buf, sizeof buf, (spec + conv).c_str(), int(int32_t(v)));
        else std::snprintf(buf, sizeof buf, (spec + conv).c_str(), unsigned(uint32_t(v)));
        *out += buf;
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A': {
        if (!arg(8, &v)) return false;
        double d;
        std::memcpy(&d, &v, 8);
        std::snprintf(buf, sizeof buf, (spec + conv).c_str(), d);
        *out += buf;
        break;
      }
      case 'p': {
        if (!arg(8, &v)) return false;
        std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
        *out += buf;
        break;
      }
      case 's': {
        if (!arg(8, &v)) return false;
        std::string s;
        if (!read_cstr(w, in, l, v, &s)) return false;
        std::snprintf(buf, sizeof buf, (spec + 's').c_str(), s.c_str());
        *out += buf;
        break;
      }
      default:
        *out += spec;
        out->push_back(conv);
    }
  }
  return true;
}

}  // namespace

// vprintf: op[0].imm / op[1].imm = local addresses of the .param holding the format and buffer pointers;
// in.x = local address of the return value (kNoSlot: none).
bool h_vprintf(Warp& w, const Insn& in, uint32_t m) {
  bool ok = true;
  each(m, [&](int l) {
    if (!ok) return;
    uint64_t fptr = 0, aptr = 0;
    if (!read_u64(w, in, l, Space::Local, uint64_t(in.op[0].imm), 8, &fptr)) { ok = false; return; }
    if (in.nops > 1 && !read_u64(w, in, l, Space::Local, uint64_t(in.op[1].imm), 8, &aptr)) { ok = false; return; }
    std::string fmt, out;
    int n = 0;
    if (!read_cstr(w, in, l, fptr, &fmt)) { ok = false; return; }
    if (!format_printf(w, in, l, fmt, aptr, &out, &n)) { ok = false; return; }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (in.x != kNoSlot) {
      uint8_t* r = access(w, in, l, Space::Local, in.x, 4, true, false);
      if (!r) { ok = false; return; }
      const int32_t rv = n;
      std::memcpy(r, &rv, 4);
    }
  });
  std::fflush(stdout);
  return ok;
}

// __assertfail(message, file, line, function, charSize): a Trap report with the message.
bool h_assertfail(Warp& w, const Insn& in, uint32_t m) {
  const int l = __builtin_ctz(m);
  uint64_t msg = 0, file = 0, line = 0, func = 0;
  std::string sm = "?", sf = "?", sfn = "?";
  if (in.nops >= 4 && read_u64(w, in, l, Space::Local, uint64_t(in.op[0].imm), 8, &msg) &&
      read_u64(w, in, l, Space::Local, uint64_t(in.op[1].imm), 8, &file) &&
      read_u64(w, in, l, Space::Local, uint64_t(in.op[2].imm), 4, &line) &&
      read_u64(w, in, l, Space::Local, uint64_t(in.op[3].imm), 8, &func)) {
    read_cstr(w, in, l, msg, &sm);
    read_cstr(w, in, l, file, &sf);
    read_cstr(w, in, l, func, &sfn);
  }
  if (w.cta->L->stop) return false;  // reading the arguments faulted (reported)
  report(w, &in, l, Report::Kind::Trap, "Assertion failed (device assert)",
         {sf + ":" + std::to_string(line) + ": " + sfn + ": Assertion `" + sm + "` failed."});
  return false;
}

bool bind_ctl(BindCtx& c) {
  const auto& P = c.pi.parts;
  const std::string& op = P[0];
  Insn& in = c.in;
  in.ndst = 0;
  if ((op == "bar" || op == "barrier") && P.size() >= 2 && P[1] == "warp") {
    if (P.size() != 3 || P[2] != "sync") return false;
    c.need(1);
    c.regimm(0);
    in.flow = Flow::Coll;
    in.c = 0;  // member mask operand
    in.fn = h_nop;
    return true;
  }
  if (op == "bar" || op == "barrier") {
    size_t i = 1;
    if (i < P.size() && P[i] == "cta") ++i;
    if (i >= P.size()) return false;
    const std::string kind = P[i++];
    in.d = 0xFF;
    in.flow = Flow::Bar;
    if (kind == "sync" || kind == "arrive") {
      if (i < P.size() && P[i] == "aligned") ++i;
      if (i != P.size()) return false;
      in.t = kind == "sync" ? 0 : 1;
      if (in.nops < 1 || in.nops > 2) c.fail("bar: expected a barrier id and an optional thread count");
      if (kind == "arrive" && in.nops != 2) c.fail("bar.arrive needs a thread count");
      c.regimm(0);
      in.c = 0;
      if (in.nops == 2) {
        c.regimm(1);
        in.d = 1;
      }
      return true;
    }
    if (kind == "red") {
      if (i >= P.size()) return false;
      const std::string rop = P[i++];
      if (i < P.size() && P[i] == "aligned") ++i;
      if (i + 1 != P.size()) return false;
      const Ty t = parse_ty(P[i]);
      if (rop == "popc" && t == T_u32) in.b = 0;
      else if (rop == "and" && t == T_pred) in.b = 1;
      else if (rop == "or" && t == T_pred) in.b = 2;
      else return false;
      in.t = 2;
      if (in.nops != 3 && in.nops != 4) c.fail("bar.red: expected d, a{, b}, {!}c");
      c.reg(0);
      c.regimm(1);
      in.c = 1;
      if (in.nops == 4) {
        c.regimm(2);
        in.d = 2;
      }
      c.reg(in.nops - 1);
      in.t2 = uint8_t(in.nops - 1);
      in.ndst = 1;
      return true;
    }
    return false;
  }
  if (op == "membar" || op == "fence") {
    // ordering is trivially satisfied by the sequential CTA model; the async-proxy fences belong to
    // the Hopper async units (not yet emulated)
    for (auto& p : P)
      if (p == "proxy" || p == "mbarrier_init" || p.rfind("proxy", 0) == 0 || p == "async") return false;
    c.need(0);
    in.fn = h_nop;
    return true;
  }
  if (op == "nanosleep") {
    if (P.size() != 2 || P[1] != "u32") return false;
    c.need(1);
    c.regimm(0);
    in.fn = h_nop;
    return true;
  }
  if (op == "trap" || op == "brkpt") {
    c.need(0);
    in.flow = Flow::Trap;
    in.fn = nullptr;
    return true;
  }
  if (op == "activemask") {
    if (P.size() != 2 || P[1] != "b32") return false;
    c.need(1);
    c.reg(0);
    in.ndst = 1;
    in.fn = h_activemask;
    return true;
  }
  if (op == "pmevent") {
    in.fn = h_nop;
    return true;
  }
  return false;
}

}  // namespace emu::interp
