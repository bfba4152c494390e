// CUDA graphs: record the kernels, copies and allocations a piece of code queues on a device's stream,
// then replay them with one launch (no per-op host work). The recorded code must not read tensors back,
// copy host data to the device or synchronize (those throw while capturing: make the inputs before the
// capture and refresh them with tensor.copyFrom between replays), and must queue the same work whatever
// the data: it runs once, at capture. Tensors allocated during the capture and still alive after it (the
// outputs) belong to the graph: each replay rewrites them in place; they stay valid until dispose().
// Native side: cuda/runtime.cu (graph_begin / graph_end / graph_launch / graph_destroy).
import { ArgumentError, DisposedError } from './errors';
import { native } from './native';

interface GraphAddon {
  cudaGraphBegin(device: string): void;
  cudaGraphEnd(device: string): unknown;
  cudaGraphLaunch(graph: unknown): void;
  cudaGraphDispose(graph: unknown): void;
}
const addon = (): GraphAddon => native as unknown as GraphAddon;

let capturing = 0, paused = 0;
/** Whether a capture is running. */
export function isCapturing(): boolean { return capturing > 0; }
/** Whether model statistics (MoE expert load) are collected: not while capturing, nor inside withoutStatistics. */
export function collectingStatistics(): boolean { return capturing === 0 && paused === 0; }
/** Runs `fn` with model statistics paused (warm-up steps that are not real tokens). */
export async function withoutStatistics<T>(fn: () => Promise<T>): Promise<T> {
  paused++;
  try { return await fn(); } finally { paused--; }
}

export class CudaGraph {
  private handle: unknown;
  private constructor(handle: unknown, readonly device: string) { this.handle = handle; }

  /**
   * Records what `record` queues on `device` (it may await: nothing else may use the device meanwhile) and
   * instantiates the graph. On error the capture is ended and the error rethrown.
   */
  static async capture(record: () => void | Promise<void>, device = 'cuda'): Promise<CudaGraph> {
    if (typeof record !== 'function') throw new ArgumentError('CudaGraph.capture: argument \'record\' must be a function');
    addon().cudaGraphBegin(device);
    capturing++;
    let failure: unknown = null;
    try {
      await record();
    } catch (e) {
      failure = e;
    } finally {
      capturing--;
    }
    let handle: unknown;
    try {
      handle = addon().cudaGraphEnd(device);
    } catch (e) {
      throw failure ?? e;
    }
    if (failure) { addon().cudaGraphDispose(handle); throw failure; }
    return new CudaGraph(handle, device);
  }

  /** Queues one replay on the device stream; returns at once (read an output to wait for it). */
  replay(): void {
    if (this.handle === null) throw new DisposedError('CudaGraph.replay: the graph has been disposed');
    addon().cudaGraphLaunch(this.handle);
  }

  /** Waits for the replays, then frees the graph and its outputs. */
  dispose(): void {
    if (this.handle === null) return;
    addon().cudaGraphDispose(this.handle);
    this.handle = null;
  }
  [Symbol.dispose](): void { this.dispose(); }
  get disposed(): boolean { return this.handle === null; }
}
