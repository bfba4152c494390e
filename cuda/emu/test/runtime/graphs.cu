// dsv3-emu runtime test: CUDA graphs by stream capture. Replays see the current contents of memory
// (kernel parameters are copied at capture); graph memory nodes (cudaMallocAsync / cudaFreeAsync in a
// capture) keep their address across AutoFreeOnLaunch relaunches and refuse a relaunch with unfreed
// memory otherwise; fork/join through events; illegal calls during a capture fail with CUDA's errors
// and invalidate it.
#include <cstdint>
#include <vector>

#include "check.cuh"

__global__ void axpb(const float* x, float* y, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + b;
}
__global__ void add(float* y, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += x[i];
}

static cudaGraphExec_t instantiate(cudaGraph_t g, unsigned long long flags) {
  cudaGraphExec_t x = nullptr;
  CHECK_OK(cudaGraphInstantiateWithFlags(&x, g, flags));
  return x;
}

int main() {
  const int n = 1000;
  cudaStream_t s, side;
  CHECK_OK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CHECK_OK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
  float *x = nullptr, *y = nullptr, *hx = nullptr, *hy = nullptr;
  CHECK_OK(cudaMalloc(&x, n * sizeof(float)));
  CHECK_OK(cudaMalloc(&y, n * sizeof(float)));
  CHECK_OK(cudaMallocHost(&hx, n * sizeof(float)));
  CHECK_OK(cudaMallocHost(&hy, n * sizeof(float)));

  // Capture: host-to-device copy (pinned), a kernel with parameters, a memset, a copy back.
  float a = 2.0f;
  cudaStreamCaptureStatus st;
  CHECK_OK(cudaStreamIsCapturing(s, &st));
  CHECK_EQ(st, cudaStreamCaptureStatusNone);
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_OK(cudaStreamIsCapturing(s, &st));
  CHECK_EQ(st, cudaStreamCaptureStatusActive);
  unsigned long long id = 0;
  CHECK_OK(cudaStreamGetCaptureInfo(s, &st, &id));
  CHECK(id != 0);
  CHECK_OK(cudaMemcpyAsync(x, hx, n * sizeof(float), cudaMemcpyHostToDevice, s));
  axpb<<<(n + 255) / 256, 256, 0, s>>>(x, y, a, 1.0f, n);
  a = 100.0f;  // the captured launch keeps the value it had
  CHECK_OK(cudaMemsetAsync(y, 0, sizeof(float), s));
  CHECK_OK(cudaMemcpyAsync(hy, y, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  cudaGraph_t g = nullptr;
  CHECK_OK(cudaStreamEndCapture(s, &g));
  CHECK(g != nullptr);
  size_t nodes = 0;
  CHECK_OK(cudaGraphGetNodes(g, nullptr, &nodes));
  CHECK_EQ(nodes, 4);
  // Nothing ran during the capture.
  CHECK_OK(cudaStreamSynchronize(s));
  cudaGraphExec_t ge = instantiate(g, 0);
  for (int rep = 0; rep < 3; ++rep) {
    for (int i = 0; i < n; ++i) hx[i] = float(i + rep);
    for (int i = 0; i < n; ++i) hy[i] = -1;
    CHECK_OK(cudaGraphLaunch(ge, s));
    CHECK_OK(cudaStreamSynchronize(s));
    bool ok = hy[0] == 0.0f;
    for (int i = 1; i < n; ++i) ok &= hy[i] == 2.0f * float(i + rep) + 1.0f;
    CHECK(ok);
  }
  CHECK_OK(cudaGraphExecDestroy(ge));
  CHECK_OK(cudaGraphDestroy(g));
  CHECK_ERR(cudaGraphDestroy(g), cudaErrorInvalidResourceHandle);
  cudaGetLastError();

  // Graph memory: an allocation made in the capture, used, and left live for the program.
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  float* t = nullptr;
  float* scratch = nullptr;
  CHECK_OK(cudaMallocAsync(&t, n * sizeof(float), s));
  CHECK_OK(cudaMallocAsync(&scratch, n * sizeof(float), s));
  CHECK(t != nullptr && scratch != nullptr);
  axpb<<<(n + 255) / 256, 256, 0, s>>>(x, scratch, 1.0f, 0.5f, n);
  axpb<<<(n + 255) / 256, 256, 0, s>>>(scratch, t, 3.0f, 0.0f, n);
  CHECK_OK(cudaFreeAsync(scratch, s));  // freed inside the graph
  cudaGraph_t gm = nullptr;
  CHECK_OK(cudaStreamEndCapture(s, &gm));
  for (int i = 0; i < n; ++i) hx[i] = float(i);
  CHECK_OK(cudaMemcpy(x, hx, n * sizeof(float), cudaMemcpyHostToDevice));
  cudaGraphExec_t plain = instantiate(gm, 0);
  CHECK_OK(cudaGraphLaunch(plain, s));
  CHECK_OK(cudaMemcpyAsync(hy, t, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  CHECK_OK(cudaStreamSynchronize(s));
  bool mem_ok = true;
  for (int i = 0; i < n; ++i) mem_ok &= hy[i] == 3.0f * (float(i) + 0.5f);
  CHECK(mem_ok);
  // Relaunching while the allocation is still live: refused without AutoFreeOnLaunch.
  CHECK_ERR(cudaGraphLaunch(plain, s), cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK_OK(cudaFreeAsync(t, s));  // the program frees the graph's output
  CHECK_OK(cudaGraphLaunch(plain, s));  // and may launch again
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK_OK(cudaGraphExecDestroy(plain));
  // A graph with memory nodes has one executable instance at a time.
  cudaGraphExec_t auto_x = instantiate(gm, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  cudaGraphExec_t second = nullptr;
  CHECK_ERR(cudaGraphInstantiateWithFlags(&second, gm, 0), cudaErrorNotSupported);
  cudaGetLastError();
  // AutoFreeOnLaunch: relaunches free the previous outputs first; the address stays the same.
  CHECK_OK(cudaFreeAsync(t, s));  // the plain instance's last output
  for (int rep = 0; rep < 3; ++rep) {
    for (int i = 0; i < n; ++i) hx[i] = float(rep);
    CHECK_OK(cudaMemcpyAsync(x, hx, n * sizeof(float), cudaMemcpyHostToDevice, s));
    CHECK_OK(cudaGraphLaunch(auto_x, s));
    CHECK_OK(cudaMemcpyAsync(hy, t, n * sizeof(float), cudaMemcpyDeviceToHost, s));
    CHECK_OK(cudaStreamSynchronize(s));
    CHECK_EQ(hy[n - 1], 3.0f * (float(rep) + 0.5f));
  }
  CHECK_OK(cudaGraphExecDestroy(auto_x));
  CHECK_OK(cudaGraphDestroy(gm));
  CHECK_OK(cudaFreeAsync(t, s));  // the last launch's output outlives the graph until freed
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK_ERR(cudaFreeAsync(t, s), cudaErrorInvalidValue);
  cudaGetLastError();

  // Fork and join through events.
  cudaEvent_t fork, join;
  CHECK_OK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  CHECK_OK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_OK(cudaEventRecord(fork, s));
  CHECK_OK(cudaStreamWaitEvent(side, fork, 0));
  CHECK_OK(cudaStreamIsCapturing(side, &st));
  CHECK_EQ(st, cudaStreamCaptureStatusActive);
  axpb<<<(n + 255) / 256, 256, 0, s>>>(x, y, 1.0f, 0.0f, n);
  CHECK_ERR(cudaEventQuery(fork), cudaErrorCapturedEvent);
  float* z = nullptr;
  CHECK_ERR(cudaMalloc(&z, 16), cudaErrorStreamCaptureUnsupported);  // unsafe in Global mode: invalidates
  axpb<<<(n + 255) / 256, 256, 0, side>>>(x, x, 2.0f, 0.0f, n);  // never runs
  CHECK_ERR(cudaGetLastError(), cudaErrorStreamCaptureInvalidated);
  CHECK_ERR(cudaEventRecord(join, side), cudaErrorStreamCaptureInvalidated);
  cudaGraph_t gf = nullptr;
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureInvalidated);
  CHECK(gf == nullptr);
  cudaGetLastError();
  CHECK_OK(cudaStreamIsCapturing(side, &st));
  CHECK_EQ(st, cudaStreamCaptureStatusNone);

  // The same fork/join, valid: the side branch doubles x, the main one adds x to y after the join.
  for (int i = 0; i < n; ++i) hx[i] = 1.0f;
  CHECK_OK(cudaMemcpy(x, hx, n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK_OK(cudaMemset(y, 0, n * sizeof(float)));
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_OK(cudaEventRecord(fork, s));
  CHECK_OK(cudaStreamWaitEvent(side, fork, 0));
  axpb<<<(n + 255) / 256, 256, 0, side>>>(x, x, 2.0f, 0.0f, n);
  CHECK_OK(cudaEventRecord(join, side));
  CHECK_OK(cudaStreamWaitEvent(s, join, 0));
  add<<<(n + 255) / 256, 256, 0, s>>>(y, x, n);
  CHECK_OK(cudaStreamEndCapture(s, &gf));
  cudaGraphExec_t fx = instantiate(gf, 0);
  CHECK_OK(cudaGraphLaunch(fx, s));
  CHECK_OK(cudaGraphLaunch(fx, s));
  CHECK_OK(cudaStreamSynchronize(s));  // s is non-blocking: the legacy-stream copy below does not wait for it
  CHECK_OK(cudaMemcpy(hy, y, n * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK_EQ(hy[17], 2.0f + 4.0f);
  CHECK_OK(cudaGraphExecDestroy(fx));
  CHECK_OK(cudaGraphDestroy(gf));

  // A fork that is never joined back.
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_OK(cudaEventRecord(fork, s));
  CHECK_OK(cudaStreamWaitEvent(side, fork, 0));
  axpb<<<1, 32, 0, side>>>(x, x, 1.0f, 0.0f, 32);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureUnjoined);
  cudaGetLastError();

  // Illegal calls during a capture.
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  CHECK_ERR(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureInvalidated);
  std::vector<float> pageable(n);
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  CHECK_ERR(cudaMemcpyAsync(x, pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice, s),
            cudaErrorStreamCaptureUnsupported);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureInvalidated);
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_ERR(cudaMalloc(&z, 64), cudaErrorStreamCaptureUnsupported);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureInvalidated);
  CHECK_ERR(cudaStreamBeginCapture(0, cudaStreamCaptureModeGlobal), cudaErrorStreamCaptureUnsupported);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorIllegalState);  // not capturing
  // The legacy stream may not be used while a blocking stream captures.
  cudaStream_t blocking;
  CHECK_OK(cudaStreamCreate(&blocking));
  CHECK_OK(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeRelaxed));
  axpb<<<1, 32>>>(x, y, 1.0f, 0.0f, 32);
  CHECK_ERR(cudaGetLastError(), cudaErrorStreamCaptureImplicit);
  CHECK_ERR(cudaStreamEndCapture(blocking, &gf), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  // Ending a capture from the wrong stream.
  CHECK_OK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK_OK(cudaEventRecord(fork, s));
  CHECK_OK(cudaStreamWaitEvent(side, fork, 0));
  CHECK_ERR(cudaStreamEndCapture(side, &gf), cudaErrorStreamCaptureUnmatched);
  CHECK_ERR(cudaStreamEndCapture(s, &gf), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();

  CHECK_OK(cudaDeviceSynchronize());
  CHECK_OK(cudaStreamDestroy(blocking));
  CHECK_OK(cudaStreamDestroy(s));
  CHECK_OK(cudaStreamDestroy(side));
  CHECK_OK(cudaFree(x));
  CHECK_OK(cudaFree(y));
  CHECK_OK(cudaFreeHost(hx));
  CHECK_OK(cudaFreeHost(hy));
  return finish();
}
