// checks_race_tiled_gemm.cu: negative test of racecheck on the most common real shared-memory race: a
// tiled SGEMM whose k-loop lacks the second __syncthreads(), so a warp loads the next k-tile of B into
// shared memory while other warps may still read the current one (every warp reads every row of the B
// tile; each row is written by one warp). The emulator must report the race.
// checks_race_tiled_gemm_synced.cu is the correct kernel.
// EXPECT-REPORT: race reported
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

constexpr int T = 16;  // tile edge; a block is T x T threads (8 warps)

__global__ void sgemm_missing_sync(const float* A, const float* B, float* C, int n) {
  __shared__ float As[T][T], Bs[T][T];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int row = blockIdx.y * T + ty, col = blockIdx.x * T + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < n; k0 += T) {
    As[ty][tx] = A[row * n + k0 + tx];
    Bs[ty][tx] = B[(k0 + ty) * n + col];
    __syncthreads();
    for (int k = 0; k < T; ++k) acc += As[ty][k] * Bs[k][tx];
    // missing: __syncthreads() before the next iteration overwrites As and Bs
  }
  C[row * n + col] = acc;
}

int main() {
  const int n = 64;
  std::vector<float> a(n * n), b(n * n);
  for (int i = 0; i < n * n; ++i) a[i] = float(i % 7 - 3), b[i] = float(i % 5 - 2);
  float *A = nullptr, *B = nullptr, *C = nullptr;
  const size_t bytes = sizeof(float) * n * n;
  if (cudaMalloc(&A, bytes) != cudaSuccess || cudaMalloc(&B, bytes) != cudaSuccess ||
      cudaMalloc(&C, bytes) != cudaSuccess || cudaMemcpy(A, a.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(B, b.data(), bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  sgemm_missing_sync<<<dim3(n / T, n / T), dim3(T, T)>>>(A, B, C, n);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
