// dsv3-emu speed benchmark, scalar code: each thread runs a loop of integer and f32 arithmetic on
// registers only (no memory traffic but one store), the workload the issue's "20 million
// thread-instructions per second per core" is stated for. Run by bench/emu.bench.mjs under
// `dsv3-emu --stats`; prints the checksum so the loop cannot be optimised away.
#include <cstdio>
#include <cstdint>

__global__ void scalar_loop(uint32_t* out, int iters) {
  uint32_t x = blockIdx.x * blockDim.x + threadIdx.x, h = 2166136261u;
  float f = static_cast<float>(x) * 0.5f;
  for (int i = 0; i < iters; ++i) {
    x = x * 1664525u + 1013904223u;
    h = (h ^ (x >> 7)) * 16777619u;
    f = fmaf(f, 0.999f, static_cast<float>(x & 1023) * 1e-3f);
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = h ^ __float_as_uint(f);
}

int main(int argc, char** argv) {
  const int blocks = argc > 1 ? atoi(argv[1]) : 64, threads = 256, iters = argc > 2 ? atoi(argv[2]) : 2000;
  uint32_t* d = nullptr;
  if (cudaMalloc(&d, sizeof(uint32_t) * blocks * threads) != cudaSuccess) return 1;
  scalar_loop<<<blocks, threads>>>(d, iters);
  uint32_t h[4];
  cudaError_t e = cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost);
  printf("scalar_loop %d blocks x %d threads x %d iterations: %s, checksum %08x\n", blocks, threads, iters,
         cudaGetErrorName(e), h[0] ^ h[3]);
  return e == cudaSuccess ? 0 : 1;
}
