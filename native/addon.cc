// Module entry: defines the tensor handle class and exports every registered op (DSV3_OP).
#include <napi.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "native/binding/addon_data.h"
#include "native/binding/common.h"
#include "native/cpu/parallel.h"

namespace dsv3 {

namespace {
// Threads in the order that keeps the process alive under a thread limit (issue 18): libuv's pool first
// (node aborts when it cannot start it, and reads need it), then the CPU stream, then the CPU thread pool,
// which runs with the threads it could get.
class Noop : public Napi::AsyncWorker {
 public:
  explicit Noop(Napi::Env env) : Napi::AsyncWorker(env) {}
  void Execute() override {}
};
// Kernels' temporaries (pool threads' vectors) of 1 MiB or more are mmapped by glibc and given back when
// freed: a fixed threshold, since glibc's adaptive one rises to 32 MiB after the first free and then
// keeps freed blocks in per-thread arenas (issue 18: RSS stayed at 1.7-1.9 GiB after bursts).
void fix_malloc() {
#ifdef __GLIBC__
  static bool done = false;
  if (!done) { mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHostMapBytes)); done = true; }
#endif
}

void start_threads(Napi::Env env) {
  (new Noop(env))->Queue();
  try { CpuStream::get(); } catch (const std::exception&) {}  // each op reports it (and tries again)
  cpu::num_threads();
}
}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fix_malloc();
  start_threads(env);
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function tensor = TensorObject::define(env);
  data->tensor_ctor = Napi::Persistent(tensor);
  exports.Set("NativeTensor", tensor);
  export_ops(env, exports);
#ifdef DSV3_WITH_CUDA
  exports.Set("cudaCompiled", true);
#else
  exports.Set("cudaCompiled", false);
#endif
  return exports;
}

}  // namespace dsv3

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return dsv3::Init(env, exports); }
NODE_API_MODULE(dsv3, InitAddon)
