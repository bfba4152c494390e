// dsv3-emu sm90: TMA tiled tensor copies (PTX ISA 9.0 5.5 "Tensors", 9.7.9.25 cp.async.bulk.tensor;
// cuTensorMapEncodeTiled's rules). See tma.h.
#include "src/sm90/tma.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace emu::sm90 {

bool from_runtime(const emu::tma::TensorMap& in, TensorMap* out, std::string* why) {
  if (in.data_type > emu::tma::kTF32Ftz) {
    *why = "the packed sub-byte tensor-map data types (16U4/16U6) are not modelled";
    return false;
  }
  if (in.swizzle > emu::tma::kSwizzle128B) {
    *why = "the 128B swizzle-atom modes are sm_100 features";
    return false;
  }
  if (in.rank < 1 || in.rank > 5) {
    *why = "tensor-map rank " + std::to_string(in.rank);
    return false;
  }
  TensorMap m;  // the enumerations share the driver API's values
  m.dtype = static_cast<TmaDataType>(in.data_type);
  m.rank = in.rank;
  m.global_address = in.address;
  for (uint32_t i = 0; i < 5; ++i) {
    m.global_dim[i] = in.dims[i];
    m.box_dim[i] = in.box[i];
    m.element_strides[i] = in.elem_strides[i];
  }
  for (uint32_t i = 0; i < 4; ++i) m.global_strides[i] = in.strides[i];
  m.interleave = static_cast<TmaInterleave>(in.interleave);
  m.swizzle = static_cast<TmaSwizzle>(in.swizzle);
  m.l2_promotion = in.l2;
  m.oob_fill = static_cast<TmaOobFill>(in.oob);
  *out = m;
  return true;
}

bool decode_tensor_map(const void* bytes128, TensorMap* out, std::string* why) {
  emu::tma::TensorMap rt;
  if (!emu::tma::decode(bytes128, &rt)) {
    *why = "the 128 bytes are not a tensor map made by cuTensorMapEncodeTiled (or were overwritten)";
    return false;
  }
  return from_runtime(rt, out, why);
}

uint32_t element_bytes(TmaDataType t) {
  switch (t) {
    case TmaDataType::u8: return 1;
    case TmaDataType::u16:
    case TmaDataType::f16:
    case TmaDataType::bf16: return 2;
    case TmaDataType::u32:
    case TmaDataType::s32:
    case TmaDataType::f32:
    case TmaDataType::f32_ftz:
    case TmaDataType::tf32:
    case TmaDataType::tf32_ftz: return 4;
    case TmaDataType::u64:
    case TmaDataType::s64:
    case TmaDataType::f64: return 8;
  }
  return 0;
}

bool is_float(TmaDataType t) {
  switch (t) {
    case TmaDataType::f16:
    case TmaDataType::bf16:
    case TmaDataType::f32:
    case TmaDataType::f32_ftz:
    case TmaDataType::tf32:
    case TmaDataType::tf32_ftz:
    case TmaDataType::f64: return true;
    default: return false;
  }
}

static uint32_t swizzle_span(TmaSwizzle s) {
  switch (s) {
    case TmaSwizzle::b32: return 32;
    case TmaSwizzle::b64: return 64;
    case TmaSwizzle::b128: return 128;
    case TmaSwizzle::none: break;
  }
  return 0;
}

uint32_t swizzle_repeat_bytes(TmaSwizzle s) { return swizzle_span(s) * 8; }

uint32_t tma_swizzle(uint32_t a, TmaSwizzle s) {
  const uint32_t bits = s == TmaSwizzle::b128 ? 3 : s == TmaSwizzle::b64 ? 2 : s == TmaSwizzle::b32 ? 1 : 0;
  const uint32_t mask = (1u << bits) - 1;
  return a ^ (((a >> 7) & mask) << 4);
}

std::string validate(const TensorMap& m) {
  // The list follows the requirements of cuTensorMapEncodeTiled (cuda.h), in its order.
  if (static_cast<uint32_t>(m.dtype) > static_cast<uint32_t>(TmaDataType::tf32_ftz))
    return "tensorDataType is not a tiled-copy data type of sm_90";
  if (m.rank < 1 || m.rank > 5) return "tensorRank must be 1..5";
  if (m.interleave != TmaInterleave::none && m.rank < 3) return "an interleaved layout needs tensorRank >= 3";
  if (static_cast<uint32_t>(m.interleave) > 2) return "interleave is not a CUtensorMapInterleave";
  const uint64_t galign = m.interleave == TmaInterleave::b32 ? 32 : 16;
  if (m.global_address % galign) return "globalAddress must be " + std::to_string(galign) + "-byte aligned";
  for (uint32_t i = 0; i < m.rank; ++i)
    if (m.global_dim[i] == 0 || m.global_dim[i] > (uint64_t{1} << 32))
      return "globalDim[" + std::to_string(i) + "] must be in 1..2^32";
  for (uint32_t i = 0; i + 1 < m.rank; ++i) {
    if (m.global_strides[i] % galign || m.global_strides[i] >= (uint64_t{1} << 40))
      return "globalStrides[" + std::to_string(i) + "] must be a multiple of " + std::to_string(galign) + " below 2^40";
  }
  const uint32_t e = element_bytes(m.dtype);
  for (uint32_t i = 0; i < m.rank; ++i) {
    if (m.box_dim[i] == 0 || m.box_dim[i] > 256) return "boxDim[" + std::to_string(i) + "] must be in 1..256";
    if (m.element_strides[i] == 0 || m.element_strides[i] > 8)
      return "elementStrides[" + std::to_string(i) + "] must be in 1..8";
  }
  if (m.interleave == TmaInterleave::none && (m.box_dim[0] * e) % 16)
    return "boxDim[0] * element size must be a multiple of 16 bytes";
  if (static_cast<uint32_t>(m.swizzle) > 3) return "swizzle is not one of the sm_90 CUtensorMapSwizzle modes";
  if (m.interleave == TmaInterleave::none && m.swizzle != TmaSwizzle::none && m.box_dim[0] * e > swizzle_span(m.swizzle))
    return "the box inner dimension (" + std::to_string(m.box_dim[0] * e) + " bytes) exceeds the swizzle span (" +
           std::to_string(swizzle_span(m.swizzle)) + " bytes)";
  if (m.interleave == TmaInterleave::b32 && m.swizzle != TmaSwizzle::b32)
    return "interleave 32B requires swizzle 32B";
  if (m.l2_promotion > 3) return "l2Promotion is not a CUtensorMapL2promotion";
  if (static_cast<uint32_t>(m.oob_fill) > 1) return "oobFill is not a CUtensorMapFloatOOBfill";
  if (m.oob_fill == TmaOobFill::nan_request_zero_fma && !is_float(m.dtype))
    return "the NaN out-of-bound fill needs a floating-point data type";
  return "";
}

uint32_t box_extent(const TensorMap& m, uint32_t i) {
  if (i == 0 && m.interleave == TmaInterleave::none) return m.box_dim[0];  // elementStrides[0] is ignored
  return (m.box_dim[i] + m.element_strides[i] - 1) / m.element_strides[i];
}

uint32_t box_bytes(const TensorMap& m) {
  uint32_t n = element_bytes(m.dtype);
  for (uint32_t i = 0; i < m.rank; ++i) n *= box_extent(m, i);
  return n;
}

void for_each_box_element(const TensorMap& m, const int32_t* coords, uint32_t smem_base,
                          const std::function<void(const TmaElement&)>& fn) {
  const uint32_t e = element_bytes(m.dtype);
  uint32_t ext[5] = {1, 1, 1, 1, 1};
  uint64_t total = 1;
  for (uint32_t i = 0; i < m.rank; ++i) total *= (ext[i] = box_extent(m, i));
  const uint32_t step0 = m.interleave == TmaInterleave::none ? 1 : m.element_strides[0];
  TmaElement el{};
  for (uint64_t linear = 0; linear < total; ++linear) {
    uint64_t rest = linear;
    el.in_bounds = true;
    el.global_addr = m.global_address;
    for (uint32_t i = 0; i < m.rank; ++i) {
      const uint64_t j = rest % ext[i];
      rest /= ext[i];
      const int64_t c = int64_t{coords[i]} + static_cast<int64_t>(j) * (i == 0 ? step0 : m.element_strides[i]);
      el.coord[i] = c;
      if (c < 0 || static_cast<uint64_t>(c) >= m.global_dim[i]) el.in_bounds = false;
      el.global_addr += static_cast<uint64_t>(c) * (i == 0 ? e : m.global_strides[i - 1]);
    }
    el.smem_addr = tma_swizzle(smem_base + static_cast<uint32_t>(linear) * e, m.swizzle);
    fn(el);
  }
}

std::string check_tile_operands(const TensorMap& m, uint32_t instr_rank, uint32_t smem_addr) {
  std::string why = validate(m);
  if (!why.empty()) return "tensor map: " + why;
  if (instr_rank != m.rank)
    return "the instruction's ." + std::to_string(instr_rank) + "d does not match the tensor map's rank " +
           std::to_string(m.rank);
  if (m.interleave != TmaInterleave::none) return "interleaved tensor maps are not modelled by dsv3-emu";
  if (smem_addr % 128) return "shared-memory address of a tensor copy must be 128-byte aligned";
  const uint32_t rep = swizzle_repeat_bytes(m.swizzle);
  if (rep && smem_addr % rep)
    return "shared-memory address of a box with the " + std::to_string(swizzle_span(m.swizzle)) +
           "B swizzle must be aligned to the pattern's repeat (" + std::to_string(rep) + " bytes)";
  return "";
}

static std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The out-of-bound fill value of one element (little-endian bytes).
static void fill_value(const TensorMap& m, uint8_t* out) {
  const uint32_t e = element_bytes(m.dtype);
  std::memset(out, 0, e);
  if (m.oob_fill != TmaOobFill::nan_request_zero_fma) return;
  uint64_t nan = 0;
  switch (m.dtype) {
    case TmaDataType::f16:
    case TmaDataType::bf16: nan = 0x7FFF; break;
    case TmaDataType::f64: nan = 0x7FFFFFFFFFFFFFFFull; break;
    default: nan = 0x7FFFFFFF; break;  // f32, f32_ftz, tf32, tf32_ftz
  }
  std::memcpy(out, &nan, e);
}

// The copies move whole rows of the box (dimension 0): the in-bound part of a row is contiguous in
// global memory (one GlobalView access), and in shared memory a row is a run of 16-byte chunks (its
// byte size is a multiple of 16 and the box starts 128-byte aligned), each of which the swizzle moves
// as a whole (one SmemView access per chunk). The result is the element-wise for_each_box_element's.
namespace {
struct Row {
  uint32_t smem_off;   // offset of the row in the (unswizzled) box
  bool any_in;         // some element of the row is in bounds
  uint32_t lo, hi;     // in-bound elements [lo, hi) of the row
  uint64_t global_lo;  // global address of element lo
};

template <class Fn>
void for_each_row(const TensorMap& m, const int32_t* coords, Fn fn) {
  const uint32_t e = element_bytes(m.dtype), n0 = box_extent(m, 0);
  uint32_t ext[5] = {1, 1, 1, 1, 1};
  uint64_t rows = 1;
  for (uint32_t i = 1; i < m.rank; ++i) rows *= (ext[i] = box_extent(m, i));
  // dimension 0: elements c0 + j, j in [0, n0), in bounds for j in [lo0, hi0)
  const int64_t c0 = coords[0], d0 = static_cast<int64_t>(m.global_dim[0]);
  const int64_t lo0 = std::max<int64_t>(0, -c0), hi0 = std::min<int64_t>(n0, d0 - c0);
  for (uint64_t r = 0; r < rows; ++r) {
    Row row{static_cast<uint32_t>(r * n0 * e), hi0 > lo0, 0, 0, m.global_address};
    uint64_t rest = r;
    for (uint32_t i = 1; i < m.rank; ++i) {
      const uint64_t j = rest % ext[i];
      rest /= ext[i];
      const int64_t c = int64_t{coords[i]} + static_cast<int64_t>(j) * m.element_strides[i];
      if (c < 0 || c >= static_cast<int64_t>(m.global_dim[i])) row.any_in = false;
      row.global_lo += static_cast<uint64_t>(c) * m.global_strides[i - 1];
    }
    if (row.any_in) {
      row.lo = static_cast<uint32_t>(lo0);
      row.hi = static_cast<uint32_t>(hi0);
      row.global_lo += static_cast<uint64_t>(c0 + lo0) * e;
    }
    if (!fn(row)) return;
  }
}
}  // namespace

TmaStatus tma_load_tile(const TensorMap& m, uint32_t instr_rank, const int32_t* coords, uint32_t smem_dst,
                        GlobalView& global, SmemView& smem) {
  const std::string why = check_tile_operands(m, instr_rank, smem_dst);
  if (!why.empty()) return {false, "cp.async.bulk.tensor: " + why, 0};
  const uint32_t e = element_bytes(m.dtype), row_bytes = box_extent(m, 0) * e;
  uint8_t fill[8];
  fill_value(m, fill);
  std::vector<uint8_t> filled(row_bytes), buf(row_bytes);
  for (uint32_t i = 0; i < row_bytes; i += e) std::memcpy(filled.data() + i, fill, e);
  TmaStatus st;
  for_each_row(m, coords, [&](const Row& row) {
    buf = filled;
    if (row.any_in && !global.read(row.global_lo, buf.data() + row.lo * e, (row.hi - row.lo) * e)) {
      st = {false, "cp.async.bulk.tensor: global read refused at " + hex(row.global_lo), 0};
      return false;
    }
    for (uint32_t off = 0; off < row_bytes; off += 16) {
      const uint32_t a = tma_swizzle(smem_dst + row.smem_off + off, m.swizzle);
      if (!smem.write(a, buf.data() + off, 16)) {
        st = {false, "cp.async.bulk.tensor: shared-memory write refused at " + hex(a), 0};
        return false;
      }
    }
    return true;
  });
  if (st.ok) st.bytes = box_bytes(m);
  return st;
}

TmaStatus tma_store_tile(const TensorMap& m, uint32_t instr_rank, const int32_t* coords, uint32_t smem_src,
                         SmemView& smem, GlobalView& global) {
  const std::string why = check_tile_operands(m, instr_rank, smem_src);
  if (!why.empty()) return {false, "cp.async.bulk.tensor: " + why, 0};
  const uint32_t e = element_bytes(m.dtype), row_bytes = box_extent(m, 0) * e;
  std::vector<uint8_t> buf(row_bytes);
  TmaStatus st;
  for_each_row(m, coords, [&](const Row& row) {
    if (!row.any_in) return true;
    // only the chunks holding in-bound elements are read
    const uint32_t first = row.lo * e / 16 * 16, last = row.hi * e;
    for (uint32_t off = first; off < last; off += 16) {
      const uint32_t a = tma_swizzle(smem_src + row.smem_off + off, m.swizzle);
      if (!smem.read(a, buf.data() + off, 16)) {
        st = {false, "cp.async.bulk.tensor: shared-memory read refused at " + hex(a), 0};
        return false;
      }
    }
    const uint32_t n = (row.hi - row.lo) * e;
    if (!global.write(row.global_lo, buf.data() + row.lo * e, n)) {
      st = {false, "cp.async.bulk.tensor: global write refused at " + hex(row.global_lo), 0};
      return false;
    }
    st.bytes += n;
    return true;
  });
  return st;
}

// ---- non-tensor bulk copies ----
static std::string bulk_check(uint64_t src, uint64_t dst, uint32_t size) {
  if (size == 0 || size % 16) return "cp.async.bulk: size " + std::to_string(size) + " is not a non-zero multiple of 16";
  if (src % 16) return "cp.async.bulk: source address " + hex(src) + " is not 16-byte aligned";
  if (dst % 16) return "cp.async.bulk: destination address " + hex(dst) + " is not 16-byte aligned";
  return "";
}

TmaStatus bulk_copy_global_to_shared(uint64_t src, uint32_t dst, uint32_t size, GlobalView& global, SmemView& smem) {
  const std::string why = bulk_check(src, dst, size);
  if (!why.empty()) return {false, why, 0};
  std::vector<uint8_t> buf(size);
  if (!global.read(src, buf.data(), size)) return {false, "cp.async.bulk: global read refused at " + hex(src), 0};
  if (!smem.write(dst, buf.data(), size)) return {false, "cp.async.bulk: shared-memory write refused at " + hex(dst), 0};
  return {true, "", size};
}

TmaStatus bulk_copy_shared_to_global(uint32_t src, uint64_t dst, uint32_t size, SmemView& smem, GlobalView& global) {
  const std::string why = bulk_check(src, dst, size);
  if (!why.empty()) return {false, why, 0};
  std::vector<uint8_t> buf(size);
  if (!smem.read(src, buf.data(), size)) return {false, "cp.async.bulk: shared-memory read refused at " + hex(src), 0};
  if (!global.write(dst, buf.data(), size)) return {false, "cp.async.bulk: global write refused at " + hex(dst), 0};
  return {true, "", size};
}

}  // namespace emu::sm90
