// The model configuration: HF config.json of DeepSeek-V3 (model_type deepseek_v3) and DeepSeek-V2
// (deepseek_v2) parsed into one validated, frozen object with DeepSeek's names in camelCase.
// Semantics: docs/v3-reference.md §1 (fields), §4 (YaRN), §9 (V2 / V2-Lite / Moonlight).
import { ArgumentError, UnsupportedError } from './errors';
import { mlaSoftmaxScale } from './ops/rope';

export interface RopeConfig {
  theta: number;
  /** YaRN parameters, null for plain RoPE (rope_scaling null). */
  yarn: null | {
    factor: number;
    originalMaxPositionEmbeddings: number;
    betaFast: number;
    betaSlow: number;
    mscale: number;
    mscaleAllDim: number;
  };
}

export interface ModelConfig {
  modelType: 'deepseek_v3' | 'deepseek_v2';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  moeIntermediateSize: number;
  numLayers: number;
  firstKDenseReplace: number;
  moeLayerFreq: number;
  nRoutedExperts: number;
  nSharedExperts: number;
  numExpertsPerTok: number;
  nGroup: number;
  topkGroup: number;
  routedScalingFactor: number;
  scoringFunc: 'sigmoid' | 'softmax';
  topkMethod: 'noaux_tc' | 'greedy' | 'group_limited_greedy';
  normTopkProb: boolean;
  /** null: a plain q_proj (V2-Lite, Moonlight). */
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  numHeads: number;
  rmsNormEps: number;
  maxPositionEmbeddings: number;
  rope: RopeConfig;
  /** qk_head_dim^-0.5 * mscale^2 (YaRN mscale_all_dim), as DeepSeek's MLA computes it. */
  softmaxScale: number;
  /** FP8 e4m3 128x128 block-quantized projections, or none (bf16 checkpoint). */
  quantization: null | { method: 'fp8'; fmt: 'e4m3'; blockSize: [128, 128]; activationScheme: 'dynamic'; scaleFmt: null | 'ue8m0' };
  numNextnPredictLayers: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

type Json = Record<string, unknown>;

/** A value for an error message: JSON (cut by the error's own cap), or its kind where JSON fails (a cycle, nesting too deep for the stack). */
function show(v: unknown): string {
  try {
    return String(JSON.stringify(v));
  } catch {
    return Array.isArray(v) ? 'an array' : typeof v;
  }
}

function isObj(v: unknown): v is Json { return typeof v === 'object' && v !== null && !Array.isArray(v); }

/**
 * Upper bounds of the fields that size allocations (the tensor inventory, caches, weights), far above every
 * DeepSeek model (V3's values in comments) and low enough that an absurd config.json fails here with an
 * ArgumentError instead of exhausting memory in `dsv3 info` or loadModel.
 */
export const CONFIG_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  hidden_size: 2 ** 17,                 // 7168
  intermediate_size: 2 ** 20,           // 18432
  moe_intermediate_size: 2 ** 20,       // 2048
  vocab_size: 2 ** 24,                  // 129280
  num_attention_heads: 4096,            // 128
  q_lora_rank: 2 ** 17,                 // 1536
  kv_lora_rank: 2 ** 17,                // 512
  qk_rope_head_dim: 2 ** 13,            // 64
  qk_nope_head_dim: 2 ** 13,            // 128
  v_head_dim: 2 ** 13,                  // 128
  num_hidden_layers: 4096,              // 61
  first_k_dense_replace: 4096,          // 3
  moe_layer_freq: 4096,                 // 1
  n_routed_experts: 2 ** 14,            // 256
  n_shared_experts: 1024,               // 1
  num_experts_per_tok: 2 ** 14,         // 8
  n_group: 2 ** 14,                     // 8
  topk_group: 2 ** 14,                  // 4
  max_position_embeddings: 2 ** 24,     // 163840
  num_nextn_predict_layers: 64,         // 1
});
/** Most expert tensors a config may describe: num_hidden_layers * (n_routed_experts + n_shared_experts) (V3: 15,677). */
export const MAX_EXPERT_MLPS = 2 ** 17;

function int(j: Json, key: string, min = 1): number {
  const v = j[key];
  const max = CONFIG_LIMITS[key] ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(`config: field '${key}' must be an integer in [${min}, ${max}], got ${show(v)}`);
  }
  return v;
}
function intOr(j: Json, key: string, dflt: number, min = 0): number { return j[key] === undefined || j[key] === null ? dflt : int(j, key, min); }
/** bos_token_id / eos_token_id: absent or null, an id in [0, vocab), or (eos) a list of them; returns the single id or null. */
function tokenId(j: Json, key: string, vocab: number): number | null {
  const v = j[key];
  if (v === undefined || v === null) return null;
  const ok = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < vocab;
  if (Array.isArray(v) && key === 'eos_token_id') {
    if (!v.every(ok)) throw new ArgumentError(`config: field '${key}' must hold token ids in [0, ${vocab}), got ${show(v)}`);
    return v.length === 1 ? v[0] : null;
  }
  if (!ok(v)) throw new ArgumentError(`config: field '${key}' must be a token id in [0, ${vocab}) or null, got ${show(v)}`);
  return v as number;
}
function num(j: Json, key: string, dflt?: number): number {
  const v = j[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`config: field '${key}' must be a finite number, got ${show(j[key])}`);
  return v;
}
function posNum(j: Json, key: string, dflt?: number): number {
  const v = num(j, key, dflt);
  if (!(v > 0)) throw new ArgumentError(`config: field '${key}' must be > 0, got ${v}`);
  return v;
}
function bool(j: Json, key: string, dflt: boolean): boolean {
  const v = j[key] ?? dflt;
  if (typeof v !== 'boolean') throw new ArgumentError(`config: field '${key}' must be a boolean, got ${show(v)}`);
  return v;
}
function unsupported(key: string, v: unknown, allowed: string): never {
  throw new UnsupportedError(`config: field '${key}' = ${show(v)} is not supported (${allowed})`);
}

function parseRope(j: Json, qkRopeHeadDim: number): RopeConfig {
  const theta = posNum(j, 'rope_theta', 10000);
  const rs = j.rope_scaling;
  if (rs === undefined || rs === null) return { theta, yarn: null };
  if (!isObj(rs)) throw new ArgumentError(`config: field 'rope_scaling' must be an object or null, got ${show(rs)}`);
  const type = rs.type ?? rs.rope_type;
  if (type !== 'yarn') unsupported('rope_scaling.type', type, 'only "yarn"');
  const f = (k: string, d?: number) => {
    const v = rs[k] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`config: field 'rope_scaling.${k}' must be a finite number, got ${show(rs[k])}`);
    return v;
  };
  const factor = f('factor');
  if (!(factor >= 1)) throw new ArgumentError(`config: field 'rope_scaling.factor' must be >= 1, got ${factor}`);
  const orig = f('original_max_position_embeddings');
  if (!Number.isInteger(orig) || orig < 1 || orig > CONFIG_LIMITS.max_position_embeddings) throw new ArgumentError(`config: field 'rope_scaling.original_max_position_embeddings' must be an integer in [1, ${CONFIG_LIMITS.max_position_embeddings}], got ${orig}`);
  const mscale = f('mscale', 1), mscaleAllDim = f('mscale_all_dim', 0);
  // DeepSeek's model.py has one mscale (HF's mscale_all_dim); cos/sin are scaled by mscale/mscale_all_dim in HF.
  if (mscale !== mscaleAllDim && mscaleAllDim !== 0) unsupported('rope_scaling.mscale', mscale, `must equal mscale_all_dim ${mscaleAllDim}`);
  if (qkRopeHeadDim % 2 !== 0) throw new ArgumentError(`config: field 'qk_rope_head_dim' must be even, got ${qkRopeHeadDim}`);
  return { theta, yarn: { factor, originalMaxPositionEmbeddings: orig, betaFast: f('beta_fast', 32), betaSlow: f('beta_slow', 1), mscale, mscaleAllDim } };
}

function parseQuant(q: unknown): ModelConfig['quantization'] {
  if (q === undefined || q === null) return null;
  if (!isObj(q)) throw new ArgumentError(`config: field 'quantization_config' must be an object, got ${show(q)}`);
  if (q.quant_method !== 'fp8') unsupported('quantization_config.quant_method', q.quant_method, 'only "fp8"');
  if ((q.fmt ?? 'e4m3') !== 'e4m3') unsupported('quantization_config.fmt', q.fmt, 'only "e4m3"');
  const bs = q.weight_block_size;
  if (!Array.isArray(bs) || bs.length !== 2 || bs[0] !== 128 || bs[1] !== 128) unsupported('quantization_config.weight_block_size', bs, 'only [128, 128]');
  if ((q.activation_scheme ?? 'dynamic') !== 'dynamic') unsupported('quantization_config.activation_scheme', q.activation_scheme, 'only "dynamic"');
  const sf = q.scale_fmt ?? null;
  if (sf !== null && sf !== 'ue8m0') unsupported('quantization_config.scale_fmt', sf, 'null or "ue8m0"');
  return { method: 'fp8', fmt: 'e4m3', blockSize: [128, 128], activationScheme: 'dynamic', scaleFmt: sf as null | 'ue8m0' };
}

/** Validates an HF config.json object (deepseek_v3 / deepseek_v2) and returns the frozen ModelConfig. */
export function parseConfig(json: unknown): ModelConfig {
  if (!isObj(json)) throw new ArgumentError(`config: expected a JSON object, got ${show(json)}`);
  const j = json;
  const modelType = j.model_type;
  if (modelType !== 'deepseek_v3' && modelType !== 'deepseek_v2') unsupported('model_type', modelType, '"deepseek_v3" or "deepseek_v2"');
  if ((j.hidden_act ?? 'silu') !== 'silu') unsupported('hidden_act', j.hidden_act, 'only "silu"');
  if (bool(j, 'attention_bias', false)) unsupported('attention_bias', true, 'only false');
  if (bool(j, 'tie_word_embeddings', false)) unsupported('tie_word_embeddings', true, 'only false (DeepSeek has an untied lm_head)');

  const hiddenSize = int(j, 'hidden_size');
  const numHeads = int(j, 'num_attention_heads');
  const kvHeads = j.num_key_value_heads;
  if (kvHeads !== undefined && kvHeads !== null && kvHeads !== numHeads) unsupported('num_key_value_heads', kvHeads, `must equal num_attention_heads ${numHeads} (MLA)`);
  const qLoraRank = j.q_lora_rank === null || j.q_lora_rank === undefined ? null : int(j, 'q_lora_rank');
  const qkRopeHeadDim = int(j, 'qk_rope_head_dim');
  const qkNopeHeadDim = int(j, 'qk_nope_head_dim');
  const numLayers = int(j, 'num_hidden_layers');

  const nRoutedExperts = intOr(j, 'n_routed_experts', 0);
  const scoringFunc = (j.scoring_func ?? 'softmax') as string;
  if (scoringFunc !== 'sigmoid' && scoringFunc !== 'softmax') unsupported('scoring_func', scoringFunc, '"sigmoid" or "softmax"');
  const topkMethod = (j.topk_method ?? 'greedy') as string;
  if (topkMethod !== 'noaux_tc' && topkMethod !== 'greedy' && topkMethod !== 'group_limited_greedy') unsupported('topk_method', topkMethod, '"noaux_tc", "greedy" or "group_limited_greedy"');
  const nGroup = intOr(j, 'n_group', 1, 1);
  const topkGroup = intOr(j, 'topk_group', nGroup, 1);
  if (nRoutedExperts > 0) {
    if (nRoutedExperts % nGroup !== 0) throw new ArgumentError(`config: field 'n_routed_experts' (${nRoutedExperts}) must be a multiple of n_group (${nGroup})`);
    if (topkGroup > nGroup) throw new ArgumentError(`config: field 'topk_group' (${topkGroup}) must be <= n_group (${nGroup})`);
  }
  const numExpertsPerTok = nRoutedExperts > 0 ? int(j, 'num_experts_per_tok') : 0;
  if (numExpertsPerTok > nRoutedExperts) throw new ArgumentError(`config: field 'num_experts_per_tok' (${numExpertsPerTok}) must be <= n_routed_experts (${nRoutedExperts})`);
  if (nRoutedExperts > 0 && numExpertsPerTok > (nRoutedExperts / nGroup) * topkGroup) throw new ArgumentError(`config: field 'num_experts_per_tok' (${numExpertsPerTok}) exceeds the experts of topk_group groups`);
  const firstKDenseReplace = intOr(j, 'first_k_dense_replace', 0);
  if (firstKDenseReplace > numLayers) throw new ArgumentError(`config: field 'first_k_dense_replace' (${firstKDenseReplace}) must be <= num_hidden_layers (${numLayers})`);

  const rope = parseRope(j, qkRopeHeadDim);
  const maxPositionEmbeddings = int(j, 'max_position_embeddings');
  // DeepSeek's model.py uses YaRN (and the mscale^2 factor) only if max_seq_len > original_seq_len; with
  // max_seq_len = max_position_embeddings (the fixture's convention) that is the HF rule.
  const yarnOn = rope.yarn !== null && maxPositionEmbeddings > rope.yarn.originalMaxPositionEmbeddings;
  if (rope.yarn !== null && !yarnOn) rope.yarn = null;
  const softmaxScale = mlaSoftmaxScale({ qkHeadDim: qkNopeHeadDim + qkRopeHeadDim, factor: rope.yarn?.factor, mscaleAllDim: rope.yarn?.mscaleAllDim });

  const cfg: ModelConfig = {
    modelType,
    vocabSize: int(j, 'vocab_size'),
    hiddenSize,
    intermediateSize: int(j, 'intermediate_size'),
    moeIntermediateSize: nRoutedExperts > 0 ? int(j, 'moe_intermediate_size') : intOr(j, 'moe_intermediate_size', 0),
    numLayers,
    firstKDenseReplace,
    moeLayerFreq: intOr(j, 'moe_layer_freq', 1, 1),
    nRoutedExperts,
    nSharedExperts: intOr(j, 'n_shared_experts', 0),
    numExpertsPerTok,
    nGroup,
    topkGroup,
    routedScalingFactor: posNum(j, 'routed_scaling_factor', 1),
    scoringFunc,
    topkMethod,
    normTopkProb: bool(j, 'norm_topk_prob', false),
    qLoraRank,
    kvLoraRank: int(j, 'kv_lora_rank'),
    qkNopeHeadDim,
    qkRopeHeadDim,
    vHeadDim: int(j, 'v_head_dim'),
    numHeads,
    rmsNormEps: posNum(j, 'rms_norm_eps', 1e-6),
    maxPositionEmbeddings,
    rope,
    softmaxScale,
    quantization: parseQuant(j.quantization_config),
    numNextnPredictLayers: intOr(j, 'num_nextn_predict_layers', 0),
    bosTokenId: null,
    eosTokenId: null,
  };
  cfg.bosTokenId = tokenId(j, 'bos_token_id', cfg.vocabSize);
  cfg.eosTokenId = tokenId(j, 'eos_token_id', cfg.vocabSize);
  const mlps = cfg.numLayers * (cfg.nRoutedExperts + cfg.nSharedExperts);
  if (mlps > MAX_EXPERT_MLPS) throw new ArgumentError(`config: num_hidden_layers (${cfg.numLayers}) x (n_routed_experts + n_shared_experts) (${cfg.nRoutedExperts + cfg.nSharedExperts}) = ${mlps} experts exceeds ${MAX_EXPERT_MLPS}`);
  if (cfg.rope.yarn) Object.freeze(cfg.rope.yarn);
  Object.freeze(cfg.rope);
  if (cfg.quantization) { Object.freeze(cfg.quantization.blockSize); Object.freeze(cfg.quantization); }
  return Object.freeze(cfg);
}

/** Whether decoder layer `l` has an MoE FFN (DeepSeek: l >= first_k_dense_replace and l % moe_layer_freq == 0). */
export function isMoeLayer(cfg: ModelConfig, l: number): boolean {
  return cfg.nRoutedExperts > 0 && l >= cfg.firstKDenseReplace && l % cfg.moeLayerFreq === 0;
}
