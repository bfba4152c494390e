// What a model step records besides its output, kept on the device so that the step only queues work (and so
// can be captured in a step graph, lib/graph.ts): each MoE layer adds its per-expert token counts into its own
// load sink (an f32 [E] tensor, Moe.loadSink) and, when a routing trace is asked for, hands over its routing
// tensors. Both are read here, outside the step: readTrace after a forward, ExpertLoadStats on demand and
// whenever the sinks near f32's exact-integer range.
import { Tensor } from '../tensor';

/** Routing of one MoE layer for t tokens: indices/weights [t, topK] row-major. */
export interface RouteTrace { layer: number; indices: Int32Array; weights: Float32Array }

/** One MoE layer's routing of a step, on the device: indices i32 / weights f32 [rows, topK]. */
export interface DeviceRoute { layer: number; indices: Tensor<'i32'>; weights: Tensor<'f32'> }

/** Where a step's MoE layers record: `load` adds the expert counts into each layer's sink; `trace` collects the routing. */
export interface RoutingSink { load: boolean; trace: DeviceRoute[] | null }

let paused = 0;
/** Whether model statistics (MoE expert load) are collected: not inside withoutStatistics. A captured step records them into its graph (every replay counts). */
export function collectingStatistics(): boolean { return paused === 0; }
/** Runs `fn` with model statistics paused (warm-up steps that are not real tokens). */
export async function withoutStatistics<T>(fn: () => Promise<T>): Promise<T> {
  paused++;
  try { return await fn(); } finally { paused--; }
}

/** The sink of an ordinary step: counts expert load unless paused, and collects routing when the caller wants a trace. */
export function stepSink(trace: boolean): RoutingSink { return { load: collectingStatistics(), trace: trace ? [] : null }; }

/** Reads a step's device routing into `into` (layer order) and releases the tensors. */
export async function readTrace(routes: DeviceRoute[], into: RouteTrace[]): Promise<void> {
  try {
    for (const r of routes) into.push({ layer: r.layer, indices: await r.indices.toArray(), weights: await r.weights.toArray() });
  } finally {
    for (const r of routes) { r.indices.dispose(); r.weights.dispose(); }
  }
}

/** Releases a step's device routing unread (a step that failed). */
export function dropTrace(routes: DeviceRoute[] | null): void {
  for (const r of routes ?? []) { r.indices.dispose(); r.weights.dispose(); }
}

/** One MoE layer's expert load: tokens routed to each expert since loading or resetExpertLoad(). */
export interface ExpertLoad {
  /** The decoder layer (num_hidden_layers for the MTP module's layer). */
  layer: number;
  /** [n_routed_experts] token count per expert (each token counts once per chosen expert). */
  tokens: Float64Array;
  /** Sum of tokens: routed tokens times num_experts_per_tok. */
  total: number;
}

/**
 * Folds the MoE layers' load sinks into host totals. A step of r rows adds at most r to any expert, so the sinks
 * stay exact while the rows since the last fold stay under 2^24: reserve(rows) before each step (or replay)
 * folds first when they would not.
 */
export class ExpertLoadStats {
  private static readonly EXACT_ROWS = 2 ** 24;
  private readonly host = new Map<Tensor<'f32'>, Float64Array>();
  private rows = 0;
  /** `layers()`: the load sink (Moe.loadSink) of each MoE layer counted (the MTP module's included once it is loaded). */
  constructor(private readonly layers: () => { layer: number; sink: Tensor<'f32'> }[]) {}

  /** Call before queueing a step of `rows` rows that counts load: folds the sinks first when they could leave f32's exact range. */
  async reserve(rows: number): Promise<void> {
    if (this.rows + rows > ExpertLoadStats.EXACT_ROWS) await this.fold();
    this.rows += rows;
  }

  /** Per MoE layer, tokens routed to each expert since loading or reset(). Reads the sinks. */
  async read(): Promise<ExpertLoad[]> {
    await this.fold();
    return this.layers().map(({ layer, sink }) => {
      const tokens = (this.host.get(sink) ?? new Float64Array(sink.numel)).slice();
      return { layer, tokens, total: tokens.reduce((a, v) => a + v, 0) };
    });
  }

  /** Zeroes every layer's load (the sinks, in stream order, and the host totals). */
  reset(): void {
    for (const { sink } of this.layers()) zeroInto(sink);
    this.host.clear();
    this.rows = 0;
  }

  /** Adds each sink into its host total and zeroes the sink (the zeroing is queued after the read's copy). */
  private async fold(): Promise<void> {
    this.rows = 0;
    for (const { sink } of this.layers()) {
      const copy = sink.cast('f32');  // a copy in stream order, so the zeroing below cannot race the read
      zeroInto(sink);
      let a: Float32Array;
      try { a = await copy.toFloat32Array(); } finally { copy.dispose(); }
      let h = this.host.get(sink);
      if (!h) this.host.set(sink, h = new Float64Array(a.length));
      for (let e = 0; e < a.length; e++) h[e] += a[e];
    }
  }
}

function zeroInto(t: Tensor<'f32'>): void {
  const zero = Tensor.zeros(t.shape, { device: t.device });
  t.copyFrom(zero);
  zero.dispose();
}
