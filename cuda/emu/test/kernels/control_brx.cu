// control_brx.cu: the indexed branch (PTX ISA 9.0 section 9.7.12.3 brx.idx over a .branchtargets list)
// with a per-thread, divergent index; a program of its own so that a decode error cannot hide control.cu.
#include "common.cuh"

using namespace kt;

constexpr int kThreads = 256, kBlocks = 2, T = kThreads * kBlocks;

// One copy of the labels: the function is called once (its labels would repeat if it were inlined twice).
__device__ __noinline__ uint32_t indexed(uint32_t i, uint32_t x) {
  uint32_t r;
  asm volatile(
      "{\n\t"
      ".reg .u32 idx;\n\t"
      "rem.u32 idx, %1, 4;\n\t"
      "ts: .branchtargets L_a, L_b, L_c, L_d;\n\t"
      "brx.idx idx, ts;\n\t"
      "L_a: add.u32 %0, %2, 100; bra.uni L_end;\n\t"
      "L_b: mul.lo.u32 %0, %2, 3; bra.uni L_end;\n\t"
      "L_c: xor.b32 %0, %2, 0xFF; bra.uni L_end;\n\t"
      "L_d: sub.u32 %0, 0, %2;\n\t"
      "L_end:\n\t"
      "}"
      : "=r"(r) : "r"(i), "r"(x));
  return r;
}

__global__ void k_brx(const uint32_t* in, uint32_t* out) {
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  out[g] = indexed(in[g] >> 8, in[g]);
}

int main() {
  Rng g(0xB7A);
  std::vector<uint32_t> in(T);
  for (auto& v : in) v = g.u32();
  DevBuf<uint32_t> din(in), out(T);
  k_brx<<<kBlocks, kThreads>>>(din, out);
  LAUNCH_CHECK();
  auto o = out.download();
  Check ck("brx.idx with a divergent index");
  for (int i = 0; i < T; ++i) {
    uint32_t x = in[i], k = (x >> 8) % 4;
    uint32_t want = k == 0 ? x + 100 : k == 1 ? x * 3 : k == 2 ? x ^ 0xFF : 0u - x;
    ck.u32(i, o[i], want);
  }
  ck.done();  // counted before the summary line (the destructor would run after finish() printed it)
  return finish();
}
