// The MoE FFN (DeepSeek-V3 model.py MoE + Gate): router logits x @ gate^T in f32, moeRoute (sigmoid
// noaux_tc with e_score_correction_bias and group limiting, or V2 softmax greedy/group_limited_greedy),
// the chosen experts weighted, plus the shared experts, plus the residual. Reference:
// docs/v3-reference.md §5. Everything stays on x's device (ops/moe.ts moeForward: permute by
// expert, grouped GEMMs, weighted combine); a step's routing and expert counts go to device sinks (stats.ts).
import { ModelConfig } from '../config';
import { moeForward, MoeRouteOptions } from '../ops/moe';
import { Tensor } from '../tensor';
import { add } from '../ops/elementwise';
import { Act } from './linear';
import type { Loader } from './loader';
import { Experts } from './experts';
import { Mlp } from './mlp';
import { RoutingSink } from './stats';
export type { RouteTrace } from './stats';

export class Moe {
  private readonly routeOpts: MoeRouteOptions;
  /** f32 [n_routed_experts] on the gate's device: tokens routed to each expert, added by every forward with sink.load (stats.ts ExpertLoadStats folds and zeroes it). */
  readonly loadSink: Tensor<'f32'>;
  constructor(cfg: ModelConfig, readonly gate: Tensor<'f32'>, readonly bias: Tensor<'f32'> | null,
    readonly experts: Experts, readonly shared: Mlp | null) {
    const grouped = cfg.topkMethod !== 'greedy';
    this.routeOpts = {
      topK: cfg.numExpertsPerTok, scoring: cfg.scoringFunc, bias: bias ?? undefined,
      nGroup: grouped ? cfg.nGroup : 1, topkGroup: grouped ? cfg.topkGroup : 1,
      normTopkProb: cfg.normTopkProb, routedScalingFactor: cfg.routedScalingFactor,
    };
    this.loadSink = Tensor.zeros([cfg.nRoutedExperts], { device: gate.device });
  }

  /** prefix e.g. 'model.layers.3.mlp.'. */
  static load(cfg: ModelConfig, w: Loader, prefix: string): Moe {
    const bias = cfg.topkMethod === 'noaux_tc' ? w.tensor<'f32'>(`${prefix}gate.e_score_correction_bias`) : null;
    const shared = cfg.nSharedExperts > 0 ? Mlp.load(w, `${prefix}shared_experts.`) : null;
    return new Moe(cfg, w.tensor(`${prefix}gate.weight`), bias, w.experts(`${prefix}experts.`), shared);
  }

  /**
   * x [t, d] (normed) -> [t, d] FFN output, or residual + FFN output when `residual` is given (one rounding). Only
   * queues work: the expert counts go into loadSink (sink.load) and the routing to sink.trace, both on the device.
   */
  forward(x: Tensor<Act>, residual?: Tensor<Act>, sink?: RoutingSink, layer = -1): Tensor<Act> {
    const ys = this.shared ? this.shared.forward(x) : undefined;
    const r = moeForward(x, this.gate, this.experts.weights, { ...this.routeOpts, shared: ys, residual, outDtype: x.dtype });
    ys?.dispose();
    if (sink?.load) {  // loadSink += counts, in place: device ops only, so a captured step counts at every replay
      const f = r.counts.cast('f32');
      add(this.loadSink, f, { out: this.loadSink });
      f.dispose();
    }
    r.counts.dispose();
    if (sink?.trace) {
      sink.trace.push({ layer, indices: r.indices, weights: r.weights });
    } else {
      r.indices.dispose(); r.weights.dispose();
    }
    return r.out;
  }

  dispose(): void {
    this.loadSink.dispose();
    this.gate.dispose(); this.bias?.dispose();
    this.experts.dispose();
    this.shared?.dispose();
  }
}
