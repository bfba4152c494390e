// checks_race_tiled_gemm_synced.cu: the control of checks_race_tiled_gemm.cu, and a check that racecheck
// has no false positives on the usual tiled pattern: a tiled SGEMM (16 x 16 tiles, 8 warps per block,
// n = 64 unless given) with both __syncthreads() of the k-loop. Nothing may be reported and C must
// equal the CPU's product exactly (small integer inputs: every sum is exact in f32).
// EXPECT-CLEAN
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <cuda_runtime.h>

constexpr int T = 16;  // tile edge; a block is T x T threads (8 warps)

__global__ void sgemm_tiled(const float* A, const float* B, float* C, int n) {
  __shared__ float As[T][T], Bs[T][T];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * T + ty, col = blockIdx.x * T + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < n; k0 += T) {
    As[ty][tx] = A[row * n + k0 + tx];
    Bs[ty][tx] = B[(k0 + ty) * n + col];
    __syncthreads();
    for (int k = 0; k < T; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();  // every warp is done with this tile before the next one is loaded
  }
  C[row * n + col] = acc;
}

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 64;  // a multiple of 16; larger n for timing runs
  std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
  for (int i = 0; i < n * n; ++i) a[i] = float(i % 7 - 3), b[i] = float(i % 5 - 2);
  float *A = nullptr, *B = nullptr, *C = nullptr;
  const size_t bytes = sizeof(float) * n * n;
  if (n % T || cudaMalloc(&A, bytes) != cudaSuccess || cudaMalloc(&B, bytes) != cudaSuccess ||
      cudaMalloc(&C, bytes) != cudaSuccess || cudaMemcpy(A, a.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(B, b.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  sgemm_tiled<<<dim3(n / T, n / T), dim3(T, T)>>>(A, B, C, n);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  if (launched != cudaSuccess || synced != cudaSuccess ||
      cudaMemcpy(c.data(), C, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) {
    std::printf("FAIL: the launch must succeed\n");
    return 1;
  }
  int wrong = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      float want = 0.0f;
      for (int k = 0; k < n; ++k) want += a[size_t(i) * n + k] * b[size_t(k) * n + j];
      if (c[size_t(i) * n + j] != want && wrong++ < 4)
        std::printf("FAIL: C[%d][%d] = %g, want %g\n", i, j, c[size_t(i) * n + j], want);
    }
  std::printf("%d passed, %d failed\n", n * n - wrong, wrong);
  return wrong ? 1 : 0;
}
