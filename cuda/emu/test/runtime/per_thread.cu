// dsv3-emu runtime test: a program built with --default-stream per-thread (its calls bind to the *_ptsz
// and *_ptds entry points): stream 0 is this thread's default stream, which does not wait for
// non-blocking streams, and synchronous copies and symbol copies work on it.
// nvcc-flags: --default-stream per-thread
#include <atomic>
#include <chrono>
#include <thread>

#include "check.cuh"

__device__ int g_base[4];
__global__ void iota(int* p) { p[threadIdx.x] = threadIdx.x + g_base[0]; }

static std::atomic<int> g_gate{0};
static void CUDART_CB wait_gate(void*) {
  while (!g_gate.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
}

int main() {
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 64 * sizeof(int)));
  const int ten = 10;
  CHECK_OK(cudaMemcpyToSymbol(g_base, &ten, sizeof ten));
  iota<<<1, 64>>>(d);
  CHECK_OK(cudaGetLastError());
  int h[64] = {};
  CHECK_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 10);
  CHECK_EQ(h[63], 73);
  int back = 0;
  CHECK_OK(cudaMemcpyFromSymbol(&back, g_base, sizeof back));
  CHECK_EQ(back, 10);
  // A blocked non-blocking stream does not hold back this thread's default stream.
  cudaStream_t nb;
  CHECK_OK(cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking));
  CHECK_OK(cudaLaunchHostFunc(nb, wait_gate, nullptr));
  CHECK_OK(cudaMemset(d, 0, sizeof(int)));
  CHECK_OK(cudaStreamSynchronize(0));
  CHECK_ERR(cudaStreamQuery(nb), cudaErrorNotReady);
  g_gate = 1;
  CHECK_OK(cudaStreamSynchronize(nb));
  CHECK_OK(cudaStreamDestroy(nb));
  CHECK_OK(cudaFree(d));
  return finish();
}
