// CPU backend: layout ops. transpose01 swaps the first two dims ([T, H, D] <-> [H, T, D], the per-head
// layout of MLA's absorbed projections), copying `inner` contiguous elements at a time; narrow copies a
// range of the last dim (q's nope/rope parts per head).
#include <algorithm>
#include <cstring>

#include "native/cpu/parallel.h"
#include "native/ops.h"

namespace dsv3::cpu {

void transpose01(const Transpose01Params& p) {
  const int64_t row = p.inner * p.elem;  // bytes copied per (i, j)
  const char* x = static_cast<const char*>(p.x);
  char* out = static_cast<char*>(p.out);
  // Parallel over output rows j: each writes a contiguous [a, inner] slab.
  parallel_for(p.b, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, p.a * row)), [&](int64_t jb, int64_t je) {
    for (int64_t j = jb; j < je; ++j)
      for (int64_t i = 0; i < p.a; ++i) std::memcpy(out + (j * p.a + i) * row, x + (i * p.b + j) * row, row);
  });
}

void narrow(const NarrowParams& p) {
  const int64_t in_row = p.n * p.elem, out_row = p.len * p.elem, off = p.start * p.elem;
  const char* x = static_cast<const char*>(p.x);
  char* out = static_cast<char*>(p.out);
  parallel_for(p.rows, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(1, out_row)), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(out + i * out_row, x + i * in_row + off, out_row);
  });
}

}  // namespace dsv3::cpu
