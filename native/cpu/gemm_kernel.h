// The CPU GEMMs' instruction-set dispatch, shared by native/cpu/gemm.cc and native/binding/gemm.cc.
// Kernels are compiled for AVX-512 (+ AVX512_BF16 for the packed bf16 / FP8 path), AVX2+FMA and plain C++ into the same addon (function-level target
// attributes, never -march=native) and chosen at run time from the CPU's features; DSV3_CPU_ISA
// (avx512bf16 | avx512 | avx2 | generic; or the ops' cpuIsa option) caps the choice, read at each call.
#pragma once
#include <string>

#include "native/ops.h"

namespace dsv3::cpu {

enum class GemmIsa : int { generic = 0, avx2 = 1, avx512 = 2, avx512bf16 = 3 };

const char* gemm_isa_name(GemmIsa isa);
// The best ISA this CPU (and OS) runs.
GemmIsa gemm_isa_supported();
// The ISA for a request "avx512bf16" | "avx512" | "avx2" | "generic" (empty: the best supported); a request above what
// the CPU runs falls back to the best it does run. Returns false for any other value.
bool gemm_isa_parse(const std::string& want, GemmIsa* isa);
// The same for the DSV3_CPU_ISA environment variable; false with a message for an unknown value.
bool gemm_isa_from_env(GemmIsa* isa, std::string* err);

// The ops.h entry points with the ISA chosen explicitly (the plain ones use gemm_isa_from_env).
void fp8_gemm(const Fp8GemmParams& p, GemmIsa isa);
void gemm(const GemmParams& p, GemmIsa isa);
// Validates offsets / counts first and throws std::out_of_range (writing nothing) when they are bad.
void grouped_gemm(const GroupedGemmParams& p, GemmIsa isa);
void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams& p, GemmIsa isa);

}  // namespace dsv3::cpu
