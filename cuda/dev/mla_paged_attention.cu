// Kernel sandbox: mlaPagedAttention, MLA decode attention over the paged latent cache (native/ops.h
// MlaPagedAttentionParams), each version against the CPU twin native/cpu/mla_attn.cc, with one KV split
// (out / lse written directly) and with the launcher's split count (partials + the combine kernel).
//   version 0: f32 math on CUDA cores (cuda/mla_attn.cu mla_paged_attn_kernel), f32 or bf16 cache
//   version 1: tensor cores, mma.sync m16n8k16 bf16 (cuda/mla_attn.cu mla_paged_attn_tc_kernel), bf16 cache;
//              it rounds P to bf16 as FlashMLA does, hence test/gpu/mla.gpu.test.ts's looser out tolerance
// Shapes: DeepSeek-V3's r = 512, p = 64, pages shuffled in the block table, ragged sequence lengths,
// causal with s_q = 2 (MTP) rows per sequence. Run: npm run dev:cuda -- mla_paged_attention [-- --help].
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/mla.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

struct Shape { const char* name; int64_t b, s_q, h; std::vector<int32_t> seq_lens; };
constexpr int64_t kR = 512, kP = 64;

// Versions' tolerances (test/gpu/mla.gpu.test.ts): out and lse relative errors vs the CPU, bf16 q.
constexpr double kTolOut[2] = {2e-5, 1e-2}, kTolLse[2] = {2e-5, 1e-4};

void run_case(const Options& o, Report& rep, const Shape& s, DType kv_dtype) {
  const int64_t row = kR + kP, max_len = *std::max_element(s.seq_lens.begin(), s.seq_lens.end());
  const int64_t max_pages = ceil_div(max_len, kMlaPageSize), num_pages = s.b * max_pages + 1;
  // Every sequence's pages, shuffled over the pool (page 0 unused, so a wrong page index shows).
  std::vector<int32_t> pages(num_pages - 1);
  std::iota(pages.begin(), pages.end(), 1);
  std::shuffle(pages.begin(), pages.end(), rng());
  const std::vector<int32_t> block_table(pages.begin(), pages.begin() + s.b * max_pages);
  const auto q_latent = to_bf16(random_floats(s.b * s.s_q * s.h * kR, -1, 1));
  const auto q_pe = to_bf16(random_floats(s.b * s.s_q * s.h * kP, -1, 1));
  const auto cache_f32 = random_floats(num_pages * kMlaPageSize * row, -1, 1);
  const auto cache_bf16 = to_bf16(cache_f32);
  const void* cache = kv_dtype == DType::bf16 ? static_cast<const void*>(cache_bf16.data()) : cache_f32.data();
  const size_t cache_bytes = cache_f32.size() * itemsize(kv_dtype);
  const float scale = 1.0f / std::sqrt(192.0f);
  const int64_t q_rows = s.b * s.s_q * s.h;

  std::vector<float> want_out(q_rows * kR), want_lse(q_rows);
  MlaPagedAttentionParams p{q_latent.data(), DType::bf16, q_pe.data(), cache, kv_dtype, block_table.data(), s.seq_lens.data(),
                            want_out.data(), want_lse.data(), s.b, s.s_q, s.h, kR, kP, num_pages, max_pages, true, scale,
                            nullptr, nullptr, 1, 0};
  cpu::mla_paged_attention(p);

  Buf dq(q_latent), dqp(q_pe), dcache(cache_bytes), dbt(block_table), dlens(s.seq_lens), dout(q_rows * kR * 4), dlse(q_rows * 4);
  cuda::copy_h2d(kDev, dcache.p, cache, cache_bytes);
  p.q_latent = dq.p; p.q_pe = dqp.p; p.kv_cache = dcache.p; p.block_table = dbt.as<int32_t>(); p.seq_lens = dlens.as<int32_t>();
  p.out = dout.as<float>(); p.lse = dlse.as<float>();
  const int auto_splits = cuda::mla_num_splits(s.b, s.s_q * s.h, max_pages);
  Buf oacc(q_rows * std::max(auto_splits, 2) * kR * 4), lacc(q_rows * std::max(auto_splits, 2) * 4);

  double keys = 0;
  for (int32_t len : s.seq_lens) keys += len;
  const double flops = 2.0 * s.s_q * s.h * keys * (row + kR);
  const double bytes = keys * row * itemsize(kv_dtype) + q_rows * (row * 2.0 + kR * 4.0);
  void* stream = cuda::launch_stream(kDev);
  for (int impl : {0, 1}) {
    if (!o.runs(impl) || (impl == 1 && kv_dtype != DType::bf16)) continue;  // version 1 reads a bf16 cache only
    for (int splits : {1, std::max(auto_splits, 2)}) {
      p.impl = impl;
      p.num_splits = splits;
      p.o_accum = splits > 1 ? oacc.as<float>() : nullptr;
      p.lse_accum = splits > 1 ? lacc.as<float>() : nullptr;
      auto launch = [&] { cuda::mla_paged_attention(p, stream); };
      dout.poison(DType::f32);
      dlse.poison(DType::f32);
      launch();
      cuda::synchronize(kDev);
      const Verdict vo = compare(dout.floats(DType::f32, q_rows * kR), want_out, kTolOut[impl]);
      const Verdict vl = compare(dlse.floats(DType::f32, q_rows), want_lse, kTolLse[impl]);
      const double ms = time_ms(o, launch);
      char what[96];
      std::snprintf(what, sizeof what, "%s %s cache, %d split%s: out", s.name, dtype_name(kv_dtype), splits, splits > 1 ? "s" : "");
      const std::string version = std::to_string(impl) + (impl ? " tc" : " f32");
      rep.line(version.c_str(), what, vo, kTolOut[impl], ms, flops, impl ? kPeakBf16 : kPeakF32, bytes);
      rep.line(version.c_str(), "  lse", vl, kTolLse[impl], -1, 0, 0, 0);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "mla_paged_attention: paged MLA decode attention versions vs the CPU twin",
                            "  0 f32 CUDA cores (f32 or bf16 cache)\n  1 tensor cores, mma.sync bf16 (bf16 cache)\n");
    Report rep;
    rep.emulator = o.emulator;
    const std::vector<Shape> small = {{"b=2 h=16 s_q=2 lens 150,77", 2, 2, 16, {150, 77}}};
    const std::vector<Shape> v3 = {{"decode b=64 h=128 len 4096", 64, 1, 128, std::vector<int32_t>(64, 4096)},
                                   {"MTP b=32 h=128 s_q=2 len 1000..8000", 32, 2, 128, {}}};
    std::vector<Shape> shapes = o.v3 ? v3 : small;
    if (o.v3)
      for (int i = 0; i < 32; ++i) shapes[1].seq_lens.push_back(1000 + 7000 * i / 31);
    for (const Shape& s : shapes) {
      run_case(o, rep, s, DType::bf16);
      if (!o.v3) run_case(o, rep, s, DType::f32);
    }
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
