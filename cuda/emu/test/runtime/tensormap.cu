// dsv3-emu runtime test: driver entry points and cuTensorMapEncodeTiled. A valid map encodes (and
// decodes back with the emulator's layout, src/runtime/tensormap.h); each argument that breaks one of
// the driver documentation's requirements gives CUDA_ERROR_INVALID_VALUE.
#include <cuda.h>

#include <cstdint>
#include <cstring>

#include "check.cuh"
#include "src/runtime/tensormap.h"

typedef CUresult (*EncodeTiled)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
typedef CUresult (*GetErrorName)(CUresult, const char**);

struct Args {
  CUtensorMapDataType type = CU_TENSOR_MAP_DATA_TYPE_UINT8;
  cuuint32_t rank = 2;
  void* address = nullptr;
  cuuint64_t dims[5] = {7168, 512, 1, 1, 1};
  cuuint64_t strides[4] = {7168, 0, 0, 0};
  cuuint32_t box[5] = {128, 64, 1, 1, 1};
  cuuint32_t elem_strides[5] = {1, 1, 1, 1, 1};
  CUtensorMapInterleave interleave = CU_TENSOR_MAP_INTERLEAVE_NONE;
  CUtensorMapSwizzle swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  CUtensorMapL2promotion l2 = CU_TENSOR_MAP_L2_PROMOTION_L2_256B;
  CUtensorMapFloatOOBfill oob = CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE;
};

static EncodeTiled g_encode = nullptr;
static CUresult encode(const Args& a, CUtensorMap* m) {
  return g_encode(m, a.type, a.rank, a.address, a.dims, a.strides, a.box, a.elem_strides, a.interleave, a.swizzle,
                  a.l2, a.oob);
}

#define CHECK_CU(expr, want) CHECK_EQ(int(expr), int(want))

int main() {
  void* fn = nullptr;
  cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
  CHECK_OK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q));
  CHECK_EQ(q, cudaDriverEntryPointSuccess);
  CHECK(fn != nullptr);
  g_encode = reinterpret_cast<EncodeTiled>(fn);
  void* fn2 = nullptr;
  CHECK_OK(cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", &fn2, cudaEnableDefault, &q));
  CHECK(fn2 == fn);
  CHECK_OK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn2, 11080, cudaEnableDefault, &q));
  CHECK_EQ(q, cudaDriverEntryPointVersionNotSufficent);
  CHECK(fn2 == nullptr);
  CHECK_OK(cudaGetDriverEntryPoint("cuNoSuchFunction", &fn2, cudaEnableDefault, &q));
  CHECK_EQ(q, cudaDriverEntryPointSymbolNotFound);
  CHECK(fn2 == nullptr);
  void* name_fn = nullptr;
  CHECK_OK(cudaGetDriverEntryPoint("cuGetErrorName", &name_fn, cudaEnableDefault, &q));
  const char* name = nullptr;
  CHECK_CU(reinterpret_cast<GetErrorName>(name_fn)(CUDA_ERROR_INVALID_VALUE, &name), CUDA_SUCCESS);
  CHECK(name && std::strcmp(name, "CUDA_ERROR_INVALID_VALUE") == 0);
  void* string_fn = nullptr;
  CHECK_OK(cudaGetDriverEntryPoint("cuGetErrorString", &string_fn, cudaEnableDefault, &q));
  CHECK_CU(reinterpret_cast<GetErrorName>(string_fn)(CUDA_ERROR_OUT_OF_MEMORY, &name), CUDA_SUCCESS);
  CHECK(name && std::strcmp(name, "out of memory") == 0);

  uint8_t* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 7168 * 512));
  alignas(64) CUtensorMap map;
  Args ok;
  ok.address = d;

  // A valid map, and its decoding.
  CHECK_CU(encode(ok, &map), CUDA_SUCCESS);
  emu::tma::TensorMap m;
  CHECK(emu::tma::decode(&map, &m));
  CHECK_EQ(m.rank, 2u);
  CHECK_EQ(m.address, reinterpret_cast<uint64_t>(d));
  CHECK_EQ(m.dims[0], 7168u);
  CHECK_EQ(m.dims[1], 512u);
  CHECK_EQ(m.strides[0], 7168u);
  CHECK_EQ(m.box[0], 128u);
  CHECK_EQ(m.box[1], 64u);
  CHECK_EQ(m.swizzle, emu::tma::kSwizzle128B);
  CHECK_EQ(m.l2, emu::tma::kL2_256B);
  reinterpret_cast<uint8_t*>(&map)[20] ^= 1;  // a corrupted map is not decoded
  CHECK(!emu::tma::decode(&map, &m));
  // Rank 5, f32, with element strides and the NaN fill.
  Args r5 = ok;
  r5.type = CU_TENSOR_MAP_DATA_TYPE_FLOAT32;
  r5.rank = 5;
  const cuuint64_t dims5[5] = {32, 4, 4, 4, 4};
  const cuuint64_t strides5[4] = {128, 512, 2048, 8192};
  const cuuint32_t box5[5] = {32, 2, 2, 2, 2};
  const cuuint32_t es5[5] = {1, 2, 1, 8, 1};
  std::memcpy(r5.dims, dims5, sizeof dims5);
  std::memcpy(r5.strides, strides5, sizeof strides5);
  std::memcpy(r5.box, box5, sizeof box5);
  std::memcpy(r5.elem_strides, es5, sizeof es5);
  r5.swizzle = CU_TENSOR_MAP_SWIZZLE_128B;
  r5.oob = CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA;
  CHECK_CU(encode(r5, &map), CUDA_SUCCESS);
  // Interleaved, rank 3: 32-byte interleave with the 32-byte swizzle.
  Args il = ok;
  il.type = CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  il.rank = 3;
  il.dims[2] = 4;
  il.strides[1] = 7168 * 4;
  il.box[0] = 8;  // no multiple-of-16-bytes rule for the inner box when interleaved
  il.interleave = CU_TENSOR_MAP_INTERLEAVE_32B;
  il.swizzle = CU_TENSOR_MAP_SWIZZLE_32B;
  CHECK_CU(encode(il, &map), CUDA_SUCCESS);

  // Each invalid argument.
  const CUresult bad = CUDA_ERROR_INVALID_VALUE;
  {
    alignas(64) uint8_t raw[192];
    CHECK_CU(g_encode(reinterpret_cast<CUtensorMap*>(raw + 16), ok.type, ok.rank, ok.address, ok.dims, ok.strides,
                      ok.box, ok.elem_strides, ok.interleave, ok.swizzle, ok.l2, ok.oob),
             bad);  // the map itself not 64-byte aligned
  }
  Args a;
  a = ok; a.type = static_cast<CUtensorMapDataType>(16); CHECK_CU(encode(a, &map), bad);
  a = ok; a.rank = 0; CHECK_CU(encode(a, &map), bad);
  a = ok; a.rank = 6; CHECK_CU(encode(a, &map), bad);
  a = il; a.rank = 2; CHECK_CU(encode(a, &map), bad);  // interleave needs rank >= 3
  a = ok; a.address = d + 8; CHECK_CU(encode(a, &map), bad);  // 16-byte alignment
  a = il; a.address = d + 16; CHECK_CU(encode(a, &map), bad);  // 32 with the 32-byte interleave
  a = ok; a.dims[1] = 0; CHECK_CU(encode(a, &map), bad);
  a = ok; a.dims[0] = (1ull << 32) + 1; CHECK_CU(encode(a, &map), bad);
  a = ok; a.dims[0] = 1ull << 32; a.strides[0] = 1ull << 32; CHECK_CU(encode(a, &map), CUDA_SUCCESS);  // 2^32 is allowed
  a = ok; a.strides[0] = 7168 + 8; CHECK_CU(encode(a, &map), bad);  // multiple of 16
  a = ok; a.strides[0] = 1ull << 40; CHECK_CU(encode(a, &map), bad);  // below 2^40
  a = il; a.strides[0] = 7168 * 2 + 16; CHECK_CU(encode(a, &map), bad);  // multiple of 32 when interleaved 32B
  a = ok; a.box[1] = 0; CHECK_CU(encode(a, &map), bad);
  a = ok; a.box[1] = 257; CHECK_CU(encode(a, &map), bad);
  a = ok; a.box[0] = 24; CHECK_CU(encode(a, &map), bad);  // 24 bytes: not a multiple of 16
  a = ok; a.elem_strides[1] = 0; CHECK_CU(encode(a, &map), bad);
  a = ok; a.elem_strides[1] = 9; CHECK_CU(encode(a, &map), bad);
  a = ok; a.interleave = static_cast<CUtensorMapInterleave>(3); CHECK_CU(encode(a, &map), bad);
  a = ok; a.swizzle = static_cast<CUtensorMapSwizzle>(7); CHECK_CU(encode(a, &map), bad);
  a = ok; a.l2 = static_cast<CUtensorMapL2promotion>(4); CHECK_CU(encode(a, &map), bad);
  a = ok; a.oob = static_cast<CUtensorMapFloatOOBfill>(2); CHECK_CU(encode(a, &map), bad);
  // Each swizzle's inner-box limit: 32, 64, 128 bytes.
  a = ok; a.box[0] = 32; a.swizzle = CU_TENSOR_MAP_SWIZZLE_32B; CHECK_CU(encode(a, &map), CUDA_SUCCESS);
  a = ok; a.box[0] = 48; a.swizzle = CU_TENSOR_MAP_SWIZZLE_32B; CHECK_CU(encode(a, &map), bad);
  a = ok; a.box[0] = 64; a.swizzle = CU_TENSOR_MAP_SWIZZLE_64B; CHECK_CU(encode(a, &map), CUDA_SUCCESS);
  a = ok; a.box[0] = 80; a.swizzle = CU_TENSOR_MAP_SWIZZLE_64B; CHECK_CU(encode(a, &map), bad);
  a = ok; a.box[0] = 144; a.swizzle = CU_TENSOR_MAP_SWIZZLE_128B; CHECK_CU(encode(a, &map), bad);
  a = ok; a.box[0] = 256; a.swizzle = CU_TENSOR_MAP_SWIZZLE_NONE; CHECK_CU(encode(a, &map), CUDA_SUCCESS);
  // The 32-byte interleave needs the 32-byte swizzle.
  a = il; a.swizzle = CU_TENSOR_MAP_SWIZZLE_128B; CHECK_CU(encode(a, &map), bad);
  // The NaN fill only for floating-point types.
  a = ok; a.oob = CU_TENSOR_MAP_FLOAT_OOB_FILL_NAN_REQUEST_ZERO_FMA; CHECK_CU(encode(a, &map), bad);
  CHECK_OK(cudaFree(d));
  return finish();
}
