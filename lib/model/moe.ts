// The MoE FFN (DeepSeek-V3 model.py MoE + Gate): router logits x @ gate^T in f32, moeRoute (sigmoid
// noaux_tc with e_score_correction_bias and group limiting, or V2 softmax greedy/group_limited_greedy),
// the chosen experts weighted, plus the shared experts. Reference: ../shared/research/v3-reference.md §5.
// The (token, expert) pairs are sorted by expert on the host, x's rows gathered in that order (the
// embedding op as a row gather), all experts run by grouped GEMMs (experts.ts), and the outputs added
// back on the host with their routing weights.
import { ModelConfig } from '../config';
import { embedding } from '../ops/embedding';
import { gemm } from '../ops/gemm';
import { moeRoute, MoeRouteOptions } from '../ops/moe';
import { Tensor } from '../tensor';
import { Act, loadF32 } from './linear';
import { Experts } from './experts';
import { Mlp } from './mlp';
import { CheckpointLike } from './weights';

/** Routing of one MoE layer for t tokens: indices/weights [t, topK] row-major. */
export interface RouteTrace { layer: number; indices: Int32Array; weights: Float32Array }

export class Moe {
  private readonly routeOpts: MoeRouteOptions;
  constructor(private readonly cfg: ModelConfig, readonly gate: Tensor<'f32'>, readonly bias: Tensor<'f32'> | null,
    readonly experts: Experts, readonly shared: Mlp | null) {
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
    const experts = Experts.load(ckpt, `${prefix}experts.`, cfg.nRoutedExperts, act, fp8);
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

    // Stable counting sort of the t*k (token, slot) pairs by expert.
    const E = this.experts.count, n = t * k;
    const offs = new Int32Array(E + 1);
    for (let i = 0; i < n; i++) offs[idx[i] + 1]++;
    for (let e = 0; e < E; e++) offs[e + 1] += offs[e];
    const fill = offs.slice(0, E), order = new Int32Array(n), tokens = new Int32Array(n);
    for (let i = 0; i < n; i++) { const j = fill[idx[i]]++; order[j] = i; tokens[j] = Math.floor(i / k); }
    const ids = Tensor.fromArray(tokens), offsets = Tensor.fromArray(offs);
    const xs = embedding(x, ids);  // [n, d]: x's rows grouped by expert
    const ye = this.experts.forward(xs, offsets);
    ids.dispose(); xs.dispose(); offsets.dispose();
    const ys = this.shared ? this.shared.forward(x) : null;  // queued before the first read-back
    const y = await ye.toFloat32Array();
    ye.dispose();
    const out = new Float32Array(t * d);
    for (let j = 0; j < n; j++) {
      const w = wts[order[j]], o = tokens[j] * d;
      for (let c = 0; c < d; c++) out[o + c] += w * y[j * d + c];
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
    this.experts.dispose();
    this.shared?.dispose();
  }
}
