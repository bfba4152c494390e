// Unit test of src/sm90/forms.h: every wgmma / cp.async.bulk.tensor / mbarrier form the project's
// kernels use (cuda/sm90.cuh, cuda/wgmma_e4m3.cuh) is accepted with the right fields, and malformed or
// unmodelled forms are refused with a reason.
#include "src/sm90/forms.h"

#include "test/unit/check.h"

using namespace emu::sm90;

static std::vector<std::string> split(const std::string& s) {
  // split on '.', keeping "::" parts whole (as the PTX parser does)
  std::vector<std::string> out(1);
  for (char c : s) {
    if (c == '.') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

static void test_wgmma() {
  WgmmaOp op;
  std::string why;
  for (uint32_t n : {8u, 16u, 32u, 64u, 128u, 256u}) {
    CHECK(parse_wgmma(split("wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) + "k32.f32.e4m3.e4m3"), &op, &why));
    CHECK_EQ(op.n, n);
    CHECK(op.dtype == WgType::f32 && op.atype == WgType::e4m3 && op.btype == WgType::e4m3);
  }
  CHECK(parse_wgmma(split("wgmma.mma_async.sync.aligned.m64n96k16.f16.f16.f16"), &op, &why));
  CHECK(op.n == 96 && op.dtype == WgType::f16);
  CHECK(parse_wgmma(split("wgmma.mma_async.sync.aligned.m64n200k16.f32.bf16.bf16"), &op, &why));
  CHECK(parse_wgmma(split("wgmma.mma_async.sync.aligned.m64n24k32.f16.e5m2.e4m3"), &op, &why));
  CHECK(op.atype == WgType::e5m2 && op.btype == WgType::e4m3);
  const char* bad[] = {
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.e4m3.e4m3",   // K of fp8 is 32
      "wgmma.mma_async.sync.aligned.m64n128k32.f32.f16.f16",     // K of f16 is 16
      "wgmma.mma_async.sync.aligned.m64n12k16.f32.f16.f16",      // N step 8
      "wgmma.mma_async.sync.aligned.m64n264k16.f32.f16.f16",     // N <= 256
      "wgmma.mma_async.sync.aligned.m32n64k16.f32.f16.f16",      // M = 64
      "wgmma.mma_async.sync.aligned.m64n64k16.f16.bf16.bf16",    // bf16 accumulates in f32 only
      "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32",     // tf32 not modelled
      "wgmma.mma_async.sp.sync.aligned.m64n64k32.f32.f16.f16",   // sparse not modelled
      "wgmma.mma_async.sync.m64n64k16.f32.f16.f16",              // .aligned missing
      "wgmma.mma_async.sync.aligned.m64nk16.f32.f16.f16",
      "wgmma.fence.sync.aligned",
  };
  for (const char* b : bad) {
    why.clear();
    const bool ok = parse_wgmma(split(b), &op, &why);
    if (ok) std::fprintf(stderr, "accepted: %s\n", b);
    CHECK(!ok && !why.empty());
  }
}

static void test_tensor_copy() {
  TensorCopyForm f;
  std::string why;
  CHECK(parse_tensor_copy(split("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"), &f, &why));
  CHECK(f.rank == 2 && f.load && !f.multicast && !f.cache_hint);
  CHECK(parse_tensor_copy(split("cp.async.bulk.tensor.5d.shared::cluster.global.mbarrier::complete_tx::bytes.L2::cache_hint"), &f, &why));
  CHECK(f.rank == 5 && f.cache_hint);
  CHECK(parse_tensor_copy(split("cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"), &f, &why));
  CHECK(f.multicast);
  CHECK(parse_tensor_copy(split("cp.async.bulk.tensor.1d.global.shared::cta.tile.bulk_group"), &f, &why));
  CHECK(f.rank == 1 && !f.load);
  const char* bad[] = {
      "cp.async.bulk.tensor.6d.shared::cluster.global.tile.mbarrier::complete_tx::bytes",
      "cp.async.bulk.tensor.2d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes",
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile",                  // no completion
      "cp.async.bulk.tensor.2d.global.shared::cta.tile.mbarrier::complete_tx::bytes",
      "cp.async.bulk.tensor.2d.shared::cta.global.tile.mbarrier::complete_tx::bytes",
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes",
  };
  for (const char* b : bad) {
    why.clear();
    const bool ok = parse_tensor_copy(split(b), &f, &why);
    if (ok) std::fprintf(stderr, "accepted: %s\n", b);
    CHECK(!ok && !why.empty());
  }
}

static void test_mbarrier() {
  MbarForm f;
  std::string why;
  struct Case { const char* s; MbarOp op; bool cluster; } good[] = {
      {"mbarrier.init.shared::cta.b64", MbarOp::init, false},
      {"mbarrier.init.shared.b64", MbarOp::init, false},
      {"mbarrier.arrive.shared::cta.b64", MbarOp::arrive, false},
      {"mbarrier.arrive.release.cluster.shared::cta.b64", MbarOp::arrive, true},
      {"mbarrier.arrive.expect_tx.shared::cta.b64", MbarOp::arrive_expect_tx, false},
      {"mbarrier.arrive.noComplete.shared.b64", MbarOp::arrive_nocomplete, false},
      {"mbarrier.arrive_drop.shared::cta.b64", MbarOp::arrive_drop, false},
      {"mbarrier.arrive_drop.expect_tx.shared::cta.b64", MbarOp::arrive_drop_expect_tx, false},
      {"mbarrier.expect_tx.relaxed.cta.shared::cta.b64", MbarOp::expect_tx, false},
      {"mbarrier.complete_tx.relaxed.cta.shared::cta.b64", MbarOp::complete_tx, false},
      {"mbarrier.try_wait.parity.shared::cta.b64", MbarOp::try_wait_parity, false},
      {"mbarrier.try_wait.parity.acquire.cta.shared::cta.b64", MbarOp::try_wait_parity, false},
      {"mbarrier.try_wait.shared::cta.b64", MbarOp::try_wait, false},
      {"mbarrier.test_wait.parity.shared.b64", MbarOp::test_wait_parity, false},
      {"mbarrier.test_wait.shared::cta.b64", MbarOp::test_wait, false},
      {"mbarrier.inval.shared::cta.b64", MbarOp::inval, false},
      {"mbarrier.pending_count.b64", MbarOp::pending_count, false},
  };
  for (const Case& c : good) {
    const bool ok = parse_mbarrier(split(c.s), &f, &why);
    if (!ok) std::fprintf(stderr, "refused: %s (%s)\n", c.s, why.c_str());
    CHECK(ok && f.op == c.op && f.cluster_scope == c.cluster);
  }
  const char* bad[] = {"mbarrier.init.shared::cta.b32", "mbarrier.wait.shared::cta.b64", "mbarrier.arrive.weird.shared.b64",
                       "mbarrier.try_wait.parity.shared::cta", "barrier.sync.b64"};
  for (const char* b : bad) {
    why.clear();
    const bool ok = parse_mbarrier(split(b), &f, &why);
    if (ok) std::fprintf(stderr, "accepted: %s\n", b);
    CHECK(!ok && !why.empty());
  }
}

int main() {
  test_wgmma();
  test_tensor_copy();
  test_mbarrier();
  return check::finish();
}
