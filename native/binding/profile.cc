// Bindings for benchmarking: the CPU op profile (wall time per op of the tasks the CPU stream runs), and on
// CUDA: events on a device's stream (GPU time between two points of the stream), a spin kernel that lets the
// host queue work ahead, and the FP8 tensor-core ceiling kernel (these throw Unsupported without CUDA).
// Used by bench/ through lib/profile.ts.
#include "native/binding/common.h"
#include "native/stream.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/gemm.h"
#include "cuda/runtime.h"
#endif

namespace dsv3 {

// cpuProfile(on: boolean) -> undefined (on: clears and starts) | [{ op, tasks, ms }] (off: waits for the CPU
// stream, stops, returns the wall time each op's tasks took on the stream thread since it was turned on).
DSV3_OP(cpuProfile) {
  OpCtx c{info.Env(), "cpuProfile"};
  if (!info[0].IsBoolean()) c.fail(ErrKind::Argument, "on", "must be a boolean");
  if (info[0].As<Napi::Boolean>().Value()) {
    cpu_profile_enable(true);
    return info.Env().Undefined();
  }
  if (CpuStream::get().capturing()) c.fail(ErrKind::Argument, "", "cannot wait for the CPU stream while a CPU graph is being captured");
  CpuStream::get().wait();
  cpu_profile_enable(false);
  Napi::Array out = Napi::Array::New(c.env);
  for (const auto& e : cpu_profile_entries()) {
    Napi::Object o = Napi::Object::New(c.env);
    o.Set("op", e.op);
    o.Set("tasks", static_cast<double>(e.tasks));
    o.Set("ms", e.ns / 1e6);
    out.Set(out.Length(), o);
  }
  return out;
}

// cudaEventRecord(device?) -> an opaque event recorded now on the device's stream.
DSV3_OP(cudaEventRecord) {
  OpCtx c{info.Env(), "cudaEventRecord"};
  [[maybe_unused]] const Device d = cuda_device_arg(c, info[0]);
#ifdef DSV3_WITH_CUDA
  void* ev = cuda::event_record(d.index);
  return Napi::External<void>::New(info.Env(), ev, [](Napi::Env, void* e) { cuda::event_destroy(e); });
#else
  (void)d;
  no_cuda_backend(c);
#endif
}

// cudaEventElapsed(start, end) -> milliseconds of GPU time between them (waits for end).
DSV3_OP(cudaEventElapsed) {
  OpCtx c{info.Env(), "cudaEventElapsed"};
  if (!info[0].IsExternal() || !info[1].IsExternal())
    c.fail(ErrKind::Argument, "start", "and 'end' must be events from cudaEventRecord");
#ifdef DSV3_WITH_CUDA
  const float ms = cuda::event_elapsed_ms(info[0].As<Napi::External<void>>().Data(), info[1].As<Napi::External<void>>().Data());
  return Napi::Number::New(info.Env(), ms);
#else
  no_cuda_backend(c);
#endif
}

// cudaSpin(device, microseconds): keeps the device's stream busy so queued work runs back to back.
DSV3_OP(cudaSpin) {
  OpCtx c{info.Env(), "cudaSpin"};
  [[maybe_unused]] const Device d = cuda_device_arg(c, info[0]);
  const double us = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
  if (!(us >= 0 && us <= 10e6)) c.fail(ErrKind::Argument, "microseconds", "must be a number in [0, 1e7]");
  DSV3_IF_CUDA(c, cuda::spin(d.index, us));
  return info.Env().Undefined();
}

// fp8MmaPeak(device, ctas, iters): the FP8 wgmma ceiling kernel (cuda/gemm.h); time it with events.
DSV3_OP(fp8MmaPeak) {
  OpCtx c{info.Env(), "fp8MmaPeak"};
  [[maybe_unused]] const Device d = cuda_device_arg(c, info[0]);
  const int64_t ctas = info[1].IsNumber() ? info[1].As<Napi::Number>().Int64Value() : 0;
  const int64_t iters = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  if (ctas < 1 || ctas > 65535 || iters < 1 || iters > (1 << 24))
    c.fail(ErrKind::Argument, "ctas", "and 'iters' must be integers in [1, 65535] and [1, 2^24]");
  DSV3_IF_CUDA(c, cuda::fp8_mma_peak(d.index, static_cast<int>(ctas), static_cast<int>(iters), cuda_stream(d)));
  return info.Env().Undefined();
}

}  // namespace dsv3
