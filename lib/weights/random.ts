// A random DeepSeek-V3-format checkpoint folder (config.json, FP8 e4m3 128x128 weights with weight_scale_inv,
// bf16 embeddings/norms/router/heads, f32 router bias, sharded safetensors + index, the MTP layer, a small
// byte-level BPE tokenizer) for demos, tests and benchmarks. Layout: docs/v3-reference.md §2, §7.
// Every tensor has its own seeded stream (seed, name), so the files are a pure function of (config, seed).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelConfig, parseConfig } from '../config';
import { ArgumentError } from '../errors';
import { readTokenizerFolder } from './tokenizer_folder';
import { expectedTensors, TensorSpec } from '../model/weights';
import { quantizeWeightFp8 } from '../ops/quant';
import { presetConfig } from '../presets';
import { Tensor } from '../tensor';
import { makeDir, TensorToWrite, tensorBytes, writeShardedSafetensors } from './writer';

export interface RandomCheckpointOptions {
  /** A preset name (lib/presets.ts) or a config.json object; exactly one. */
  preset?: string;
  config?: Record<string, unknown>;
  seed?: number;
  /** Shard size limit in bytes (default 64 MiB; the tiny preset then fits in one shard). */
  shardBytes?: number;
  /** Called after each tensor is written with the bytes written so far and the total. */
  onProgress?: (bytesWritten: number, totalBytes: number) => void;
  /** A folder with a real tokenizer.json and tokenizer_config.json to ship instead of the generated one; vocab_size and bos/eos ids follow it. */
  tokenizer?: string;
}

export interface RandomCheckpointResult {
  dir: string;
  config: ModelConfig;
  shards: string[];
  tensors: number;
  totalSize: number;
}

// ---- seeded randomness: the native counter-based randn, seeded per (seed, tensor name) ----
function hashName(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return Math.imul(h ^ Math.imul(seed, 0x9e3779b9), 0x85ebca6b) >>> 0;
}
/** N(mean, std^2) samples of one tensor, in f32 or (rounded once) bf16. */
function normals<D extends 'f32' | 'bf16'>(seed: number, name: string, shape: number[], dtype: D, std: number, mean = 0): Tensor<D> {
  return Tensor.randn<D>(shape, { dtype, seed: hashName(seed, name), mean, std });
}
async function take(t: Tensor): Promise<Uint8Array> {
  try { return await t.bytes(); } finally { t.dispose(); }
}

/** The MTP layer's tensors (model.layers.<numLayers>.*): a full decoder layer plus enorm, hnorm, eh_proj, shared_head, embed_tokens. */
export function mtpTensors(cfg: ModelConfig): TensorSpec[] {
  if (cfg.numNextnPredictLayers === 0) return [];
  if (cfg.numNextnPredictLayers !== 1) throw new ArgumentError(`randomCheckpoint: num_nextn_predict_layers must be 0 or 1, got ${cfg.numNextnPredictLayers}`);
  const L = cfg.numLayers, p = `model.layers.${L}.`, d = cfg.hiddenSize;
  // The inventory of a config with one more layer holds exactly the MTP's decoder layer under index L.
  const layer = expectedTensors({ ...cfg, numLayers: L + 1 }).filter((s) => s.name.startsWith(p));
  return [
    { name: `${p}embed_tokens.weight`, shape: [cfg.vocabSize, d], dtype: 'bf16' },
    { name: `${p}enorm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}hnorm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}eh_proj.weight`, shape: [d, 2 * d], dtype: 'bf16' },
    ...layer,
    { name: `${p}shared_head.norm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}shared_head.head.weight`, shape: [cfg.vocabSize, d], dtype: 'bf16' },
  ];
}

// The MTP layer stores duplicates of the shared embedding and head (§2): same values.
function sourceName(cfg: ModelConfig, name: string): string {
  const p = `model.layers.${cfg.numLayers}.`;
  if (name === `${p}embed_tokens.weight`) return 'model.embed_tokens.weight';
  if (name === `${p}shared_head.head.weight`) return 'lm_head.weight';
  return name;
}

/** A non-quantized tensor at a sensible scale, in its checkpoint dtype. */
function plainValues(cfg: ModelConfig, seed: number, s: { name: string; shape: number[]; dtype: 'f32' | 'bf16' }): Tensor<'f32' | 'bf16'> {
  const name = sourceName(cfg, s.name);
  if (s.shape.length === 1) {
    if (name.endsWith('e_score_correction_bias')) return normals(seed, name, s.shape, s.dtype, 0.01);
    return normals(seed, name, s.shape, s.dtype, 0.05, 1); // norm weights near 1
  }
  if (name === 'model.embed_tokens.weight') return normals(seed, name, s.shape, s.dtype, 1);
  return normals(seed, name, s.shape, s.dtype, 1 / Math.sqrt(s.shape[1])); // [out, in] projections, router, heads
}

/** The tensors of the checkpoint in inventory order, data generated lazily (FP8 weight and scale share one quantization). */
export function randomTensors(cfg: ModelConfig, seed: number): TensorToWrite[] {
  const specs = [...expectedTensors(cfg), ...mtpTensors(cfg)];
  const pending = new Map<string, Uint8Array>();
  const out: TensorToWrite[] = [];
  for (const s of specs) {
    if (s.dtype !== 'f8_e4m3') {
      const spec = { name: s.name, shape: s.shape, dtype: s.dtype };
      out.push({ name: s.name, dtype: s.dtype, shape: s.shape, data: () => take(plainValues(cfg, seed, spec)) });
      continue;
    }
    const scale = s.scale!;
    // Whichever of the pair is written first quantizes; the other takes the stored bytes.
    const quantize = async (want: string): Promise<Uint8Array> => {
      const got = pending.get(want);
      if (got) { pending.delete(want); return got; }
      const w = normals(seed, s.name, s.shape, 'f32', 1 / Math.sqrt(s.shape[1]));
      const q = quantizeWeightFp8(w);
      w.dispose();
      const [wb, sb] = [await q.weight.bytes(), await q.scaleInv.bytes()];
      q.weight.dispose(); q.scaleInv.dispose();
      if (want === s.name) { pending.set(scale.name, sb); return wb; }
      pending.set(s.name, wb);
      return sb;
    };
    out.push({ name: s.name, dtype: 'f8_e4m3', shape: s.shape, data: () => quantize(s.name) });
    out.push({ name: scale.name, dtype: 'f32', shape: scale.shape, data: () => quantize(scale.name) });
  }
  return out;
}

const BOS = '<｜begin▁of▁sentence｜>', EOS = '<｜end▁of▁sentence｜>', USER = '<｜User｜>', ASSISTANT = '<｜Assistant｜>';

/** GPT-2's byte -> printable character map of byte-level BPE. */
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCharCode(keep.includes(b) ? b : 256 + extra++);
  return map;
}

/**
 * tokenizer.json (byte-level BPE: the specials, the 256 bytes, then letter merges up to vocab_size; @huggingface/tokenizers
 * format) and tokenizer_config.json with a DeepSeek-style chat template. bos/eos ids follow the config.
 */
export function tokenizerFiles(cfg: ModelConfig): { tokenizer: object; tokenizerConfig: object } {
  const bos = cfg.bosTokenId ?? 0, eos = cfg.eosTokenId ?? 1;
  const specials: [number, string][] = [[bos, BOS], [eos, EOS]];
  let next = 0;
  const free = () => { while (specials.some(([i]) => i === next)) next++; return next++; };
  specials.push([free(), USER], [free(), ASSISTANT]);
  const vocab: Record<string, number> = {};
  for (const [i, s] of specials) vocab[s] = i;
  for (const ch of bytesToUnicode()) vocab[ch] = free();
  const maxId = Math.max(...Object.values(vocab));
  if (maxId >= cfg.vocabSize) throw new ArgumentError(`randomCheckpoint: vocab_size ${cfg.vocabSize} is too small for the byte-level tokenizer (needs ${maxId + 1})`);
  // Fill the rest of the vocabulary with merges of lowercase letters ('Ġ' marks a leading space), shortest
  // first, so every id the model can emit decodes to some text.
  const merges: string[] = [];
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  let level = ['Ġ', ...letters];
  while (next < cfg.vocabSize) {
    const grown: string[] = [];
    for (const x of level) for (const y of letters) {
      if (next >= cfg.vocabSize) break;
      const t = x + y;
      if (Object.hasOwn(vocab, t)) continue;
      merges.push(`${x} ${y}`);
      vocab[t] = free();
      grown.push(t);
    }
    level = grown;
  }
  const tokenizer = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: specials.map(([id, content]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
  const chatTemplate = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}"
    + `{% elif message['role'] == 'user' %}{{ '${USER}' + message['content'] }}`
    + `{% elif message['role'] == 'assistant' %}{{ '${ASSISTANT}' + message['content'] + eos_token }}{% endif %}{% endfor %}`
    + `{% if add_generation_prompt %}{{ '${ASSISTANT}' }}{% endif %}`;
  const tokenizerConfig = {
    add_bos_token: true, add_eos_token: false, bos_token: BOS, eos_token: EOS, pad_token: EOS,
    model_max_length: cfg.maxPositionEmbeddings, tokenizer_class: 'LlamaTokenizerFast', legacy: true, chat_template: chatTemplate,
    clean_up_tokenization_spaces: false,  // as DeepSeek-V3's: decode is exactly the tokens' bytes
  };
  return { tokenizer, tokenizerConfig };
}

/** Writes a random checkpoint folder: config.json, shards + index, tokenizer.json, tokenizer_config.json. */
export async function writeRandomCheckpoint(dir: string, opts: RandomCheckpointOptions): Promise<RandomCheckpointResult> {
  if ((opts.preset === undefined) === (opts.config === undefined)) throw new ArgumentError('randomCheckpoint: give exactly one of preset and config');
  const real = opts.tokenizer === undefined ? null : readTokenizerFolder(opts.tokenizer);
  const json = { ...(opts.config ?? presetConfig(opts.preset!)), ...real?.config };
  const cfg = parseConfig(json);
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ArgumentError(`randomCheckpoint: seed must be an integer, got ${seed}`);
  const tensors = randomTensors(cfg, seed);
  const total = tensors.reduce((a, t) => a + tensorBytes(t), 0);
  makeDir(dir);
  const { tokenizer, tokenizerConfig } = real ?? tokenizerFiles(cfg);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(json, null, 2) + '\n');
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer) + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  let written = 0;
  opts.onProgress?.(0, total);
  const { shards, totalSize } = await writeShardedSafetensors(dir, tensors, {
    shardBytes: opts.shardBytes ?? 64 * 2 ** 20,
    onTensor: (_n, b) => { written += b; opts.onProgress?.(written, total); },
  });
  return { dir, config: cfg, shards, tensors: tensors.length, totalSize };
}
