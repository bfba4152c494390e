// checks_wgmma_exit_pending.cu: checks_wgmma_accum_inflight.cu returning after wgmma.commit_group with no
// wgmma.wait_group: the warps exit with the group in flight (its accumulators never become the threads'),
// which the emulator must report.
// EXPECT-REPORT: Warp exits with wgmma.mma_async in flight
#define KT_EXIT_PENDING 1
#include "checks_wgmma_accum_inflight.cu"
