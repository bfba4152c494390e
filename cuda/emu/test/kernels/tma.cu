// tma.cu: tensor copies (PTX ISA 9.0 section 9.7.9.25.5 cp.async.bulk.tensor .2d .tile global->shared with
// mbarrier::complete_tx, the tensor-map of cuTensorMapEncodeTiled (obtained through
// cudaGetDriverEntryPointByVersion), 128-byte swizzle and no swizzle, boxes partly outside the tensor
// (zero fill, negative coordinates)): the shared-memory image of each box is dumped and compared with
// the layout computed on the host.
#include <cuda.h>

#include "common.cuh"

using namespace kt;

constexpr int W = 200, H = 50;       // the tensor: H rows of W bytes (u8), row pitch 208 bytes
constexpr int kPitch = 208;          // a multiple of 16, as the tensor map requires
constexpr int BW = 128, BH = 16;     // the box: 16 rows of 128 bytes (the 128B swizzle span)

__device__ inline uint32_t smem(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

// Loads the box at (x, y) for each of `n` coordinates and dumps the 2 KB shared image per box.
__global__ void k_tma(const __grid_constant__ CUtensorMap map, const int* coords, int n, uint8_t* out) {
  __shared__ __align__(1024) uint8_t box[BW * BH];
  __shared__ __align__(8) uint64_t bar;
  int t = threadIdx.x;
  if (t == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&bar)) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // init (generic proxy) -> complete_tx (async proxy)
  }
  __syncthreads();
  for (int i = 0; i < n; ++i) {
    if (t == 0) {
      uint64_t state;
      asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;" : "=l"(state)
                   : "r"(smem(&bar)), "r"(BW * BH) : "memory");
      asm volatile("" :: "l"(state));
      asm volatile(
          "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
          :: "r"(smem(box)), "l"(&map), "r"(coords[2 * i]), "r"(coords[2 * i + 1]), "r"(smem(&bar)) : "memory");
    }
    uint32_t done = 0;
    while (!done)
      asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                   : "=r"(done) : "r"(smem(&bar)), "r"((uint32_t)(i & 1)) : "memory");
    for (int k = t; k < BW * BH; k += blockDim.x) out[(size_t)i * BW * BH + k] = box[k];
    __syncthreads();  // all read before the next copy overwrites the box
  }
}

// Two boxes on one mbarrier phase (expect_tx of both): (x0, y0) into box0 and (x1, y1) into box1.
__global__ void k_tma2(const __grid_constant__ CUtensorMap map, int x0, int y0, int x1, int y1, uint8_t* out) {
  __shared__ __align__(1024) uint8_t box0[BW * BH];
  __shared__ __align__(1024) uint8_t box1[BW * BH];
  __shared__ __align__(8) uint64_t bar;
  int t = threadIdx.x;
  if (t == 0) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" :: "r"(smem(&bar)) : "memory");
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;" ::: "memory");  // init (generic proxy) -> complete_tx (async proxy)
  }
  __syncthreads();
  if (t == 0) {
    uint64_t state;
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 %0, [%1], %2;" : "=l"(state)
                 : "r"(smem(&bar)), "r"(2 * BW * BH) : "memory");
    asm volatile("" :: "l"(state));
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
        :: "r"(smem(box0)), "l"(&map), "r"(x0), "r"(y0), "r"(smem(&bar)) : "memory");
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];"
        :: "r"(smem(box1)), "l"(&map), "r"(x1), "r"(y1), "r"(smem(&bar)) : "memory");
  }
  uint32_t done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], 0; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done) : "r"(smem(&bar)) : "memory");
  for (int k = t; k < BW * BH; k += blockDim.x) { out[k] = box0[k]; out[BW * BH + k] = box1[k]; }
}

typedef CUresult (*EncodeTiled)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

int main() {
  Rng g(0x7A4A);
  std::vector<uint8_t> src((size_t)kPitch * H);
  for (auto& v : src) v = (uint8_t)(1 + g.below(255));  // never 0: zero fill is visible
  DevBuf<uint8_t> dsrc(src);
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q{};
  CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q));
  {
    Check ck("cudaGetDriverEntryPointByVersion(cuTensorMapEncodeTiled)");
    ck.expect(q == cudaDriverEntryPointSuccess && fn != nullptr, 0, "entry point not found");
    if (!fn) return finish();
  }
  EncodeTiled encode = (EncodeTiled)fn;
  // boxes: inside, touching the right and bottom edges (partly outside), negative coordinates
  const std::vector<int> coords = {0, 0, 16, 3, 72, 0, 100, 40, -16, -5, 150, 45, 0, 34};
  const int n = (int)coords.size() / 2;
  DevBuf<int> dcoords(coords);
  for (int sw = 0; sw < 2; ++sw) {
    CUtensorMap map;
    cuuint64_t dims[2] = {W, H}, strides[1] = {kPitch};
    cuuint32_t boxdim[2] = {BW, BH}, estride[2] = {1, 1};
    CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, dsrc.d, dims, strides, boxdim, estride,
                        CU_TENSOR_MAP_INTERLEAVE_NONE, sw ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_NONE,
                        CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    Check ce(sw ? "cuTensorMapEncodeTiled (128B swizzle)" : "cuTensorMapEncodeTiled (no swizzle)");
    ce.expect(r == CUDA_SUCCESS, 0, "encode failed");
    if (r != CUDA_SUCCESS) continue;
    DevBuf<uint8_t> out((size_t)n * BW * BH);
    k_tma<<<1, 128>>>(map, dcoords, n, out);
    LAUNCH_CHECK();
    auto o = out.download();
    // the two-box phase: its boxes are the same as coordinates 1 and 3 of the list above
    DevBuf<uint8_t> out2((size_t)2 * BW * BH);
    k_tma2<<<1, 128>>>(map, coords[2], coords[3], coords[6], coords[7], out2);
    LAUNCH_CHECK();
    auto o2 = out2.download();
    {
      Check c2(sw ? "two boxes on one mbarrier phase (128B swizzle)" : "two boxes on one mbarrier phase");
      for (int k = 0; k < BW * BH; ++k) {
        c2.u32(k, o2[k], o[(size_t)1 * BW * BH + k]);
        c2.u32(BW * BH + k, o2[BW * BH + k], o[(size_t)3 * BW * BH + k]);
      }
    }
    Check ck(sw ? "cp.async.bulk.tensor.2d box image, 128B swizzle" : "cp.async.bulk.tensor.2d box image, no swizzle");
    for (int i = 0; i < n; ++i) {
      int x0 = coords[2 * i], y0 = coords[2 * i + 1];
      for (int r = 0; r < BH; ++r)
        for (int c = 0; c < BW; ++c) {
          int x = x0 + c, y = y0 + r;
          uint8_t want = (x >= 0 && x < W && y >= 0 && y < H) ? src[(size_t)y * kPitch + x] : 0;
          // 128B swizzle: the 16-byte chunk c/16 of row r sits at chunk (c/16) ^ (r % 8)
          int pos = sw ? r * BW + ((((c >> 4) ^ (r & 7)) << 4) | (c & 15)) : r * BW + c;
          uint8_t got = o[(size_t)i * BW * BH + pos];
          if (got == want) ck.ok();
          else ck.fail(i * BW * BH + pos, "box (%d, %d) element (row %d, byte %d): got %u want %u", x0, y0, r, c, got, want);
        }
    }
  }
  return finish();
}
