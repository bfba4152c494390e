// CUDA launchers of the fused MLA ops (issue 5): paged latent-cache decode attention with split-KV,
// the down-projection epilogue, the absorbed query and the output projection. Kernels in cuda/mla.cu;
// params structs in native/ops.h; CPU twins in native/cpu/mla_paged.cc and mla_proj.cc.
// Unverified on a GPU (written on a machine without one).
#pragma once
#include <cstdint>

#include "native/ops.h"

namespace dsv3::cuda {

// Split-KV count for mlaPagedAttention on the current device: enough CTAs for about two waves over the
// SMs, at most one split per page of the longest possible sequence (max_pages), at least 4 pages a split.
int mla_num_splits(int64_t b, int64_t q_rows, int64_t max_pages);

void mla_paged_attention(const MlaPagedAttentionParams& p, void* stream);
void mla_down_epilogue(const MlaDownEpilogueParams& p, void* stream);
void mla_absorb_q(const MlaAbsorbQParams& p, void* stream);
void mla_output(const MlaOutputParams& p, void* stream);

}  // namespace dsv3::cuda
