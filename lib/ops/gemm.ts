// GEMMs, all NT (out = a @ b^T): DeepSeek's FP8 block-scaled GEMM (inference/kernel.py fp8_gemm),
// plain f32/bf16 GEMM, and DeepGEMM-style grouped expert GEMMs (contiguous and masked layouts).
// CPU: native/cpu/gemm.cc (AVX-512, with vdpbf16ps for bf16 / FP8 operands on AVX512_BF16; AVX2; portable kernels;
// DSV3_CPU_ISA caps the choice).
// CUDA (see cuda/gemm.h): cuda/fp8_gemm.cu (TMA + wgmma, sm_90a) for FP8 operands, cuda/gemm_f32_bf16.cu for
// f32 / bf16 `gemm`, cuda/gemm_reference.cu (the 'simple' kernel) for the rest and as the fallback.
import { env } from '../env';
import { Tensor } from '../tensor';
import { NativeTensor } from '../native';
import { lazyOp, OutOptions, result } from './util';

/** FP8 data with its block scales: activations data [m,k], scale [m, ceil(k/128)]; weights data [n,k], scale [ceil(n/128), ceil(k/128)]. */
export interface Fp8Operand { data: Tensor<'f8_e4m3'>; scale: Tensor<'f32'> }
export type GemmFloat = 'f32' | 'bf16';
export type GemmIsaName = 'avx512bf16' | 'avx512' | 'avx2' | 'generic';
export interface GemmOptions<O extends GemmFloat = GemmFloat> extends OutOptions<O> {
  /** Cap the CPU kernels' instruction set for this call; default DSV3_CPU_ISA (read at each call), else the best the CPU runs. */
  cpuIsa?: GemmIsaName;
}
/** Options of the masked grouped GEMM. */
export interface MaskedGemmOptions<O extends GemmFloat = GemmFloat> extends GemmOptions<O> {
  /** CUDA: the rows per group you expect (the counts live on the device); picks the token tile. Default m_max. */
  expectedM?: number;
}

// DSV3_CPU_ISA and DSV3_GEMM_KERNEL (lib/env.ts) are handed to the addon as the cpuIsa and kernel options.
// The CUDA kernel is not an option of these functions: they run the production kernel where it can run and
// the reference kernel otherwise; the versions are compared in the kernel sandbox (cuda/dev/, docs/
// kernel-sandbox.md), and DSV3_GEMM_KERNEL is the internal switch (tests, fault hunting).
// (The f32 / bf16 gemm has no wgmma kernel: DSV3_GEMM_KERNEL=wgmma leaves it on its default.)
function isaOptions<T extends { cpuIsa?: string }>(opts: T, plain = false): T & { kernel?: string } {
  const isa = env.cpuIsa(), envKernel = env.gemmKernel();
  const kernel = plain && envKernel === 'wgmma' ? undefined : envKernel;
  if ((!isa && !kernel) || typeof opts !== 'object' || opts === null) return opts;
  const r: T & { kernel?: string } = { ...opts };
  if (isa && opts.cpuIsa === undefined) r.cpuIsa = isa;
  if (kernel) r.kernel = kernel;
  return r;
}

const nativeFp8Gemm = lazyOp('fp8Gemm');
const nativeGemm = lazyOp('gemm');
const nativeContiguous = lazyOp('groupedGemmContiguous');
const nativeMasked = lazyOp('groupedGemmMasked');
const nativeIsa = lazyOp('cpuGemmIsa');
const nativeSiluMul = lazyOp('groupedGemmSiluMul');

/** a [m,k] e4m3 (scale [m,kb]) @ b [n,k] e4m3 (scale [nb,kb])^T -> [m,n]: per 128-wide K block an f32 dot times a_scale*b_scale, f32 accumulation; bf16 out by default. */
export function fp8Gemm<O extends GemmFloat = 'bf16'>(a: Fp8Operand, b: Fp8Operand, opts: GemmOptions<O> = {}): Tensor<O> {
  return result(nativeFp8Gemm(a, b, isaOptions(opts)), opts);
}

/** a [m,k] @ b [n,k]^T -> [m,n] (f32 or bf16 inputs, f32 accumulation); out dtype defaults to a's. */
export function gemm<A extends GemmFloat, O extends GemmFloat = A>(a: Tensor<A>, b: Tensor<GemmFloat>, opts: GemmOptions<O> = {}): Tensor<O> {
  return result(nativeGemm(a, b, isaOptions(opts, true)), opts);
}

/** Experts over row ranges: a [sum_m,k] (or FP8 with scale [sum_m,kb]), b [g,n,k] (or FP8 with scale [g,nb,kb]), offsets i32 [g+1]; rows offsets[e]..offsets[e+1] use expert e -> [sum_m,n]; other rows are not written. */
export function groupedGemmContiguous<O extends GemmFloat = 'bf16'>(a: Fp8Operand, b: Fp8Operand, offsets: Tensor<'i32'>, opts?: GemmOptions<O>): Tensor<O>;
export function groupedGemmContiguous<A extends GemmFloat, O extends GemmFloat = A>(a: Tensor<A>, b: Tensor<GemmFloat>, offsets: Tensor<'i32'>, opts?: GemmOptions<O>): Tensor<O>;
export function groupedGemmContiguous(a: Tensor | Fp8Operand, b: Tensor | Fp8Operand, offsets: Tensor<'i32'>, opts: GemmOptions = {}): Tensor {
  return result(nativeContiguous(a, b, offsets, isaOptions(opts)), opts);
}

/** Experts over padded slabs: a [g,m_max,k] (or FP8 with scale [g,m_max,kb]), b [g,n,k] (or FP8 with scale [g,nb,kb]), counts i32 [g] -> [g,m_max,n]; only rows < counts[e] of group e are written. */
export function groupedGemmMasked<O extends GemmFloat = 'bf16'>(a: Fp8Operand, b: Fp8Operand, counts: Tensor<'i32'>, opts?: MaskedGemmOptions<O>): Tensor<O>;
export function groupedGemmMasked<A extends GemmFloat, O extends GemmFloat = A>(a: Tensor<A>, b: Tensor<GemmFloat>, counts: Tensor<'i32'>, opts?: MaskedGemmOptions<O>): Tensor<O>;
export function groupedGemmMasked(a: Tensor | Fp8Operand, b: Tensor | Fp8Operand, counts: Tensor<'i32'>, opts: MaskedGemmOptions = {}): Tensor {
  return result(nativeMasked(a, b, counts, isaOptions(opts)), opts);
}

/** Options of the fused expert gate/up GEMM. */
export interface GroupedGemmSiluMulOptions {
  /** Round the output scales up to powers of two (DeepSeek-V3.1 scale_fmt "ue8m0"). */
  ue8m0?: boolean;
  cpuIsa?: GemmIsaName;
  /** CUDA, masked layout: rows per group you expect (picks the token tile). */
  expectedM?: number;
  /** Write the outputs here (codes [rows..., n] f8_e4m3, scales [rows..., n/128] f32). */
  out?: { data?: Tensor<'f8_e4m3'>; scale?: Tensor<'f32'> };
}

function siluMulCall(a: Fp8Operand, w13: Fp8Operand, grouping: Tensor<'i32'>, masked: boolean, opts: GroupedGemmSiluMulOptions): Fp8Operand {
  const r = nativeSiluMul(a, w13, grouping, { ...isaOptions(opts), masked }) as { data: NativeTensor; scale: NativeTensor };
  return { data: result<'f8_e4m3'>(r.data), scale: result<'f32'>(r.scale) };
}

/**
 * The experts' gate and up projections in one grouped FP8 GEMM with the activation fused (model.py Expert:
 * silu(w1(x)) * w3(x)), re-quantized for the down projection: a [sum_m, k] FP8, w13 [g, 2n, k] = [w1; w3] per
 * expert (scale [g, 2n/128, kb]; n % 128 == 0), offsets i32 [g+1] -> { data f8 [sum_m, n], scale [sum_m, n/128] }
 * = quantizeFp8(silu(a w1^T) * (a w3^T)) with f32 gate and up. Rows outside every group are left untouched.
 */
export function groupedGemmSiluMulContiguous(a: Fp8Operand, w13: Fp8Operand, offsets: Tensor<'i32'>, opts: GroupedGemmSiluMulOptions = {}): Fp8Operand {
  return siluMulCall(a, w13, offsets, false, opts);
}

/** groupedGemmSiluMulContiguous in the masked layout: a [g, m_max, k], counts i32 [g] -> { data [g, m_max, n], scale [g, m_max, n/128] }; rows >= counts[e] untouched. */
export function groupedGemmSiluMulMasked(a: Fp8Operand, w13: Fp8Operand, counts: Tensor<'i32'>, opts: GroupedGemmSiluMulOptions = {}): Fp8Operand {
  return siluMulCall(a, w13, counts, true, opts);
}

/** The instruction set of the CPU GEMM kernels: the best this CPU runs, and the one a call with `opts` uses now (DSV3_CPU_ISA applied). */
export function cpuGemmIsa(opts: { cpuIsa?: GemmIsaName } = {}): { supported: GemmIsaName; selected: GemmIsaName } {
  return nativeIsa(isaOptions(opts)) as { supported: GemmIsaName; selected: GemmIsaName };
}
