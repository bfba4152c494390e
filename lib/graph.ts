// Step graphs: record the work a piece of code queues on a device's stream, then replay it with one launch
// (no per-op host work: no JS, no queueing per op). On CUDA a CUDA graph (kernels, copies, allocations); on
// the CPU the stream's tasks, run back to back by the stream thread. The recorded code must not read
// tensors back, copy host data to a CUDA device or synchronize (those throw while capturing: make the inputs
// before the capture and refresh them with tensor.copyFrom between replays), and must queue the same work
// whatever the data: it runs once, at capture (on the CPU nothing is computed during the capture). Tensors
// allocated during the capture and still alive after it (the outputs) belong to the graph: each replay
// rewrites them in place; they stay valid until dispose(). An op that fails in a replay marks its outputs
// (and what is computed from them) failed: reading them raises the error; on the CPU the next replay runs
// afresh (a CUDA error is sticky: dispose the graph).
// Native side: native/binding/graph.cc (cuda/runtime.cu graph_*, native/stream.h CpuStream capture).
import { ArgumentError, DisposedError } from './errors';
import { native } from './native';

interface GraphAddon {
  graphBegin(device: string): void;
  graphEnd(device: string): unknown;
  graphLaunch(graph: unknown): void;
  graphDispose(graph: unknown): void;
}
const addon = (): GraphAddon => native as unknown as GraphAddon;

let capturing = 0;
/** Whether a capture is running. */
export function isCapturing(): boolean { return capturing > 0; }

export class Graph {
  private handle: unknown;
  private constructor(handle: unknown, readonly device: string) { this.handle = handle; }

  /**
   * Records what `record` queues on `device` (it may await: nothing else may use the device meanwhile) and
   * instantiates the graph. On error the capture is ended and the error rethrown.
   */
  static async capture(record: () => void | Promise<void>, device: string = 'cuda'): Promise<Graph> {
    if (typeof record !== 'function') throw new ArgumentError('Graph.capture: argument \'record\' must be a function');
    addon().graphBegin(device);
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
      handle = addon().graphEnd(device);
    } catch (e) {
      throw failure ?? e;
    }
    if (failure) { addon().graphDispose(handle); throw failure; }
    return new Graph(handle, device);
  }

  /** Queues one replay on the device stream; returns at once (read an output to wait for it). */
  replay(): void {
    if (this.handle === null) throw new DisposedError('Graph.replay: the graph has been disposed');
    addon().graphLaunch(this.handle);
  }

  /** Frees the graph and its outputs (a CUDA graph waits for its replays; a CPU replay in flight finishes first). */
  dispose(): void {
    if (this.handle === null) return;
    addon().graphDispose(this.handle);
    this.handle = null;
  }
  [Symbol.dispose](): void { this.dispose(); }
  get disposed(): boolean { return this.handle === null; }
}
