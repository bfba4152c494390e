// The MoE FFN (DeepSeek-V3 model.py MoE + Gate): router logits x @ gate^T in f32, moeRoute (sigmoid
// noaux_tc with e_score_correction_bias and group limiting, or V2 softmax greedy/group_limited_greedy),
// the chosen experts weighted, plus the shared experts, plus the residual. Reference:
// docs/v3-reference.md §5. Everything stays on x's device (ops/moe.ts moeForward: permute by
// expert, grouped GEMMs, weighted combine); only a routing trace or the load statistics read data back.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { moeForward, MoeRouteOptions } from '../ops/moe';
import { Tensor } from '../tensor';
import { collectingStatistics, isCapturing } from '../graph';
import { add } from '../ops/elementwise';
import { Act, loadF32 } from './linear';
import { Experts } from './experts';
import { Mlp } from './mlp';
import { CheckpointLike } from './weights';

/** Routing of one MoE layer for t tokens: indices/weights [t, topK] row-major. */
export interface RouteTrace { layer: number; indices: Int32Array; weights: Float32Array }

export class Moe {
  private readonly routeOpts: MoeRouteOptions;
  constructor(cfg: ModelConfig, readonly gate: Tensor<'f32'>, readonly bias: Tensor<'f32'> | null,
    readonly experts: Experts, readonly shared: Mlp | null) {
    const grouped = cfg.topkMethod !== 'greedy';
    this.routeOpts = {
      topK: cfg.numExpertsPerTok, scoring: cfg.scoringFunc, bias: bias ?? undefined,
      nGroup: grouped ? cfg.nGroup : 1, topkGroup: grouped ? cfg.topkGroup : 1,
      normTopkProb: cfg.normTopkProb, routedScalingFactor: cfg.routedScalingFactor,
    };
    this.load = new Float64Array(cfg.nRoutedExperts);
  }

  /** prefix e.g. 'model.layers.3.mlp.'. */
  static load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, act: Act, fp8 = false): Moe {
    const gate = loadF32(ckpt, `${prefix}gate.weight`);
    const bias = cfg.topkMethod === 'noaux_tc' ? loadF32(ckpt, `${prefix}gate.e_score_correction_bias`) : null;
    const experts = Experts.load(ckpt, `${prefix}experts.`, cfg.nRoutedExperts, act, fp8);
    const shared = cfg.nSharedExperts > 0 ? Mlp.load(ckpt, `${prefix}shared_experts.`, act, fp8) : null;
    return new Moe(cfg, gate, bias, experts, shared);
  }

  /** x [t, d] (normed) -> [t, d] FFN output, or residual + FFN output when `residual` is given (one rounding); the routing is pushed to `trace` when given. */
  async forward(x: Tensor<Act>, trace?: RouteTrace[], layer = -1, residual?: Tensor<Act>): Promise<Tensor<Act>> {
    const ys = this.shared ? this.shared.forward(x) : undefined;
    const r = moeForward(x, this.gate, this.experts.weights, { ...this.routeOpts, shared: ys, residual, outDtype: x.dtype });
    ys?.dispose();
    // not in a warm-up step; while capturing, the graph adds the counts into graphSink at every replay
    if (collectingStatistics() && isCapturing()) this.countInGraph(r.counts);
    else if (collectingStatistics()) this.pending.push(r.counts);
    else r.counts.dispose();
    if (trace) trace.push({ layer, indices: await r.indices.toArray(), weights: await r.weights.toArray() });
    r.indices.dispose(); r.weights.dispose();
    if (this.pending.length >= Moe.FOLD_EVERY) {
      this.foldOnDevice();
      if (++this.deviceFolds >= Moe.READ_EVERY) await this.fold();  // one host read per 16384 calls
    }
    return r.out;
  }

  /** Tokens routed to each expert ([E], a copy) since load or the last resetExpertLoad(). */
  async expertLoad(): Promise<Float64Array> {
    await this.fold();
    return this.load.slice();
  }

  resetExpertLoad(): void {
    for (const c of this.pending.splice(0)) c.dispose();
    if (this.graphSink) this.zeroInto(this.graphSink);
    this.deviceSum?.dispose();
    this.deviceSum = null;
    this.deviceFolds = 0;
    this.load.fill(0);
  }

  // Per-call counts stay on the device: every FOLD_EVERY calls they are added into an f32 running sum on
  // the device (device ops only, no host sync inside a forward); the host reads it on expertLoad() or,
  // to stay far below f32's 2^24 exact integers, after READ_EVERY device folds.
  private static readonly FOLD_EVERY = 64;
  private static readonly READ_EVERY = 256;
  private readonly pending: Tensor<'i32'>[] = [];
  private deviceSum: Tensor<'f32'> | null = null;
  private deviceFolds = 0;
  private readonly load: Float64Array;
  // Captured steps (lib/graph.ts) count into graphSink, an f32 [E] tensor made before the capture
  // (prepareCapture): the graph holds cast + add + copy into it, so every replay counts; fold() drains it.
  private graphSink: Tensor<'f32'> | null = null;

  /** Makes the sink a captured step adds its expert counts to (call before the capture: it must outlive it). */
  prepareCapture(): void {
    this.graphSink ??= Tensor.zeros([this.load.length], { device: this.gate.device });
  }

  private zeroInto(t: Tensor<'f32'>): void {
    const zero = Tensor.zeros([this.load.length], { device: this.gate.device });
    t.copyFrom(zero);
    zero.dispose();
  }

  private countInGraph(counts: Tensor<'i32'>): void {
    if (!this.graphSink) throw new ArgumentError('Moe: a captured step counts expert load into a sink made before the capture: call model.prepareCapture() first');
    const f = counts.cast('f32');
    counts.dispose();
    const s = add(this.graphSink, f);
    this.graphSink.copyFrom(s);
    f.dispose(); s.dispose();
  }

  private foldOnDevice(): void {
    if (this.graphSink) {  // the replays' counts so far into deviceSum, then the sink zeroed: both in stream order
      const s = this.deviceSum ? add(this.deviceSum, this.graphSink) : this.graphSink.cast('f32');  // cast: a copy
      this.zeroInto(this.graphSink);
      this.deviceSum?.dispose();
      this.deviceSum = s;
    }
    for (const c of this.pending.splice(0)) {
      const f = c.cast('f32');
      c.dispose();
      if (this.deviceSum) {
        const s = add(this.deviceSum, f);
        this.deviceSum.dispose(); f.dispose();
        this.deviceSum = s;
      } else {
        this.deviceSum = f;
      }
    }
  }
  private async fold(): Promise<void> {
    this.foldOnDevice();
    this.deviceFolds = 0;
    const sum = this.deviceSum;
    this.deviceSum = null;
    if (!sum) return;
    const a = await sum.toFloat32Array();
    sum.dispose();
    for (let e = 0; e < a.length; e++) this.load[e] += a[e];
  }

  dispose(): void {
    this.resetExpertLoad();
    this.graphSink?.dispose();
    this.gate.dispose(); this.bias?.dispose();
    this.experts.dispose();
    this.shared?.dispose();
  }
}
