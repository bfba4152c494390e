// The MoE FFN (DeepSeek-V3 model.py MoE + Gate): router logits x @ gate^T in f32, moeRoute (sigmoid
// noaux_tc with e_score_correction_bias and group limiting, or V2 softmax greedy/group_limited_greedy),
// the chosen experts weighted, plus the shared experts. Reference: ../shared/research/v3-reference.md §5.
// Correctness first: per expert, its tokens' rows are gathered (embedding op as a row
// gather), run through the expert MLP, and added back on the host with their routing weight.
import { ModelConfig } from '../config';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { moeRoute, MoeRouteOptions } from '../ops/moe';
import { Tensor } from '../tensor';
import { Act, loadF32 } from './linear';
import { Mlp } from './mlp';
import { CheckpointLike } from './weights';

/** Routing of one MoE layer for t tokens: indices/weights [t, topK] row-major. */
export interface RouteTrace { layer: number; indices: Int32Array; weights: Float32Array }

export class Moe {
  private readonly routeOpts: MoeRouteOptions;
  constructor(private readonly cfg: ModelConfig, readonly gate: Tensor<'f32'>, readonly bias: Tensor<'f32'> | null,
    readonly experts: Mlp[], readonly shared: Mlp | null) {
    const grouped = cfg.topkMethod !== 'greedy';
    this.routeOpts = {
      topK: cfg.numExpertsPerTok, scoring: cfg.scoringFunc, bias: bias ?? undefined,
      nGroup: grouped ? cfg.nGroup : 1, topkGroup: grouped ? cfg.topkGroup : 1,
      normTopkProb: cfg.normTopkProb, routedScalingFactor: cfg.routedScalingFactor,
    };
  }

  /** prefix e.g. 'model.layers.3.mlp.'. */
  static load(cfg: ModelConfig, ckpt: CheckpointLike, prefix: string, act: Act, fp8 = false): Moe {
    const gate = loadF32(ckpt, `${prefix}gate.weight`);
    const bias = cfg.topkMethod === 'noaux_tc' ? loadF32(ckpt, `${prefix}gate.e_score_correction_bias`) : null;
    const experts: Mlp[] = [];
    for (let e = 0; e < cfg.nRoutedExperts; e++) experts.push(Mlp.load(ckpt, `${prefix}experts.${e}.`, act, fp8));
    const shared = cfg.nSharedExperts > 0 ? Mlp.load(ckpt, `${prefix}shared_experts.`, act, fp8) : null;
    return new Moe(cfg, gate, bias, experts, shared);
  }

  /** x [t, d] (normed) -> [t, d]; the routing is pushed to `trace` when given. */
  async forward(x: Tensor<Act>, trace?: RouteTrace[], layer = -1): Promise<Tensor<Act>> {
    const t = x.shape[0], d = x.shape[1], k = this.cfg.numExpertsPerTok;
    // Router logits in f32 (HF V3 casts to f32; model.py uses the activation dtype).
    const logits = gemm<Act, 'f32'>(x, this.gate, { outDtype: 'f32' });
    const route = moeRoute(logits, this.routeOpts);
    const [idx, wts] = [await route.indices.toArray(), await route.weights.toArray()];
    logits.dispose(); route.indices.dispose(); route.weights.dispose();
    if (trace) trace.push({ layer, indices: idx, weights: wts });

    const rows: number[][] = this.experts.map(() => []);
    const slot: number[][] = this.experts.map(() => []);
    for (let i = 0; i < t * k; i++) { rows[idx[i]].push(Math.floor(i / k)); slot[idx[i]].push(i); }
    // Queue every active expert (and the shared experts) before reading any result back.
    const active = this.experts.map((_, e) => e).filter((e) => rows[e].length > 0);
    const outs = active.map((e) => {
      const ids = Tensor.fromArray(Int32Array.from(rows[e]));
      const xe = embedding(x, ids);  // the expert's rows of x
      const ye = this.experts[e].forward(xe);
      ids.dispose(); xe.dispose();
      return ye;
    });
    const ys = this.shared ? this.shared.forward(x) : null;
    const out = new Float32Array(t * d);
    for (let a = 0; a < active.length; a++) {
      const e = active[a], y = await outs[a].toFloat32Array();
      outs[a].dispose();
      for (let j = 0; j < rows[e].length; j++) {
        const w = wts[slot[e][j]], o = rows[e][j] * d;
        for (let c = 0; c < d; c++) out[o + c] += w * y[j * d + c];
      }
    }
    if (ys) {
      const y = await ys.toFloat32Array();
      ys.dispose();
      for (let i = 0; i < out.length; i++) out[i] += y[i];
    }
    return Tensor.fromFloats(out, [t, d], { dtype: x.dtype });
  }

  dispose(): void {
    this.gate.dispose(); this.bias?.dispose();
    for (const e of this.experts) e.dispose();
    this.shared?.dispose();
  }
}
