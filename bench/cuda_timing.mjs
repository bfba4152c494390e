// GPU timing shared by the CUDA benchmarks: CUDA events around each call, the calls queued behind a
// spin kernel so that they run back to back (GPU time, not launch latency), the median of many
// calls after warm-up, and inputs rotated across enough copies that they do not sit in L2 (50 MB on
// H100/H200). Also the ceilings measured in the same run: device-to-device copy bandwidth and the
// FP8 tensor-core rate of a wgmma loop on shared memory.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { Tensor, synchronize, backends, profile } = require('../dist/index.js');

export const gpu = backends().cuda;
export const hasGpu = gpu.available;
export const L2_FLUSH_BYTES = 256 << 20;  // rotate inputs over at least this many bytes

/** Copies of an input set needed so that cycling through them evicts L2 (at most `max`). */
export function rotations(bytesPerSet, max = 32) {
  return Math.max(1, Math.min(max, Math.ceil(L2_FLUSH_BYTES / Math.max(1, bytesPerSet))));
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

/**
 * GPU microseconds per call of `call(i)` (i = 0, 1, ...; use i % rotations to pick the input copy):
 * { medianUs, minUs, samples }. Warm-up calls first; then the timed calls are queued behind a spin
 * kernel long enough to cover the host's queueing time, with an event between consecutive calls.
 */
export async function gpuTime(call, { iters = 50, warmup = 5, device = 'cuda' } = {}) {
  for (let i = 0; i < warmup; i++) call(i);
  await synchronize(device);
  const h0 = performance.now();
  for (let i = 0; i < 3; i++) call(i);
  const hostMsPerCall = (performance.now() - h0) / 3;
  await synchronize(device);
  profile.cudaSpin(Math.min(5e6, 1000 + 2000 * hostMsPerCall * (iters + 1)), device);
  const events = [profile.cudaEvent(device)];
  for (let i = 0; i < iters; i++) { call(i); events.push(profile.cudaEvent(device)); }
  const us = [];
  for (let i = 0; i < iters; i++) us.push(1000 * profile.cudaElapsedMs(events[i], events[i + 1]));
  await synchronize(device);
  return { medianUs: median(us), minUs: Math.min(...us), samples: iters, hostUsPerCall: 1000 * hostMsPerCall };
}

/** Device-to-device copy bandwidth, counting bytes read + bytes written (GB/s), on a 1 GiB buffer. */
export async function copyBandwidth(device = 'cuda') {
  const bytes = 1 << 30;
  const src = Tensor.empty([bytes], { dtype: 'u8', device });
  const t = await gpuTime(() => src.to(device).dispose(), { iters: 20, warmup: 3, device });
  src.dispose();
  return { GBs: (2 * bytes) / (t.medianUs * 1e3), bytes, medianUs: t.medianUs };
}

/** The FP8 wgmma rate reachable on this device (TFLOP/s): a loop of m64n128k32 on shared memory. */
export async function fp8Peak(device = 'cuda') {
  const sms = gpu.devices[0]?.smCount ?? 132;
  let flops = 0;
  const t = await gpuTime(() => { flops = profile.fp8MmaPeak(2 * sms, 400, device).flops; }, { iters: 10, warmup: 2, device });
  return { TFLOPs: flops / (t.medianUs * 1e6), medianUs: t.medianUs };
}
