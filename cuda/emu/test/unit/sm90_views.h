// Test doubles for the sm90 unit tests: a shared-memory window and a global allocation as plain byte
// vectors behind SmemView / GlobalView, refusing (and counting) every access outside them.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

#include "src/sm90/memview.h"

namespace sm90test {

struct VecSmem : emu::sm90::SmemView {
  std::vector<uint8_t> bytes;
  int refused = 0;
  uint64_t reads = 0, writes = 0;
  explicit VecSmem(size_t n, uint8_t fill = 0xFF) : bytes(n, fill) {}
  bool read(uint32_t addr, void* dst, uint32_t n) override {
    if (uint64_t{addr} + n > bytes.size()) { ++refused; return false; }
    std::memcpy(dst, bytes.data() + addr, n);
    ++reads;
    return true;
  }
  bool write(uint32_t addr, const void* src, uint32_t n) override {
    if (uint64_t{addr} + n > bytes.size()) { ++refused; return false; }
    std::memcpy(bytes.data() + addr, src, n);
    ++writes;
    return true;
  }
};

struct VecGlobal : emu::sm90::GlobalView {
  uint64_t base;
  std::vector<uint8_t> bytes;
  int refused = 0;
  VecGlobal(uint64_t base_, size_t n) : base(base_), bytes(n, 0) {}
  bool in(uint64_t a, uint32_t n) const { return a >= base && a - base + n <= bytes.size(); }
  bool read(uint64_t addr, void* dst, uint32_t n) override {
    if (!in(addr, n)) { ++refused; return false; }
    std::memcpy(dst, bytes.data() + (addr - base), n);
    return true;
  }
  bool write(uint64_t addr, const void* src, uint32_t n) override {
    if (!in(addr, n)) { ++refused; return false; }
    std::memcpy(bytes.data() + (addr - base), src, n);
    return true;
  }
};

// xorshift64*: deterministic random numbers for the tests.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return s * 0x2545F4914F6CDD1Dull; }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(next() % n); }
};

}  // namespace sm90test
