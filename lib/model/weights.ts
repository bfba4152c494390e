// The tensor inventory a DeepSeek-V3/V2 checkpoint must hold for a config (HF names, shapes, dtypes),
// checked against a checkpoint before any compute. Reference: docs/v3-reference.md §2, §6.
// FP8 projections come paired with `<name>_scale_inv` f32 [ceil(out/128), ceil(in/128)].
import { ModelConfig, isMoeLayer } from '../config';
import { IoError, ShapeError } from '../errors';
import { Tensor } from '../tensor';

/** What the model reads from a checkpoint (lib/weights/safetensors.ts Checkpoint satisfies it). */
export interface CheckpointLike {
  has(name: string): boolean;
  info(name: string): { name: string; dtype: string | null; shape: number[] };
  get(name: string): Tensor;
  /** Throws an IoError if a file changed under the tensors read from it (safetensors Checkpoint.check). */
  check?(): void;
}

export interface TensorSpec {
  name: string;
  shape: number[];
  /** 'f8_e4m3' for quantized projections of an FP8 checkpoint (then `scale` names its scale_inv). */
  dtype: 'bf16' | 'f32' | 'f8_e4m3';
  scale?: { name: string; shape: number[] };
}

const cdiv = (a: number, b: number) => Math.ceil(a / b);

type Adders = { plain: (name: string, shape: number[], dtype?: 'bf16' | 'f32') => void; linear: (name: string, out: number, inp: number) => void };

function adders(cfg: ModelConfig, specs: TensorSpec[]): Adders {
  const fp8 = cfg.quantization !== null;
  return {
    plain: (name, shape, dtype = 'bf16') => { specs.push({ name, shape, dtype }); },
    // A Linear's weight [out, in]: fp8 + scale_inv in an FP8 checkpoint, else bf16.
    linear: (name, out, inp) => {
      specs.push(fp8
        ? { name, shape: [out, inp], dtype: 'f8_e4m3', scale: { name: `${name}_scale_inv`, shape: [cdiv(out, 128), cdiv(inp, 128)] } }
        : { name, shape: [out, inp], dtype: 'bf16' });
    },
  };
}

/** The tensors of decoder layer l (attention, then the dense MLP or the MoE), also used for the MTP layer. */
function layerTensors(cfg: ModelConfig, l: number, { plain, linear }: Adders): void {
  const d = cfg.hiddenSize, H = cfg.numHeads, qkHead = cfg.qkNopeHeadDim + cfg.qkRopeHeadDim;
  const p = `model.layers.${l}.`;
  plain(`${p}input_layernorm.weight`, [d]);
  plain(`${p}post_attention_layernorm.weight`, [d]);
  if (cfg.qLoraRank === null) {
    linear(`${p}self_attn.q_proj.weight`, H * qkHead, d);
  } else {
    linear(`${p}self_attn.q_a_proj.weight`, cfg.qLoraRank, d);
    plain(`${p}self_attn.q_a_layernorm.weight`, [cfg.qLoraRank]);
    linear(`${p}self_attn.q_b_proj.weight`, H * qkHead, cfg.qLoraRank);
  }
  linear(`${p}self_attn.kv_a_proj_with_mqa.weight`, cfg.kvLoraRank + cfg.qkRopeHeadDim, d);
  plain(`${p}self_attn.kv_a_layernorm.weight`, [cfg.kvLoraRank]);
  linear(`${p}self_attn.kv_b_proj.weight`, H * (cfg.qkNopeHeadDim + cfg.vHeadDim), cfg.kvLoraRank);
  linear(`${p}self_attn.o_proj.weight`, d, H * cfg.vHeadDim);
  const mlp = (q: string, inter: number) => {
    linear(`${q}gate_proj.weight`, inter, d);
    linear(`${q}up_proj.weight`, inter, d);
    linear(`${q}down_proj.weight`, d, inter);
  };
  if (!isMoeLayer(cfg, l)) {
    mlp(`${p}mlp.`, cfg.intermediateSize);
  } else {
    plain(`${p}mlp.gate.weight`, [cfg.nRoutedExperts, d]);
    if (cfg.topkMethod === 'noaux_tc') plain(`${p}mlp.gate.e_score_correction_bias`, [cfg.nRoutedExperts], 'f32');
    for (let e = 0; e < cfg.nRoutedExperts; e++) mlp(`${p}mlp.experts.${e}.`, cfg.moeIntermediateSize);
    if (cfg.nSharedExperts > 0) mlp(`${p}mlp.shared_experts.`, cfg.moeIntermediateSize * cfg.nSharedExperts);
  }
}

/** Every tensor the forward pass reads, in checkpoint order of appearance (per layer). */
export function expectedTensors(cfg: ModelConfig): TensorSpec[] {
  const specs: TensorSpec[] = [];
  const add = adders(cfg, specs);
  add.plain('model.embed_tokens.weight', [cfg.vocabSize, cfg.hiddenSize]);
  for (let l = 0; l < cfg.numLayers; l++) layerTensors(cfg, l, add);
  add.plain('model.norm.weight', [cfg.hiddenSize]);
  add.plain('lm_head.weight', [cfg.vocabSize, cfg.hiddenSize]);
  return specs;
}

/** The MTP layer's own tensors under model.layers.<num_hidden_layers>.* (v3-reference.md §2, §7), without the full decoder-layer set. */
export function mtpOwnTensors(cfg: ModelConfig): TensorSpec[] {
  const d = cfg.hiddenSize, p = `model.layers.${cfg.numLayers}.`;
  return [
    { name: `${p}enorm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}hnorm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}eh_proj.weight`, shape: [d, 2 * d], dtype: 'bf16' },  // never quantized
    { name: `${p}shared_head.norm.weight`, shape: [d], dtype: 'bf16' },
    { name: `${p}shared_head.head.weight`, shape: [cfg.vocabSize, d], dtype: 'bf16' },
  ];
}

/** Every tensor the MTP module reads: its own tensors plus a full decoder layer (the stored embed_tokens duplicate is optional). */
export function mtpTensors(cfg: ModelConfig): TensorSpec[] {
  const specs = mtpOwnTensors(cfg);
  layerTensors(cfg, cfg.numLayers, adders(cfg, specs));
  return specs;
}

// Norm weights, the router and the bias may be stored in f32 or bf16 by some converters; the model
// converts them to f32 at load, so either is accepted. FP8 weights and scales are exact.
function dtypeOk(want: TensorSpec['dtype'], got: string): boolean {
  if (want === 'f8_e4m3') return got === 'f8_e4m3';
  return got === 'bf16' || got === 'f32' || got === 'f16';
}

/**
 * Checks the checkpoint against expectedTensors(cfg). Throws IoError listing every missing tensor,
 * or ShapeError listing every tensor with a wrong shape or dtype (all problems at once).
 */
export function checkInventory(cfg: ModelConfig, ckpt: CheckpointLike): TensorSpec[] {
  return checkSpecs(expectedTensors(cfg), ckpt);
}

/**
 * Whether the checkpoint holds the MTP layer: false when num_nextn_predict_layers is 0 or none of the
 * MTP layer's own tensors is stored (converted checkpoints often drop it); true when all of mtpTensors(cfg)
 * are there with the right shapes; IoError / ShapeError (as checkInventory) when it is partly there or wrong.
 */
export function checkMtpInventory(cfg: ModelConfig, ckpt: CheckpointLike): boolean {
  if (cfg.numNextnPredictLayers < 1) return false;
  if (!mtpOwnTensors(cfg).some((s) => ckpt.has(s.name))) return false;
  const specs = mtpTensors(cfg);
  const dup = `model.layers.${cfg.numLayers}.embed_tokens.weight`;
  if (ckpt.has(dup)) specs.push({ name: dup, shape: [cfg.vocabSize, cfg.hiddenSize], dtype: 'bf16' });
  checkSpecs(specs, ckpt);
  return true;
}

/** The first 20 items joined, then how many more: a config with thousands of layers must not make a megabyte message. */
function few(items: string[], sep: string): string {
  return items.slice(0, 20).join(sep) + (items.length > 20 ? `${sep}... and ${items.length - 20} more` : '');
}

function checkSpecs(specs: TensorSpec[], ckpt: CheckpointLike): TensorSpec[] {
  const missing: string[] = [], wrong: string[] = [];
  const check = (name: string, shape: number[], dtype: TensorSpec['dtype'] | 'f32-exact') => {
    if (!ckpt.has(name)) { missing.push(name); return; }
    const info = ckpt.info(name);
    const shapeOk = info.shape.length === shape.length && info.shape.every((v, i) => v === shape[i]);
    const okDtype = dtype === 'f32-exact' ? info.dtype === 'f32' : dtypeOk(dtype, info.dtype ?? '');
    if (!shapeOk || !okDtype) wrong.push(`${name}: expected ${dtype === 'f32-exact' ? 'f32' : dtype} [${shape.join(', ')}], got ${info.dtype} [${info.shape.join(', ')}]`);
  };
  for (const s of specs) {
    check(s.name, s.shape, s.dtype);
    if (s.scale) check(s.scale.name, s.scale.shape, 'f32-exact');
  }
  if (missing.length > 0) {
    const also = wrong.length > 0 ? `; also ${wrong.length} wrong: ${few(wrong, '; ')}` : '';
    throw new IoError(`checkpoint: ${missing.length} tensor(s) missing: ${few(missing, ', ')}${also}`);
  }
  if (wrong.length > 0) throw new ShapeError(`checkpoint: ${wrong.length} tensor(s) with a wrong shape or dtype: ${few(wrong, '; ')}`);
  return specs;
}
