// The model on synthetic checkpoints of the shapes the fixture does not cover (V2-Lite: plain q_proj,
// softmax greedy routing, bf16 weights, plain RoPE, 2 shared experts; V2-236B-style: q_lora, softmax
// group_limited_greedy, YaRN with mscale 0.707, moe_layer_freq 2) against an independent float64
// forward with the naive attention path (test/reference/model.ts).
import { Tensor } from '../../lib';
import { parseConfig } from '../../lib/config';
import { loadModelFrom, ropeInvFreq } from '../../lib/model/load';
import { RouteTrace } from '../../lib/model/stats';
import { CheckpointLike, expectedTensors } from '../../lib/model/weights';
import { relErr, withSeed } from '../helpers';
import { referenceForward, Weights } from '../reference/model';
import { Rng } from '../reference/rng';

const base = {
  vocab_size: 61, hidden_size: 64, intermediate_size: 96, moe_intermediate_size: 24, num_hidden_layers: 3,
  first_k_dense_replace: 1, moe_layer_freq: 1, n_routed_experts: 8, n_shared_experts: 2, num_experts_per_tok: 3,
  kv_lora_rank: 32, qk_nope_head_dim: 16, qk_rope_head_dim: 8, v_head_dim: 12, num_attention_heads: 3,
  rms_norm_eps: 1e-6, rope_theta: 10000, max_position_embeddings: 128, hidden_act: 'silu', tie_word_embeddings: false,
};
const v2Lite = { ...base, model_type: 'deepseek_v2', q_lora_rank: null, scoring_func: 'softmax', topk_method: 'greedy', n_group: 1, topk_group: 1, norm_topk_prob: false, routed_scaling_factor: 1.5, rope_scaling: null };
const v2Big = {
  ...base, model_type: 'deepseek_v2', num_hidden_layers: 4, moe_layer_freq: 2, q_lora_rank: 40, scoring_func: 'softmax', topk_method: 'group_limited_greedy',
  n_group: 4, topk_group: 2, norm_topk_prob: false, routed_scaling_factor: 16,
  rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 },
};

/** Random bf16 weights for every tensor of the config, as a CheckpointLike plus their float64 values. */
async function synthetic(cfgJson: object, rng: Rng): Promise<{ ckpt: CheckpointLike; W: Weights }> {
  const cfg = parseConfig(cfgJson);
  const tensors = new Map<string, Tensor>(), W: Weights = new Map();
  for (const s of expectedTensors(cfg)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const norm = s.shape.length === 1;
    const vals = norm ? Float32Array.from(rng.normals(n, 0.1), (v) => 1 + v) : Float32Array.from(rng.normals(n, s.name.includes('gate.weight') ? 0.3 : 1 / Math.sqrt(s.shape[1])));
    const t = Tensor.fromFloats(vals, s.shape, { dtype: 'bf16' });
    tensors.set(s.name, t);
    W.set(s.name, Float64Array.from(await t.toFloat32Array()));
  }
  const ckpt: CheckpointLike = {
    has: (n) => tensors.has(n),
    info: (n) => ({ name: n, dtype: tensors.get(n)!.dtype, shape: [...tensors.get(n)!.shape] }),
    get: (n) => tensors.get(n)!,
  };
  return { ckpt, W };
}

describe.each([['V2-Lite-like', v2Lite], ['V2-236B-like', v2Big]])('%s', (_, json) => {
  test('prefill, hidden states, routing and decode match the float64 naive-attention reference', () => withSeed(async (seed) => {
    const rng = new Rng(seed);
    const cfg = parseConfig(json);
    const { ckpt, W } = await synthetic(json, rng);
    const model = await loadModelFrom(cfg, ckpt);
    const T = 20, P = 14;
    const ids = Array.from({ length: T }, () => rng.int(0, cfg.vocabSize - 1));
    const ref = referenceForward(cfg, W, ids, ropeInvFreq(cfg));
    const V = cfg.vocabSize, D = cfg.hiddenSize, K = cfg.numExpertsPerTok;

    const trace: RouteTrace[] = [];
    const out = await model.forward(ids, { hidden: true, trace });
    expect(relErr(out.logits, ref.logits)).toBeLessThan(1e-5);
    for (let l = 0; l < cfg.numLayers; l++) expect(relErr(out.hidden![l], ref.hidden[l])).toBeLessThan(1e-5);
    expect(trace.length).toBe(ref.routes.length);
    trace.forEach((tr, m) => {
      for (let i = 0; i < T; i++) {
        const got = Array.from(tr.indices.subarray(i * K, (i + 1) * K));
        expect([...got].sort((a, b) => a - b)).toEqual([...ref.routes[m].indices[i]].sort((a, b) => a - b));
        ref.routes[m].indices[i].forEach((e, k) => expect(Math.abs(tr.weights[i * K + got.indexOf(e)] - ref.routes[m].weights[i][k])).toBeLessThan(1e-5 * cfg.routedScalingFactor));
      }
    });

    const cache = model.createCache(32);
    const pre = await model.forward(ids.slice(0, P), { cache });
    expect(relErr(pre.logits, ref.logits.subarray(0, P * V))).toBeLessThan(1e-5);
    for (let i = P; i < T; i++) {
      const r = await model.forward([ids[i]], { cache, hidden: true });
      expect(relErr(r.logits, ref.logits.subarray(i * V, (i + 1) * V))).toBeLessThan(1e-5);
      expect(relErr(r.hidden![cfg.numLayers - 1], ref.hidden[cfg.numLayers - 1].subarray(i * D, (i + 1) * D))).toBeLessThan(1e-5);
    }
  }), 60000);
});
