// Helpers every op binding uses: the native tensor handle (TensorObject), typed JS errors, argument
// validation with readable messages, option parsing, output allocation, and op registration.
// Message format: "<op>: argument '<arg>' <what was expected>, got <what was given>".
#pragma once
#include <napi.h>

#include <functional>
#include <initializer_list>
#include <stdexcept>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "native/ops.h"
#include "native/storage.h"
#include "native/stream.h"

namespace dsv3 {

// Kinds of JS error; the TypeScript layer registers one class per kind (lib/errors.ts).
enum class ErrKind : int { DType = 0, Shape, Device, Disposed, Argument, Cuda, OutOfMemory, Unsupported, Io };
constexpr int kNumErrKinds = 9;

// Thrown by bindings and backends; converted to the registered JS class by the op wrapper.
struct JsError : std::runtime_error {
  ErrKind kind;
  JsError(ErrKind k, const std::string& m) : std::runtime_error(m), kind(k) {}
};
Napi::Error make_error(Napi::Env env, ErrKind kind, const std::string& msg);
// The JS error kind of a C++ exception (JsError's own kind, CudaError, OomError; else Argument).
ErrKind error_kind(const std::exception_ptr& e);

// The JS-visible handle of a tensor: metadata plus a reference to its storage.
class TensorObject : public Napi::ObjectWrap<TensorObject> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object wrap(Napi::Env env, TensorRef ref, bool report_memory);
  static bool is(Napi::Value v);
  explicit TensorObject(const Napi::CallbackInfo& info);
  ~TensorObject() override;

  TensorRef ref;
  bool disposed = false;

 private:
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value get_dtype(const Napi::CallbackInfo& info);
  Napi::Value get_shape(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  void release();
  int64_t reported_ = 0;
  napi_env env_ = nullptr;
};

// ---- validation ----
struct OpCtx {
  Napi::Env env;
  const char* op;
  [[noreturn]] void fail(ErrKind k, const std::string& arg, const std::string& msg) const;
};
std::string dtype_list(std::initializer_list<DType> ds);

TensorRef tensor_arg(const OpCtx& c, Napi::Value v, const char* name);
void expect_dtype(const OpCtx& c, const char* name, const TensorRef& t, std::initializer_list<DType> ok);
void expect_ndim(const OpCtx& c, const char* name, const TensorRef& t, int ndim);
// Expected dims; -1 matches any size.
void expect_shape(const OpCtx& c, const char* name, const TensorRef& t, const std::vector<int64_t>& shape);
void expect_same_device(const OpCtx& c, const std::vector<std::pair<const char*, const TensorRef*>>& ts);

// ---- options (an optional plain object argument) ----
Napi::Object options_arg(const OpCtx& c, const Napi::CallbackInfo& info, size_t index);
double opt_number(const OpCtx& c, const Napi::Object& o, const char* key, double dflt);
int64_t opt_int(const OpCtx& c, const Napi::Object& o, const char* key, int64_t dflt);
bool opt_bool(const OpCtx& c, const Napi::Object& o, const char* key, bool dflt);
std::string opt_string(const OpCtx& c, const Napi::Object& o, const char* key, const std::string& dflt);
DType opt_dtype(const OpCtx& c, const Napi::Object& o, const char* key, DType dflt, std::initializer_list<DType> ok);
bool opt_has(const Napi::Object& o, const char* key);
TensorRef opt_tensor(const OpCtx& c, const Napi::Object& o, const char* key);  // throws if absent
Device parse_device(const OpCtx& c, Napi::Value v, const char* name);
// A DeviceError unless d is the CPU or a CUDA device this process can use (with the reason when not).
void check_device_usable(const OpCtx& c, Device d);
// The `device` argument of a CUDA-only call (default 'cuda'): parsed, a CUDA device, usable.
Device cuda_device_arg(const OpCtx& c, Napi::Value v);

// ---- outputs ----
// A fresh output tensor, or the tensor given as options[key] (checked for dtype, shape, device).
struct Output { TensorRef ref; Napi::Value js; };
Output output(const OpCtx& c, const Napi::Object& opts, const char* key, DType dtype,
              const std::vector<int64_t>& shape, Device device);
// Multi-output ops take their optional outputs as options.out = { <name>: Tensor, ... } (the same
// keys as the result object); this returns that object, or an empty one.
Napi::Object outputs_arg(const OpCtx& c, const Napi::Object& opts, const char* names);
Output new_tensor(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, Device device);

// Run the backend: on the CPU stream (tensors kept alive by the captured refs) or, for CUDA, now.
// CUDA ops that have no kernel yet throw an Unsupported error naming the op.
// The task belongs to the op being called: if one of the op's input tensors (tensor_arg) carries the
// error of a failed op, the task does not run and the op's outputs (output / new_tensor / mark_output)
// get that error; if the task throws, its error goes to the op's outputs, not to the next reader.
void run_cpu(std::function<void()> task);
// Declares a tensor the op writes in place (an input it modifies, e.g. a KV cache): it gets the op's error.
void mark_output(const TensorRef& t);
[[noreturn]] void no_cuda_kernel(const OpCtx& c);
// CUDA dispatch: the stream (a cudaStream_t) of device d, made current; launchers in cuda/<op>.h are
// called with it, inside DSV3_IF_CUDA(...) so that CPU-only builds compile (there, tensors on cuda
// cannot exist, and the branch throws Unsupported).
void* cuda_stream(Device d);
[[noreturn]] void no_cuda_backend(const OpCtx& c);
#ifdef DSV3_WITH_CUDA
#define DSV3_IF_CUDA(c, ...) __VA_ARGS__
#else
#define DSV3_IF_CUDA(c, ...) ::dsv3::no_cuda_backend(c)
#endif

// ---- one path per op: params built once, then launch ----
// Runs an op on the device of its tensors. CUDA: cuda_fn(params, stream) now, on the device's stream
// (device memory is freed stream-ordered, so nothing needs keeping alive). CPU: cpu_fn(params) queued on
// the CPU stream; `keep` holds every tensor the params point into until the task has run. Write cuda_fn
// as DSV3_CUDA(cuda::<op>) or DSV3_CUDA([&](const P& p, void* stream) { ... }): in CPU-only builds it is
// nullptr (tensors on cuda cannot exist there; the branch throws Unsupported).
template <class P, class CpuFn, class CudaFn>
void launch(const OpCtx& c, Device dev, const P& params, std::initializer_list<TensorRef> keep, CpuFn cpu_fn, CudaFn cuda_fn) {
  if (dev.type == DeviceType::cuda) {
    if constexpr (std::is_null_pointer_v<CudaFn>) no_cuda_backend(c);
    else cuda_fn(params, cuda_stream(dev));
    return;
  }
  std::vector<std::shared_ptr<Storage>> alive;
  for (const TensorRef& t : keep) alive.push_back(t.storage);
  run_cpu([params, alive = std::move(alive), cpu_fn] { cpu_fn(params); });
}
#ifdef DSV3_WITH_CUDA
#define DSV3_CUDA(...) __VA_ARGS__
#else
#define DSV3_CUDA(...) nullptr
#endif
// A CUDA kernel's limits: an UnsupportedError "<op>: the CUDA kernel does not support this call: <why>"
// unless `ok` (the kernel's supports(params, &why), declared next to it in cuda/<op>.h).
void require_supported(const OpCtx& c, bool ok, const std::string& why);

// ---- shared argument checks ----
// Rows of a [..., n] tensor: the product of every dim but the last (1 for a 0-D tensor, 0 when a dim is 0).
int64_t leading_rows(const TensorRef& t);
void expect_min_ndim(const OpCtx& c, const char* name, const TensorRef& t, int n);
// t's dtype is ref's (named ref_name in the message).
void expect_same_dtype(const OpCtx& c, const char* name, const TensorRef& t, const char* ref_name, const TensorRef& ref);
// A required finite number option (softmaxScale, ...).
double required_finite(const OpCtx& c, const Napi::Object& o, const char* key);
// The optional `eps` option: finite and >= 0.
float eps_opt(const OpCtx& c, const Napi::Object& o, double dflt);
// A Tensor, or the TypeScript Tensor holding one as `.handle` (as opposed to an FP8 operand {data, scale}).
bool is_tensor_like(Napi::Value v);

// ---- registration: DSV3_OP(jsName) { ... } defines and exports one function ----
using OpFn = Napi::Value (*)(const Napi::CallbackInfo&);
struct OpRegistrar { OpRegistrar(const char* name, OpFn fn); };
void export_ops(Napi::Env env, Napi::Object exports);

}  // namespace dsv3

#define DSV3_OP(name)                                                     \
  static Napi::Value op_##name(const Napi::CallbackInfo& info);           \
  static ::dsv3::OpRegistrar registrar_##name(#name, op_##name);          \
  static Napi::Value op_##name(const Napi::CallbackInfo& info)
