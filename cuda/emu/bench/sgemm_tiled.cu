// dsv3-emu speed benchmark, memory-bound code with barriers: a 32x32 shared-memory tiled SGEMM
// (global loads, shared stores and loads, __syncthreads), so the checked memory paths and the race
// detector are part of what is timed. Run by bench/emu.bench.mjs under `dsv3-emu --stats`, with and
// without --no-racecheck; checks one output element against the CPU.
#include <cstdio>
#include <cmath>
#include <vector>

constexpr int T = 32;
__global__ void sgemm(const float* a, const float* b, float* c, int n) {  // c[n,n] = a[n,n] b[n,n]
  __shared__ float as[T][T], bs[T][T + 1];
  const int row = blockIdx.y * T + threadIdx.y, col = blockIdx.x * T + threadIdx.x;
  float acc = 0.f;
  for (int k0 = 0; k0 < n; k0 += T) {
    as[threadIdx.y][threadIdx.x] = a[row * n + k0 + threadIdx.x];
    bs[threadIdx.y][threadIdx.x] = b[(k0 + threadIdx.y) * n + col];
    __syncthreads();
    for (int k = 0; k < T; ++k) acc = fmaf(as[threadIdx.y][k], bs[k][threadIdx.x], acc);
    __syncthreads();
  }
  c[row * n + col] = acc;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? atoi(argv[1]) : 256;  // a multiple of 32
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int i = 0; i < n * n; ++i) { a[i] = static_cast<float>(i % 7) - 3.f; b[i] = static_cast<float>(i % 5) * 0.25f; }
  float *da, *db, *dc;
  cudaMalloc(&da, 4 * n * n); cudaMalloc(&db, 4 * n * n); cudaMalloc(&dc, 4 * n * n);
  cudaMemcpy(da, a.data(), 4 * n * n, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), 4 * n * n, cudaMemcpyHostToDevice);
  sgemm<<<dim3(n / T, n / T), dim3(T, T)>>>(da, db, dc, n);
  cudaError_t e = cudaMemcpy(c.data(), dc, 4 * n * n, cudaMemcpyDeviceToHost);
  double ref = 0;
  for (int k = 0; k < n; ++k) ref += static_cast<double>(a[(n - 1) * n + k]) * b[k * n + (n - 1)];
  const bool ok = e == cudaSuccess && std::fabs(c[n * n - 1] - ref) <= 1e-3 * (1 + std::fabs(ref));
  printf("sgemm_tiled n=%d: %s, c[n-1][n-1] = %g (CPU %g) %s\n", n, cudaGetErrorName(e), c[n * n - 1], ref, ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
