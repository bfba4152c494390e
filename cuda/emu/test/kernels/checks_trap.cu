// checks_trap.cu: negative test of the emulator's trap handling. One thread executes `trap` (__trap());
// PTX ISA 9.0 (trap): it aborts the kernel and raises an error to the host. The emulator must report the
// trap and the program must observe cudaErrorLaunchFailure (what a GPU returns for a trap) at the
// next synchronize.
// EXPECT-REPORT: trap
// EXPECT-ERROR: cudaErrorLaunchFailure
#include <cstdio>

#include <cuda_runtime.h>

__global__ void trap_on(int* out, int bad) {
  const int t = threadIdx.x;
  if (t == bad) __trap();
  out[t] = t;
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  trap_on<<<1, 32>>>(out, 7);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  // A GPU may already return the fault from cudaGetLastError (it reports errors of earlier asynchronous
  // launches); the synchronize must return it.
  if (synced != cudaErrorLaunchFailure || (launched != cudaSuccess && launched != cudaErrorLaunchFailure)) {
    std::printf("FAIL: not the CUDA error this defect must raise\n");
    return 1;
  }
  return 0;
}
