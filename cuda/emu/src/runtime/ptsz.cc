// dsv3-emu runtime: the per-thread default stream entry points that nvcc --default-stream per-thread
// (CUDA_API_PER_THREAD_DEFAULT_STREAM) binds calls to, as NVIDIA's library exports them: *_ptsz (stream
// 0 means this thread's default stream) and *_ptds (the synchronous forms on that stream).
#include "src/runtime/state.h"

using namespace emu::rt;

namespace {
cudaStream_t per_thread(cudaStream_t s) { return s ? s : cudaStreamPerThread; }
}  // namespace

extern "C" {

cudaError_t cudaLaunchKernelExC_ptsz(const cudaLaunchConfig_t* config, const void* func, void** args) {
  if (!config) return fail(cudaErrorInvalidValue);
  cudaLaunchConfig_t c = *config;
  c.stream = per_thread(c.stream);
  return cudaLaunchKernelExC(&c, func, args);
}
cudaError_t cudaEventRecord_ptsz(cudaEvent_t e, cudaStream_t s) { return cudaEventRecord(e, per_thread(s)); }
cudaError_t cudaEventRecordWithFlags_ptsz(cudaEvent_t e, cudaStream_t s, unsigned flags) {
  return cudaEventRecordWithFlags(e, per_thread(s), flags);
}
cudaError_t cudaMallocAsync_ptsz(void** p, size_t n, cudaStream_t s) { return cudaMallocAsync(p, n, per_thread(s)); }
cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, size_t n, cudaMemPool_t pool, cudaStream_t s) {
  return cudaMallocFromPoolAsync(p, n, pool, per_thread(s));
}
cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s) { return cudaFreeAsync(p, per_thread(s)); }
cudaError_t cudaMemcpyAsync_ptsz(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  return cudaMemcpyAsync(dst, src, n, kind, per_thread(s));
}
cudaError_t cudaMemcpyToSymbolAsync_ptsz(const void* sym, const void* src, size_t n, size_t off, cudaMemcpyKind kind,
                                         cudaStream_t s) {
  return cudaMemcpyToSymbolAsync(sym, src, n, off, kind, per_thread(s));
}
cudaError_t cudaMemcpyFromSymbolAsync_ptsz(void* dst, const void* sym, size_t n, size_t off, cudaMemcpyKind kind,
                                           cudaStream_t s) {
  return cudaMemcpyFromSymbolAsync(dst, sym, n, off, kind, per_thread(s));
}
cudaError_t cudaMemsetAsync_ptsz(void* p, int v, size_t n, cudaStream_t s) { return cudaMemsetAsync(p, v, n, per_thread(s)); }
cudaError_t cudaLaunchHostFunc_ptsz(cudaStream_t s, cudaHostFn_t fn, void* user) {
  return cudaLaunchHostFunc(per_thread(s), fn, user);
}
cudaError_t cudaStreamAddCallback_ptsz(cudaStream_t s, cudaStreamCallback_t cb, void* user, unsigned flags) {
  return cudaStreamAddCallback(per_thread(s), cb, user, flags);
}
cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t x, cudaStream_t s) { return cudaGraphLaunch(x, per_thread(s)); }
cudaError_t cudaGraphUpload_ptsz(cudaGraphExec_t x, cudaStream_t s) { return cudaGraphUpload(x, per_thread(s)); }
cudaError_t cudaStreamBeginCapture_ptsz(cudaStream_t s, cudaStreamCaptureMode mode) {
  return cudaStreamBeginCapture(per_thread(s), mode);
}
cudaError_t cudaStreamEndCapture_ptsz(cudaStream_t s, cudaGraph_t* g) { return cudaStreamEndCapture(per_thread(s), g); }
cudaError_t cudaStreamIsCapturing_ptsz(cudaStream_t s, cudaStreamCaptureStatus* st) {
  return cudaStreamIsCapturing(per_thread(s), st);
}
cudaError_t cudaStreamGetCaptureInfo_ptsz(cudaStream_t s, cudaStreamCaptureStatus* st, unsigned long long* id,
                                          cudaGraph_t* g, const cudaGraphNode_t** deps, const cudaGraphEdgeData** edges,
                                          size_t* n) {
  return cudaStreamGetCaptureInfo(per_thread(s), st, id, g, deps, edges, n);
}
cudaError_t cudaStreamGetFlags_ptsz(cudaStream_t s, unsigned* flags) { return cudaStreamGetFlags(per_thread(s), flags); }
cudaError_t cudaStreamGetPriority_ptsz(cudaStream_t s, int* p) { return cudaStreamGetPriority(per_thread(s), p); }
cudaError_t cudaStreamQuery_ptsz(cudaStream_t s) { return cudaStreamQuery(per_thread(s)); }
cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t s) { return cudaStreamSynchronize(per_thread(s)); }
cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t s, cudaEvent_t e, unsigned flags) {
  return cudaStreamWaitEvent(per_thread(s), e, flags);
}
cudaError_t cudaGetDriverEntryPoint_ptsz(const char* sym, void** fn, unsigned long long flags,
                                         cudaDriverEntryPointQueryResult* st) {
  return cudaGetDriverEntryPointByVersion(sym, fn, 13000, flags, st);
}
cudaError_t cudaGetDriverEntryPointByVersion_ptsz(const char* sym, void** fn, unsigned version, unsigned long long flags,
                                                  cudaDriverEntryPointQueryResult* st) {
  return cudaGetDriverEntryPointByVersion(sym, fn, version, flags, st);
}

cudaError_t cudaMemcpy2DAsync_ptsz(void* dst, size_t dpitch, const void* src, size_t spitch, size_t w, size_t h,
                                   cudaMemcpyKind kind, cudaStream_t s) {
  return cudaMemcpy2DAsync(dst, dpitch, src, spitch, w, h, kind, per_thread(s));
}
cudaError_t cudaMemset2DAsync_ptsz(void* dst, size_t pitch, int v, size_t w, size_t h, cudaStream_t s) {
  return cudaMemset2DAsync(dst, pitch, v, w, h, per_thread(s));
}

cudaError_t cudaMemcpy2D_ptds(void* dst, size_t dpitch, const void* src, size_t spitch, size_t w, size_t h,
                              cudaMemcpyKind kind) {
  return fail(memcpy2d_impl(dst, dpitch, src, spitch, w, h, kind, cudaStreamPerThread, true, "cudaMemcpy2D"));
}
cudaError_t cudaMemset2D_ptds(void* dst, size_t pitch, int v, size_t w, size_t h) {
  return fail(memset2d_impl(dst, pitch, v, w, h, cudaStreamPerThread, true, "cudaMemset2D"));
}
cudaError_t cudaMemcpy_ptds(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  return fail(memcpy_impl(dst, src, n, kind, cudaStreamPerThread, true, "cudaMemcpy"));
}
cudaError_t cudaMemset_ptds(void* p, int v, size_t n) {
  return fail(memset_impl(p, v, n, cudaStreamPerThread, true, "cudaMemset"));
}
cudaError_t cudaMemcpyToSymbol_ptds(const void* sym, const void* src, size_t n, size_t off, cudaMemcpyKind kind) {
  RT_STICKY();
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  void* base = nullptr;
  size_t size = 0;
  if (cudaError_t e = cudaGetSymbolAddress(&base, sym)) return e;
  if (cudaError_t e = cudaGetSymbolSize(&size, sym)) return e;
  if (off > size || n > size - off) return fail(cudaErrorInvalidValue);
  return fail(memcpy_impl(static_cast<char*>(base) + off, src, n, kind, cudaStreamPerThread, true, "cudaMemcpyToSymbol"));
}
cudaError_t cudaMemcpyFromSymbol_ptds(void* dst, const void* sym, size_t n, size_t off, cudaMemcpyKind kind) {
  RT_STICKY();
  if (kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice && kind != cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection);
  void* base = nullptr;
  size_t size = 0;
  if (cudaError_t e = cudaGetSymbolAddress(&base, sym)) return e;
  if (cudaError_t e = cudaGetSymbolSize(&size, sym)) return e;
  if (off > size || n > size - off) return fail(cudaErrorInvalidValue);
  return fail(memcpy_impl(dst, static_cast<char*>(base) + off, n, kind, cudaStreamPerThread, true, "cudaMemcpyFromSymbol"));
}

}  // extern "C"
