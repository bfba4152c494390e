// The op contract shared by both backends: one params struct per op, pointer fields annotated with
// their shape and dtype (FlashMLA-style). native/cpu/<op>.cc implements dsv3::cpu::<op>(params);
// cuda/<op>.cu implements dsv3::cuda::<op>(params, stream) where a CUDA kernel exists. The binding
// layer (native/binding/) validates JS arguments, fills these structs and dispatches on the device.
// All tensors are contiguous row-major. "float-like" means f32, bf16 or f16 unless stated.
#pragma once
#include <cstdint>

#include "native/dtype.h"

namespace dsv3 {

constexpr int kQuantBlock = 128;  // DeepSeek's 1x128 activation groups and 128x128 weight blocks
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- creation / conversion ----
struct CastParams {
  const void* x; DType x_dtype;  // [n]
  void* out; DType out_dtype;    // [n]
  int64_t n;
};
struct RandomParams {
  void* out; DType out_dtype;  // [n]
  int64_t n;
  uint64_t seed;
  bool normal;      // true: N(a, b^2) (a = mean, b = std); false: U[a, b)
  double a, b;
};

// ---- FP8 quantization (DeepSeek inference/kernel.py act_quant, weight_dequant) ----
struct QuantizeFp8Params {
  const void* x; DType x_dtype;  // [m, k] float-like
  uint8_t* y;                    // [m, k] f8_e4m3
  float* scale;                  // [m, ceil(k/128)] f32, row-major: scale = max(amax, 1e-4) / 448
  int64_t m, k;                  // k need not be a multiple of 128 (the last group is partial)
  bool ue8m0;                    // round scale up to a power of two (DeepSeek-V3.1 scale_fmt "ue8m0")
};
struct QuantizeWeightFp8Params {
  const void* w; DType w_dtype;  // [n, k] float-like
  uint8_t* y;                    // [n, k] f8_e4m3
  float* scale_inv;              // [ceil(n/128), ceil(k/128)] f32: max(amax, 1e-4) / 448 per block
  int64_t n, k;
};
struct DequantizeWeightFp8Params {
  const uint8_t* w;        // [n, k] f8_e4m3
  const float* scale_inv;  // [ceil(n/128), ceil(k/128)] f32 (the checkpoint's weight_scale_inv)
  void* out; DType out_dtype;  // [n, k] f32 or bf16: out = e4m3(w) * scale_inv[i/128, j/128]
  int64_t n, k;
};

// ---- GEMMs (NT: both operands K-major; out = a @ b^T) ----
struct Fp8GemmParams {
  const uint8_t* a;        // [m, k] f8_e4m3
  const float* a_scale;    // [m, ceil(k/128)] f32
  const uint8_t* b;        // [n, k] f8_e4m3 (weights)
  const float* b_scale;    // [ceil(n/128), ceil(k/128)] f32 (weight_scale_inv)
  void* out; DType out_dtype;  // [m, n] f32 or bf16
  int64_t m, n, k;
  // out[i,j] = sum_kb (sum_{k in kb} a[i,k] b[j,k]) * a_scale[i,kb] * b_scale[j/128,kb], f32 accumulation
};
struct GemmParams {
  const void* a; DType a_dtype;  // [m, k] f32 or bf16
  const void* b; DType b_dtype;  // [n, k] f32 or bf16
  void* out; DType out_dtype;    // [m, n] f32 or bf16; f32 accumulation
  int64_t m, n, k;
};
// Grouped GEMM over experts (DeepGEMM's two layouts). Either FP8 (a, b f8_e4m3 with scales as in
// Fp8GemmParams, per group for b) or plain (a, b f32/bf16 with null scales).
struct GroupedGemmParams {
  const void* a; DType a_dtype;  // contiguous: [sum_m, k]; masked: [g, m_max, k]
  const float* a_scale;          // contiguous: [sum_m, ceil(k/128)]; masked: [g, m_max, ceil(k/128)]; null if not fp8
  const void* b; DType b_dtype;  // [g, n, k]
  const float* b_scale;          // [g, ceil(n/128), ceil(k/128)]; null if not fp8
  void* out; DType out_dtype;    // contiguous: [sum_m, n]; masked: [g, m_max, n]
  const int32_t* offsets;        // contiguous only: [g + 1], rows offsets[e]..offsets[e+1] belong to expert e
  const int32_t* counts;         // masked only: [g], valid rows per group; rows >= counts[e] are not written
  int64_t g, m, n, k;            // m = sum_m (contiguous) or m_max (masked)
  bool masked;
};

// The experts' gate/up projection with the activation fused (model.py Expert: silu(w1(x)) * w3(x)) and
// re-quantized for the down projection: out = quantize_fp8(silu(a @ w1^T) * (a @ w3^T)), gate and up in
// f32 (no intermediate rounding). FP8 only, layouts as GroupedGemmParams; b stacks [w1; w3] per group,
// so n % 128 == 0 (each 128x128 scale block belongs to w1 or to w3).
struct GroupedGemmSiluMulParams {
  const uint8_t* a; const float* a_scale;  // contiguous [sum_m, k] / masked [g, m_max, k]; scale [..., ceil(k/128)]
  const uint8_t* b; const float* b_scale;  // [g, 2n, k] = [w1; w3] per group; scale [g, 2n/128, ceil(k/128)]
  uint8_t* out; float* out_scale;          // [rows, n] f8_e4m3, [rows, n/128] f32; rows of no group are untouched
  const int32_t* offsets;                  // contiguous: [g + 1]
  const int32_t* counts;                   // masked: [g]
  int64_t g, m, n, k;                      // m = sum_m (contiguous) or m_max (masked); n = intermediate size
  bool masked, ue8m0;
};

// ---- elementwise, norms, RoPE ----
struct RmsNormParams {
  const void* x; DType x_dtype;      // [t, d] float-like
  const void* w; DType w_dtype;      // [d] float-like
  void* out; DType out_dtype;        // [t, d]; out = w * (x / sqrt(mean(x^2) + eps)), f32 math
  int64_t t, d;
  float eps;
};
struct RopeParams {
  const void* x; DType x_dtype;      // [t, h, d] float-like; the last rope_dim elements are rotated
  const void* positions; DType positions_dtype;  // [t] i32 or i64: position of each token
  const float* inv_freq;             // [rope_dim / 2] (YaRN-corrected) inverse frequencies
  void* out; DType out_dtype;        // [t, h, d]; the first d - rope_dim elements are copied
  int64_t t, h, d, rope_dim;
  // pairs (2i, 2i+1) of the rope part, as DeepSeek's apply_rotary_emb: angle = pos * inv_freq[i]
};
struct SiluMulParams {
  const void* gate; DType gate_dtype;  // [t, n]
  const void* up; DType up_dtype;      // [t, n]
  void* out; DType out_dtype;          // [t, n]: silu(gate) * up, f32 math
  int64_t t, n;
};
struct SoftmaxParams {
  const void* x; DType x_dtype;  // [t, n]
  void* out; DType out_dtype;    // [t, n], along the last dim, f32 math
  int64_t t, n;
};
struct AddParams {
  const void* a; DType a_dtype;  // [n]
  const void* b; DType b_dtype;  // [n]
  void* out; DType out_dtype;    // [n]
  int64_t n;
};
struct Transpose01Params {
  const void* x;  // [a, b, inner] of any dtype (elem bytes each)
  void* out;      // [b, a, inner]: out[j][i] = x[i][j]; must not overlap x
  int64_t a, b, inner, elem;
};
struct NarrowParams {
  const void* x;  // [rows, n] of any dtype (elem bytes each)
  void* out;      // [rows, len] = x[:, start:start+len]
  int64_t rows, n, start, len, elem;
};
struct EmbeddingParams {
  const void* table; DType table_dtype;  // [vocab, d] float-like
  const void* ids; DType ids_dtype;      // [t] i32 or i64
  void* out; DType out_dtype;            // [t, d]
  int64_t t, vocab, d;
};
struct ArgmaxParams {
  const void* x; DType x_dtype;  // [t, n]
  int32_t* out;                  // [t]; the first maximum wins; NaN counts as larger than any number
  int64_t t, n;
  bool flag_invalid = false;     // a row with a NaN gives kPickNaN, one with no finite maximum kPickNoFinite
};
// argmax's answers for rows a token cannot be picked from (flag_invalid), read by the model's picks.
constexpr int32_t kPickNaN = -1, kPickNoFinite = -2;
struct TopkParams {
  const void* x; DType x_dtype;  // [t, n]
  float* values;                 // [t, k] descending
  int32_t* indices;              // [t, k]; ties: the lower index first
  int64_t t, n, k;
};
struct SampleParams {
  const float* logits;  // [t, vocab] f32
  int32_t* out;         // [t]
  int64_t t, vocab;
  float temperature;    // <= 0: greedy (argmax)
  float top_p;          // (0, 1]; 1 disables
  int64_t top_k;        // 0 disables
  uint64_t seed;        // row r draws uniform u = rng(seed, r)
};

// ---- MoE router (DeepSeek-V3 noaux_tc; V2 greedy / group_limited_greedy) ----
enum class ScoringFunc : int { sigmoid = 0, softmax = 1 };
struct MoeRouteParams {
  const float* logits;  // [t, e] f32 gate logits (x @ gate.weight^T)
  const float* bias;    // [e] f32 e_score_correction_bias, used for selection only; may be null
  float* weights;       // [t, top_k] f32, in descending order of the selection score
  int32_t* indices;     // [t, top_k] i32 expert ids
  int64_t t, e, top_k, n_group, topk_group;
  ScoringFunc scoring;
  bool norm_topk_prob;
  float routed_scaling_factor;
  // sigmoid + bias: group score = sum of the top-2 biased scores; without bias and n_group > 1 the
  // group score is the max (V2 group_limited_greedy). Dropped groups are masked with -inf.
};

// ---- MLA decode attention over the latent cache (absorbed weights) ----
struct MlaDecodeAttentionParams {
  const void* q_latent; DType q_dtype;  // [t, h, r] float-like (q_nope absorbed by W_UK)
  const void* q_pe;                     // [t, h, p] same dtype as q_latent (RoPE applied)
  const void* c_kv; DType kv_dtype;     // [s, r] float-like, kv_norm(c_kv) per cached token
  const void* k_pe;                     // [s, p] same dtype as c_kv (RoPE applied)
  float* out;                           // [t, h, r] f32: sum_j softmax_j(score) * c_kv[j]
  int64_t t, h, r, p, s;
  int64_t start_pos;  // query i sits at position start_pos + i and attends to cache rows [0, start_pos + i]
  bool causal;        // false: every query attends to all s rows
  float softmax_scale;
};

// ---- MLA fused path (issue 5): paged latent cache in FlashMLA's layout and the absorbed projections ----
// Cache: [num_pages, 64, r + p] per layer, each token row c_kv (r = kv_lora_rank, kv_norm applied) then
// k_pe (p = qk_rope_head_dim, RoPE applied); token j of sequence bi sits in page block_table[bi, j / 64],
// row j % 64. "slot" = page * 64 + row.
constexpr int64_t kMlaPageSize = 64;
struct MlaPagedAttentionParams {
  const void* q_latent; DType q_dtype;   // [b, s_q, h, r] f32 or bf16: q_nope absorbed by W_UK
  const void* q_pe;                      // [b, s_q, h, p] same dtype, RoPE applied
  const void* kv_cache; DType kv_dtype;  // [num_pages, 64, r + p] f32 or bf16
  const int32_t* block_table;            // [b, max_pages]; only the entries of pages in use are read
  const int32_t* seq_lens;               // [b]: tokens in the cache per sequence, the s_q new ones included
  float* out;                            // [b, s_q, h, r] f32: sum_j softmax_j(score) * c_kv[j]; 0 without keys
  float* lse;                            // [b, h, s_q] f32: ln sum_j exp(score_j); -inf without keys
  int64_t b, s_q, h, r, p, num_pages, max_pages;
  bool causal;          // query i of sequence bi sits at position seq_lens[bi] - s_q + i and sees keys <= it;
                        // false: every query sees all seq_lens[bi] keys
  float softmax_scale;  // score = (q_latent . c_kv + q_pe . k_pe) * softmax_scale
  // CUDA only (null / 0 on the CPU): split-KV partials [b, s_q * h, num_splits, r] and [b, s_q * h, num_splits]
  float* o_accum;
  float* lse_accum;
  int num_splits;       // >= 1; 1 writes out/lse directly
  int impl;             // CUDA kernel variant: 0 = simple f32 CUDA cores, 1 = mma.sync bf16 (bf16 cache)
};
struct MlaDownEpilogueParams {
  const void* qkv; DType qkv_dtype;  // [t, q_lora + r + p] float-like: x @ [wq_a; wkv_a]^T
  const float* q_norm;               // [q_lora] f32 (q_a_layernorm), null when q_lora = 0
  const float* kv_norm;              // [r] f32 (kv_a_layernorm)
  const void* positions; DType positions_dtype;  // [t] i32 or i64
  const float* inv_freq;             // [p / 2] f32, YaRN-corrected
  void* cq; DType cq_dtype;          // [t, q_lora] float-like: q_norm(c_q)
  void* kv_cache; DType kv_dtype;    // [num_slots, r + p] f32 or bf16 (the [num_pages, 64, r + p] cache)
  const int32_t* slot_mapping;       // [t]: cache row of each token; < 0 skips the token (padding)
  int64_t t, q_lora, r, p, num_slots;
  float eps;
  // cache row = kv_norm(c_kv) | rope(k_pe, position); RMSNorm and RoPE as rms_norm / rope (f32 math)
};
struct MlaAbsorbQParams {
  const void* q; DType q_dtype;        // [t, h, nope + p] float-like: the wq_b output per head
  const void* w_uk; DType w_dtype;     // [h, nope, r] f32 or bf16: wkv_b[h*(nope+v) + d, c], d < nope
  const void* positions; DType positions_dtype;  // [t] i32 or i64
  const float* inv_freq;               // [p / 2] f32
  void* q_latent; void* q_pe; DType out_dtype;  // [t, h, r] and [t, h, p]
  int64_t t, h, nope, p, r;
  // q_latent[i,hh,c] = sum_d q[i,hh,d] w_uk[hh,d,c] (f32 accumulation); q_pe = rope(q[i,hh,nope:])
};
struct MlaOutputParams {
  const void* o_latent; DType o_dtype;  // [t, h, r] float-like: attention output in latent space
  const void* w_uv; DType w_dtype;      // [h, v, r] f32 or bf16: wkv_b[h*(nope+v) + nope + d, c]
  void* out; DType out_dtype;           // [t, h * v]: out[i, hh*v + d] = sum_c o_latent[i,hh,c] w_uv[hh,d,c]
  int64_t t, h, r, v;
};

// ---- MoE dispatch (DeepGEMM's grouped layouts): permutation by expert, row gather, fused
// SiLU-and-multiply + FP8 quantization, weighted combine. A slot is (token i, choice j) = i * k + j. ----
enum class MoeLayout : int { contiguous = 0, masked = 1 };
struct MoePermuteParams {
  const int32_t* indices;  // [t, k] i32 expert of each slot, in [0, e)
  int32_t* counts;         // [e] i32 slots per expert (masked: min(count, m_max))
  int32_t* offsets;        // contiguous: [e + 1] i32 segment starts, each segment padded to a multiple of align; masked: null
  int32_t* row_slot;       // [rows] i32 slot held by each grouped row; -1 for padding
  int32_t* slot_row;       // [t * k] i32 grouped row of each slot (the inverse map); -1 for a dropped slot (masked)
  int32_t* dropped;        // masked: [1] i32 slots beyond m_max (not placed); contiguous: null
  int64_t t, k, e;
  int64_t align;   // contiguous: >= 1
  int64_t m_max;   // masked: rows per expert; row of position p of expert x = x * m_max + p
  int64_t rows;    // contiguous: t*k + min(e, t*k) * (align - 1) (the padded bound); masked: e * m_max
  MoeLayout layout;
  // Stable: within an expert, slots in increasing slot order.
};
struct MoeGatherParams {
  const void* x;             // [t, row_bytes] bytes of any dtype (a row of x, or of its FP8 scales)
  const int32_t* row_slot;   // [rows] i32
  void* out;                 // [rows, row_bytes]: row r = x[row_slot[r] / k], zero bytes where row_slot[r] < 0
  int64_t t, k, rows, row_bytes;
};
struct SiluMulQuantParams {
  const void* gate; const void* up; DType dtype;  // [rows, n] each, row stride ld elements (fused gateUp [rows, 2n]: up = gate + n, ld = 2n)
  int64_t ld;
  uint8_t* y;      // [rows, n] f8_e4m3
  float* scale;    // [rows, ceil(n/128)] f32
  int64_t rows, n;
  bool ue8m0;
  // h = silu(gate) * up in f32 (as silu_mul), rounded to dtype, then quantized as quantize_fp8(h).
};
struct MoeCombineParams {
  const void* y; DType y_dtype;                // [rows, d] expert outputs in grouped order
  const int32_t* slot_row;                     // [t * k] i32; a slot with row < 0 adds nothing
  const float* weights;                        // [t, k] f32 routing weights
  const void* shared; DType shared_dtype;      // [t, d] shared-expert output, or null
  const void* residual; DType residual_dtype;  // [t, d] or null
  void* out; DType out_dtype;                  // [t, d]
  int64_t t, k, d, rows;
  // acc = fma over j = 0..k-1 in order (acc = fma(w[i,j], y[row], acc)), f32; acc += shared;
  // out = residual + acc, one rounding. No atomics: identical bits on every run and backend.
};

namespace cpu {
void cast(const CastParams&);
void random(const RandomParams&);
void quantize_fp8(const QuantizeFp8Params&);
void quantize_weight_fp8(const QuantizeWeightFp8Params&);
void dequantize_weight_fp8(const DequantizeWeightFp8Params&);
void fp8_gemm(const Fp8GemmParams&);
void gemm(const GemmParams&);
void grouped_gemm(const GroupedGemmParams&);
void grouped_gemm_silu_mul(const GroupedGemmSiluMulParams&);
void rms_norm(const RmsNormParams&);
void rope(const RopeParams&);
void silu_mul(const SiluMulParams&);
void softmax(const SoftmaxParams&);
void add(const AddParams&);
void transpose01(const Transpose01Params&);
void narrow(const NarrowParams&);
void embedding(const EmbeddingParams&);
void argmax(const ArgmaxParams&);
void topk(const TopkParams&);
void sample(const SampleParams&);
void moe_route(const MoeRouteParams&);
void mla_decode_attention(const MlaDecodeAttentionParams&);
void mla_paged_attention(const MlaPagedAttentionParams&);
void mla_down_epilogue(const MlaDownEpilogueParams&);
void mla_absorb_q(const MlaAbsorbQParams&);
void mla_output(const MlaOutputParams&);
void moe_permute(const MoePermuteParams&);
void moe_gather(const MoeGatherParams&);
void silu_mul_quant(const SiluMulQuantParams&);
void moe_combine(const MoeCombineParams&);
}  // namespace cpu

}  // namespace dsv3
