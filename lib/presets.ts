// Model presets for random checkpoints (demos, tests, benchmarks): HF-style deepseek_v3 config.json objects
// with DeepSeek-V3's structure (MLA with q/kv LoRA, sigmoid noaux_tc routing with groups, a shared expert,
// FP8 e4m3 128x128 weights, YaRN, one MTP layer) at small sizes. Field meanings: docs/v3-reference.md §1.
import { ArgumentError } from './errors';

export type PresetName = 'tiny' | 'small';

function v3(over: Record<string, unknown>): Record<string, unknown> {
  return {
    architectures: ['DeepseekV3ForCausalLM'],
    model_type: 'deepseek_v3',
    first_k_dense_replace: 1,
    moe_layer_freq: 1,
    n_shared_experts: 1,
    routed_scaling_factor: 2.5,
    scoring_func: 'sigmoid',
    topk_method: 'noaux_tc',
    norm_topk_prob: true,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
    num_nextn_predict_layers: 1,
    bos_token_id: 0,
    eos_token_id: 1,
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0.0,
    torch_dtype: 'bfloat16',
    use_cache: true,
    quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] },
    ...over,
  };
}

const PRESETS: Record<PresetName, () => Record<string, unknown>> = {
  // The dims of test/fixtures/tiny-v3, plus the MTP layer.
  tiny: () => v3({
    vocab_size: 1024, hidden_size: 256, intermediate_size: 512, moe_intermediate_size: 128,
    num_hidden_layers: 3, n_routed_experts: 16, num_experts_per_tok: 4, n_group: 4, topk_group: 2,
    q_lora_rank: 128, kv_lora_rank: 128, qk_nope_head_dim: 32, qk_rope_head_dim: 16, v_head_dim: 32,
    num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 256,
    rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 64, beta_fast: 32, beta_slow: 1, mscale: 1.0, mscale_all_dim: 1.0 },
  }),
  // ~0.2B parameters: CPU prefill and decode take seconds.
  small: () => v3({
    vocab_size: 4096, hidden_size: 1024, intermediate_size: 2048, moe_intermediate_size: 256,
    num_hidden_layers: 6, n_routed_experts: 32, num_experts_per_tok: 4, n_group: 4, topk_group: 2,
    q_lora_rank: 384, kv_lora_rank: 256, qk_nope_head_dim: 64, qk_rope_head_dim: 32, v_head_dim: 64,
    num_attention_heads: 8, num_key_value_heads: 8, max_position_embeddings: 4096,
    rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 1024, beta_fast: 32, beta_slow: 1, mscale: 1.0, mscale_all_dim: 1.0 },
  }),
};

export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

/** A fresh copy of the preset's config.json object. */
export function presetConfig(name: string): Record<string, unknown> {
  if (!Object.hasOwn(PRESETS, name)) throw new ArgumentError(`preset: unknown preset ${JSON.stringify(name)} (known: ${PRESET_NAMES.join(', ')})`);
  return PRESETS[name as PresetName]();
}
