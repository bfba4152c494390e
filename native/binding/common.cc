// Implementation of native/binding/common.h: the tensor handle, typed errors, validation, options.
#include "native/binding/common.h"

#include <chrono>
#include <cmath>

#include "native/binding/addon_data.h"
#include "native/fault.h"
#ifdef DSV3_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace dsv3 {

// ---------------------------------------------------------------- the op being called
// What the op called now on this (the JS) thread reads and writes, so its queued tasks can carry errors
// from their inputs to their outputs (run_cpu). Filled by tensor_arg, output, new_tensor, mark_output;
// reset by the trampoline around every op call.
namespace {
struct OpTrace {
  std::vector<std::shared_ptr<Storage>> in, out;
  // Shared by the op's tasks: a later task skips after an earlier one failed, in the same graph replay (a failure
  // does not carry over to the next replay of a CPU graph: each replay is a fresh run of the recorded ops).
  struct Failure { std::exception_ptr error; uint64_t replay = 0; };
  std::shared_ptr<Failure> failed;
  const char* op = "?";  // the JS name of the op being called (the CPU op profile's key)
  bool record_inputs = true;
  void reset() { in.clear(); out.clear(); failed = std::make_shared<Failure>(); record_inputs = true; }
};
thread_local OpTrace g_trace;
void add_unique(std::vector<std::shared_ptr<Storage>>& v, const std::shared_ptr<Storage>& s) {
  if (!s) return;
  for (auto& x : v) if (x == s) return;
  v.push_back(s);
}
}  // namespace

void mark_output(const TensorRef& t) { add_unique(g_trace.out, t.storage); }

// ---------------------------------------------------------------- errors
Napi::Error make_error(Napi::Env env, ErrKind kind, const std::string& msg) {
  AddonData* d = AddonData::get(env);
  auto& ctor = d->error_ctors[static_cast<int>(kind)];
  if (!ctor.IsEmpty()) {
    Napi::Object e = ctor.New({Napi::String::New(env, msg)});
    return Napi::Error(env, e);
  }
  return Napi::Error::New(env, msg);
}

ErrKind error_kind(const std::exception_ptr& e) {
  try { std::rethrow_exception(e); }
  catch (const JsError& x) { return x.kind; }
  catch (const CudaError&) { return ErrKind::Cuda; }
  catch (const OomError&) { return ErrKind::OutOfMemory; }
  catch (const IoFault&) { return ErrKind::Io; }
  catch (const std::bad_alloc&) { return ErrKind::OutOfMemory; }
  catch (...) { return ErrKind::Argument; }
}

void OpCtx::fail(ErrKind k, const std::string& arg, const std::string& msg) const {
  std::string m = std::string(op) + ": ";
  if (!arg.empty()) m += "argument '" + arg + "' ";
  throw JsError(k, m + msg);
}

std::string dtype_list(std::initializer_list<DType> ds) {
  std::string r;
  size_t i = 0;
  for (DType d : ds) { r += (i == 0 ? "" : (i + 1 == ds.size() ? " or " : ", ")); r += dtype_name(d); ++i; }
  return r;
}

// ---------------------------------------------------------------- TensorObject
Napi::Function TensorObject::define(Napi::Env env) {
  return DefineClass(env, "NativeTensor", {
    InstanceMethod<&TensorObject::dispose>("dispose"),
    InstanceAccessor<&TensorObject::get_dtype>("dtype"),
    InstanceAccessor<&TensorObject::get_shape>("shape"),
    InstanceAccessor<&TensorObject::get_device>("device"),
    InstanceAccessor<&TensorObject::get_disposed>("disposed"),
  });
}

TensorObject::TensorObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorObject>(info), env_(info.Env()) {}
TensorObject::~TensorObject() { release(); }

void TensorObject::release() {
  if (reported_ && env_) {
    int64_t adjusted;
    napi_adjust_external_memory(env_, -reported_, &adjusted);
    reported_ = 0;
  }
  ref.storage.reset();  // queued work that reads it keeps its own reference
}

Napi::Object TensorObject::wrap(Napi::Env env, TensorRef ref, bool report_memory) {
  Napi::Object o = AddonData::get(env)->tensor_ctor.New({});
  TensorObject* t = Unwrap(o);
  if (report_memory && ref.storage && ref.storage->device.type == DeviceType::cpu && ref.storage->bytes) {
    t->reported_ = static_cast<int64_t>(ref.storage->bytes);
    Napi::MemoryManagement::AdjustExternalMemory(env, t->reported_);
  }
  t->ref = std::move(ref);
  return o;
}

bool TensorObject::is(Napi::Value v) {
  if (!v.IsObject()) return false;
  AddonData* d = AddonData::get(v.Env());
  bool r = false;
  napi_instanceof(v.Env(), v, d->tensor_ctor.Value(), &r);
  return r;
}

Napi::Value TensorObject::dispose(const Napi::CallbackInfo& info) {
  if (!disposed) { disposed = true; release(); }
  return info.Env().Undefined();
}
Napi::Value TensorObject::get_dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtype_name(ref.dtype));
}
Napi::Value TensorObject::get_shape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), ref.shape.size());
  for (size_t i = 0; i < ref.shape.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(ref.shape[i])));
  return a;
}
Napi::Value TensorObject::get_device(const Napi::CallbackInfo& info) {
  if (!ref.storage) return info.Env().Null();
  return Napi::String::New(info.Env(), ref.storage->device.type == DeviceType::cpu ? "cpu" : "cuda");
}
Napi::Value TensorObject::get_disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), disposed);
}

// ---------------------------------------------------------------- validation
static std::string describe(Napi::Value v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsArray()) return "array";
  if (v.IsTypedArray()) return "typed array";
  if (v.IsFunction()) return "function";
  return "object";
}

TensorRef tensor_arg(const OpCtx& c, Napi::Value v, const char* name) {
  // Accept the TypeScript Tensor (which holds the native handle as `.handle`) or the handle itself.
  if (v.IsObject() && !TensorObject::is(v)) {
    Napi::Value h = v.As<Napi::Object>().Get("handle");
    if (TensorObject::is(h)) v = h;
  }
  if (!TensorObject::is(v)) c.fail(ErrKind::Argument, name, "must be a Tensor, got " + describe(v));
  TensorObject* t = TensorObject::Unwrap(v.As<Napi::Object>());
  if (t->disposed || !t->ref.storage) c.fail(ErrKind::Disposed, name, "is a disposed tensor");
  if (g_trace.record_inputs) add_unique(g_trace.in, t->ref.storage);
  return t->ref;
}

void expect_dtype(const OpCtx& c, const char* name, const TensorRef& t, std::initializer_list<DType> ok) {
  for (DType d : ok) if (t.dtype == d) return;
  c.fail(ErrKind::DType, name, std::string("must have dtype ") + dtype_list(ok) + ", got " + dtype_name(t.dtype));
}

void expect_ndim(const OpCtx& c, const char* name, const TensorRef& t, int ndim) {
  if (t.ndim() != ndim)
    c.fail(ErrKind::Shape, name, "must be " + std::to_string(ndim) + "-D, got shape " + shape_str(t.shape));
}

void expect_shape(const OpCtx& c, const char* name, const TensorRef& t, const std::vector<int64_t>& shape) {
  bool ok = t.shape.size() == shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == t.shape[i];
  if (!ok) {
    std::string e = "[";
    for (size_t i = 0; i < shape.size(); ++i) e += (i ? "," : "") + (shape[i] < 0 ? std::string("*") : std::to_string(shape[i]));
    c.fail(ErrKind::Shape, name, "must have shape " + e + "], got " + shape_str(t.shape));
  }
}

void expect_same_device(const OpCtx& c, const std::vector<std::pair<const char*, const TensorRef*>>& ts) {
  if (ts.empty()) return;
  const Device d0 = ts[0].second->device();
  for (auto& [name, t] : ts)
    if (t->device() != d0)
      c.fail(ErrKind::Device, name, "must be on " + d0.str() + " like '" + ts[0].first + "', got " + t->device().str());
}

// ---------------------------------------------------------------- options
Napi::Object options_arg(const OpCtx& c, const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return Napi::Object::New(c.env);
  if (!info[index].IsObject() || TensorObject::is(info[index]))
    c.fail(ErrKind::Argument, "options", "must be an object, got " + describe(info[index]));
  return info[index].As<Napi::Object>();
}
bool opt_has(const Napi::Object& o, const char* key) {
  if (!o.Has(key)) return false;
  Napi::Value v = o.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}
double opt_number(const OpCtx& c, const Napi::Object& o, const char* key, double dflt) {
  if (!opt_has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) c.fail(ErrKind::Argument, key, "must be a number, got " + describe(v));
  double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) c.fail(ErrKind::Argument, key, "must be a number, got NaN");
  return d;
}
int64_t opt_int(const OpCtx& c, const Napi::Object& o, const char* key, int64_t dflt) {
  if (!opt_has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsBigInt()) { bool lossless; return v.As<Napi::BigInt>().Int64Value(&lossless); }
  double d = opt_number(c, o, key, 0);
  if (d != std::floor(d) || std::fabs(d) > 9007199254740991.0)
    c.fail(ErrKind::Argument, key, "must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}
bool opt_bool(const OpCtx& c, const Napi::Object& o, const char* key, bool dflt) {
  if (!opt_has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) c.fail(ErrKind::Argument, key, "must be a boolean, got " + describe(v));
  return v.As<Napi::Boolean>().Value();
}
std::string opt_string(const OpCtx& c, const Napi::Object& o, const char* key, const std::string& dflt) {
  if (!opt_has(o, key)) return dflt;
  Napi::Value v = o.Get(key);
  if (!v.IsString()) c.fail(ErrKind::Argument, key, "must be a string, got " + describe(v));
  return v.As<Napi::String>().Utf8Value();
}
DType opt_dtype(const OpCtx& c, const Napi::Object& o, const char* key, DType dflt, std::initializer_list<DType> ok) {
  if (!opt_has(o, key)) return dflt;
  std::string s = opt_string(c, o, key, "");
  DType d;
  if (!parse_dtype(s, &d)) c.fail(ErrKind::DType, key, "must be a dtype name (" + dtype_list(ok) + "), got '" + s + "'");
  for (DType x : ok) if (x == d) return d;
  c.fail(ErrKind::DType, key, "must be " + dtype_list(ok) + ", got " + s);
}
TensorRef opt_tensor(const OpCtx& c, const Napi::Object& o, const char* key) {
  if (!opt_has(o, key)) c.fail(ErrKind::Argument, key, "is required");
  return tensor_arg(c, o.Get(key), key);
}
Device parse_device(const OpCtx& c, Napi::Value v, const char* name) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (s == "cpu") return Device{DeviceType::cpu, 0};
  if (s == "cuda") return Device{DeviceType::cuda, 0};
  if (s.rfind("cuda:", 0) == 0) {
    try { return Device{DeviceType::cuda, std::stoi(s.substr(5))}; } catch (...) {}
  }
  c.fail(ErrKind::Device, name, "must be 'cpu', 'cuda' or 'cuda:N', got " + (v.IsString() ? "'" + s + "'" : describe(v)));
}

void check_device_usable(const OpCtx& c, Device d) {
  if (d.type == DeviceType::cpu) return;
#ifdef DSV3_WITH_CUDA
  std::string reason;
  int n = cuda::device_count(&reason);
  if (n == 0) c.fail(ErrKind::Device, "device", "is cuda but no CUDA device is usable: " + reason);
  if (d.index >= n) c.fail(ErrKind::Device, "device", d.str() + " does not exist (" + std::to_string(n) + " devices)");
#else
  c.fail(ErrKind::Device, "device", "is cuda but this build of dsv3 has no CUDA backend (nvcc was not found at install)");
#endif
}

Device cuda_device_arg(const OpCtx& c, Napi::Value v) {
  const Device d = parse_device(c, v.IsUndefined() ? Napi::String::New(c.env, "cuda") : v, "device");
  if (d.type != DeviceType::cuda) c.fail(ErrKind::Device, "device", "must be a CUDA device, got " + d.str());
  check_device_usable(c, d);
  return d;
}

// ---------------------------------------------------------------- outputs and dispatch
Output new_tensor(Napi::Env env, DType dtype, const std::vector<int64_t>& shape, Device device) {
  TensorRef r;
  r.dtype = dtype;
  r.shape = shape;
  uint64_t bytes = itemsize(dtype);
  for (int64_t d : shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes) || bytes > (uint64_t{1} << 60))
      throw OomError("cannot allocate a " + std::string(dtype_name(dtype)) + " tensor of shape " + shape_str(shape) +
                     ": its size overflows");
  r.storage = Storage::allocate(device, r.nbytes());
  add_unique(g_trace.out, r.storage);
  Napi::Object js = TensorObject::wrap(env, r, true);
  return {r, js};
}

Output output(const OpCtx& c, const Napi::Object& opts, const char* key, DType dtype,
              const std::vector<int64_t>& shape, Device device) {
  if (!opt_has(opts, key)) return new_tensor(c.env, dtype, shape, device);
  Napi::Value js = opts.Get(key);
  g_trace.record_inputs = false;  // written, not read (an in-place op passes it as an input too)
  TensorRef r;
  try { r = tensor_arg(c, js, key); } catch (...) { g_trace.record_inputs = true; throw; }
  g_trace.record_inputs = true;
  add_unique(g_trace.out, r.storage);
  expect_dtype(c, key, r, {dtype});
  expect_shape(c, key, r, shape);
  if (r.device() != device) c.fail(ErrKind::Device, key, "must be on " + device.str() + ", got " + r.device().str());
  return {r, js};
}

Napi::Object outputs_arg(const OpCtx& c, const Napi::Object& opts, const char* names) {
  if (!opt_has(opts, "out")) return Napi::Object::New(c.env);
  Napi::Value ov = opts.Get("out");
  if (!ov.IsObject() || ov.IsArray() || TensorObject::is(ov) || ov.As<Napi::Object>().Has("handle"))
    c.fail(ErrKind::Argument, "out", std::string("must be an object { ") + names + " } of output tensors");
  return ov.As<Napi::Object>();
}

void run_cpu(std::function<void()> task) {
  if (!g_trace.failed) g_trace.failed = std::make_shared<OpTrace::Failure>();
  CpuStream::get().enqueue([task = std::move(task), in = g_trace.in, out = g_trace.out, failed = g_trace.failed, op = g_trace.op] {
    const uint64_t replay = CpuStream::get().replay_count();
    auto fail = [&](std::exception_ptr e) {
      *failed = {e, replay};
      for (auto& s : out) set_storage_error(*s, e);
    };
    if (failed->error && failed->replay == replay) { fail(failed->error); return; }  // an earlier task of the same op failed
    for (auto& s : in)
      if (auto e = storage_error(*s)) { fail(e); return; }  // an input is the output of a failed op
    try {
      if (cpu_profiling()) {
        const auto t0 = std::chrono::steady_clock::now();
        guard_faults(task);  // a read of a file mapping that shrank: an IoFault, not a SIGBUS
        cpu_profile_add(op, std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
      } else {
        guard_faults(task);
      }
    } catch (...) {
      if (out.empty()) throw;  // nothing to carry it: the stream keeps it for synchronize()
      fail(std::current_exception());
      return;
    }
    for (auto& s : out) set_storage_error(*s, nullptr);
  });
}

void* cuda_stream(Device d) {
#ifdef DSV3_WITH_CUDA
  return cuda::launch_stream(d.index);
#else
  throw JsError(ErrKind::Unsupported, "this build of dsv3 has no CUDA backend");
#endif
}

void no_cuda_backend(const OpCtx& c) {
  c.fail(ErrKind::Unsupported, "", "needs the CUDA backend, which this build of dsv3 does not have");
}

void no_cuda_kernel(const OpCtx& c) {
  c.fail(ErrKind::Unsupported, "", "has no CUDA kernel yet; move the inputs to the CPU with .to('cpu')");
}

void require_supported(const OpCtx& c, bool ok, const std::string& why) {
  if (!ok) c.fail(ErrKind::Unsupported, "", "the CUDA kernel does not support this call: " + why);
}

// ---------------------------------------------------------------- shared argument checks
int64_t leading_rows(const TensorRef& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.ndim(); ++i) r *= t.shape[i];
  return r;
}

void expect_min_ndim(const OpCtx& c, const char* name, const TensorRef& t, int n) {
  if (t.ndim() < n)
    c.fail(ErrKind::Shape, name, "must have at least " + std::to_string(n) + (n == 1 ? " dimension" : " dims") + ", got shape " +
                                     shape_str(t.shape));
}

void expect_same_dtype(const OpCtx& c, const char* name, const TensorRef& t, const char* ref_name, const TensorRef& ref) {
  if (t.dtype != ref.dtype)
    c.fail(ErrKind::DType, name, std::string("must have the dtype of '") + ref_name + "' (" + dtype_name(ref.dtype) + "), got " +
                                     dtype_name(t.dtype));
}

double required_finite(const OpCtx& c, const Napi::Object& o, const char* key) {
  if (!opt_has(o, key)) c.fail(ErrKind::Argument, key, "is required");
  const double v = opt_number(c, o, key, 0);
  if (!std::isfinite(v)) c.fail(ErrKind::Argument, key, "must be finite, got " + std::to_string(v));
  return v;
}

float eps_opt(const OpCtx& c, const Napi::Object& o, double dflt) {
  const double eps = opt_number(c, o, "eps", dflt);
  if (!(eps >= 0) || !std::isfinite(eps))
    c.fail(ErrKind::Argument, "eps", "must be a finite number >= 0, got " + Napi::Number::New(c.env, eps).ToString().Utf8Value());
  return static_cast<float>(eps);
}

bool is_tensor_like(Napi::Value v) {
  if (TensorObject::is(v)) return true;
  return v.IsObject() && TensorObject::is(v.As<Napi::Object>().Get("handle"));
}

// ---------------------------------------------------------------- registration
namespace {
std::vector<std::pair<const char*, OpFn>>& registry() {
  static std::vector<std::pair<const char*, OpFn>> r;
  return r;
}
Napi::Value trampoline(const Napi::CallbackInfo& info) {
  const auto* entry = static_cast<const std::pair<const char*, OpFn>*>(info.Data());
  OpFn fn = entry->second;
  Napi::Env env = info.Env();
  // An op called from inside another (a getter of an options object calling an op) keeps its own trace.
  struct Scope {
    OpTrace outer;
    explicit Scope(const char* op) : outer(std::move(g_trace)) { g_trace.reset(); g_trace.op = op; }
    ~Scope() { g_trace = std::move(outer); }
  } scope(entry->first);
  try {
    return fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const JsError& e) {
    throw make_error(env, e.kind, e.what());
  } catch (const OomError& e) {
    throw make_error(env, ErrKind::OutOfMemory, e.what());
  } catch (const CudaError& e) {
    throw make_error(env, ErrKind::Cuda, e.what());
  } catch (const IoFault& e) {
    throw make_error(env, ErrKind::Io, e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, ErrKind::OutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}
}  // namespace

OpRegistrar::OpRegistrar(const char* name, OpFn fn) { registry().emplace_back(name, fn); }

void export_ops(Napi::Env env, Napi::Object exports) {
  for (auto& entry : registry())  // the registry is complete (static initialisation): its entries stay put
    exports.Set(entry.first, Napi::Function::New(env, trampoline, entry.first, const_cast<void*>(static_cast<const void*>(&entry))));
}

}  // namespace dsv3
