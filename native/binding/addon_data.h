// Per-environment state of the addon (worker threads get their own): constructors it needs, and what settles CPU reads.
#pragma once
#include <napi.h>

#include <memory>

#include "native/binding/common.h"

namespace dsv3 {
struct CpuReads;  // native/binding/tensor.cc: what settles CPU reads on the JS thread

struct AddonData {
  Napi::FunctionReference tensor_ctor;
  Napi::FunctionReference error_ctors[kNumErrKinds];
  std::unique_ptr<CpuReads, void (*)(CpuReads*)> cpu_reads{nullptr, nullptr};
  static AddonData* get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};
}  // namespace dsv3
