// dsv3-emu runtime test: copies and memsets of every kind (explicit kinds, cudaMemcpyDefault, pinned and
// pageable host memory, the staging of a pageable source at the call), their argument checks, and the
// module-variable copies (cudaMemcpyTo/FromSymbol(+Async), cudaGetSymbolAddress/Size, __constant__).
#include <cstdint>
#include <cstring>
#include <vector>

#include "check.cuh"

__device__ int g_table[64];
__constant__ float c_scale[4];

__global__ void scale_table(float* out) {
  const int i = threadIdx.x;
  out[i] = g_table[i] * c_scale[i % 4];
}

__global__ void add_one(int* p, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] += 1;
}

int main() {
  const int n = 4096;
  std::vector<int> host(n), back(n);
  for (int i = 0; i < n; ++i) host[i] = i * 3 - 7;
  int *d1 = nullptr, *d2 = nullptr;
  CHECK_OK(cudaMalloc(&d1, n * sizeof(int)));
  CHECK_OK(cudaMalloc(&d2, n * sizeof(int)));

  // Explicit kinds.
  CHECK_OK(cudaMemcpy(d1, host.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  CHECK_OK(cudaMemcpy(d2, d1, n * sizeof(int), cudaMemcpyDeviceToDevice));
  CHECK_OK(cudaMemcpy(back.data(), d2, n * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(back == host);
  std::vector<int> h2(n, 0);
  CHECK_OK(cudaMemcpy(h2.data(), host.data(), n * sizeof(int), cudaMemcpyHostToHost));
  CHECK(h2 == host);

  // cudaMemcpyDefault classifies by address; a sub-range copy.
  std::fill(back.begin(), back.end(), 0);
  CHECK_OK(cudaMemcpy(d2 + 100, host.data() + 5, 10 * sizeof(int), cudaMemcpyDefault));
  CHECK_OK(cudaMemcpy(back.data(), d2 + 100, 10 * sizeof(int), cudaMemcpyDefault));
  bool sub = true;
  for (int i = 0; i < 10; ++i) sub &= back[i] == host[5 + i];
  CHECK(sub);

  // Wrong kinds and ranges are refused before anything runs.
  CHECK_ERR(cudaMemcpy(d1, host.data(), 16, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  CHECK_ERR(cudaMemcpy(host.data(), d1, 16, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  CHECK_ERR(cudaMemcpy(back.data(), d1, (n + 1) * sizeof(int), cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  CHECK_ERR(cudaMemcpy(d1 + n - 1, host.data(), 8, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
  CHECK_ERR(cudaMemcpy(back.data(), d1, 16, static_cast<cudaMemcpyKind>(17)), cudaErrorInvalidMemcpyDirection);
  CHECK_ERR(cudaMemset(d1 + n - 2, 0, 12), cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK_OK(cudaMemcpy(d1, host.data(), 0, cudaMemcpyHostToDevice));  // zero bytes: nothing to check

  // Memsets.
  CHECK_OK(cudaMemset(d1, 0, n * sizeof(int)));
  CHECK_OK(cudaMemset(d1 + 10, 0x01, 2 * sizeof(int)));
  CHECK_OK(cudaMemcpy(back.data(), d1, n * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK_EQ(back[9], 0);
  CHECK_EQ(back[10], 0x01010101);
  CHECK_EQ(back[11], 0x01010101);
  CHECK_EQ(back[12], 0);

  // 2D copies and memsets between pitched layouts.
  {
    const int w = 40, rows = 6;  // bytes per row, rows
    void* pd = nullptr;
    size_t pitch = 0;
    CHECK_OK(cudaMallocPitch(&pd, &pitch, w, rows));
    CHECK(pitch >= size_t(w));
    CHECK_EQ(pitch % 512, 0);
    unsigned char src[rows][64], dst[rows][48];
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < 64; ++c) src[r][c] = static_cast<unsigned char>(r * 64 + c);
    std::memset(dst, 0xEE, sizeof dst);
    CHECK_OK(cudaMemcpy2D(pd, pitch, src, 64, w, rows, cudaMemcpyHostToDevice));
    CHECK_OK(cudaMemset2D(static_cast<char*>(pd) + 8, pitch, 0, 4, rows));  // bytes 8..11 of each row
    CHECK_OK(cudaMemcpy2D(dst, 48, pd, pitch, w, rows, cudaMemcpyDeviceToHost));
    bool rows_ok = true;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < 48; ++c) {
        const int want = c >= w ? 0xEE : (c >= 8 && c < 12) ? 0 : src[r][c];
        rows_ok &= dst[r][c] == want;
      }
    CHECK(rows_ok);
    CHECK_ERR(cudaMemcpy2D(dst, 16, pd, pitch, w, rows, cudaMemcpyDeviceToHost), cudaErrorInvalidPitchValue);
    CHECK_ERR(cudaMemcpy2D(pd, pitch, src, 64, w, rows + 1, cudaMemcpyHostToDevice), cudaErrorInvalidValue);
    cudaGetLastError();
    CHECK_OK(cudaFree(pd));
  }

  // Async copies on a stream, with a kernel between them.
  cudaStream_t s;
  CHECK_OK(cudaStreamCreate(&s));
  int* pinned = nullptr;
  CHECK_OK(cudaMallocHost(&pinned, n * sizeof(int)));
  for (int i = 0; i < n; ++i) pinned[i] = i;
  CHECK_OK(cudaMemcpyAsync(d1, pinned, n * sizeof(int), cudaMemcpyHostToDevice, s));
  add_one<<<n / 256, 256, 0, s>>>(d1, n);
  CHECK_OK(cudaMemsetAsync(d1, 0, sizeof(int), s));
  CHECK_OK(cudaMemcpyAsync(pinned, d1, n * sizeof(int), cudaMemcpyDeviceToHost, s));
  CHECK_OK(cudaStreamSynchronize(s));
  bool ordered = pinned[0] == 0;
  for (int i = 1; i < n; ++i) ordered &= pinned[i] == i + 1;
  CHECK(ordered);

  // A pageable source is staged at the call: changing it afterwards does not change what is copied.
  std::vector<int> pageable(n, 42);
  CHECK_OK(cudaMemcpyAsync(d2, pageable.data(), n * sizeof(int), cudaMemcpyHostToDevice, s));
  std::fill(pageable.begin(), pageable.end(), -1);
  CHECK_OK(cudaMemcpyAsync(back.data(), d2, n * sizeof(int), cudaMemcpyDeviceToHost, s));  // pageable: synchronous
  bool staged = true;
  for (int v : back) staged &= v == 42;
  CHECK(staged);

  // Module variables.
  void* table = nullptr;
  size_t table_size = 0;
  CHECK_OK(cudaGetSymbolAddress(&table, g_table));
  CHECK_OK(cudaGetSymbolSize(&table_size, g_table));
  CHECK(table != nullptr);
  CHECK_EQ(table_size, sizeof(int) * 64);
  int init[64];
  for (int i = 0; i < 64; ++i) init[i] = i;
  CHECK_OK(cudaMemcpyToSymbol(g_table, init, sizeof init));
  const float scale[4] = {1.f, 2.f, 0.5f, -1.f};
  CHECK_OK(cudaMemcpyToSymbol(c_scale, scale, sizeof scale));
  const int seven = 700;
  CHECK_OK(cudaMemcpyToSymbol(g_table, &seven, sizeof seven, 7 * sizeof(int)));  // at an offset
  CHECK_ERR(cudaMemcpyToSymbol(g_table, init, sizeof init, 4), cudaErrorInvalidValue);  // runs past the end
  CHECK_ERR(cudaMemcpyToSymbol(&seven, init, 4), cudaErrorInvalidSymbol);  // not a variable
  cudaGetLastError();
  float* out = nullptr;
  CHECK_OK(cudaMalloc(&out, 64 * sizeof(float)));
  scale_table<<<1, 64>>>(out);
  float res[64];
  CHECK_OK(cudaMemcpy(res, out, sizeof res, cudaMemcpyDeviceToHost));
  bool scaled = true;
  for (int i = 0; i < 64; ++i) scaled &= res[i] == (i == 7 ? 700 : i) * scale[i % 4];
  CHECK(scaled);
  int from[64] = {};
  CHECK_OK(cudaMemcpyFromSymbol(from, g_table, sizeof from));
  CHECK_EQ(from[7], 700);
  CHECK_EQ(from[63], 63);
  int one = 0;
  CHECK_OK(cudaMemcpyFromSymbolAsync(&one, g_table, sizeof one, 63 * sizeof(int), cudaMemcpyDeviceToHost, s));
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK_EQ(one, 63);
  CHECK_OK(cudaMemcpyToSymbolAsync(g_table, &seven, sizeof seven, 0, cudaMemcpyHostToDevice, s));
  CHECK_OK(cudaStreamSynchronize(s));
  CHECK_OK(cudaMemcpy(&one, table, sizeof one, cudaMemcpyDeviceToHost));
  CHECK_EQ(one, 700);

  CHECK_OK(cudaFreeHost(pinned));
  CHECK_OK(cudaStreamDestroy(s));
  CHECK_OK(cudaFree(d1));
  CHECK_OK(cudaFree(d2));
  CHECK_OK(cudaFree(out));
  return finish();
}
