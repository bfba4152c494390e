// parseConfig: the fixture config, DeepSeek-V3 (671B) and V2-Lite configs, and each rejected value.
// Values: docs/v3-reference.md §1, §9; test/fixtures/tiny-v3/cases.md.
import { readFileSync } from 'fs';
import { join } from 'path';
import { ArgumentError, UnsupportedError } from '../../lib';
import { isMoeLayer, parseConfig } from '../../lib/config';

const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'tiny-v3', 'config.json'), 'utf8'));

const v3 = {
  architectures: ['DeepseekV3ForCausalLM'], model_type: 'deepseek_v3', vocab_size: 129280, hidden_size: 7168,
  intermediate_size: 18432, moe_intermediate_size: 2048, num_hidden_layers: 61, first_k_dense_replace: 3,
  moe_layer_freq: 1, n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8, n_group: 8, topk_group: 4,
  routed_scaling_factor: 2.5, scoring_func: 'sigmoid', topk_method: 'noaux_tc', norm_topk_prob: true,
  q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
  num_attention_heads: 128, num_key_value_heads: 128, hidden_act: 'silu', rms_norm_eps: 1e-6, rope_theta: 10000,
  max_position_embeddings: 163840,
  rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 1.0, mscale_all_dim: 1.0 },
  num_nextn_predict_layers: 1, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 1, attention_bias: false,
  quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] },
  torch_dtype: 'bfloat16', aux_loss_alpha: 0.001, seq_aux: true, ep_size: 1, pretraining_tp: 1,
};

const v2Lite = {
  model_type: 'deepseek_v2', vocab_size: 102400, hidden_size: 2048, intermediate_size: 10944, moe_intermediate_size: 1408,
  num_hidden_layers: 27, first_k_dense_replace: 1, moe_layer_freq: 1, n_routed_experts: 64, n_shared_experts: 2,
  num_experts_per_tok: 6, n_group: 1, topk_group: 1, routed_scaling_factor: 1.0, scoring_func: 'softmax', topk_method: 'greedy',
  norm_topk_prob: false, q_lora_rank: null, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128,
  num_attention_heads: 16, num_key_value_heads: 16, hidden_act: 'silu', rms_norm_eps: 1e-6, rope_theta: 10000,
  max_position_embeddings: 163840,
  rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 },
  tie_word_embeddings: false, bos_token_id: 100000, eos_token_id: 100001, attention_bias: false,
};

test('the tiny-v3 fixture config', () => {
  const c = parseConfig(fixture);
  expect(c).toMatchObject({
    modelType: 'deepseek_v3', vocabSize: 1024, hiddenSize: 256, intermediateSize: 512, moeIntermediateSize: 128, numLayers: 3,
    firstKDenseReplace: 1, nRoutedExperts: 16, nSharedExperts: 1, numExpertsPerTok: 4, nGroup: 4, topkGroup: 2,
    routedScalingFactor: 2.5, scoringFunc: 'sigmoid', topkMethod: 'noaux_tc', normTopkProb: true, qLoraRank: 128,
    kvLoraRank: 128, qkNopeHeadDim: 32, qkRopeHeadDim: 16, vHeadDim: 32, numHeads: 4, numNextnPredictLayers: 0,
  });
  expect(c.rope.yarn).toEqual({ factor: 4, originalMaxPositionEmbeddings: 64, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 1 });
  expect(c.softmaxScale).toBeCloseTo(0.18713033519502428, 15);
  expect(c.quantization).toEqual({ method: 'fp8', fmt: 'e4m3', blockSize: [128, 128], activationScheme: 'dynamic', scaleFmt: null });
  expect([0, 1, 2].map((l) => isMoeLayer(c, l))).toEqual([false, true, true]);
  expect(Object.isFrozen(c) && Object.isFrozen(c.rope)).toBe(true);
});

test('DeepSeek-V3 671B config (§1)', () => {
  const c = parseConfig(v3);
  expect(c.softmaxScale).toBeCloseTo(0.1352337789, 9);
  expect(c.qLoraRank).toBe(1536);
  expect(c.numHeads).toBe(128);
  expect(c.numNextnPredictLayers).toBe(1);
  expect([2, 3, 60].map((l) => isMoeLayer(c, l))).toEqual([false, true, true]);
  expect(parseConfig({ ...v3, quantization_config: { ...v3.quantization_config, scale_fmt: 'ue8m0' } }).quantization!.scaleFmt).toBe('ue8m0');
});

test('DeepSeek-V2-Lite config (§9): plain q_proj, softmax greedy, no quantization', () => {
  const c = parseConfig(v2Lite);
  expect(c.modelType).toBe('deepseek_v2');
  expect(c.qLoraRank).toBeNull();
  expect(c.scoringFunc).toBe('softmax');
  expect(c.topkMethod).toBe('greedy');
  expect(c.quantization).toBeNull();
  expect(c.softmaxScale).toBeCloseTo(0.114721, 6);
});

test('YaRN is off when max_position_embeddings <= original (model.py rule); plain RoPE without rope_scaling', () => {
  const c = parseConfig({ ...fixture, max_position_embeddings: 64 });
  expect(c.rope.yarn).toBeNull();
  expect(c.softmaxScale).toBeCloseTo(48 ** -0.5, 15);
  expect(parseConfig({ ...fixture, rope_scaling: null }).rope.yarn).toBeNull();
});

test('rejections name the field', () => {
  const bad: [Record<string, unknown>, typeof UnsupportedError | typeof ArgumentError, string][] = [
    [{ model_type: 'llama' }, UnsupportedError, 'model_type'],
    [{ hidden_act: 'gelu' }, UnsupportedError, 'hidden_act'],
    [{ attention_bias: true }, UnsupportedError, 'attention_bias'],
    [{ tie_word_embeddings: true }, UnsupportedError, 'tie_word_embeddings'],
    [{ scoring_func: 'relu' }, UnsupportedError, 'scoring_func'],
    [{ topk_method: 'aux_free' }, UnsupportedError, 'topk_method'],
    [{ rope_scaling: { ...fixture.rope_scaling, type: 'linear' } }, UnsupportedError, 'rope_scaling.type'],
    [{ rope_scaling: { ...fixture.rope_scaling, mscale: 0.5 } }, UnsupportedError, 'rope_scaling.mscale'],
    [{ quantization_config: { ...fixture.quantization_config, quant_method: 'gptq' } }, UnsupportedError, 'quantization_config.quant_method'],
    [{ quantization_config: { ...fixture.quantization_config, fmt: 'e5m2' } }, UnsupportedError, 'quantization_config.fmt'],
    [{ quantization_config: { ...fixture.quantization_config, weight_block_size: [64, 64] } }, UnsupportedError, 'quantization_config.weight_block_size'],
    [{ num_key_value_heads: 1 }, UnsupportedError, 'num_key_value_heads'],
    [{ n_routed_experts: 15 }, ArgumentError, 'n_routed_experts'],
    [{ topk_group: 5 }, ArgumentError, 'topk_group'],
    [{ num_experts_per_tok: 17 }, ArgumentError, 'num_experts_per_tok'],
    [{ hidden_size: 0 }, ArgumentError, 'hidden_size'],
    [{ kv_lora_rank: 1.5 }, ArgumentError, 'kv_lora_rank'],
    [{ num_hidden_layers: undefined }, ArgumentError, 'num_hidden_layers'],
    [{ first_k_dense_replace: 4 }, ArgumentError, 'first_k_dense_replace'],
    [{ rms_norm_eps: -1 }, ArgumentError, 'rms_norm_eps'],
    [{ norm_topk_prob: 'yes' }, ArgumentError, 'norm_topk_prob'],
    [{ rope_scaling: { ...fixture.rope_scaling, factor: 0.5 } }, ArgumentError, 'rope_scaling.factor'],
  ];
  for (const [patch, cls, field] of bad) {
    const f = () => parseConfig({ ...fixture, ...patch });
    expect(f).toThrow(cls);
    expect(f).toThrow(`'${field}'`);
  }
  expect(() => parseConfig(null)).toThrow(ArgumentError);
  expect(() => parseConfig({ ...fixture, model_type: 'llama' })).toThrow(`config: field 'model_type' = "llama" is not supported ("deepseek_v3" or "deepseek_v2")`);
});
