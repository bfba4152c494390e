// dsv3-emu sm90: instruction forms of wgmma / cp.async.bulk.tensor / mbarrier (see forms.h).
#include "src/sm90/forms.h"

#include <cstdlib>

namespace emu::sm90 {

static bool type_of(const std::string& s, WgType* t) {
  if (s == "f16") *t = WgType::f16;
  else if (s == "bf16") *t = WgType::bf16;
  else if (s == "e4m3") *t = WgType::e4m3;
  else if (s == "e5m2") *t = WgType::e5m2;
  else if (s == "f32") *t = WgType::f32;
  else return false;
  return true;
}

static bool fail(std::string* why, const std::string& msg) {
  *why = msg;
  return false;
}

bool parse_wgmma(const std::vector<std::string>& p, WgmmaOp* op, std::string* why) {
  if (p.size() < 2 || p[0] != "wgmma" || p[1] != "mma_async") return fail(why, "not wgmma.mma_async");
  if (p.size() >= 3 && p[2] == "sp") return fail(why, "wgmma.mma_async.sp (sparse A) is not modelled");
  if (p.size() != 8 || p[2] != "sync" || p[3] != "aligned")
    return fail(why, "expected wgmma.mma_async.sync.aligned.shape.dtype.atype.btype");
  // shape m64nNkK
  const std::string& sh = p[4];
  const size_t n_at = sh.find('n'), k_at = sh.find('k');
  if (sh.rfind("m64n", 0) != 0 || n_at != 3 || k_at == std::string::npos || k_at < 5)
    return fail(why, "shape " + sh + " is not m64nNkK");
  const std::string ns = sh.substr(4, k_at - 4), ks = sh.substr(k_at + 1);
  if (ns.empty() || ks.empty() || ns.find_first_not_of("0123456789") != std::string::npos ||
      ks.find_first_not_of("0123456789") != std::string::npos)
    return fail(why, "shape " + sh + " is not m64nNkK");
  WgmmaOp o = *op;
  o.n = static_cast<uint32_t>(std::strtoul(ns.c_str(), nullptr, 10));
  if (!type_of(p[5], &o.dtype) || !type_of(p[6], &o.atype) || !type_of(p[7], &o.btype))
    return fail(why, "types ." + p[5] + "." + p[6] + "." + p[7] + " are not modelled (f16/bf16/e4m3/e5m2 inputs)");
  const uint32_t k = static_cast<uint32_t>(std::strtoul(ks.c_str(), nullptr, 10));
  if (o.atype != WgType::f32 && k != wgmma_k(o.atype))
    return fail(why, "K=" + ks + " does not match ." + p[6] + " (K=" + std::to_string(wgmma_k(o.atype)) + ")");
  const std::string v = validate(o);
  if (!v.empty()) return fail(why, v);
  *op = o;
  return true;
}

bool parse_tensor_copy(const std::vector<std::string>& p, TensorCopyForm* form, std::string* why) {
  if (p.size() < 7 || p[0] != "cp" || p[1] != "async" || p[2] != "bulk" || p[3] != "tensor")
    return fail(why, "not cp.async.bulk.tensor");
  TensorCopyForm f;
  const std::string& dim = p[4];
  if (dim.size() != 2 || dim[1] != 'd' || dim[0] < '1' || dim[0] > '5') return fail(why, "dimension ." + dim + " is not 1d..5d");
  f.rank = static_cast<uint32_t>(dim[0] - '0');
  if (p[5] == "shared::cluster" && p[6] == "global") f.load = true;
  else if (p[5] == "global" && p[6] == "shared::cta") f.load = false;
  else return fail(why, "direction ." + p[5] + "." + p[6] + " is not modelled");
  bool completion = false;
  for (size_t i = 7; i < p.size(); ++i) {
    const std::string& m = p[i];
    if (m == "tile") continue;  // the default load mode
    if (m == "im2col" || m.rfind("im2col::", 0) == 0 || m.rfind("tile::", 0) == 0)
      return fail(why, "load mode ." + m + " is not modelled (tile only)");
    if (f.load && m == "mbarrier::complete_tx::bytes") completion = true;
    else if (!f.load && m == "bulk_group") completion = true;
    else if (f.load && m == "multicast::cluster") f.multicast = true;
    else if (m == "L2::cache_hint") f.cache_hint = true;
    else return fail(why, "modifier ." + m + " is not modelled here");
  }
  if (!completion)
    return fail(why, f.load ? "a load needs .mbarrier::complete_tx::bytes" : "a store needs .bulk_group");
  *form = f;
  return true;
}

bool parse_mbarrier(const std::vector<std::string>& p, MbarForm* form, std::string* why) {
  if (p.size() < 3 || p[0] != "mbarrier") return fail(why, "not an mbarrier instruction");
  if (p.back() != "b64") return fail(why, "mbarrier instructions take .b64");
  MbarForm f;
  size_t i = 2;
  const std::string& name = p[1];
  auto next_is = [&](const char* m) {
    if (i < p.size() - 1 && p[i] == m) { ++i; return true; }
    return false;
  };
  if (name == "init") f.op = MbarOp::init;
  else if (name == "inval") f.op = MbarOp::inval;
  else if (name == "expect_tx") f.op = MbarOp::expect_tx;
  else if (name == "complete_tx") f.op = MbarOp::complete_tx;
  else if (name == "pending_count") f.op = MbarOp::pending_count;
  else if (name == "arrive") {
    f.op = next_is("expect_tx") ? MbarOp::arrive_expect_tx : next_is("noComplete") ? MbarOp::arrive_nocomplete : MbarOp::arrive;
  } else if (name == "arrive_drop") {
    f.op = next_is("expect_tx") ? MbarOp::arrive_drop_expect_tx : MbarOp::arrive_drop;
  } else if (name == "test_wait") {
    f.op = next_is("parity") ? MbarOp::test_wait_parity : MbarOp::test_wait;
  } else if (name == "try_wait") {
    f.op = next_is("parity") ? MbarOp::try_wait_parity : MbarOp::try_wait;
  } else {
    return fail(why, "mbarrier." + name + " is not an mbarrier operation");
  }
  for (; i + 1 < p.size(); ++i) {
    const std::string& m = p[i];
    if (m == "release" || m == "acquire" || m == "relaxed" || m == "cta" || m == "shared" || m == "shared::cta") continue;
    if (m == "cluster" || m == "shared::cluster") { f.cluster_scope = true; continue; }
    if (m == "noComplete" && f.op == MbarOp::arrive) { f.op = MbarOp::arrive_nocomplete; continue; }
    return fail(why, "modifier ." + m + " of mbarrier." + name + " is not modelled");
  }
  *form = f;
  return true;
}

}  // namespace emu::sm90
