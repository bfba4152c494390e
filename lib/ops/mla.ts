// MLA attention over the paged latent cache with absorbed weights (DeepSeek-V3 model.py attn_impl="absorb")
// and the projections around it. Semantics: docs/v3-reference.md §3.
import { env } from '../env';
import { Tensor } from '../tensor';
import { NativeTensor } from '../native';
import { lazyOp, OutOptions, result } from './util';

// ---- the fused path (issue 5): paged latent cache in FlashMLA's layout, absorbed projections ----
// CPU: native/cpu/mla_attn.cc, mla_proj.cc; CUDA: cuda/mla_attn.cu, mla_proj.cu (unverified on a GPU).
const nativePaged = lazyOp('mlaPagedAttention');
const nativeDownEpilogue = lazyOp('mlaDownEpilogue');
const nativeAbsorbQ = lazyOp('mlaAbsorbQ');
const nativeOutput = lazyOp('mlaOutput');

type A = 'f32' | 'bf16';

/** Tokens per page of the paged latent cache (FlashMLA's block size). */
export const MLA_PAGE_SIZE = 64;

export interface MlaPagedAttentionOptions {
  /** Multiplies q.k: qk_head_dim^-0.5 * mscale^2 (0.1352337789 for V3). */
  softmaxScale: number;
  /** Query i of sequence b sits at position seqLens[b] - s_q + i and sees keys up to it (default true); false: all seqLens[b] keys. */
  causal?: boolean;
  /** CUDA: split each sequence's keys over this many CTAs, merged by log-sum-exp in split order (0 or absent: automatic). */
  numSplits?: number;
  /** Write into these tensors instead of allocating. */
  out?: { out?: Tensor<'f32'>; lse?: Tensor<'f32'> };
}

/**
 * Decode attention over the paged latent cache: qLatent [b,s_q,h,r], qPe [b,s_q,h,p], kvCache [pages,64,r+p]
 * (c_kv | k_pe per token), blockTable [b,maxPages] i32, seqLens [b] i32 -> { out [b,s_q,h,r] f32, lse [b,h,s_q] f32 }.
 * Queries with no key give out 0 and lse -inf.
 */
export function mlaPagedAttention<Q extends A, K extends A>(qLatent: Tensor<Q>, qPe: Tensor<Q>, kvCache: Tensor<K>,
  blockTable: Tensor<'i32'>, seqLens: Tensor<'i32'>, opts: MlaPagedAttentionOptions): { out: Tensor<'f32'>; lse: Tensor<'f32'> } {
  // The CUDA kernel variant is no option: DSV3_MLA_ATTN_IMPL (lib/env.ts) is the internal switch, the sandbox
  // (cuda/dev/mla_paged_attention.cu) compares the versions. The CPU has one implementation.
  const impl = env.mlaAttnImpl();
  const r = nativePaged(qLatent, qPe, kvCache, blockTable, seqLens, impl === undefined ? opts : { ...opts, impl: Number(impl) }) as
    { out: NativeTensor; lse: NativeTensor };
  return { out: result<'f32'>(r.out, { out: opts.out?.out }), lse: result<'f32'>(r.lse, { out: opts.out?.lse }) };
}

export interface MlaDownEpilogueOptions<O extends A> extends OutOptions<O> {
  /** RMSNorm epsilon (default 1e-6). */
  eps?: number;
}

/**
 * After qkv = x @ [wq_a; wkv_a]^T [t, qLora+r+p]: returns cq = qNorm(qkv[:, :qLora]) [t, qLora] and writes
 * kvNorm(c_kv) | rope(k_pe, positions) into kvCache [pages,64,r+p] at row slotMapping[i] (i32; < 0 skips).
 * qNorm null: no q part (qLora = 0).
 */
export function mlaDownEpilogue<D extends A, O extends A = D>(qkv: Tensor<D>, qNorm: Tensor<'f32'> | null, kvNorm: Tensor<'f32'>,
  positions: Tensor<'i32' | 'i64'>, invFreq: Tensor<'f32'>, kvCache: Tensor<A>, slotMapping: Tensor<'i32'>,
  opts: MlaDownEpilogueOptions<O> = {}): Tensor<O> {
  return result(nativeDownEpilogue(qkv, qNorm, kvNorm, positions, invFreq, kvCache, slotMapping, opts), opts);
}

export interface MlaAbsorbQOptions<O extends A> {
  outDtype?: O;
  out?: { qLatent?: Tensor<O>; qPe?: Tensor<O> };
}

/** q [t,h,nope+p] (wq_b output), wUK [h,nope,r] -> { qLatent [t,h,r] = q_nope @ wUK per head (f32 accumulation), qPe [t,h,p] roped }. */
export function mlaAbsorbQ<D extends A, O extends A = D>(q: Tensor<D>, wUK: Tensor<A>, positions: Tensor<'i32' | 'i64'>,
  invFreq: Tensor<'f32'>, opts: MlaAbsorbQOptions<O> = {}): { qLatent: Tensor<O>; qPe: Tensor<O> } {
  const r = nativeAbsorbQ(q, wUK, positions, invFreq, opts) as { qLatent: NativeTensor; qPe: NativeTensor };
  return { qLatent: result<O>(r.qLatent, { out: opts.out?.qLatent }), qPe: result<O>(r.qPe, { out: opts.out?.qPe }) };
}

/** oLatent [t,h,r], wUV [h,v,r] -> [t, h*v]: out[i, hh*v+d] = sum_c oLatent[i,hh,c] wUV[hh,d,c] (f32 accumulation; default out dtype wUV's). */
export function mlaOutput<O extends A>(oLatent: Tensor<A>, wUV: Tensor<A>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeOutput(oLatent, wUV, opts), opts);
}
