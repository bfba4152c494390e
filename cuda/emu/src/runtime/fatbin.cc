// dsv3-emu runtime: fatbinary parsing (fatbin.h) and PTX decompression. CUDA 13 compresses payloads
// with ZSTD, older toolkits with LZ4; both libraries are opened at run time (libzstd.so.1, liblz4.so.1)
// with our own prototypes of their stable C entry points, so no -dev package is needed to build.
#include "src/runtime/fatbin.h"

#include <dlfcn.h>

#include <cstring>

namespace emu::rt {
namespace {

constexpr uint32_t kMagic = 0xBA55ED50u;
constexpr uint64_t kFlagLz4 = 0x2000, kFlagZstd = 0x8000;

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void* open_lib(const char* name) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  return h;
}

bool zstd_decompress(const uint8_t* src, size_t n, std::string* out, size_t size, std::string* error) {
  static void* lib = open_lib("libzstd.so.1");
  using Decompress = size_t (*)(void*, size_t, const void*, size_t);
  using IsError = unsigned (*)(size_t);
  using ErrorName = const char* (*)(size_t);
  if (!lib) {
    *error = "the PTX is ZSTD-compressed and libzstd.so.1 cannot be loaded (install libzstd1)";
    return false;
  }
  auto decompress = reinterpret_cast<Decompress>(dlsym(lib, "ZSTD_decompress"));
  auto is_error = reinterpret_cast<IsError>(dlsym(lib, "ZSTD_isError"));
  auto error_name = reinterpret_cast<ErrorName>(dlsym(lib, "ZSTD_getErrorName"));
  if (!decompress || !is_error) {
    *error = "libzstd.so.1 lacks ZSTD_decompress";
    return false;
  }
  out->assign(size, '\0');
  const size_t r = decompress(out->data(), size, src, n);
  if (is_error(r)) {
    *error = std::string("ZSTD decompression of the PTX failed: ") + (error_name ? error_name(r) : "?");
    return false;
  }
  out->resize(r);
  return true;
}

bool lz4_decompress(const uint8_t* src, size_t n, std::string* out, size_t size, std::string* error) {
  static void* lib = open_lib("liblz4.so.1");
  using Decompress = int (*)(const char*, char*, int, int);
  if (!lib) {
    *error = "the PTX is LZ4-compressed and liblz4.so.1 cannot be loaded (install liblz4-1)";
    return false;
  }
  auto decompress = reinterpret_cast<Decompress>(dlsym(lib, "LZ4_decompress_safe"));
  if (!decompress) {
    *error = "liblz4.so.1 lacks LZ4_decompress_safe";
    return false;
  }
  out->assign(size, '\0');
  const int r = decompress(reinterpret_cast<const char*>(src), out->data(), static_cast<int>(n), static_cast<int>(size));
  if (r < 0) {
    *error = "LZ4 decompression of the PTX failed";
    return false;
  }
  out->resize(static_cast<size_t>(r));
  return true;
}

}  // namespace

bool fatbin_entries(const void* data, std::vector<FatbinEntry>* out, std::string* error) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (!p || load<uint32_t>(p) != kMagic) {
    *error = "not a fatbinary (bad magic)";
    return false;
  }
  const uint16_t header = load<uint16_t>(p + 6);
  const uint64_t size = load<uint64_t>(p + 8);
  uint64_t off = header;
  while (off + 16 <= header + size) {
    const uint8_t* e = p + off;
    FatbinEntry en;
    en.kind = load<uint16_t>(e);
    const uint32_t eh = load<uint32_t>(e + 4);
    en.payload_size = load<uint64_t>(e + 8);
    if (eh < 0x40 || off + eh + en.payload_size > header + size) {
      *error = "a fatbinary entry runs past the end of the fatbinary";
      return false;
    }
    en.compressed_size = load<uint32_t>(e + 0x10);
    en.arch = static_cast<int>(load<uint32_t>(e + 0x1c));
    en.flags = load<uint64_t>(e + 0x28);
    en.uncompressed_size = load<uint64_t>(e + 0x38);
    en.payload = e + eh;
    out->push_back(en);
    off += eh + en.payload_size;
  }
  return true;
}

bool fatbin_ptx(const void* data, std::string* ptx, int* arch, std::string* error) {
  std::vector<FatbinEntry> entries;
  if (!fatbin_entries(data, &entries, error)) return false;
  const FatbinEntry* best = nullptr;
  std::string archs;
  for (const auto& e : entries) {
    archs += std::string(archs.empty() ? "" : ", ") + (e.kind == 1 ? "compute_" : "sm_") + std::to_string(e.arch);
    if (e.kind == 1 && e.arch <= 90 && (!best || e.arch > best->arch)) best = &e;
  }
  if (!best) {
    *error = "no PTX for compute_90a in the fatbinary (it holds: " + (archs.empty() ? std::string("nothing") : archs) +
             "); the emulator runs PTX: build with -gencode arch=compute_90a,code=[sm_90a,compute_90a]";
    return false;
  }
  *arch = best->arch;
  const size_t stored = best->compressed_size ? best->compressed_size : best->payload_size;
  const bool zstd = (best->flags & kFlagZstd) ||
                    (stored >= 4 && load<uint32_t>(best->payload) == 0xFD2FB528u);  // 28 B5 2F FD
  if (zstd) {
    if (!zstd_decompress(best->payload, stored, ptx, best->uncompressed_size, error)) return false;
  } else if (best->flags & kFlagLz4) {
    if (!lz4_decompress(best->payload, stored, ptx, best->uncompressed_size, error)) return false;
  } else {
    ptx->assign(reinterpret_cast<const char*>(best->payload), best->payload_size);
  }
  const size_t nul = ptx->find('\0');  // the text is NUL-terminated and padded
  if (nul != std::string::npos) ptx->resize(nul);
  return true;
}

}  // namespace emu::rt
