// dsv3-emu: the generic -> async proxy fence check (proxycheck.h).
#include "src/interp/proxycheck.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace emu {

void ProxyCheck::reset(uint32_t smem_bytes, uint32_t threads) {
  if (threads >= (1u << kThreadBits)) throw std::invalid_argument("proxycheck: too many threads per CTA");
  smem_bytes_ = smem_bytes;
  const size_t pages = (size_t{smem_bytes} + kPageBytes - 1) / kPageBytes;
  if (page_gen_.size() < pages) {
    page_gen_.resize(pages, 0);  // generation 0 is never current
    shadow_.resize(pages * kPageBytes);
  }
  if (++generation_ == 0) {
    std::fill(page_gen_.begin(), page_gen_.end(), 0);
    generation_ = 1;
  }
  epoch_.assign(threads, 0);
}

ProxyCheck::Cell* ProxyCheck::page(uint32_t addr) {
  const uint32_t p = addr / kPageBytes;
  if (page_gen_[p] != generation_) {
    std::memset(&shadow_[size_t{p} * kPageBytes], 0, sizeof(Cell) * kPageBytes);
    page_gen_[p] = generation_;
  }
  return &shadow_[size_t{p} * kPageBytes];
}

void ProxyCheck::write(uint32_t thread, uint32_t addr, uint32_t n, uint32_t pc) {
  if (thread >= epoch_.size()) return;
  const uint32_t end = uint32_t(std::min<uint64_t>(uint64_t{addr} + n, smem_bytes_));
  const Cell c{((epoch_[thread] & kEpochMask) << kThreadBits) | (thread + 1), pc};
  for (uint32_t a = addr; a < end;) {
    Cell* pg = page(a);
    const uint32_t stop = std::min(end, (a / kPageBytes + 1) * kPageBytes);
    for (; a < stop; ++a) pg[a % kPageBytes] = c;
  }
}

void ProxyCheck::async_write(uint32_t addr, uint32_t n) {
  const uint32_t end = uint32_t(std::min<uint64_t>(uint64_t{addr} + n, smem_bytes_));
  for (uint32_t a = addr; a < end;) {
    const uint32_t stop = std::min(end, (a / kPageBytes + 1) * kPageBytes);
    if (page_gen_[a / kPageBytes] != generation_) {  // never written in this CTA: nothing to clear
      a = stop;
      continue;
    }
    Cell* pg = &shadow_[size_t{a / kPageBytes} * kPageBytes];
    for (; a < stop; ++a) pg[a % kPageBytes].tag = 0;
  }
}

bool ProxyCheck::check(uint32_t addr, uint32_t n, Unfenced* out) {
  const uint32_t end = uint32_t(std::min<uint64_t>(uint64_t{addr} + n, smem_bytes_));
  for (uint32_t a = addr; a < end;) {
    const uint32_t stop = std::min(end, (a / kPageBytes + 1) * kPageBytes);
    if (page_gen_[a / kPageBytes] != generation_) {
      a = stop;
      continue;
    }
    const Cell* pg = &shadow_[size_t{a / kPageBytes} * kPageBytes];
    for (; a < stop; ++a) {
      const Cell& c = pg[a % kPageBytes];
      if (!c.tag) continue;
      const uint32_t t = (c.tag & ((1u << kThreadBits) - 1)) - 1;
      if (t < epoch_.size() && (epoch_[t] & kEpochMask) == (c.tag >> kThreadBits)) {
        if (out) *out = Unfenced{t, c.pc, a};
        return false;
      }
    }
  }
  return true;
}

}  // namespace emu
