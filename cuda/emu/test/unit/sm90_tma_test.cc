// Unit test of the TMA tiled-copy model (src/sm90/tma.h): tensor-map validation (cuTensorMapEncodeTiled's
// rules), loads of 1-D..5-D boxes with partial out-of-bound parts at every edge, each swizzle, traversal
// (element) strides, zero and NaN fill, against a reference written independently (nested loops over
// the box, swizzle as "16-byte chunk c of span row q goes to chunk c ^ ((q * span / 128) % (span / 16))"),
// the mbarrier byte count, operand alignment errors, stores (out-of-bound elements not written) and
// load/store round trips.
#include "src/sm90/tma.h"

#include <cstring>

#include "test/unit/check.h"
#include "test/unit/sm90_views.h"

using namespace emu::sm90;
using sm90test::Rng;
using sm90test::VecGlobal;
using sm90test::VecSmem;

static constexpr uint64_t kBase = 0x7f0000100000ull;

static uint32_t span_of(TmaSwizzle s) { return s == TmaSwizzle::b128 ? 128 : s == TmaSwizzle::b64 ? 64 : s == TmaSwizzle::b32 ? 32 : 0; }

// The reference swizzle: the CUDA driver's description ("swizzle 16B chunks within a <span> span"), with
// the shared-memory address cut into rows of `span` bytes; 8 rows of 128 B, 16 of 64 B or 32 of 32 B
// make the 1024/512/256-byte repeat, and the chunk's XOR key advances every 128 bytes.
static uint32_t ref_swizzle(uint32_t addr, TmaSwizzle s) {
  const uint32_t span = span_of(s);
  if (!span) return addr;
  const uint32_t q = addr / span, c = (addr % span) / 16;
  const uint32_t key = (q * span / 128) % (span / 16);
  return q * span + ((c ^ key) * 16) + addr % 16;
}

static TensorMap make_map(TmaDataType t, uint32_t rank, const uint64_t* dims, const uint32_t* box,
                          const uint32_t* es, TmaSwizzle sw, uint32_t pad_bytes) {
  TensorMap m;
  m.dtype = t;
  m.rank = rank;
  m.global_address = kBase + 256;
  const uint32_t e = element_bytes(t);
  uint64_t stride = (dims[0] * e + pad_bytes + 15) / 16 * 16;
  for (uint32_t i = 0; i < rank; ++i) {
    m.global_dim[i] = dims[i];
    m.box_dim[i] = box[i];
    m.element_strides[i] = es ? es[i] : 1;
    if (i + 1 < rank) {
      m.global_strides[i] = stride;
      stride = stride * (dims[i + 1] + (pad_bytes ? 1 : 0));
    }
  }
  m.swizzle = sw;
  return m;
}

static uint64_t tensor_bytes(const TensorMap& m) {
  uint64_t last = m.rank == 1 ? m.global_dim[0] * element_bytes(m.dtype)
                              : m.global_strides[m.rank - 2] * m.global_dim[m.rank - 1];
  return 256 + last + 256;
}

// Expected shared-memory image of a load, by nested loops over the box.
static std::vector<uint8_t> ref_load(const TensorMap& m, const int32_t* c, const VecGlobal& g, uint32_t smem_base,
                                     size_t smem_size, uint8_t smem_fill) {
  std::vector<uint8_t> out(smem_size, smem_fill);
  const uint32_t e = element_bytes(m.dtype);
  uint32_t n[5] = {1, 1, 1, 1, 1}, es[5] = {1, 1, 1, 1, 1};
  for (uint32_t d = 0; d < m.rank; ++d) {
    es[d] = d == 0 ? 1 : m.element_strides[d];
    n[d] = (m.box_dim[d] + es[d] - 1) / es[d];
  }
  uint64_t nanbits = e == 2 ? 0x7FFF : e == 8 ? 0x7FFFFFFFFFFFFFFFull : 0x7FFFFFFF;
  uint32_t off = 0;
  for (uint32_t j4 = 0; j4 < n[4]; ++j4)
    for (uint32_t j3 = 0; j3 < n[3]; ++j3)
      for (uint32_t j2 = 0; j2 < n[2]; ++j2)
        for (uint32_t j1 = 0; j1 < n[1]; ++j1)
          for (uint32_t j0 = 0; j0 < n[0]; ++j0, off += e) {
            const uint32_t j[5] = {j0, j1, j2, j3, j4};
            bool inb = true;
            uint64_t addr = m.global_address;
            for (uint32_t d = 0; d < m.rank; ++d) {
              const int64_t x = int64_t{c[d]} + int64_t{j[d]} * es[d];
              if (x < 0 || x >= static_cast<int64_t>(m.global_dim[d])) inb = false;
              addr += static_cast<uint64_t>(x) * (d == 0 ? e : m.global_strides[d - 1]);
            }
            uint8_t v[8];
            if (inb) std::memcpy(v, g.bytes.data() + (addr - g.base), e);
            else if (m.oob_fill == TmaOobFill::nan_request_zero_fma) std::memcpy(v, &nanbits, e);
            else std::memset(v, 0, e);
            for (uint32_t b = 0; b < e; ++b) out[ref_swizzle(smem_base + off + b, m.swizzle)] = v[b];
          }
  return out;
}

static void randomize(VecGlobal& g, Rng& rng) {
  for (auto& b : g.bytes) b = static_cast<uint8_t>(rng.next());
}

static void test_validate() {
  const uint64_t dims[2] = {64, 32};
  const uint32_t box[2] = {64, 8};
  TensorMap ok = make_map(TmaDataType::u8, 2, dims, box, nullptr, TmaSwizzle::b64, 0);
  CHECK_EQ(validate(ok), std::string());
  auto bad = [&](auto mutate, const char* what) {
    TensorMap m = ok;
    mutate(m);
    const std::string why = validate(m);
    if (why.empty()) std::fprintf(stderr, "accepted: %s\n", what);
    CHECK(!why.empty());
  };
  bad([](TensorMap& m) { m.rank = 0; }, "rank 0");
  bad([](TensorMap& m) { m.rank = 6; }, "rank 6");
  bad([](TensorMap& m) { m.global_address += 8; }, "address not 16-aligned");
  bad([](TensorMap& m) { m.global_dim[1] = 0; }, "dim 0");
  bad([](TensorMap& m) { m.global_dim[0] = (uint64_t{1} << 32) + 1; }, "dim > 2^32");
  bad([](TensorMap& m) { m.global_strides[0] = 72; }, "stride not multiple of 16");
  bad([](TensorMap& m) { m.global_strides[0] = uint64_t{1} << 40; }, "stride 2^40");
  bad([](TensorMap& m) { m.box_dim[1] = 257; }, "box 257");
  bad([](TensorMap& m) { m.box_dim[1] = 0; }, "box 0");
  bad([](TensorMap& m) { m.box_dim[0] = 40; }, "box inner bytes not multiple of 16");
  bad([](TensorMap& m) { m.element_strides[1] = 9; }, "element stride 9");
  bad([](TensorMap& m) { m.element_strides[0] = 0; }, "element stride 0");
  bad([](TensorMap& m) { m.swizzle = TmaSwizzle::b32; }, "inner 64 B > 32 B swizzle");
  bad([](TensorMap& m) { m.swizzle = static_cast<TmaSwizzle>(4); }, "sm_100 swizzle");
  bad([](TensorMap& m) { m.oob_fill = TmaOobFill::nan_request_zero_fma; }, "NaN fill on u8");
  bad([](TensorMap& m) { m.interleave = TmaInterleave::b16; }, "interleave with rank 2");
  bad([](TensorMap& m) { m.dtype = static_cast<TmaDataType>(13); }, "sub-byte types");
  TensorMap f = ok;
  f.dtype = TmaDataType::f16;
  f.box_dim[0] = 32;
  f.oob_fill = TmaOobFill::nan_request_zero_fma;
  CHECK_EQ(validate(f), std::string());
  // The byte count: the whole box, with the traversal stride applied to every dimension but 0.
  TensorMap s = ok;
  s.element_strides[0] = 4;  // ignored
  s.element_strides[1] = 3;  // ceil(8 / 3) = 3 rows
  CHECK_EQ(box_bytes(s), 64u * 3u);
  CHECK_EQ(box_bytes(ok), 64u * 8u);
}

// One load compared byte for byte with the reference, shared memory pre-filled with 0xA5 (so that a
// byte the load should have written and did not is seen).
static bool check_load(const TensorMap& m, const int32_t* c, VecGlobal& g, uint32_t smem_base, const char* what) {
  VecSmem smem(smem_base + box_bytes(m) + 1024, 0xA5);
  TmaStatus st = tma_load_tile(m, m.rank, c, smem_base, g, smem);
  const std::vector<uint8_t> want = ref_load(m, c, g, smem_base, smem.bytes.size(), 0xA5);
  // the element-wise specification (for_each_box_element) gives the same image
  std::vector<uint8_t> spec(smem.bytes.size(), 0xA5);
  const uint32_t e = element_bytes(m.dtype);
  const uint64_t nan = e == 2 ? 0x7FFF : e == 8 ? 0x7FFFFFFFFFFFFFFFull : 0x7FFFFFFF, zero = 0;
  for_each_box_element(m, c, smem_base, [&](const TmaElement& el) {
    const uint8_t* src = el.in_bounds ? g.bytes.data() + (el.global_addr - g.base)
                         : reinterpret_cast<const uint8_t*>(m.oob_fill == TmaOobFill::nan_request_zero_fma ? &nan : &zero);
    std::memcpy(spec.data() + el.smem_addr, src, e);
  });
  const bool ok = st.ok && st.bytes == box_bytes(m) && smem.bytes == want && spec == want;
  if (!ok) {
    std::fprintf(stderr, "load mismatch (%s): ok=%d bytes=%u msg=%s coords", what, st.ok, st.bytes, st.message.c_str());
    for (uint32_t d = 0; d < m.rank; ++d) std::fprintf(stderr, " %d", c[d]);
    std::fprintf(stderr, "\n");
  }
  CHECK(ok);
  return ok;
}

static void test_2d_edges() {
  Rng rng(11);
  int loads = 0;
  const TmaSwizzle swz[4] = {TmaSwizzle::none, TmaSwizzle::b32, TmaSwizzle::b64, TmaSwizzle::b128};
  const TmaDataType types[3] = {TmaDataType::u8, TmaDataType::f16, TmaDataType::f32};
  for (TmaDataType t : types)
    for (TmaSwizzle sw : swz) {
      const uint32_t e = element_bytes(t);
      const uint32_t inner = span_of(sw) ? span_of(sw) : 48;  // box inner bytes
      const uint32_t box[2] = {inner / e, 11};
      const uint64_t dims[2] = {inner / e * 2 + 3 * 16 / e, 29};  // not a multiple of the box
      for (int fill = 0; fill < 2; ++fill) {
        TensorMap m = make_map(t, 2, dims, box, nullptr, sw, 16 * fill);
        if (fill && is_float(t)) m.oob_fill = TmaOobFill::nan_request_zero_fma;
        CHECK_EQ(validate(m), std::string());
        VecGlobal g(kBase, tensor_bytes(m));
        randomize(g, rng);
        // every edge: boxes hanging off the left/top, inside, across the right/bottom, fully outside
        const int32_t b0 = static_cast<int32_t>(box[0]), d0 = static_cast<int32_t>(dims[0]);
        const int32_t xs[] = {-b0 - 3, -b0 + 1, -5, 0, 7, d0 - b0, d0 - b0 + 1, d0 - 2, d0, d0 + 40};
        const int32_t ys[] = {-12, -10, -1, 0, 9, 18, 19, 28, 29, 100};
        for (int32_t x : xs)
          for (int32_t y : ys) {
            const int32_t c[2] = {x, y};
            check_load(m, c, g, 2048, "2d");
            ++loads;
          }
        // int32 extremes: fully out of bounds, all fill
        const int32_t far[2] = {INT32_MIN, INT32_MAX - 3};
        check_load(m, far, g, 1024, "2d extreme coordinates");
      }
    }
  std::printf("2-D loads: %d\n", loads);
}

static void test_nd_and_strides() {
  Rng rng(12);
  int loads = 0;
  // 3-D with traversal strides on dimensions 1 and 2 (and one on 0, which the map ignores)
  {
    const uint64_t dims[3] = {40, 13, 9};
    for (TmaSwizzle sw : {TmaSwizzle::none, TmaSwizzle::b32, TmaSwizzle::b64}) {
      const uint32_t inner = sw == TmaSwizzle::b32 ? 16 : 32;  // elements (u16) along dimension 0
      const uint32_t box[3] = {inner, 7, 5}, es[3] = {3, 2, 3};  // extents inner, 4, 2
      TensorMap m = make_map(TmaDataType::u16, 3, dims, box, es, sw, 32);
      CHECK_EQ(validate(m), std::string());
      CHECK_EQ(box_bytes(m), inner * 2 * 4u * 2u);
      VecGlobal g(kBase, tensor_bytes(m));
      randomize(g, rng);
      for (int32_t x : {-8, 0, 16})
        for (int32_t y : {-6, -1, 0, 8, 12})
          for (int32_t z : {-4, -3, 0, 5, 8, 9}) {
            const int32_t c[3] = {x, y, z};
            check_load(m, c, g, 3072, "3d strided");
            ++loads;
          }
    }
  }
  // 1-D, 4-D, 5-D
  {
    const uint64_t dims[1] = {100};
    const uint32_t box[1] = {64};
    TensorMap m = make_map(TmaDataType::u8, 1, dims, box, nullptr, TmaSwizzle::none, 0);
    VecGlobal g(kBase, tensor_bytes(m));
    randomize(g, rng);
    for (int32_t x : {-70, -3, 0, 36, 37, 99, 100}) {
      const int32_t c[1] = {x};
      check_load(m, c, g, 128, "1d");
      ++loads;
    }
  }
  {
    const uint64_t dims[4] = {8, 5, 4, 3};
    const uint32_t box[4] = {8, 3, 2, 2}, es[4] = {1, 2, 1, 2};
    TensorMap m = make_map(TmaDataType::f32, 4, dims, box, es, TmaSwizzle::b32, 16);
    CHECK_EQ(validate(m), std::string());
    m.oob_fill = TmaOobFill::nan_request_zero_fma;
    VecGlobal g(kBase, tensor_bytes(m));
    randomize(g, rng);
    for (int32_t a : {-4, 0, 4})
      for (int32_t b : {-2, 0, 4})
        for (int32_t cc : {-1, 3})
          for (int32_t d : {-1, 0, 2}) {
            const int32_t c[4] = {a, b, cc, d};
            check_load(m, c, g, 1024, "4d");
            ++loads;
          }
  }
  {
    const uint64_t dims[5] = {16, 3, 3, 2, 3};
    const uint32_t box[5] = {16, 2, 2, 2, 2};
    TensorMap m = make_map(TmaDataType::u8, 5, dims, box, nullptr, TmaSwizzle::none, 16);
    VecGlobal g(kBase, tensor_bytes(m));
    randomize(g, rng);
    for (int32_t v : {-1, 0, 1, 2}) {
      const int32_t c[5] = {v, v, -v, v, 1 - v};
      check_load(m, c, g, 512, "5d");
      ++loads;
    }
  }
  std::printf("n-D loads: %d\n", loads);
}

static void test_operand_errors() {
  const uint64_t dims[2] = {256, 64};
  const uint32_t box[2] = {128, 64};
  TensorMap m = make_map(TmaDataType::u8, 2, dims, box, nullptr, TmaSwizzle::b128, 0);
  VecGlobal g(kBase, tensor_bytes(m));
  VecSmem smem(64 * 1024, 0);
  const int32_t c[2] = {0, 0};
  CHECK(tma_load_tile(m, 2, c, 4096, g, smem).ok);
  CHECK(!tma_load_tile(m, 2, c, 4096 + 64, g, smem).ok);   // not 128-byte aligned
  CHECK(!tma_load_tile(m, 2, c, 4096 + 512, g, smem).ok);  // 128B swizzle, not on a 1024-byte repeat
  CHECK(!tma_load_tile(m, 3, c, 4096, g, smem).ok);        // .3d with a 2-D map
  m.swizzle = TmaSwizzle::none;
  CHECK(tma_load_tile(m, 2, c, 4096 + 128, g, smem).ok);
  TensorMap m64 = m;
  m64.swizzle = TmaSwizzle::b64;
  m64.box_dim[0] = 64;
  CHECK(tma_load_tile(m64, 2, c, 4096 + 512, g, smem).ok);
  CHECK(!tma_load_tile(m64, 2, c, 4096 + 256, g, smem).ok);
  // A map over memory that is not there: the global view refuses, the load fails.
  TensorMap wild = m;
  wild.global_address = kBase + (1 << 24);
  CHECK(!tma_load_tile(wild, 2, c, 4096, g, smem).ok);
  CHECK(g.refused > 0);
  // Shared memory too small for the box.
  VecSmem tiny(4096 + 1024);
  CHECK(!tma_load_tile(m, 2, c, 4096, g, tiny).ok);
  CHECK(tiny.refused > 0);
}

static void test_store_and_round_trip() {
  Rng rng(13);
  int stores = 0;
  for (TmaSwizzle sw : {TmaSwizzle::none, TmaSwizzle::b32, TmaSwizzle::b64, TmaSwizzle::b128}) {
    const uint32_t inner = span_of(sw) ? span_of(sw) : 64;
    const uint64_t dims[2] = {inner / 2 + 24, 21};
    const uint32_t box[2] = {inner / 2, 8};
    TensorMap m = make_map(TmaDataType::bf16, 2, dims, box, nullptr, sw, 16);
    for (int32_t x : {-8, 0, 24, 30})
      for (int32_t y : {-3, 0, 13, 17}) {
        VecGlobal g(kBase, tensor_bytes(m));
        std::vector<uint8_t> before(g.bytes.size(), 0xEE);
        g.bytes = before;
        VecSmem smem(8192);
        for (auto& b : smem.bytes) b = static_cast<uint8_t>(rng.next());
        const int32_t c[2] = {x, y};
        TmaStatus st = tma_store_tile(m, 2, c, 1024, smem, g);
        CHECK(st.ok);
        // reference: element (j0, j1) of the box sits at row-major offset, swizzled
        uint32_t inb = 0;
        bool same = true;
        std::vector<uint8_t> want = before;
        for (uint32_t j1 = 0; j1 < box[1]; ++j1)
          for (uint32_t j0 = 0; j0 < box[0]; ++j0) {
            const int64_t gx = x + int64_t{j0}, gy = y + int64_t{j1};
            if (gx < 0 || gy < 0 || gx >= static_cast<int64_t>(dims[0]) || gy >= static_cast<int64_t>(dims[1])) continue;
            ++inb;
            const uint64_t ga = m.global_address + gx * 2 + gy * m.global_strides[0] - kBase;
            for (uint32_t b = 0; b < 2; ++b)
              want[ga + b] = smem.bytes[ref_swizzle(1024 + (j1 * box[0] + j0) * 2 + b, sw)];
          }
        same = want == g.bytes;
        CHECK(same);
        CHECK_EQ(st.bytes, inb * 2);
        // round trip: loading the same box back gives what was stored, for the in-bound elements, and
        // the fill (zero) elsewhere
        VecSmem back(8192, 0x33);
        TmaStatus ls = tma_load_tile(m, 2, c, 1024, g, back);
        CHECK(ls.ok);
        bool rt = true;
        for (uint32_t j1 = 0; j1 < box[1]; ++j1)
          for (uint32_t j0 = 0; j0 < box[0]; ++j0) {
            const int64_t gx = x + int64_t{j0}, gy = y + int64_t{j1};
            const bool in = !(gx < 0 || gy < 0 || gx >= static_cast<int64_t>(dims[0]) || gy >= static_cast<int64_t>(dims[1]));
            for (uint32_t b = 0; b < 2; ++b) {
              const uint32_t a = ref_swizzle(1024 + (j1 * box[0] + j0) * 2 + b, sw);
              if (back.bytes[a] != (in ? smem.bytes[a] : 0)) rt = false;
            }
          }
        CHECK(rt);
        ++stores;
      }
  }
  std::printf("stores: %d\n", stores);
}

// The model's own swizzle against the reference over a whole 2 KiB window, for each mode.
static void test_swizzle_function() {
  for (TmaSwizzle sw : {TmaSwizzle::none, TmaSwizzle::b32, TmaSwizzle::b64, TmaSwizzle::b128}) {
    int bad = 0;
    std::vector<int> hit(2048, 0);
    for (uint32_t a = 0; a < 2048; ++a) {
      if (tma_swizzle(a, sw) != ref_swizzle(a, sw)) ++bad;
      ++hit[tma_swizzle(a, sw)];
    }
    CHECK_EQ(bad, 0);
    bool perm = true;
    for (int h : hit) perm = perm && h == 1;
    CHECK(perm);  // a permutation of the window
  }
  // spot values: 128B swizzle, line 3 of the repeat, chunk 1 -> chunk 2
  CHECK_EQ(tma_swizzle(3 * 128 + 16 + 5, TmaSwizzle::b128), 3u * 128 + 32 + 5);
  CHECK_EQ(tma_swizzle(1024 + 7 * 128, TmaSwizzle::b128), 1024u + 7 * 128 + 7 * 16);
  CHECK_EQ(tma_swizzle(128 + 16, TmaSwizzle::b32), 128u);
  CHECK_EQ(tma_swizzle(256 + 16, TmaSwizzle::b32), 256u + 16);
}

// The runtime's 128-byte encoding (src/runtime/tensormap.h) decoded and converted: same fields, same copy.
static void test_runtime_tensormap() {
  emu::tma::TensorMap rt;
  rt.data_type = emu::tma::kBF16;
  rt.rank = 3;
  rt.address = kBase + 512;
  rt.dims[0] = 72, rt.dims[1] = 10, rt.dims[2] = 3;
  rt.strides[0] = 160, rt.strides[1] = 1600, rt.strides[2] = 1600;
  rt.box[0] = 32, rt.box[1] = 5, rt.box[2] = 2;
  rt.elem_strides[1] = 2;
  rt.swizzle = emu::tma::kSwizzle64B;
  rt.oob = emu::tma::kOobNanRequestZeroFma;
  uint8_t bytes[128];
  emu::tma::encode(rt, bytes);
  TensorMap m;
  std::string why;
  CHECK(decode_tensor_map(bytes, &m, &why));
  CHECK(m.dtype == TmaDataType::bf16 && m.rank == 3 && m.global_address == kBase + 512);
  CHECK(m.global_dim[0] == 72 && m.global_dim[2] == 3 && m.global_strides[0] == 160 && m.global_strides[1] == 1600);
  CHECK(m.box_dim[0] == 32 && m.box_dim[1] == 5 && m.element_strides[1] == 2);
  CHECK(m.swizzle == TmaSwizzle::b64 && m.oob_fill == TmaOobFill::nan_request_zero_fma);
  CHECK_EQ(validate(m), std::string());
  VecGlobal g(kBase, 8192);
  Rng rng(14);
  randomize(g, rng);
  const int32_t c[3] = {48, 7, 1};
  check_load(m, c, g, 512, "runtime-encoded map");
  bytes[20] ^= 1;  // a program that overwrote its map
  CHECK(!decode_tensor_map(bytes, &m, &why));
  CHECK(!why.empty());
  rt.data_type = emu::tma::k16U4Align8B;
  CHECK(!from_runtime(rt, &m, &why));
  rt.data_type = emu::tma::kU8;
  rt.swizzle = emu::tma::kSwizzle128BAtom32B;
  CHECK(!from_runtime(rt, &m, &why));
}

static void test_bulk_copies() {
  VecGlobal g(kBase, 4096);
  Rng rng(15);
  randomize(g, rng);
  VecSmem smem(4096, 0);
  TmaStatus st = bulk_copy_global_to_shared(kBase + 256, 1024, 512, g, smem);
  CHECK(st.ok && st.bytes == 512);
  CHECK(std::memcmp(smem.bytes.data() + 1024, g.bytes.data() + 256, 512) == 0);
  CHECK(smem.bytes[1023] == 0 && smem.bytes[1024 + 512] == 0);
  CHECK(!bulk_copy_global_to_shared(kBase + 8, 1024, 512, g, smem).ok);    // source alignment
  CHECK(!bulk_copy_global_to_shared(kBase, 1032, 512, g, smem).ok);        // destination alignment
  CHECK(!bulk_copy_global_to_shared(kBase, 1024, 24, g, smem).ok);         // size
  CHECK(!bulk_copy_global_to_shared(kBase, 1024, 0, g, smem).ok);
  CHECK(!bulk_copy_global_to_shared(kBase + 4096 - 16, 0, 32, g, smem).ok);  // past the allocation
  for (uint32_t i = 0; i < 64; ++i) smem.bytes[2048 + i] = static_cast<uint8_t>(i * 7);
  st = bulk_copy_shared_to_global(2048, kBase + 1024, 64, smem, g);
  CHECK(st.ok && st.bytes == 64);
  CHECK(std::memcmp(g.bytes.data() + 1024, smem.bytes.data() + 2048, 64) == 0);
  CHECK(!bulk_copy_shared_to_global(4096 - 16, kBase, 32, smem, g).ok);     // past shared memory
}

int main() {
  test_validate();
  test_bulk_copies();
  test_runtime_tensormap();
  test_swizzle_function();
  test_2d_edges();
  test_nd_and_strides();
  test_operand_errors();
  test_store_and_round_trip();
  return check::finish();
}
