// Device-side element codecs and reductions shared by the memory-bound op kernels (norm, rope,
// elementwise, embedding, sampling, weight_quant). The codecs reproduce native/dtype.h bit for bit
// (bf16 RNE with the CPU's quiet-NaN rule, f16 RNE with NaN -> sign|0x7e00, e4m3 via cuda/e4m3.cuh),
// so an op whose f32 math matches the CPU also matches it after rounding. Unverified on a GPU.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>
#include <stdexcept>

#include "cuda/common.cuh"
#include "cuda/e4m3.cuh"
#include "native/ops.h"

namespace dsv3::cuda {

// ---- math as the CPU backend does it ----
// expf of the CPU twins (glibc), reproduced by rounding the double-precision exp once: CUDA's expf may
// differ from it by an ulp.
__device__ __forceinline__ float host_expf(float x) { return static_cast<float>(exp(static_cast<double>(x))); }
// silu(g) * u in f32 with silu_mul's expression (native/cpu/activation.cc), NaN bits included: a NaN g
// comes out quieted whatever u is, g = -inf gives the CPU's default NaN (-inf / inf), and a NaN u wins
// otherwise (cuda/e4m3.cuh cpu_div / cpu_mul; checked against the CPU's bytes by moe.gpu.test.ts).
__device__ __forceinline__ float silu_mul_f32(float g, float u) {
  return cpu_mul(cpu_div(g, __fadd_rn(1.0f, host_expf(-g))), u);
}

// ---- scalar codecs (native/dtype.h) ----
__device__ __forceinline__ float bf16_load(uint16_t h) { return __uint_as_float(static_cast<uint32_t>(h) << 16); }
__device__ __forceinline__ uint16_t bf16_store(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
// In integer arithmetic like the CPU, so NaN payloads survive (a hardware cvt may canonicalize them).
__device__ __forceinline__ float f16_load(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) return __uint_as_float(__float_as_uint(static_cast<float>(mant) * 5.9604644775390625e-8f) | sign);
  if (exp == 31) return __uint_as_float(sign | 0x7f800000u | (mant << 13));
  return __uint_as_float(sign | ((exp + 112u) << 23) | (mant << 13));
}
__device__ __forceinline__ uint16_t f16_store(float f) {
  const uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>(((u >> 16) & 0x8000u) | 0x7e00u);
  return __half_as_ushort(__float2half_rn(f));
}

// Float-like element types as tags: raw storage type, load to f32, store from f32.
struct F32 {
  using raw = float;
  static constexpr DType dtype = DType::f32;
  __device__ static float load(const raw* p, int64_t i) { return p[i]; }
  __device__ static void store(raw* p, int64_t i, float v) { p[i] = v; }
};
struct BF16 {
  using raw = uint16_t;
  static constexpr DType dtype = DType::bf16;
  __device__ static float load(const raw* p, int64_t i) { return bf16_load(p[i]); }
  __device__ static void store(raw* p, int64_t i, float v) { p[i] = bf16_store(v); }
};
struct F16 {
  using raw = uint16_t;
  static constexpr DType dtype = DType::f16;
  __device__ static float load(const raw* p, int64_t i) { return f16_load(p[i]); }
  __device__ static void store(raw* p, int64_t i, float v) { p[i] = f16_store(v); }
};

// Four consecutive elements from index i (a multiple of 4): one 8- or 16-byte access when `vec` (the
// caller checked the base pointer's alignment), else four scalar accesses.
template <int Bytes> struct VecOf;
template <> struct VecOf<16> { using type = uint4; };
template <> struct VecOf<8> { using type = uint2; };
template <typename T>
__device__ __forceinline__ void load4(const typename T::raw* p, int64_t i, bool vec, float v[4]) {
  typename T::raw r[4];
  if (vec) {
    using V = typename VecOf<sizeof(r)>::type;
    *reinterpret_cast<V*>(r) = *reinterpret_cast<const V*>(p + i);
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) r[q] = p[i + q];
  }
#pragma unroll
  for (int q = 0; q < 4; ++q) v[q] = T::load(r, q);
}
template <typename T>
__device__ __forceinline__ void store4(typename T::raw* p, int64_t i, bool vec, const float v[4]) {
  typename T::raw r[4];
#pragma unroll
  for (int q = 0; q < 4; ++q) T::store(r, q, v[q]);
  if (vec) {
    using V = typename VecOf<sizeof(r)>::type;
    *reinterpret_cast<V*>(p + i) = *reinterpret_cast<const V*>(r);
  } else {
#pragma unroll
    for (int q = 0; q < 4; ++q) p[i + q] = r[q];
  }
}
inline bool aligned_to(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Any dtype, chosen at run time (a warp-uniform branch): for cast, where 49 instantiations would not pay.
__device__ __forceinline__ float load_any(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::bf16: return bf16_load(static_cast<const uint16_t*>(p)[i]);
    case DType::f16: return f16_load(static_cast<const uint16_t*>(p)[i]);
    case DType::f8_e4m3: return e4m3_decode(static_cast<const uint8_t*>(p)[i]);
    case DType::i32: return static_cast<float>(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return static_cast<float>(static_cast<const int64_t*>(p)[i]);
    case DType::u8: return static_cast<float>(static_cast<const uint8_t*>(p)[i]);
  }
  return 0.f;
}
// f32 or bf16, chosen at run time (a warp-uniform branch): for kernels whose operands are one of the two
// (the MLA kernels); one branch instead of load_any's switch keeps their register budget.
__device__ __forceinline__ float load_f32_bf16(const void* p, DType t, int64_t i) {
  return t == DType::bf16 ? BF16::load(static_cast<const uint16_t*>(p), i) : F32::load(static_cast<const float*>(p), i);
}
__device__ __forceinline__ void store_f32_bf16(void* p, DType t, int64_t i, float v) {
  if (t == DType::bf16) BF16::store(static_cast<uint16_t*>(p), i, v);
  else F32::store(static_cast<float*>(p), i, v);
}
// Integer targets truncate toward zero like the CPU's static_cast; out-of-range values and NaN are
// undefined in C++ (the CPU gives whatever x86 does), here they saturate (NaN -> 0).
__device__ __forceinline__ void store_any(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::f32: static_cast<float*>(p)[i] = v; break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = bf16_store(v); break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f16_store(v); break;
    case DType::f8_e4m3: static_cast<uint8_t*>(p)[i] = e4m3_encode(v); break;
    case DType::i32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
  }
}

// Host: call f(Tag{}) for a float-like dtype (f32, bf16, f16); `what` names the op in the error.
template <typename Fn>
void with_float(DType d, const char* what, Fn&& f) {
  switch (d) {
    case DType::f32: f(F32{}); return;
    case DType::bf16: f(BF16{}); return;
    case DType::f16: f(F16{}); return;
    default: throw CudaError(std::string(what) + ": unsupported dtype " + dtype_name(d));
  }
}

// ---- reductions (blockDim.x a multiple of 32, at most 1024) ----
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sum over the block, returned to every thread, in a fixed order (deterministic). `smem` holds 32 T;
// the trailing __syncthreads lets the caller reuse smem at once.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* smem) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  v = warp_sum(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  T s = lane < nw ? smem[lane] : T(0);
  s = warp_sum(s);
  __syncthreads();
  return s;
}
__device__ __forceinline__ float block_max(float v, float* smem) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
  v = warp_max(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  float s = lane < nw ? smem[lane] : -INFINITY;
  s = warp_max(s);
  __syncthreads();
  return s;
}

inline unsigned grid_1d(int64_t blocks, const char* what) {
  if (blocks > 0x7fffffff) throw CudaError(std::string(what) + ": problem too large for one launch");
  return static_cast<unsigned>(blocks);
}
// Row kernels put one block per row in grid.x (2^31 - 1 rows at most).
inline unsigned grid_rows(int64_t rows, const char* what) { return grid_1d(rows, what); }

}  // namespace dsv3::cuda
