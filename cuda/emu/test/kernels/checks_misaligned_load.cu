// checks_misaligned_load.cu: negative test of the emulator's alignment check. One thread loads 8 bytes
// (a double) from an address that is 4 mod 8 inside a valid buffer; PTX requires natural alignment
// (ISA 9.0, 6.4.1 "Addresses as Operands"), so the emulator must report the access as misaligned and
// the program must observe cudaErrorMisalignedAddress at the next synchronize.
// EXPECT-REPORT: is misaligned
// EXPECT-ERROR: cudaErrorMisalignedAddress
#include <cstdio>

#include <cuda_runtime.h>

__global__ void load_misaligned(const char* base, double* out, int offset) {
  out[0] = *reinterpret_cast<const double*>(base + offset);  // offset 4: in bounds, not 8-aligned
}

int main() {
  char* buf = nullptr;
  double* out = nullptr;
  if (cudaMalloc(&buf, 64) != cudaSuccess || cudaMalloc(&out, sizeof(double)) != cudaSuccess ||
      cudaMemset(buf, 0, 64) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  load_misaligned<<<1, 1>>>(buf, out, 4);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  // A GPU may already return the fault from cudaGetLastError (it reports errors of earlier asynchronous
  // launches); the synchronize must return it.
  if (synced != cudaErrorMisalignedAddress || (launched != cudaSuccess && launched != cudaErrorMisalignedAddress)) {
    std::printf("FAIL: not the CUDA error this defect must raise\n");
    return 1;
  }
  return 0;
}
