// wgmma_bf16.cu: wgmma.mma_async m64n8k16 .f32.bf16.bf16 (PTX ISA 9.0 section 9.7.15, with the
// imm-scale-a/b and imm-trans-a/b operands of the 16-bit types): wgmma.cu built for bf16, in a program of
// its own so that a decode error in one dtype cannot hide the other.
#define KT_WGMMA_BF16
#include "wgmma.cu"
