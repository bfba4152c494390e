// CUDA launchers of argmax, topk and sample (native/cpu/sampling.cc is the reference). Plain C++
// declarations; kernels in cuda/sampling.cu. `stream` is the device's cudaStream_t.
#pragma once
#include "native/ops.h"

namespace dsv3::cuda {
// The CPU's order exactly: the first NaN, else the first maximum. Equal to the CPU's indices.
void argmax(const ArgmaxParams& p, void* stream);
// The k first of each row in the CPU's order (NaN first, then larger, equal values by lower index);
// k rounds of a block-wide selection, O(k * n) per row: meant for small k.
void topk(const TopkParams& p, void* stream);
// The CPU's sampling rule (temperature, top-k, then top-p renormalized over the top-k, u = rng(seed, row)
// with the same splitmix64 draw). Probabilities are summed in double in another order than the CPU's
// sequential walk, so a draw could differ only when u * total lies within double rounding (~1e-16
// relative) of a cumulative boundary. A row with NaN or no finite logit (the CPU rejects it; the host
// cannot throw after an async launch) gets token -1 when temperature > 0.
void sample(const SampleParams& p, void* stream);
}  // namespace dsv3::cuda
