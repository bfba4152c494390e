// Timing for benchmarks. CPU: profileCpu gives the wall time per op of the tasks the CPU stream thread ran
// (eager ops and graph replays alike). GPU: CUDA events recorded on a device's stream measure GPU time between two
// points of the stream; cudaSpin keeps the GPU busy while the host queues the timed calls, so short
// kernels are timed back to back instead of at the host's launch rate. fp8MmaPeak is the FP8 tensor
// core ceiling (wgmma on shared memory, no global traffic). All of it needs the CUDA backend.
import { native } from './native';

/** An opaque CUDA event, recorded on a device's stream. */
export interface CudaEvent { readonly __cudaEvent: unique symbol }

/** One op's share of a CPU profile: its tasks (calls, or replayed calls) and their wall time on the stream thread. */
export interface CpuOpTime { op: string; tasks: number; ms: number }

interface ProfileAddon {
  cpuProfile(on: boolean): CpuOpTime[] | undefined;
  cudaEventRecord(device: string): CudaEvent;
  cudaEventElapsed(start: CudaEvent, end: CudaEvent): number;
  cudaSpin(device: string, microseconds: number): void;
  fp8MmaPeak(device: string, ctas: number, iters: number): void;
}
const addon = (): ProfileAddon => native as unknown as ProfileAddon;

/**
 * Runs `fn` with the CPU op profile on and returns, per op, the wall time its tasks took on the CPU stream thread
 * (the thread pool's work inside them included), slowest first; `totalMs` is their sum. It waits for the CPU
 * stream at the end (blocking). One profile at a time.
 */
export async function profileCpu<T>(fn: () => Promise<T> | T): Promise<{ result: T; ops: CpuOpTime[]; totalMs: number }> {
  addon().cpuProfile(true);
  let result: T, ops: CpuOpTime[];
  try {
    result = await fn();
  } finally {
    ops = addon().cpuProfile(false)!;
  }
  ops.sort((a, b) => b.ms - a.ms);
  return { result, ops, totalMs: ops.reduce((a, o) => a + o.ms, 0) };
}

/** Records an event now on the device's stream (after all work queued so far). */
export function cudaEvent(device = 'cuda'): CudaEvent { return addon().cudaEventRecord(device); }
/** GPU milliseconds from `start` to `end`; waits until `end` has happened. */
export function cudaElapsedMs(start: CudaEvent, end: CudaEvent): number { return addon().cudaEventElapsed(start, end); }
/** Queues a kernel that keeps the device busy for about `microseconds`. */
export function cudaSpin(microseconds: number, device = 'cuda'): void { addon().cudaSpin(device, microseconds); }
/** Queues the FP8 ceiling kernel: ctas x iters x 2 warpgroups x 4 wgmma m64n128k32; FLOPs = ctas * iters * 4194304. */
export function fp8MmaPeak(ctas: number, iters: number, device = 'cuda'): { flops: number } {
  addon().fp8MmaPeak(device, ctas, iters);
  return { flops: ctas * iters * 2 * 4 * 2 * 64 * 128 * 32 };
}
