// dsv3-emu sm90: the instruction forms of the asynchronous units, read from a PTX mnemonic split on '.'
// (ptx::Instruction::parts), so that the interpreter's decoder can bind wgmma / cp.async.bulk(.tensor) /
// mbarrier variants to the models once. Syntax per PTX ISA 9.0: 9.7.15.5.2 (wgmma.mma_async),
// 9.7.15.6-7 (wgmma.fence / commit_group / wait_group), 9.7.9.24-25 (cp.async.bulk, .tensor),
// 9.7.13.15 (mbarrier). Unsupported or malformed forms are refused with the reason.
#pragma once
#include <string>
#include <vector>

#include "src/sm90/wgmma.h"

namespace emu::sm90 {

// wgmma.mma_async.sync.aligned.m64nNkK.dtype.atype.btype: fills n, dtype, atype, btype of `op` (the
// operands give a_in_regs, descriptors, scale-d and the immediates). K must be the dtype's (16 / 32).
bool parse_wgmma(const std::vector<std::string>& parts, WgmmaOp* op, std::string* why);

// cp.async.bulk.tensor.{1..5}d.<dst>.<src>.tile{.mbarrier::complete_tx::bytes | .bulk_group}
//   {.multicast::cluster}{.L2::cache_hint}
struct TensorCopyForm {
  uint32_t rank = 0;
  bool load = true;            // global -> shared::cluster (mbarrier completion); false: shared::cta -> global
  bool multicast = false;      // .multicast::cluster (a cluster of one CTA: to this CTA)
  bool cache_hint = false;     // .L2::cache_hint (an extra operand, no effect on results)
};
bool parse_tensor_copy(const std::vector<std::string>& parts, TensorCopyForm* form, std::string* why);

// mbarrier.<op>{.sem}{.scope}{.shared{::cta|::cluster}}.b64
enum class MbarOp : uint8_t {
  init, inval, arrive, arrive_nocomplete, arrive_drop, arrive_expect_tx, arrive_drop_expect_tx, expect_tx,
  complete_tx, test_wait, test_wait_parity, try_wait, try_wait_parity, pending_count,
};
struct MbarForm {
  MbarOp op = MbarOp::init;
  bool cluster_scope = false;   // .cluster scope or a .shared::cluster address
};
bool parse_mbarrier(const std::vector<std::string>& parts, MbarForm* form, std::string* why);

}  // namespace emu::sm90
