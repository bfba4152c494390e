// Float64 reference forward of a DeepSeek-V2/V3 model with HF semantics and the NAIVE attention path
// (per-head K = [k_nope | k_pe], V from kv_b_proj, causal softmax): independent of lib/model's absorbed
// path. Plain loops over Float64Arrays; small configs only. Reference: research/v3-reference.md §3-5.
import { isMoeLayer, ModelConfig } from '../../lib/config';

export type Weights = Map<string, Float64Array>;

/** x [t, k] @ w [n, k]^T -> [t, n]. */
function linear(x: Float64Array, t: number, w: Float64Array, n: number, k: number): Float64Array {
  const y = new Float64Array(t * n);
  for (let i = 0; i < t; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += x[i * k + c] * w[j * k + c];
    y[i * n + j] = s;
  }
  return y;
}
function rms(x: Float64Array, t: number, d: number, w: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(t * d);
  for (let i = 0; i < t; i++) {
    let ss = 0;
    for (let c = 0; c < d; c++) ss += x[i * d + c] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let c = 0; c < d; c++) y[i * d + c] = w[c] * x[i * d + c] * inv;
  }
  return y;
}
/** Interleaved-pair rotation of v[off .. off+2n) at position pos (DeepSeek's complex multiply). */
function ropeAt(v: Float64Array, off: number, pos: number, invFreq: ArrayLike<number>): void {
  for (let i = 0; i < invFreq.length; i++) {
    const a = pos * invFreq[i], c = Math.cos(a), s = Math.sin(a);
    const x0 = v[off + 2 * i], x1 = v[off + 2 * i + 1];
    v[off + 2 * i] = x0 * c - x1 * s;
    v[off + 2 * i + 1] = x0 * s + x1 * c;
  }
}
const silu = (x: number) => x / (1 + Math.exp(-x));
function mlp(W: Weights, p: string, x: Float64Array, t: number, d: number, inter: number): Float64Array {
  const g = linear(x, t, W.get(`${p}gate_proj.weight`)!, inter, d), u = linear(x, t, W.get(`${p}up_proj.weight`)!, inter, d);
  for (let i = 0; i < g.length; i++) g[i] = silu(g[i]) * u[i];
  return linear(g, t, W.get(`${p}down_proj.weight`)!, d, inter);
}

export interface RefRoute { indices: number[][]; weights: number[][] }

function route(cfg: ModelConfig, logits: Float64Array, t: number, bias: Float64Array | undefined): RefRoute {
  const E = cfg.nRoutedExperts, K = cfg.numExpertsPerTok, G = cfg.topkMethod === 'greedy' ? 1 : cfg.nGroup;
  const KG = cfg.topkMethod === 'greedy' ? 1 : cfg.topkGroup;
  const out: RefRoute = { indices: [], weights: [] };
  for (let i = 0; i < t; i++) {
    const l = Array.from(logits.subarray(i * E, (i + 1) * E));
    let s: number[];
    if (cfg.scoringFunc === 'sigmoid') s = l.map((v) => 1 / (1 + Math.exp(-v)));
    else { const m = Math.max(...l), e = l.map((v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0); s = e.map((v) => v / z); }
    const choice = s.map((v, e) => v + (bias ? bias[e] : 0));
    if (G > 1) {
      const per = E / G;
      const gs = Array.from({ length: G }, (_, g) => {
        const xs = choice.slice(g * per, (g + 1) * per).sort((a, b) => b - a);
        return bias ? xs[0] + xs[1] : xs[0];
      });
      const keep = new Set(gs.map((v, g) => [v, g]).sort((a, b) => b[0] - a[0]).slice(0, KG).map((x) => x[1]));
      for (let e = 0; e < E; e++) if (!keep.has(Math.floor(e / per))) choice[e] = -Infinity;
    }
    const idx = choice.map((v, e) => [v, e]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, K).map((x) => x[1]);
    let w = idx.map((e) => s[e]);
    if (cfg.normTopkProb) { const z = w.reduce((a, b) => a + b, 0); w = w.map((v) => v / z); }
    out.indices.push(idx);
    out.weights.push(w.map((v) => v * cfg.routedScalingFactor));
  }
  return out;
}

/** ids [t] at positions 0..t-1 -> logits [t, vocab], hidden per layer [t, d], routing per MoE layer. */
export function referenceForward(cfg: ModelConfig, W: Weights, ids: number[], invFreq: ArrayLike<number>):
  { logits: Float64Array; hidden: Float64Array[]; routes: RefRoute[] } {
  const t = ids.length, d = cfg.hiddenSize, H = cfg.numHeads, nope = cfg.qkNopeHeadDim, pe = cfg.qkRopeHeadDim;
  const v = cfg.vHeadDim, r = cfg.kvLoraRank, qk = nope + pe, eps = cfg.rmsNormEps;
  const emb = W.get('model.embed_tokens.weight')!;
  let x: Float64Array = new Float64Array(t * d);
  ids.forEach((id, i) => x.set(emb.subarray(id * d, (id + 1) * d), i * d));
  const hidden: Float64Array[] = [], routes: RefRoute[] = [];
  for (let L = 0; L < cfg.numLayers; L++) {
    const p = `model.layers.${L}.`;
    const xn = rms(x, t, d, W.get(`${p}input_layernorm.weight`)!, eps);
    let q: Float64Array;
    if (cfg.qLoraRank === null) q = linear(xn, t, W.get(`${p}self_attn.q_proj.weight`)!, H * qk, d);
    else {
      const cq = rms(linear(xn, t, W.get(`${p}self_attn.q_a_proj.weight`)!, cfg.qLoraRank, d), t, cfg.qLoraRank, W.get(`${p}self_attn.q_a_layernorm.weight`)!, eps);
      q = linear(cq, t, W.get(`${p}self_attn.q_b_proj.weight`)!, H * qk, cfg.qLoraRank);
    }
    const kv = linear(xn, t, W.get(`${p}self_attn.kv_a_proj_with_mqa.weight`)!, r + pe, d);
    const ckv = new Float64Array(t * r), kpe = new Float64Array(t * pe);
    for (let i = 0; i < t; i++) { ckv.set(kv.subarray(i * (r + pe), i * (r + pe) + r), i * r); kpe.set(kv.subarray(i * (r + pe) + r, (i + 1) * (r + pe)), i * pe); }
    const ckvN = rms(ckv, t, r, W.get(`${p}self_attn.kv_a_layernorm.weight`)!, eps);
    for (let i = 0; i < t; i++) {
      ropeAt(kpe, i * pe, i, invFreq);
      for (let h = 0; h < H; h++) ropeAt(q, (i * H + h) * qk + nope, i, invFreq);
    }
    const kvb = linear(ckvN, t, W.get(`${p}self_attn.kv_b_proj.weight`)!, H * (nope + v), r);
    const o = new Float64Array(t * H * v);
    for (let h = 0; h < H; h++) for (let i = 0; i < t; i++) {
      const sc = new Float64Array(i + 1);
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let c = 0; c < nope; c++) s += q[(i * H + h) * qk + c] * kvb[(j * H + h) * (nope + v) + c];
        for (let c = 0; c < pe; c++) s += q[(i * H + h) * qk + nope + c] * kpe[j * pe + c];
        sc[j] = s * cfg.softmaxScale;
      }
      const m = Math.max(...sc);
      let z = 0;
      for (let j = 0; j <= i; j++) { sc[j] = Math.exp(sc[j] - m); z += sc[j]; }
      for (let j = 0; j <= i; j++) for (let c = 0; c < v; c++) o[(i * H + h) * v + c] += (sc[j] / z) * kvb[(j * H + h) * (nope + v) + nope + c];
    }
    const a = linear(o, t, W.get(`${p}self_attn.o_proj.weight`)!, d, H * v);
    for (let i = 0; i < x.length; i++) a[i] += x[i];
    x = a;
    const hn = rms(x, t, d, W.get(`${p}post_attention_layernorm.weight`)!, eps);
    let f: Float64Array;
    if (!isMoeLayer(cfg, L)) f = mlp(W, `${p}mlp.`, hn, t, d, cfg.intermediateSize);
    else {
      const E = cfg.nRoutedExperts;
      const rt = route(cfg, linear(hn, t, W.get(`${p}mlp.gate.weight`)!, E, d), t, W.get(`${p}mlp.gate.e_score_correction_bias`));
      routes.push(rt);
      f = cfg.nSharedExperts > 0 ? mlp(W, `${p}mlp.shared_experts.`, hn, t, d, cfg.moeIntermediateSize * cfg.nSharedExperts) : new Float64Array(t * d);
      for (let i = 0; i < t; i++) rt.indices[i].forEach((e, k) => {
        const y = mlp(W, `${p}mlp.experts.${e}.`, hn.subarray(i * d, (i + 1) * d), 1, d, cfg.moeIntermediateSize);
        for (let c = 0; c < d; c++) f[i * d + c] += rt.weights[i][k] * y[c];
      });
    }
    for (let i = 0; i < x.length; i++) f[i] += x[i];
    x = f;
    hidden.push(x);
  }
  const xn = rms(x, t, d, W.get('model.norm.weight')!, eps);
  return { logits: linear(xn, t, W.get('lm_head.weight')!, cfg.vocabSize, d), hidden, routes };
}
