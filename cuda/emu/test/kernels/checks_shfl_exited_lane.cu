// checks_shfl_exited_lane.cu: negative test of the emulator's warp-collective check. Lanes 16..31 return
// early; lanes 0..15 then call __shfl_sync with the full mask 0xffffffff, which names the exited lanes.
// PTX ISA 9.0 (shfl.sync): every thread named in membermask must execute the same shfl.sync, so the
// behaviour is undefined (a hang on hardware): the emulator must report the warp collective that can
// never complete (a deadlock of the lanes waiting in it, or a mask naming exited lanes), not hang or guess.
// EXPECT-REPORT: warp collective
#include <cstdio>

#include <cuda_runtime.h>

__global__ void shfl_with_exited_lanes(int* out, int active) {
  const int lane = threadIdx.x;
  if (lane >= active) return;
  out[lane] = __shfl_sync(0xffffffffu, lane * 10, 0);
}

int main() {
  int* out = nullptr;
  if (cudaMalloc(&out, 32 * sizeof(int)) != cudaSuccess) {
    std::printf("FAIL: setup\n");
    return 1;
  }
  shfl_with_exited_lanes<<<1, 32>>>(out, 16);
  const cudaError_t launched = cudaGetLastError();
  const cudaError_t synced = cudaDeviceSynchronize();
  std::printf("launch: %s, synchronize: %s\n", cudaGetErrorName(launched), cudaGetErrorName(synced));
  return 0;
}
