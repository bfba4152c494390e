// File-backed tensors: mapFile memory-maps a file as a u8 tensor (no copy, no JS heap), and
// viewBytes reinterprets a byte range of a tensor as a typed tensor sharing its memory. The
// safetensors reader (lib/weights/safetensors.ts) is built on these two.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "native/binding/common.h"
#include "native/fault.h"

namespace dsv3 {

// mapFile(path) -> u8 [size]: a private (copy-on-write) read-write mapping, so an op that writes
// into it by mistake changes only this process's pages and never the file.
DSV3_OP(mapFile) {
  OpCtx c{info.Env(), "mapFile"};
  if (!info[0].IsString()) c.fail(ErrKind::Argument, "path", "must be a string");
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) c.fail(ErrKind::Io, "path", "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    c.fail(ErrKind::Io, "path", "'" + path + "' is not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* p = nullptr;
  if (size > 0) {
    p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    const int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) c.fail(ErrKind::Io, "path", "cannot map '" + path + "': " + std::strerror(err));
  } else {
    ::close(fd);
  }
  TensorRef r;
  r.dtype = DType::u8;
  r.shape = {static_cast<int64_t>(size)};
  r.storage = std::make_shared<Storage>();
  r.storage->device = Device{DeviceType::cpu, 0};
  r.storage->bytes = size;
  r.storage->ptr = p;
  r.storage->file_backed = true;
  if (p) register_mapping(p, size, path);
  r.storage->release = [](void* q, size_t n) {
    if (!q) return;
    unregister_mapping(q);
    ::munmap(q, n);
  };
  return TensorObject::wrap(c.env, r, false);
}

// mappingFault(mapping) -> string | null: why a read of this mapFile mapping failed (the file shrank or
// was rewritten in place under it), the first time it did; null if no read failed.
DSV3_OP(mappingFault) {
  OpCtx c{info.Env(), "mappingFault"};
  TensorRef t = tensor_arg(c, info[0], "mapping");
  if (!t.storage->file_backed) c.fail(ErrKind::Argument, "mapping", "must be a tensor returned by mapFile");
  const std::string f = mapping_fault(t.storage->ptr);
  return f.empty() ? c.env.Null() : Napi::String::New(c.env, f);
}

// viewBytes(t, byteOffset, dtype, shape): the bytes [byteOffset, byteOffset + nbytes) of a CPU
// tensor as a tensor of `dtype` and `shape`, sharing memory when the offset is aligned to the
// element size (else a copy, since misaligned element access is undefined in C++).
DSV3_OP(viewBytes) {
  OpCtx c{info.Env(), "viewBytes"};
  TensorRef t = tensor_arg(c, info[0], "tensor");
  Napi::Object o = Napi::Object::New(c.env);
  o.Set("byteOffset", info[1]);
  const int64_t off = opt_int(c, o, "byteOffset", -1);
  DType dt;
  if (!info[2].IsString() || !parse_dtype(info[2].As<Napi::String>().Utf8Value(), &dt))
    c.fail(ErrKind::DType, "dtype", "must be a dtype name");
  if (!info[3].IsArray()) c.fail(ErrKind::Shape, "shape", "must be an array of non-negative integers");
  Napi::Array a = info[3].As<Napi::Array>();
  TensorRef v;
  v.storage = t.storage;
  v.dtype = dt;
  uint64_t bytes = itemsize(dt);
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    const double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    // The range test comes first: casting a double at or above 2^63 to int64 is undefined.
    if (!(x >= 0 && x < 9223372036854775808.0) || x != static_cast<double>(static_cast<int64_t>(x)) ||
        __builtin_mul_overflow(bytes, static_cast<uint64_t>(x), &bytes))
      c.fail(ErrKind::Shape, "shape", "must be an array of non-negative integers, got " + a.ToString().Utf8Value());
    v.shape.push_back(static_cast<int64_t>(x));
  }
  if (t.device().type != DeviceType::cpu) c.fail(ErrKind::Device, "tensor", "must be on the cpu");
  if (off < 0 || static_cast<uint64_t>(off) > t.nbytes() || bytes > t.nbytes() - static_cast<uint64_t>(off))
    c.fail(ErrKind::Shape, "byteOffset", "range [" + std::to_string(off) + ", " + std::to_string(static_cast<uint64_t>(off) + bytes) +
           ") is outside the tensor's " + std::to_string(t.nbytes()) + " bytes");
  v.offset = t.offset + static_cast<size_t>(off);
  if (v.offset % itemsize(dt) == 0) return TensorObject::wrap(c.env, v, false);
  Output copy = new_tensor(c.env, dt, v.shape, t.device());
  TensorRef dst = copy.ref;
  run_cpu([v, dst] { std::memcpy(dst.data(), v.data(), dst.nbytes()); });
  return copy.js;
}

}  // namespace dsv3
