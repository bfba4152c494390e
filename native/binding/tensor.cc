// Bindings for tensor creation, copies between devices, reading data back, views, casts, and the
// backend report. Reading data (readBytes / readFloat32 / synchronize) returns a Promise settled
// once the device's queued work is done: ops return at once, reading waits.
#include <cstring>
#include <memory>

#include "native/binding/addon_data.h"
#include "native/binding/common.h"
#include "native/cpu/parallel.h"
#include "native/fault.h"

#ifdef DSV3_WITH_CUDA
#include "cuda/elementwise.h"
#include "cuda/runtime.h"
#endif

namespace dsv3 {
namespace {

std::vector<int64_t> shape_arg(const OpCtx& c, Napi::Value v, const char* name) {
  if (!v.IsArray()) c.fail(ErrKind::Shape, name, "must be an array of non-negative integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> s(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0) || x != static_cast<double>(static_cast<int64_t>(x)))
      c.fail(ErrKind::Shape, name, "must be an array of non-negative integers, got element " + std::to_string(i) + " = " + d.ToString().Utf8Value());
    s[i] = static_cast<int64_t>(x);
  }
  return s;
}

DType dtype_arg(const OpCtx& c, Napi::Value v, const char* name) {
  DType d;
  if (!v.IsString() || !parse_dtype(v.As<Napi::String>().Utf8Value(), &d))
    c.fail(ErrKind::DType, name, "must be one of f32, f16, bf16, f8_e4m3, i32, i64, u8, got " + v.ToString().Utf8Value());
  return d;
}

// The (dtype, shape, device) triple every creation op starts with; the device must be usable.
struct Creation { DType dtype; std::vector<int64_t> shape; Device device; };
Creation creation_args(const OpCtx& c, const Napi::CallbackInfo& info) {
  Creation r{dtype_arg(c, info[0], "dtype"), shape_arg(c, info[1], "shape"), parse_device(c, info[2], "device")};
  check_device_usable(c, r.device);
  return r;
}

// Copy `bytes` from src (device ds) to dst (device dd), ordered after the work queued on both.
void copy_between(const TensorRef& src, const TensorRef& dst) {
  const Device ds = src.device(), dd = dst.device();
  const size_t n = src.nbytes();
  mark_output(dst);
  if (ds.type == DeviceType::cpu && dd.type == DeviceType::cpu) {
    run_cpu([src, dst, n] { std::memcpy(dst.data(), src.data(), n); });
    return;
  }
  if (CpuStream::get().capturing())
    throw JsError(ErrKind::Argument, "copy: a copy between the CPU and a CUDA device waits for the CPU stream, which is recording a CPU graph");
#ifdef DSV3_WITH_CUDA
  if (ds.type == DeviceType::cpu) {          // host -> device: the host data must be final
    CpuStream::get().wait();
    if (auto e = storage_error(*src.storage)) std::rethrow_exception(e);  // src was written by a failed op
    if (src.storage->file_backed) {  // a file mapping: read it where a SIGBUS can be caught, never inside the driver
      std::vector<char> staging(n);
      guard_faults([&] { std::memcpy(staging.data(), src.data(), n); });
      cuda::copy_h2d(dd.index, dst.data(), staging.data(), n);  // returns when staging may be freed
    } else {
      cuda::copy_h2d(dd.index, dst.data(), src.data(), n);
    }
  } else if (dd.type == DeviceType::cpu) {   // device -> host
    CpuStream::get().wait();                  // dst is fresh, but keep host-side order simple
    cuda::copy_d2h(ds.index, dst.data(), src.data(), n);
  } else if (ds == dd) {
    cuda::copy_d2d(ds.index, dst.data(), src.data(), n);
  } else {
    cuda::synchronize(ds.index);
    std::vector<char> tmp(n);
    cuda::copy_d2h(ds.index, tmp.data(), src.data(), n);
    cuda::copy_h2d(dd.index, dst.data(), tmp.data(), n);
  }
#else
  throw JsError(ErrKind::Device, "copy: this build of dsv3 has no CUDA backend");
#endif
}

// A read of a CUDA tensor: waits for the CPU stream and the device, then copies (or converts to f32) into a JS
// ArrayBuffer (CPU tensors: read_cpu below).
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, TensorRef t, bool as_f32)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), t_(std::move(t)), f32_(as_f32) {
    const size_t bytes = f32_ ? static_cast<size_t>(t_.numel()) * 4 : t_.nbytes();
    buf_ = Napi::Persistent(Napi::ArrayBuffer::New(env, bytes));
    dst_ = buf_.Value().Data();
  }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      const Device d = t_.device();
      std::vector<char> staging;
      const void* src = t_.data();
      // Only this tensor's own error: the failed op that wrote it, never another op's (issue 18).
      CpuStream::get().wait();
      if (auto e = storage_error(*t_.storage)) std::rethrow_exception(e);
      if (d.type == DeviceType::cuda) {
#ifdef DSV3_WITH_CUDA
        staging.resize(t_.nbytes());
        cuda::copy_d2h(d.index, staging.data(), t_.data(), t_.nbytes());
        src = staging.data();
#endif
      }
      guard_faults([&] {  // a file mapping that shrank: an IoError, not a SIGBUS
        if (f32_) to_f32(src, t_.dtype, static_cast<float*>(dst_), static_cast<size_t>(t_.numel()));
        else std::memcpy(dst_, src, t_.nbytes());
      });
    } catch (const std::exception& e) {
      kind_ = error_kind(std::current_exception());
      SetError(e.what());
    }
  }
  void OnOK() override {
    Napi::ArrayBuffer b = buf_.Value();
    if (f32_) deferred_.Resolve(Napi::Float32Array::New(Env(), static_cast<size_t>(t_.numel()), b, 0));
    else deferred_.Resolve(b);
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), kind_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  TensorRef t_;
  bool f32_;
  Napi::Reference<Napi::ArrayBuffer> buf_;
  void* dst_ = nullptr;
  ErrKind kind_ = ErrKind::Argument;
};

}  // namespace

// A read of a CPU tensor: one task in CPU stream order, so it sees the work queued before the call and none
// queued after it (a step queued ahead cannot overwrite what an earlier read returns), settling its promise
// through a thread-safe function: one hand-off to the JS thread, instead of the ReadWorker's libuv pool thread
// waiting for the whole stream to go idle.
struct CpuRead {
  TensorRef t;
  bool f32;
  Napi::Promise::Deferred deferred;
  Napi::Reference<Napi::ArrayBuffer> buf;
  void* dst;
  std::exception_ptr error;
};
void settle_cpu_read(Napi::Env env, Napi::Function, void*, CpuRead* r);
static void settle(Napi::Env env, CpuRead* r);
using CpuReadTsfn = Napi::TypedThreadSafeFunction<void, CpuRead, settle_cpu_read>;

// One thread-safe function per environment settles every CPU read: a read costs one hand-off to the JS thread,
// not the set-up and teardown of its own libuv handle. Referenced while reads are pending, so that a pending
// read keeps the event loop alive and an idle addon does not; Node closes it with the environment, after the
// cleanup hook below has let the CPU stream finish (a read still queued then writes into a live buffer and
// hands off to an open function; its promise is never settled).
struct CpuReads {
  CpuReadTsfn fn;
  size_t pending = 0;  // touched on the JS thread only
};

static CpuReads& cpu_reads(Napi::Env env) {
  AddonData* d = AddonData::get(env);
  if (!d->cpu_reads) {
    d->cpu_reads = std::unique_ptr<CpuReads, void (*)(CpuReads*)>(new CpuReads{CpuReadTsfn::New(env, "dsv3.read", 0, 1), 0},
                                                                    [](CpuReads* r) { delete r; });
    d->cpu_reads->fn.Unref(env);
    // Added after the function, so it runs before the function is closed (cleanup hooks run in reverse order).
    napi_add_env_cleanup_hook(env, [](void*) { CpuStream::get().wait(); }, nullptr);
  }
  return *d->cpu_reads;
}

void settle_cpu_read(Napi::Env env, Napi::Function, void*, CpuRead* r) {
  std::unique_ptr<CpuRead> own(r);
  if (env == nullptr) return;  // the environment is going away: nobody waits for the promise
  CpuReads& reads = cpu_reads(env);
  if (--reads.pending == 0) reads.fn.Unref(env);
  try {
    settle(env, r);
  } catch (const Napi::Error&) {
    // A worker being terminated runs its last hand-offs without JS: nobody can see the promise, and an
    // exception must not leave this callback (it would abort the process).
  }
}

static void settle(Napi::Env env, CpuRead* r) {
  if (r->error) {
    std::string msg = "read failed";
    try { std::rethrow_exception(r->error); } catch (const std::exception& e) { msg = e.what(); } catch (...) {}
    r->deferred.Reject(make_error(env, error_kind(r->error), msg).Value());
  } else if (r->f32) {
    r->deferred.Resolve(Napi::Float32Array::New(env, static_cast<size_t>(r->t.numel()), r->buf.Value(), 0));
  } else {
    r->deferred.Resolve(r->buf.Value());
  }
}

static Napi::Promise read_cpu(Napi::Env env, TensorRef t, bool as_f32) {
  const size_t bytes = as_f32 ? static_cast<size_t>(t.numel()) * 4 : t.nbytes();
  auto* r = new CpuRead{std::move(t), as_f32, Napi::Promise::Deferred::New(env), {}, nullptr, nullptr};
  Napi::ArrayBuffer b = Napi::ArrayBuffer::New(env, bytes);
  r->dst = b.Data();
  r->buf = Napi::Persistent(b);
  Napi::Promise p = r->deferred.Promise();
  CpuReads& reads = cpu_reads(env);
  if (reads.pending++ == 0) reads.fn.Ref(env);  // the event loop stays alive until the read settles
  CpuReadTsfn fn = reads.fn;
  CpuStream::get().enqueue([r, fn]() mutable {
    try {
      // Only this tensor's own error: the failed op that wrote it, never another op's (issue 18).
      if (auto e = storage_error(*r->t.storage)) std::rethrow_exception(e);
      guard_faults([&] {  // a file mapping that shrank: an IoError, not a SIGBUS
        if (r->f32) to_f32(r->t.data(), r->t.dtype, static_cast<float*>(r->dst), static_cast<size_t>(r->t.numel()));
        else std::memcpy(r->dst, r->t.data(), r->t.nbytes());
      });
    } catch (...) {
      r->error = std::current_exception();
    }
    fn.BlockingCall(r);
  });
  return p;
}

namespace {

class SyncWorker : public Napi::AsyncWorker {
 public:
  SyncWorker(Napi::Env env, Device d) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), d_(d) {}
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      synchronize_device(Device{DeviceType::cpu, 0});
      if (d_.type == DeviceType::cuda) synchronize_device(d_);
    } catch (const std::exception& e) {
      kind_ = error_kind(std::current_exception());
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), kind_, e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Device d_;
  ErrKind kind_ = ErrKind::Argument;
};

}  // namespace

// empty(dtype, shape, device): uninitialised memory.
DSV3_OP(empty) {
  OpCtx c{info.Env(), "empty"};
  auto [dt, shape, d] = creation_args(c, info);
  return new_tensor(c.env, dt, shape, d).js;
}

// fromBytes(dtype, shape, device, bytes: Uint8Array): copies the bytes.
DSV3_OP(fromBytes) {
  OpCtx c{info.Env(), "fromBytes"};
  auto [dt, shape, d] = creation_args(c, info);
  if (!info[3].IsTypedArray()) c.fail(ErrKind::Argument, "data", "must be a typed array");
  Napi::TypedArray ta = info[3].As<Napi::TypedArray>();
  const char* src = static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  Output o = new_tensor(c.env, dt, shape, d);
  if (ta.ByteLength() != o.ref.nbytes())
    c.fail(ErrKind::Shape, "data", "must hold " + std::to_string(o.ref.nbytes()) + " bytes for " + dtype_name(dt) +
           " " + shape_str(shape) + ", got " + std::to_string(ta.ByteLength()));
  if (d.type == DeviceType::cpu) {
    std::memcpy(o.ref.data(), src, o.ref.nbytes());  // fresh storage: no queued work touches it
  } else {
#ifdef DSV3_WITH_CUDA
    cuda::copy_h2d(d.index, o.ref.data(), src, o.ref.nbytes());
#endif
  }
  return o.js;
}

// full(dtype, shape, device, value): every element set to value (rounded to the dtype).
DSV3_OP(full) {
  OpCtx c{info.Env(), "full"};
  auto [dt, shape, d] = creation_args(c, info);
  if (!info[3].IsNumber()) c.fail(ErrKind::Argument, "value", "must be a number");
  const double v = info[3].As<Napi::Number>().DoubleValue();
  Output o = new_tensor(c.env, dt, shape, d);
  uint64_t pattern = 0;
  if (dt == DType::i64) { int64_t x = static_cast<int64_t>(v); std::memcpy(&pattern, &x, 8); }
  else if (dt == DType::i32) { int32_t x = static_cast<int32_t>(v); std::memcpy(&pattern, &x, 4); }
  else store_f32(&pattern, dt, 0, static_cast<float>(v));
  const size_t n = static_cast<size_t>(o.ref.numel()), es = itemsize(dt);
  if (d.type == DeviceType::cpu) {
    TensorRef r = o.ref;
    run_cpu([r, pattern, n, es] {
      char* p = r.data<char>();
      for (size_t i = 0; i < n; ++i) std::memcpy(p + i * es, &pattern, es);
    });
  } else {
#ifdef DSV3_WITH_CUDA
    cuda::fill(d.index, o.ref.data(), pattern, es, n);
#endif
  }
  return o.js;
}

// random(dtype, shape, device, {seed, normal, a, b}): element i depends only on (seed, i).
DSV3_OP(random) {
  OpCtx c{info.Env(), "random"};
  auto [dt, shape, d] = creation_args(c, info);
  Napi::Object o = options_arg(c, info, 3);
  if (dt == DType::i32 || dt == DType::i64 || dt == DType::u8)
    c.fail(ErrKind::DType, "dtype", "must be a floating dtype (f32, f16, bf16, f8_e4m3), got " + std::string(dtype_name(dt)));
  RandomParams p{};
  p.out_dtype = dt;
  p.seed = static_cast<uint64_t>(opt_int(c, o, "seed", 0));
  p.normal = opt_bool(c, o, "normal", true);
  p.a = opt_number(c, o, "a", 0.0);
  p.b = opt_number(c, o, "b", 1.0);
  Output out = new_tensor(c.env, dt, shape, d);
  p.n = out.ref.numel();
  if (d.type == DeviceType::cpu) {
    TensorRef r = out.ref;
    run_cpu([r, p]() mutable { p.out = r.data(); cpu::random(p); });
  } else {
#ifdef DSV3_WITH_CUDA
    std::vector<char> host(out.ref.nbytes());
    p.out = host.data();
    cpu::random(p);
    cuda::copy_h2d(d.index, out.ref.data(), host.data(), host.size());
#endif
  }
  return out.js;
}

// to(tensor, device): a copy on `device`.
DSV3_OP(to) {
  OpCtx c{info.Env(), "to"};
  TensorRef t = tensor_arg(c, info[0], "tensor");
  Device d = parse_device(c, info[1], "device");
  check_device_usable(c, d);
  Output o = new_tensor(c.env, t.dtype, t.shape, d);
  copy_between(t, o.ref);
  return o.js;
}

// copyInto(dst, src): src's bytes into the existing tensor dst (same dtype and element count; any devices),
// ordered after the work queued on both. Used to refresh the inputs of a captured CUDA graph.
DSV3_OP(copyInto) {
  OpCtx c{info.Env(), "copyInto"};
  TensorRef dst = tensor_arg(c, info[0], "dst");
  TensorRef src = tensor_arg(c, info[1], "src");
  if (dst.dtype != src.dtype)
    c.fail(ErrKind::DType, "src", std::string("must have dst's dtype ") + dtype_name(dst.dtype) + ", got " + dtype_name(src.dtype));
  if (dst.numel() != src.numel())
    c.fail(ErrKind::Shape, "src", "must have as many elements as dst " + shape_str(dst.shape) + ", got " + shape_str(src.shape));
  copy_between(src, dst);
  return info.Env().Undefined();
}

// writeInto(dst, data: typed array): data's bytes into the existing tensor dst (exactly dst's byte size), ordered
// like copyInto after the work queued on dst's device. The bytes are taken at the call (data may change
// afterwards), without a host tensor: the per-step refresh of a captured step's inputs (lib/model/decode_graph.ts).
DSV3_OP(writeInto) {
  OpCtx c{info.Env(), "writeInto"};
  TensorRef dst = tensor_arg(c, info[0], "dst");
  if (!info[1].IsTypedArray()) c.fail(ErrKind::Argument, "data", "must be a typed array");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  if (ta.ByteLength() != dst.nbytes())
    c.fail(ErrKind::Shape, "data", "must hold " + std::to_string(dst.nbytes()) + " bytes for " + dtype_name(dst.dtype) + " " +
           shape_str(dst.shape) + ", got " + std::to_string(ta.ByteLength()));
  if (CpuStream::get().capturing())  // a recorded copy would write these same bytes at every replay
    c.fail(ErrKind::Argument, "", "cannot be recorded into a CPU graph: a replay would write the bytes given now; write before the replay");
  TensorRef src;
  src.dtype = dst.dtype;
  src.shape = dst.shape;
  src.storage = Storage::allocate(Device{DeviceType::cpu, 0}, dst.nbytes());
  std::memcpy(src.data(), static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), dst.nbytes());
  copy_between(src, dst);
  return info.Env().Undefined();
}

// placeIn(slab, byteOffset, src): a tensor of src's dtype and shape over slab's memory from byteOffset (64-byte
// aligned), holding a copy of src (queued like copyInto). The weight arena (lib/model/arena.ts) packs a model's
// small CPU weights into huge-page slabs with it; the views keep the slab alive.
DSV3_OP(placeIn) {
  OpCtx c{info.Env(), "placeIn"};
  TensorRef slab = tensor_arg(c, info[0], "slab");
  TensorRef src = tensor_arg(c, info[2], "src");
  if (slab.dtype != DType::u8 || slab.ndim() != 1) c.fail(ErrKind::DType, "slab", "must be a 1-D u8 tensor");
  if (slab.device() != src.device()) c.fail(ErrKind::Device, "src", "must be on the slab's device " + slab.device().str() + ", got " + src.device().str());
  Napi::Object o = Napi::Object::New(c.env);
  o.Set("byteOffset", info[1]);
  const int64_t off = opt_int(c, o, "byteOffset", -1);
  const int64_t n = static_cast<int64_t>(src.nbytes());
  if (off < 0 || off % 64 != 0 || off + n > slab.shape[0])
    c.fail(ErrKind::Shape, "byteOffset", "must be a multiple of 64 with " + std::to_string(n) + " bytes after it inside the slab's " +
           std::to_string(slab.shape[0]) + ", got " + std::to_string(off));
  TensorRef v = slab;
  v.dtype = src.dtype;
  v.shape = src.shape;
  v.offset = slab.offset + static_cast<size_t>(off);
  copy_between(src, v);
  return TensorObject::wrap(c.env, v, false);
}

// cast(tensor, dtype): a converted copy on the same device.
DSV3_OP(cast) {
  OpCtx c{info.Env(), "cast"};
  TensorRef t = tensor_arg(c, info[0], "tensor");
  DType dt = dtype_arg(c, info[1], "dtype");
  Napi::Object opts = options_arg(c, info, 2);
  Output o = output(c, opts, "out", dt, t.shape, t.device());
  TensorRef r = o.ref;
  if (t.device().type == DeviceType::cuda) {
    DSV3_IF_CUDA(c, cuda::cast(CastParams{t.data(), t.dtype, r.data(), r.dtype, t.numel()}, cuda_stream(t.device())));
    return o.js;
  }
  run_cpu([t, r] {
    cpu::cast(CastParams{t.data(), t.dtype, r.data(), r.dtype, t.numel()});
  });
  return o.js;
}

// view(tensor, start, length): rows [start, start + length) along dim 0, sharing memory.
DSV3_OP(view) {
  OpCtx c{info.Env(), "view"};
  TensorRef t = tensor_arg(c, info[0], "tensor");
  if (t.ndim() < 1) c.fail(ErrKind::Shape, "tensor", "must have at least one dimension, got a scalar");
  Napi::Object o = Napi::Object::New(c.env);
  o.Set("start", info[1]);
  o.Set("length", info[2]);
  const int64_t start = opt_int(c, o, "start", 0), len = opt_int(c, o, "length", 0);
  if (start < 0 || len < 0 || start + len > t.shape[0])
    c.fail(ErrKind::Shape, "start", "view [" + std::to_string(start) + ", " + std::to_string(start + len) +
           ") is outside dim 0 of size " + std::to_string(t.shape[0]));
  TensorRef v = t;
  v.shape[0] = len;
  v.offset = t.offset + static_cast<size_t>(start) * (t.nbytes() / (t.shape[0] ? t.shape[0] : 1));
  if (t.shape[0] == 0) v.offset = t.offset;
  return TensorObject::wrap(c.env, v, false);
}

// reshape(tensor, shape): same memory, new shape (one dim may be -1).
DSV3_OP(reshape) {
  OpCtx c{info.Env(), "reshape"};
  TensorRef t = tensor_arg(c, info[0], "tensor");
  if (!info[1].IsArray()) c.fail(ErrKind::Shape, "shape", "must be an array of integers");
  Napi::Array a = info[1].As<Napi::Array>();
  std::vector<int64_t> s(a.Length());
  int infer = -1;
  int64_t known = 1;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -2;
    if (x == -1 && infer < 0) { infer = static_cast<int>(i); s[i] = -1; continue; }
    if (!(x >= 0) || x != static_cast<double>(static_cast<int64_t>(x)))
      c.fail(ErrKind::Shape, "shape", "must hold non-negative integers and at most one -1, got " + a.ToString().Utf8Value());
    s[i] = static_cast<int64_t>(x);
    known *= s[i];
  }
  if (infer >= 0) {
    if (known == 0 || t.numel() % known) c.fail(ErrKind::Shape, "shape", "cannot infer -1 for " + std::to_string(t.numel()) + " elements");
    s[infer] = t.numel() / known;
    known *= s[infer];
  }
  if (known != t.numel())
    c.fail(ErrKind::Shape, "shape", shape_str(s) + " has " + std::to_string(known) + " elements, the tensor " +
           shape_str(t.shape) + " has " + std::to_string(t.numel()));
  TensorRef v = t;
  v.shape = s;
  return TensorObject::wrap(c.env, v, false);
}

// A read or a wait while the CPU stream records a graph would see data the recorded tasks have not written.
void no_wait_while_capturing(const OpCtx& c) {
  if (CpuStream::get().capturing())
    c.fail(ErrKind::Argument, "", "cannot wait for the CPU stream while a CPU graph is being captured: a captured step must not "
                                  "read tensors back or synchronize (read the outputs after a replay)");
}

DSV3_OP(readBytes) {
  OpCtx c{info.Env(), "readBytes"};
  no_wait_while_capturing(c);
  TensorRef t = tensor_arg(c, info[0], "tensor");
  if (t.device().type == DeviceType::cpu) return read_cpu(c.env, std::move(t), false);
  auto* w = new ReadWorker(c.env, t, false);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

DSV3_OP(readFloat32) {
  OpCtx c{info.Env(), "readFloat32"};
  no_wait_while_capturing(c);
  TensorRef t = tensor_arg(c, info[0], "tensor");
  if (t.device().type == DeviceType::cpu) return read_cpu(c.env, std::move(t), true);
  auto* w = new ReadWorker(c.env, t, true);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// synchronize(device): a Promise settled when the device's queued work is done.
DSV3_OP(synchronize) {
  OpCtx c{info.Env(), "synchronize"};
  no_wait_while_capturing(c);
  Device d = info.Length() > 0 && !info[0].IsUndefined() ? parse_device(c, info[0], "device") : Device{};
  auto* w = new SyncWorker(c.env, d);
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// backends(): what this build and machine can run.
DSV3_OP(backends) {
  Napi::Env env = info.Env();
  Napi::Object r = Napi::Object::New(env);
  Napi::Object cpu = Napi::Object::New(env);
  cpu.Set("available", true);
  cpu.Set("threads", cpu::num_threads());
  if (cpu::requested_threads() > 0) cpu.Set("requestedThreads", cpu::requested_threads());
  if (!cpu::thread_start_error().empty()) cpu.Set("threadWarning", cpu::thread_start_error());
  r.Set("cpu", cpu);
  Napi::Object cu = Napi::Object::New(env);
#ifdef DSV3_WITH_CUDA
  cu.Set("compiled", true);
  cu.Set("architectures", DSV3_CUDA_ARCHS_STR);
#ifdef DSV3_CUDA_EMU
  cu.Set("emulated", true);  // linked against dsv3-emu's runtime: the "device" is the PTX emulator
#else
  cu.Set("emulated", false);
#endif
  std::string reason;
  int n = cuda::device_count(&reason);
  cu.Set("deviceCount", n);
  Napi::Array devs = Napi::Array::New(env);
  for (int i = 0; i < n; ++i) {
    Napi::Object o = Napi::Object::New(env);
    try {
      cuda::DeviceInfo di = cuda::device_info(i);
      o.Set("index", i);
      o.Set("name", di.name);
      o.Set("computeCapability", std::to_string(di.major) + "." + std::to_string(di.minor));
      o.Set("smCount", di.sm_count);
      o.Set("totalMemory", static_cast<double>(di.total_bytes));
      o.Set("freeMemory", static_cast<double>(di.free_bytes));
    } catch (const std::exception& e) {
      o.Set("index", i);
      o.Set("error", e.what());
    }
    devs.Set(static_cast<uint32_t>(i), o);
  }
  cu.Set("devices", devs);
  cu.Set("available", n > 0);
  if (n == 0) cu.Set("reason", reason);
#else
  cu.Set("compiled", false);
  cu.Set("available", false);
  cu.Set("deviceCount", 0);
  cu.Set("devices", Napi::Array::New(env));
  cu.Set("reason", "not compiled: nvcc (CUDA >= 12.0) was not found when the addon was built");
#endif
  r.Set("cuda", cu);
  return r;
}

// externalMemory(): V8's count of external memory (what tensors report through
// napi_adjust_external_memory), read by adjusting it by 0.
DSV3_OP(externalMemory) {
  int64_t total = 0;
  napi_adjust_external_memory(info.Env(), 0, &total);
  return Napi::Number::New(info.Env(), static_cast<double>(total));
}

// setErrorClasses({DTypeError, ShapeError, ...}): the classes native code throws (lib/errors.ts).
DSV3_OP(setErrorClasses) {
  static const char* names[kNumErrKinds] = {"DTypeError", "ShapeError", "DeviceError", "DisposedError",
                                            "ArgumentError", "CudaError", "OutOfMemoryError",
                                            "UnsupportedError", "IoError"};
  Napi::Object o = info[0].As<Napi::Object>();
  AddonData* d = AddonData::get(info.Env());
  for (int i = 0; i < kNumErrKinds; ++i) {
    Napi::Value v = o.Get(names[i]);
    if (v.IsFunction()) d->error_ctors[i] = Napi::Persistent(v.As<Napi::Function>());
  }
  return info.Env().Undefined();
}

}  // namespace dsv3
