// CUDA launchers of the MLA ops: paged latent-cache decode attention with split-KV (cuda/mla_attn.cu),
// the down-projection epilogue, the absorbed query and the output projection (cuda/mla_proj.cu).
// Params structs in native/ops.h; CPU twins in native/cpu/mla_attn.cc and mla_proj.cc.
// Unverified on a GPU (written on a machine without one).
#pragma once
#include <cstdint>
#include <string>

#include "native/ops.h"

namespace dsv3::cuda {

// The attention kernels' limits: false with the reason in *why when a call is beyond them. The simple
// kernel keeps r / 32 output columns per lane in registers and loads 16-byte chunks of a cache row;
// impl 1 (tensor cores) also needs a bf16 cache and whole 64-column / 16-element MMA tiles.
bool mla_paged_attention_supports(const MlaPagedAttentionParams& p, std::string* why);

// Split-KV count for mlaPagedAttention on the current device: enough CTAs for about two waves over the
// SMs, at most one split per page of the longest possible sequence (max_pages), at least 4 pages a split.
int mla_num_splits(int64_t b, int64_t q_rows, int64_t max_pages);

void mla_paged_attention(const MlaPagedAttentionParams& p, void* stream);
void mla_down_epilogue(const MlaDownEpilogueParams& p, void* stream);
void mla_absorb_q(const MlaAbsorbQParams& p, void* stream);
void mla_output(const MlaOutputParams& p, void* stream);

}  // namespace dsv3::cuda
