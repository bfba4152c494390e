// launch.cu: kernel launches (CUDA runtime <<<>>>, cudaLaunchKernel, streams; PTX ISA 9.0 chapter 10
// %tid %ntid %ctaid %nctaid %laneid): 3-D grids and blocks, many CTAs, grid.x above 65535, a 1024-thread
// block, parameters of every size, and invalid configurations refused with the CUDA error a GPU gives
// (cudaErrorInvalidConfiguration / cudaErrorInvalidValue), not sticky, reported once by cudaGetLastError.
#include "common.cuh"

using namespace kt;

// Every thread records who it is; slot = its linear id in the whole grid.
__global__ void k_ids(uint32_t* out) {
  uint32_t bx = blockIdx.x, by = blockIdx.y, bz = blockIdx.z;
  uint32_t block = (bz * gridDim.y + by) * gridDim.x + bx;
  uint32_t tin = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  uint32_t nthreads = blockDim.x * blockDim.y * blockDim.z;
  uint32_t slot = block * nthreads + tin;
  uint32_t lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  uint32_t* o = out + (size_t)slot * 4;
  o[0] = threadIdx.x | threadIdx.y << 10 | threadIdx.z << 20;
  o[1] = bx | by << 12 | bz << 22;
  o[2] = blockDim.x | blockDim.y << 10 | blockDim.z << 20 | (lane == tin % 32 ? 1u << 31 : 0u);
  o[3] = gridDim.x | gridDim.y << 12 | gridDim.z << 22;
}

__global__ void k_many(uint32_t* out) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = i * 7u + 3u;
}

__global__ void k_big(uint32_t* out) {  // grid.x > 65535, one thread per CTA
  out[blockIdx.x] = blockIdx.x ^ 0x5A5Au;
}

__global__ void __launch_bounds__(1024) k_1024(const uint32_t* in, uint32_t* out) {
  __shared__ uint32_t s[1024];
  int t = threadIdx.x;
  s[t] = in[t];
  __syncthreads();
  for (int w = 512; w > 0; w >>= 1) {
    if (t < w) s[t] += s[t + w];
    __syncthreads();
  }
  out[t] = s[0] + (uint32_t)t;
}

__global__ void k_args(uint32_t* out, uint32_t a, uint64_t b, float c, uint8_t d, int8_t e, int16_t f, double h) {
  out[threadIdx.x] = a + (uint32_t)(b >> 32) + (uint32_t)b + (uint32_t)(c * 2.0f) + d + threadIdx.x +
                     (uint32_t)(int32_t)e * 1000u + (uint32_t)(int32_t)f * 7u + (uint32_t)(int32_t)(h * 4.0);
}

__global__ void k_dyn(uint32_t* out) {
  extern __shared__ uint32_t dyn[];
  dyn[threadIdx.x] = threadIdx.x;
  __syncthreads();
  out[threadIdx.x] = dyn[blockDim.x - 1 - threadIdx.x];
}

static void check_shape(dim3 grid, dim3 block) {
  size_t threads = (size_t)grid.x * grid.y * grid.z * block.x * block.y * block.z;
  DevBuf<uint32_t> out(threads * 4);
  k_ids<<<grid, block>>>(out);
  LAUNCH_CHECK();
  auto o = out.download();
  char name[96];
  snprintf(name, sizeof name, "grid (%u,%u,%u) block (%u,%u,%u)", grid.x, grid.y, grid.z, block.x, block.y, block.z);
  Check ck(name);
  size_t i = 0;
  for (uint32_t bz = 0; bz < grid.z; ++bz)
    for (uint32_t by = 0; by < grid.y; ++by)
      for (uint32_t bx = 0; bx < grid.x; ++bx)
        for (uint32_t tz = 0; tz < block.z; ++tz)
          for (uint32_t ty = 0; ty < block.y; ++ty)
            for (uint32_t tx = 0; tx < block.x; ++tx, ++i) {
              bool ok = o[i * 4 + 0] == (tx | ty << 10 | tz << 20) && o[i * 4 + 1] == (bx | by << 12 | bz << 22) &&
                        o[i * 4 + 2] == (block.x | block.y << 10 | block.z << 20 | 1u << 31) &&
                        o[i * 4 + 3] == (grid.x | grid.y << 12 | grid.z << 22);
              if (ok) ck.ok();
              else ck.fail((long)i, "got %08x %08x %08x %08x", o[i * 4], o[i * 4 + 1], o[i * 4 + 2], o[i * 4 + 3]);
            }
}

// A launch that must be refused with `want`, leave no sticky error, and be reported once.
static void check_refused(const char* what, dim3 grid, dim3 block, size_t smem, cudaError_t want) {
  DevBuf<uint32_t> out(64);
  Check ck(std::string("refused: ") + what);
  k_many<<<grid, block, smem>>>(out);
  cudaError_t peek = cudaPeekAtLastError();
  cudaError_t got = cudaGetLastError();
  cudaError_t after = cudaGetLastError();
  if (got == want) ck.ok();
  else ck.fail(0, "cudaGetLastError gave %s, want %s", cudaGetErrorName(got), cudaGetErrorName(want));
  ck.expect(peek == want, 1, "cudaPeekAtLastError did not report the error");
  ck.expect(after == cudaSuccess, 2, "the error was still reported after cudaGetLastError");
  // not sticky: a valid launch right after works
  k_many<<<1, 64>>>(out);
  cudaError_t e1 = cudaGetLastError(), e2 = cudaDeviceSynchronize();
  ck.expect(e1 == cudaSuccess && e2 == cudaSuccess, 3, "a valid launch after the refused one failed");
  auto o = out.download();
  bool ok = true;
  for (uint32_t i = 0; i < 64; ++i) ok &= o[i] == i * 7u + 3u;
  ck.expect(ok, 4, "the valid launch after the refused one computed wrong values");
}

int main() {
  Rng g(0x1A0);
  check_shape(dim3(1), dim3(1));
  check_shape(dim3(3, 2, 2), dim3(8, 4, 2));
  check_shape(dim3(2, 3, 1), dim3(5, 3, 7));   // block not a multiple of 32
  check_shape(dim3(1, 1, 4), dim3(1, 1, 64));  // block.z at its limit
  check_shape(dim3(7), dim3(33));
  {
    const int blocks = 3000, threads = 64;
    DevBuf<uint32_t> out((size_t)blocks * threads);
    k_many<<<blocks, threads>>>(out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("3000 CTAs of 64 threads");
    for (uint32_t i = 0; i < (uint32_t)(blocks * threads); ++i) ck.u32(i, o[i], i * 7u + 3u);
  }
  {
    const uint32_t blocks = 70000;
    DevBuf<uint32_t> out(blocks);
    k_big<<<blocks, 1>>>(out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("grid.x = 70000 (above 65535)");
    for (uint32_t i = 0; i < blocks; ++i) ck.u32(i, o[i], i ^ 0x5A5Au);
  }
  {
    std::vector<uint32_t> in(1024);
    uint32_t sum = 0;
    for (auto& v : in) { v = g.u32() >> 12; sum += v; }
    DevBuf<uint32_t> din(in), out(1024);
    k_1024<<<1, 1024>>>(din, out);
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("1024-thread block with a shared reduction");
    for (uint32_t t = 0; t < 1024; ++t) ck.u32(t, o[t], sum + t);
  }
  {
    DevBuf<uint32_t> out(32);
    uint32_t a = 100;
    uint64_t b = 0x0000000500000007ull;
    float c = 4.25f;
    uint8_t d = 200;
    int8_t e = -5;
    int16_t f = -3000;
    double h = -2.75;
    void* args[] = {&out.d, &a, &b, &c, &d, &e, &f, &h};
    CUDA_CHECK(cudaLaunchKernel((const void*)k_args, dim3(1), dim3(32), args, 0, nullptr));
    LAUNCH_CHECK();
    auto o = out.download();
    Check ck("cudaLaunchKernel with scalar arguments of every size");
    for (uint32_t t = 0; t < 32; ++t)
      ck.u32(t, o[t], 100u + 5u + 7u + 8u + 200u + t + (uint32_t)(-5000) + (uint32_t)(-21000) + (uint32_t)(-11));
  }
  {
    cudaStream_t s;
    CUDA_CHECK(cudaStreamCreate(&s));
    DevBuf<uint32_t> out(256);
    k_dyn<<<1, 256, 256 * 4, s>>>(out);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaStreamDestroy(s));
    auto o = out.download();
    Check ck("launch on a created stream with dynamic shared memory");
    for (uint32_t t = 0; t < 256; ++t) ck.u32(t, o[t], 255 - t);
  }
  check_refused("1025 threads per block", dim3(1), dim3(1025), 0, cudaErrorInvalidConfiguration);
  check_refused("block (32, 32, 2)", dim3(1), dim3(32, 32, 2), 0, cudaErrorInvalidConfiguration);
  check_refused("block.z = 65", dim3(1), dim3(1, 1, 65), 0, cudaErrorInvalidConfiguration);
  check_refused("grid.y = 65536", dim3(1, 65536, 1), dim3(32), 0, cudaErrorInvalidConfiguration);
  check_refused("grid.z = 65536", dim3(1, 1, 65536), dim3(32), 0, cudaErrorInvalidConfiguration);
  check_refused("grid.x = 0", dim3(0), dim3(32), 0, cudaErrorInvalidConfiguration);
  check_refused("block.x = 0", dim3(1), dim3(0), 0, cudaErrorInvalidConfiguration);
  check_refused("64 KB dynamic shared memory without the attribute", dim3(1), dim3(32), 64 * 1024,
                cudaErrorInvalidValue);
  {
    Check ck("cudaFuncSetAttribute above the 227 KB opt-in limit is refused");
    cudaError_t e = cudaFuncSetAttribute(k_dyn, cudaFuncAttributeMaxDynamicSharedMemorySize, 228 * 1024 + 1);
    ck.expect(e == cudaErrorInvalidValue, 0, cudaGetErrorName(e));
    cudaGetLastError();
  }
  return finish();
}
