// dsv3-emu runtime test: stream and event semantics. Device work never runs inside the enqueue call;
// a stream runs in order; cudaStreamWaitEvent orders streams; the legacy default stream waits for (and
// is waited on by) blocking streams but not non-blocking ones; events query, synchronize and time.
// A host function that blocks until the test releases it holds a stream back deterministically.
#include <atomic>
#include <chrono>
#include <thread>

#include "check.cuh"

static std::atomic<int> g_gate{0};
static void CUDART_CB wait_gate(void*) {
  while (!g_gate.load()) std::this_thread::sleep_for(std::chrono::microseconds(100));
}
static std::atomic<int> g_order{0};
static void CUDART_CB note(void* where) { *static_cast<int*>(where) = ++g_order; }

__global__ void set(int* p, int v) { *p = v; }
__global__ void spin_add(int* p, int v, int iters) {
  int x = *p;
  for (int i = 0; i < iters; ++i) x += (i & 1) ? 1 : -1;  // iters even: adds nothing, takes time
  *p = x + v;
}

int main() {
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 4 * sizeof(int)));
  CHECK_OK(cudaMemset(d, 0, 4 * sizeof(int)));

  // In-order execution on one stream, nothing before the gate opens.
  cudaStream_t a, b, nb;
  CHECK_OK(cudaStreamCreate(&a));
  CHECK_OK(cudaStreamCreate(&b));
  CHECK_OK(cudaStreamCreateWithFlags(&nb, cudaStreamNonBlocking));
  unsigned flags = 7;
  CHECK_OK(cudaStreamGetFlags(nb, &flags));
  CHECK_EQ(flags, unsigned(cudaStreamNonBlocking));
  cudaEvent_t ea, done;
  CHECK_OK(cudaEventCreate(&ea));
  CHECK_OK(cudaEventCreate(&done));
  CHECK_OK(cudaEventQuery(ea));  // never recorded: complete

  g_gate = 0;
  CHECK_OK(cudaLaunchHostFunc(a, wait_gate, nullptr));
  set<<<1, 1, 0, a>>>(d, 1);
  spin_add<<<1, 1, 0, a>>>(d, 10, 1000);
  CHECK_OK(cudaEventRecord(ea, a));
  // b waits for a's event, then adds; nb is independent.
  CHECK_OK(cudaStreamWaitEvent(b, ea, 0));
  spin_add<<<1, 1, 0, b>>>(d, 100, 10);
  CHECK_OK(cudaEventRecord(done, b));
  set<<<1, 1, 0, nb>>>(d + 1, 5);
  // The non-blocking stream finishes while a is held back by its gate.
  CHECK_OK(cudaStreamSynchronize(nb));
  int h[2] = {0, 0};
  CHECK_OK(cudaMemcpyAsync(h, d + 1, sizeof(int), cudaMemcpyDeviceToHost, nb));
  CHECK_OK(cudaStreamSynchronize(nb));
  CHECK_EQ(h[0], 5);
  CHECK_ERR(cudaStreamQuery(a), cudaErrorNotReady);
  CHECK_ERR(cudaStreamQuery(b), cudaErrorNotReady);
  CHECK_ERR(cudaEventQuery(ea), cudaErrorNotReady);
  CHECK_ERR(cudaEventQuery(done), cudaErrorNotReady);
  // The legacy stream waits for the blocking streams.
  CHECK_ERR(cudaStreamQuery(0), cudaErrorNotReady);
  g_gate = 1;
  CHECK_OK(cudaEventSynchronize(done));
  CHECK_OK(cudaEventQuery(ea));
  CHECK_OK(cudaStreamQuery(b));
  CHECK_OK(cudaMemcpy(h, d, sizeof(int), cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 111);  // 1, +10 on a, then +100 on b after a's event

  // Legacy default stream: work on it waits for earlier work on blocking streams, and later work on
  // blocking streams waits for it.
  g_gate = 0;
  CHECK_OK(cudaLaunchHostFunc(a, wait_gate, nullptr));
  set<<<1, 1, 0, a>>>(d + 2, 1);
  spin_add<<<1, 1>>>(d + 2, 1, 10);  // legacy stream: after a's set
  spin_add<<<1, 1, 0, b>>>(d + 2, 1, 10);  // b: after the legacy kernel
  set<<<1, 1, 0, nb>>>(d + 3, 9);  // nb: independent of all of it
  CHECK_OK(cudaStreamSynchronize(nb));
  CHECK_ERR(cudaStreamQuery(b), cudaErrorNotReady);
  g_gate = 1;
  CHECK_OK(cudaStreamSynchronize(b));
  CHECK_OK(cudaMemcpy(h, d + 2, 2 * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 3);
  CHECK_EQ(h[1], 9);

  // Host functions run in stream order.
  int first = 0, second = 0;
  g_order = 0;
  CHECK_OK(cudaLaunchHostFunc(a, note, &first));
  CHECK_OK(cudaLaunchHostFunc(a, note, &second));
  CHECK_OK(cudaStreamSynchronize(a));
  CHECK_EQ(first, 1);
  CHECK_EQ(second, 2);

  // Events: elapsed time between two completed records, errors otherwise.
  cudaEvent_t t0, t1, notime, fresh;
  CHECK_OK(cudaEventCreate(&t0));
  CHECK_OK(cudaEventCreateWithFlags(&t1, cudaEventBlockingSync));
  CHECK_OK(cudaEventCreateWithFlags(&notime, cudaEventDisableTiming));
  CHECK_OK(cudaEventCreate(&fresh));
  CHECK_OK(cudaEventRecord(t0, a));
  spin_add<<<1, 32, 0, a>>>(d, 0, 20000);
  CHECK_OK(cudaEventRecord(t1, a));
  CHECK_OK(cudaEventRecord(notime, a));
  CHECK_OK(cudaEventSynchronize(t1));
  float ms = -1;
  CHECK_OK(cudaEventElapsedTime(&ms, t0, t1));
  CHECK(ms > 0.0f);
  CHECK_ERR(cudaEventElapsedTime(&ms, t0, notime), cudaErrorInvalidResourceHandle);
  CHECK_ERR(cudaEventElapsedTime(&ms, t0, fresh), cudaErrorInvalidResourceHandle);
  CHECK_ERR(cudaEventCreateWithFlags(&fresh, 0x80), cudaErrorInvalidValue);
  cudaGetLastError();

  // Destroyed handles are refused.
  cudaStream_t gone;
  CHECK_OK(cudaStreamCreate(&gone));
  CHECK_OK(cudaStreamDestroy(gone));
  CHECK_ERR(cudaStreamDestroy(gone), cudaErrorInvalidResourceHandle);
  CHECK_ERR(cudaStreamDestroy(0), cudaErrorInvalidResourceHandle);
  cudaEvent_t egone;
  CHECK_OK(cudaEventCreate(&egone));
  CHECK_OK(cudaEventDestroy(egone));
  CHECK_ERR(cudaEventRecord(egone, a), cudaErrorInvalidResourceHandle);
  cudaGetLastError();

  // Priorities.
  int least = 1, greatest = 1, prio = 1;
  CHECK_OK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
  CHECK_EQ(least, 0);
  CHECK_EQ(greatest, -5);
  cudaStream_t hi;
  CHECK_OK(cudaStreamCreateWithPriority(&hi, cudaStreamNonBlocking, -100));
  CHECK_OK(cudaStreamGetPriority(hi, &prio));
  CHECK_EQ(prio, -5);

  // Per-thread default stream.
  set<<<1, 1, 0, cudaStreamPerThread>>>(d, 77);
  CHECK_OK(cudaStreamSynchronize(cudaStreamPerThread));
  CHECK_OK(cudaMemcpy(h, d, sizeof(int), cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 77);

  CHECK_OK(cudaDeviceSynchronize());
  CHECK_OK(cudaStreamDestroy(a));
  CHECK_OK(cudaStreamDestroy(b));
  CHECK_OK(cudaStreamDestroy(nb));
  CHECK_OK(cudaStreamDestroy(hi));
  CHECK_OK(cudaFree(d));
  return finish();
}
