// dsv3-emu runtime test: several host threads use the runtime at once (each its own stream, stream-ordered
// allocations, launches, copies, events, per-thread <<<>>> configurations) and every result is right.
#include <thread>
#include <vector>

#include "check.cuh"

__global__ void affine(int* p, int a, int b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = p[i] * a + b;
}

static void worker(int id, int* errors) {
  cudaStream_t s;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
    ++*errors;
    return;
  }
  const int n = 512;
  std::vector<int> h(n);
  for (int it = 0; it < 20; ++it) {
    int* d = nullptr;
    if (cudaMallocAsync(&d, n * sizeof(int), s) != cudaSuccess) {
      ++*errors;
      break;
    }
    for (int i = 0; i < n; ++i) h[i] = i + id;
    cudaMemcpyAsync(d, h.data(), n * sizeof(int), cudaMemcpyHostToDevice, s);
    affine<<<(n + 127) / 128, 128, 0, s>>>(d, id + 1, it, n);
    cudaEvent_t e;
    cudaEventCreateWithFlags(&e, cudaEventDisableTiming);
    cudaEventRecord(e, s);
    cudaMemcpyAsync(h.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost, s);
    cudaFreeAsync(d, s);
    if (cudaStreamSynchronize(s) != cudaSuccess || cudaEventQuery(e) != cudaSuccess) ++*errors;
    cudaEventDestroy(e);
    for (int i = 0; i < n; ++i)
      if (h[i] != (i + id) * (id + 1) + it) {
        ++*errors;
        break;
      }
  }
  if (cudaStreamDestroy(s) != cudaSuccess) ++*errors;
}

int main() {
  const int threads = 4;
  std::vector<int> errors(threads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t, &errors[t]);
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t) CHECK_EQ(errors[t], 0);
  CHECK_OK(cudaDeviceSynchronize());
  CHECK_OK(cudaGetLastError());
  size_t free_b = 0, total = 0;
  CHECK_OK(cudaMemGetInfo(&free_b, &total));
  CHECK(free_b > 0);
  return finish();
}
