// Module entry: defines the tensor handle class and exports every registered op (DSV3_OP).
#include <napi.h>

#include "native/binding/addon_data.h"
#include "native/binding/common.h"

namespace dsv3 {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
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
