// dsv3-emu runtime test: fatbinary parsing and registration, with fatbinaries built by hand as nvcc lays
// them out (header magic 0xBA55ED50, entries with kind, arch, flags and sizes): raw PTX, LZ4-compressed
// PTX (flag 0x2000, older toolkits), ZSTD-compressed PTX (flag 0x8000, CUDA 13), the choice of the best
// PTX arch (<= 90), a fatbinary with only a cubin (cudaErrorNoKernelImageForDevice), and one whose PTX
// does not parse (cudaErrorInvalidPtx). Registered through nvcc's own entry points.
#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "check.cuh"

extern "C" {
void** __cudaRegisterFatBinary(void* fat_cubin);
void __cudaRegisterFatBinaryEnd(void** handle);
void __cudaRegisterFunction(void** handle, const char* host_fun, char* device_fun, const char* device_name,
                            int thread_limit, uint3* tid, uint3* bid, dim3* bdim, dim3* gdim, int* wsize);
}

// Adds `add` to each of blockDim.x words.
static std::string ptx_kernel(const char* name, int add) {
  return std::string(".version 9.0\n.target sm_90a\n.address_size 64\n\n.visible .entry ") + name +
         "(.param .u64 p)\n{\n"
         "  .reg .b32 %r<4>;\n  .reg .b64 %rd<4>;\n"
         "  ld.param.u64 %rd1, [p];\n  cvta.to.global.u64 %rd2, %rd1;\n  mov.u32 %r1, %tid.x;\n"
         "  mul.wide.u32 %rd3, %r1, 4;\n  add.s64 %rd2, %rd2, %rd3;\n  ld.global.u32 %r2, [%rd2];\n"
         "  add.s32 %r2, %r2, " + std::to_string(add) + ";\n  st.global.u32 [%rd2], %r2;\n  ret;\n}\n";
}

struct Entry {
  int kind;  // 1 PTX, 2 cubin
  int arch;
  uint64_t flags;
  std::vector<uint8_t> payload;  // as stored (compressed or not)
  uint64_t uncompressed;
};

// A fatbinary as nvcc writes it: 16-byte header, then 64-byte entry headers each followed by its payload.
static std::vector<uint64_t> build(const std::vector<Entry>& entries) {
  std::vector<uint8_t> body;
  for (const Entry& e : entries) {
    uint8_t h[64] = {};
    const uint16_t kind = static_cast<uint16_t>(e.kind), version = 0x0101;
    const uint32_t hsize = 64, arch = static_cast<uint32_t>(e.arch), csize = static_cast<uint32_t>(e.payload.size());
    const uint64_t padded = (e.payload.size() + 7) / 8 * 8;
    std::memcpy(h + 0, &kind, 2);
    std::memcpy(h + 2, &version, 2);
    std::memcpy(h + 4, &hsize, 4);
    std::memcpy(h + 8, &padded, 8);
    std::memcpy(h + 0x10, &csize, 4);
    std::memcpy(h + 0x1c, &arch, 4);
    std::memcpy(h + 0x28, &e.flags, 8);
    std::memcpy(h + 0x38, &e.uncompressed, 8);
    body.insert(body.end(), h, h + 64);
    body.insert(body.end(), e.payload.begin(), e.payload.end());
    body.resize(body.size() + (padded - e.payload.size()), 0);
  }
  std::vector<uint64_t> out(2 + body.size() / 8);
  const uint32_t magic = 0xBA55ED50u;
  const uint16_t version = 1, hsize = 16;
  const uint64_t size = body.size();
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  std::memcpy(p, &magic, 4);
  std::memcpy(p + 4, &version, 2);
  std::memcpy(p + 6, &hsize, 2);
  std::memcpy(p + 8, &size, 8);
  std::memcpy(p + 16, body.data(), body.size());
  return out;
}

static std::vector<uint8_t> raw(const std::string& s) {
  std::vector<uint8_t> v(s.begin(), s.end());
  v.push_back(0);
  return v;
}

static std::vector<uint8_t> lz4(const std::string& s) {
  void* lib = dlopen("liblz4.so.1", RTLD_NOW);
  if (!lib) return {};
  auto compress = reinterpret_cast<int (*)(const char*, char*, int, int)>(dlsym(lib, "LZ4_compress_default"));
  std::vector<uint8_t> in = raw(s), out(in.size() + 1024);
  const int n = compress(reinterpret_cast<const char*>(in.data()), reinterpret_cast<char*>(out.data()),
                         static_cast<int>(in.size()), static_cast<int>(out.size()));
  out.resize(n > 0 ? n : 0);
  return out;
}

static std::vector<uint8_t> zstd(const std::string& s) {
  void* lib = dlopen("libzstd.so.1", RTLD_NOW);
  if (!lib) return {};
  auto compress = reinterpret_cast<size_t (*)(void*, size_t, const void*, size_t, int)>(dlsym(lib, "ZSTD_compress"));
  std::vector<uint8_t> in = raw(s), out(in.size() + 1024);
  const size_t n = compress(out.data(), out.size(), in.data(), in.size(), 3);
  out.resize(n < out.size() ? n : 0);
  return out;
}

struct Wrapper {  // fatbinary_section.h's __fatBinC_Wrapper_t
  int magic, version;
  const unsigned long long* data;
  void* filename_or_fatbins;
};

// Registers one kernel of a hand-made fatbinary; `host` stands for the host stub's address.
static void reg(Wrapper* w, const std::vector<uint64_t>& fatbin, const char* host, const char* name) {
  w->magic = 0x466243B1;
  w->version = 1;
  w->data = reinterpret_cast<const unsigned long long*>(fatbin.data());
  w->filename_or_fatbins = nullptr;
  void** h = __cudaRegisterFatBinary(w);
  __cudaRegisterFunction(h, host, const_cast<char*>(name), name, -1, nullptr, nullptr, nullptr, nullptr, nullptr);
  __cudaRegisterFatBinaryEnd(h);
}

static cudaError_t run(const char* host, int* d) {
  void* args[] = {&d};
  return cudaLaunchKernel(host, dim3(1), dim3(32), args, 0, nullptr);
}

static const char k_raw = 0, k_lz4 = 0, k_zstd = 0, k_best = 0, k_cubin = 0, k_bad = 0;

int main() {
  int* d = nullptr;
  CHECK_OK(cudaMalloc(&d, 32 * sizeof(int)));
  CHECK_OK(cudaMemset(d, 0, 32 * sizeof(int)));

  const std::string p1 = ptx_kernel("add1", 1), p10 = ptx_kernel("add10", 10), p100 = ptx_kernel("add100", 100);
  const std::vector<uint8_t> l = lz4(p10), z = zstd(p100);
  CHECK(!l.empty());
  CHECK(!z.empty());
  static Wrapper w_raw, w_lz4, w_zstd, w_best, w_cubin, w_bad;
  static std::vector<uint64_t> f_raw = build({{1, 90, 0, raw(p1), 0}});
  static std::vector<uint64_t> f_lz4 = build({{1, 90, 0x2000, l, p10.size() + 1}});
  static std::vector<uint64_t> f_zstd = build({{1, 90, 0x8000, z, p100.size() + 1}});
  // Several PTX archs: the highest <= 90 is taken (80 would add 1000, 100 is for a newer device).
  static std::vector<uint64_t> f_best = build({{2, 90, 0, std::vector<uint8_t>(64, 0x7f), 0},
                                               {1, 80, 0, raw(ptx_kernel("pick", 1000)), 0},
                                               {1, 90, 0, raw(ptx_kernel("pick", 3)), 0},
                                               {1, 100, 0, raw(ptx_kernel("pick", 5000)), 0}});
  static std::vector<uint64_t> f_cubin = build({{2, 90, 0, std::vector<uint8_t>(64, 0x7f), 0}});
  static std::vector<uint64_t> f_bad = build({{1, 90, 0, raw(".version 9.0\n.target sm_90a\nthis is not ptx;\n"), 0}});
  reg(&w_raw, f_raw, &k_raw, "add1");
  reg(&w_lz4, f_lz4, &k_lz4, "add10");
  reg(&w_zstd, f_zstd, &k_zstd, "add100");
  reg(&w_best, f_best, &k_best, "pick");
  reg(&w_cubin, f_cubin, &k_cubin, "add1");
  reg(&w_bad, f_bad, &k_bad, "broken");

  CHECK_OK(run(&k_raw, d));
  CHECK_OK(run(&k_lz4, d));
  CHECK_OK(run(&k_zstd, d));
  CHECK_OK(run(&k_best, d));
  int h[32] = {};
  CHECK_OK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  CHECK_EQ(h[0], 1 + 10 + 100 + 3);
  CHECK_EQ(h[31], 114);
  // No PTX at all, and PTX that does not parse: the launch fails (and the emulator reports why).
  CHECK_ERR(run(&k_cubin, d), cudaErrorNoKernelImageForDevice);
  CHECK_ERR(run(&k_bad, d), cudaErrorInvalidPtx);
  cudaGetLastError();
  CHECK_OK(cudaFree(d));
  return finish();
}
