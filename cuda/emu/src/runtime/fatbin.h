// dsv3-emu runtime: reading nvcc's fatbinary (the .nv_fatbin blob a program registers through
// __cudaRegisterFatBinary). Layout verified on CUDA 13 files (nvcc -keep): a 16-byte header (magic
// 0xBA55ED50, version 1, header size 16, size of the entries), then entries, each a header (kind at +0:
// 1 = PTX, 2 = ELF cubin; its size at +4; payload size at +8; compressed size at +0x10; arch at +0x1c;
// flags at +0x28: 0x2000 LZ4, 0x8000 ZSTD; uncompressed size at +0x38) followed by its payload.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace emu::rt {

struct FatbinEntry {
  int kind = 0;        // 1 PTX, 2 cubin
  int arch = 0;        // 90 for sm_90 / sm_90a / compute_90a
  uint64_t flags = 0;
  const uint8_t* payload = nullptr;
  uint64_t payload_size = 0, compressed_size = 0, uncompressed_size = 0;
};

// The entries of the fatbinary at `data`; false (with `error`) when it is not one.
bool fatbin_entries(const void* data, std::vector<FatbinEntry>* out, std::string* error);
// The PTX text of the best entry for sm_90a: the highest PTX arch <= 90. Returns false with `error` set
// when there is none (the message says how to rebuild) or it cannot be decompressed.
bool fatbin_ptx(const void* data, std::string* ptx, int* arch, std::string* error);

}  // namespace emu::rt
