// Kernel sandbox: the MLA projections around the paged attention (native/ops.h MlaDownEpilogueParams,
// MlaAbsorbQParams, MlaOutputParams), against their CPU twins (native/cpu/mla_proj.cc). One version each
// today (the production kernels of cuda/mla_proj.cu); a new one is one more entry in its table.
//   down_epilogue: q_norm(c_q), and kv_norm(c_kv) | rope(k_pe) into the cache rows of slot_mapping (padding
//                  slots skipped; the rows no token writes must keep their NaN)
//   absorb_q:      q_latent = q_nope @ W_UK per head, q_pe = rope(q_pe)
//   output:        out = o_latent @ W_UV^T per head
// Tolerances of test/gpu/mla.gpu.test.ts: bf16 8e-3, f32 2e-5 (epilogue 1e-5). DeepSeek-V3 sizes
// (q_lora 1536, r 512, p 64, nope 128, v 128), positions beyond YaRN's 4096.
// Run: npm run dev:cuda -- mla_proj [-- --help].
#include <cmath>
#include <string>
#include <vector>

#include "cuda/dev/dev.h"
#include "cuda/mla.h"

using namespace dsv3;
using namespace dsv3::dev;

namespace {

constexpr int64_t kQLora = 1536, kR = 512, kP = 64, kNope = 128, kV = 128;

std::vector<float> inv_freq() {  // RoPE inverse frequencies, theta 10000 (YaRN's correction does not matter here)
  std::vector<float> f(kP / 2);
  for (int64_t i = 0; i < kP / 2; ++i) f[i] = std::pow(10000.0f, -2.0f * i / kP);
  return f;
}
std::vector<int32_t> positions(int64_t t) {
  std::vector<int32_t> pos(t);
  for (int64_t i = 0; i < t; ++i) pos[i] = 4000 + 97 * static_cast<int32_t>(i);
  return pos;
}
// The host copy of `values` in dtype (f32 or bf16 bits) and its device buffer.
struct Input {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  DType dtype;
  Input(std::vector<float> v, DType d) : f32(std::move(v)), dtype(d) { if (d == DType::bf16) bf16 = to_bf16(f32); }
  const void* host() const { return dtype == DType::bf16 ? static_cast<const void*>(bf16.data()) : f32.data(); }
  size_t bytes() const { return f32.size() * itemsize(dtype); }
  Buf upload() const {
    Buf b(bytes());
    cuda::copy_h2d(kDev, b.p, host(), bytes());
    return b;
  }
};
std::vector<float> to_dtype(std::vector<float> v, DType d) {  // values as the CPU writes them in dtype
  if (d == DType::bf16) for (auto& x : v) x = bf16_to_f32(f32_to_bf16(x));
  return v;
}
std::vector<float> host_floats(const std::vector<uint8_t>& bytes, DType d) {
  std::vector<float> out(bytes.size() / itemsize(d));
  for (size_t i = 0; i < out.size(); ++i) {
    if (d == DType::f32) std::memcpy(&out[i], &bytes[i * 4], 4);
    else { uint16_t h; std::memcpy(&h, &bytes[i * 2], 2); out[i] = bf16_to_f32(h); }
  }
  return out;
}

void down_epilogue(const Options& o, Report& rep, int64_t t, DType dtype, double tol) {
  const int64_t w = kQLora + kR + kP, num_slots = 3 * kMlaPageSize;
  const Input qkv(random_floats(t * w, -3, 3), dtype);
  const auto q_norm = random_floats(kQLora, 0.5f, 1.5f), kv_norm = random_floats(kR, 0.5f, 1.5f), freq = inv_freq();
  const auto pos = positions(t);
  std::vector<int32_t> slots(t);
  for (int64_t i = 0; i < t; ++i) slots[i] = i % 7 == 3 ? -1 : static_cast<int32_t>((i * 5) % num_slots);
  const size_t es = itemsize(dtype), cache_bytes = num_slots * (kR + kP) * es;
  std::vector<uint8_t> want_cq(t * kQLora * es), want_cache(cache_bytes, 0xff);  // NaN (f32 and bf16)
  MlaDownEpilogueParams p{qkv.host(), dtype, q_norm.data(), kv_norm.data(), pos.data(), DType::i32, freq.data(),
                          want_cq.data(), dtype, want_cache.data(), dtype, slots.data(), t, kQLora, kR, kP, num_slots, 1e-6f};
  cpu::mla_down_epilogue(p);

  Buf dqkv = qkv.upload(), dqn(q_norm), dkn(kv_norm), dpos(pos), dfreq(freq), dslots(slots), dcq(want_cq.size()), dcache(cache_bytes);
  p.qkv = dqkv.p; p.q_norm = dqn.as<float>(); p.kv_norm = dkn.as<float>(); p.positions = dpos.p; p.inv_freq = dfreq.as<float>();
  p.cq = dcq.p; p.kv_cache = dcache.p; p.slot_mapping = dslots.as<int32_t>();
  auto launch = [&] { cuda::mla_down_epilogue(p, cuda::launch_stream(kDev)); };
  if (!o.runs(1)) return;
  dcq.poison(dtype);
  cuda::fill(kDev, dcache.p, 0xff, 1, cache_bytes);
  launch();
  cuda::synchronize(kDev);
  std::vector<uint8_t> got_cache(cache_bytes);
  cuda::copy_d2h(kDev, got_cache.data(), dcache.p, cache_bytes);
  // Cache rows: those a token wrote are compared, the others must still be the poison bytes.
  std::vector<float> want_rows, got_rows;
  std::vector<bool> written(num_slots, false);
  for (int32_t s : slots) if (s >= 0) written[s] = true;
  const auto wc = host_floats(want_cache, dtype), gc = host_floats(got_cache, dtype);
  long stray = 0;
  for (int64_t s = 0; s < num_slots; ++s)
    for (int64_t j = 0; j < kR + kP; ++j) {
      const size_t i = s * (kR + kP) + j;
      if (written[s]) { want_rows.push_back(wc[i]); got_rows.push_back(gc[i]); }
      else stray += !std::isnan(gc[i]);
    }
  Verdict vc = compare(got_rows, want_rows, tol);
  if (stray) { std::printf("  %ld cache values of rows no token maps to were written\n", stray); vc.pass = false; }
  const double ms = time_ms(o, launch);
  const std::string what = std::string("down_epilogue t=") + std::to_string(t) + " " + dtype_name(dtype);
  rep.line("1 prod", what + ": cq", compare(dcq.floats(dtype, t * kQLora), host_floats(want_cq, dtype), tol), tol, ms, 0, 0,
           double(t) * (w + kQLora + kR + kP) * es);
  rep.line("1 prod", what + ": cache rows", vc, tol, -1, 0, 0, 0);
}

void absorb_and_output(const Options& o, Report& rep, int64_t t, int64_t h, DType act, DType wd, double tol) {
  const Input q(random_floats(t * h * (kNope + kP), -1, 1), act), w_uk(random_floats(h * kNope * kR, -0.05f, 0.05f), wd);
  const Input w_uv(random_floats(h * kV * kR, -0.05f, 0.05f), wd);
  const auto o_latent = random_floats(t * h * kR, -1, 1), freq = inv_freq();
  const auto pos = positions(t);
  std::vector<float> want_ql(t * h * kR), want_qpe(t * h * kP), want_out(t * h * kV);
  MlaAbsorbQParams pa{q.host(), act, w_uk.host(), wd, pos.data(), DType::i32, freq.data(), want_ql.data(), want_qpe.data(), DType::f32,
                      t, h, kNope, kP, kR};
  cpu::mla_absorb_q(pa);
  MlaOutputParams po{o_latent.data(), DType::f32, w_uv.host(), wd, want_out.data(), DType::f32, t, h, kR, kV};
  cpu::mla_output(po);
  want_ql = to_dtype(want_ql, act); want_qpe = to_dtype(want_qpe, act); want_out = to_dtype(want_out, act);  // one rounding to act

  Buf dq = q.upload(), duk = w_uk.upload(), duv = w_uv.upload(), dol(o_latent), dpos(pos), dfreq(freq);
  Buf dql(t * h * kR * itemsize(act)), dqpe(t * h * kP * itemsize(act)), dout(t * h * kV * itemsize(act));
  pa.q = dq.p; pa.w_uk = duk.p; pa.positions = dpos.p; pa.inv_freq = dfreq.as<float>(); pa.q_latent = dql.p; pa.q_pe = dqpe.p; pa.out_dtype = act;
  po.o_latent = dol.p; po.w_uv = duv.p; po.out = dout.p; po.out_dtype = act;
  if (!o.runs(1)) return;
  char what[96];
  std::snprintf(what, sizeof what, "t=%ld h=%ld act %s, weights %s", long(t), long(h), dtype_name(act), dtype_name(wd));
  auto absorb = [&] { cuda::mla_absorb_q(pa, cuda::launch_stream(kDev)); };
  dql.poison(act); dqpe.poison(act);
  absorb();
  cuda::synchronize(kDev);
  const Verdict vql = compare(dql.floats(act, want_ql.size()), want_ql, tol), vpe = compare(dqpe.floats(act, want_qpe.size()), want_qpe, tol);
  double ms = time_ms(o, absorb);
  rep.line("1 prod", std::string("absorb_q ") + what + ": q_latent", vql, tol, ms, 2.0 * t * h * kNope * kR, kPeakF32, w_uk.bytes() + q.bytes());
  rep.line("1 prod", "  q_pe", vpe, tol, -1, 0, 0, 0);
  auto output = [&] { cuda::mla_output(po, cuda::launch_stream(kDev)); };
  dout.poison(act);
  output();
  cuda::synchronize(kDev);
  const Verdict vo = compare(dout.floats(act, want_out.size()), want_out, tol);
  ms = time_ms(o, output);
  rep.line("1 prod", std::string("output ") + what, vo, tol, ms, 2.0 * t * h * kV * kR, kPeakF32, w_uv.bytes() + t * h * kR * 4.0);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv, "mla_proj: the MLA projection kernels vs their CPU twins",
                            "  1 the production kernels (cuda/mla_proj.cu)\n");
    Report rep;
    rep.emulator = o.emulator;
    const int64_t t = o.v3 ? 128 : 7, h = o.v3 ? 128 : 5;
    down_epilogue(o, rep, o.v3 ? 4096 : 37, DType::bf16, 8e-3);
    down_epilogue(o, rep, o.v3 ? 4096 : 37, DType::f32, 1e-5);
    absorb_and_output(o, rep, t, h, DType::bf16, DType::bf16, 8e-3);
    absorb_and_output(o, rep, t, h, DType::f32, DType::f32, 2e-5);
    absorb_and_output(o, rep, t, h, DType::f32, DType::bf16, 2e-5);
    return rep.finish();
  } catch (const std::exception& e) {
    std::printf("FAILED: %s\n", e.what());
    return 1;
  }
}
