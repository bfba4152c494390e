// checks_wgmma_fence_fenced.cu: checks_wgmma_fence.cu with the wgmma.fence at the start of every K block
// (after the threads' reads of the previous block's fragment, before the block's first wgmma.mma_async; the
// second wgmma of a block chains on the same accumulators without one, as the ISA allows): no report, and
// the sums are checked.
// EXPECT-CLEAN
#define KT_FENCE_IN_LOOP 1
#include "checks_wgmma_fence.cu"
