// Per-environment state of the addon (worker threads get their own): constructors it needs.
#pragma once
#include <napi.h>

#include "native/binding/common.h"

namespace dsv3 {
struct AddonData {
  Napi::FunctionReference tensor_ctor;
  Napi::FunctionReference error_ctors[kNumErrKinds];
  static AddonData* get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};
}  // namespace dsv3
