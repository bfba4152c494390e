// Loading a DeepSeek-V3/V2 checkpoint into a Model: config, the tensor inventory checked before any
// compute, then the weights (fp8 dequantized at load to the activation dtype, f32 or bf16).
// Reference: ../shared/research/v3-reference.md §1, §2, §4.
import { readFileSync } from 'fs';
import { join } from 'path';
import { ModelConfig, parseConfig } from '../config';
import { AbortError, ArgumentError, IoError, UnsupportedError } from '../errors';
import { yarnInvFreq } from '../ops/rope';
import { Tensor } from '../tensor';
import { Checkpoint } from '../weights/safetensors';
import { Block } from './block';
import { loadAs, loadF32 } from './linear';
import { Model } from './model';
import { Mtp } from './mtp';
import { checkInventory, checkMtpInventory, CheckpointLike } from './weights';
import { loadTokenizer } from '../tokenizer';

/** The precision mode of a model. */
export type Precision = 'f32' | 'bf16' | 'fp8';

export interface LoadOptions {
  /**
   * Default: 'fp8' for FP8 checkpoints (DeepSeek's serving recipe), else 'f32'.
   * 'f32': f32 weights (fp8 dequantized exactly) and activations, the exact function of the
   * stored weights. 'bf16': bf16 weights and activations (model.py's default gemm_impl="bf16"), f32 router
   * logits and softmax. 'fp8': model.py's gemm_impl="fp8": bf16 activations quantized per token per 128
   * channels into fp8Gemm against the stored fp8 weights (a checkpoint without FP8 weights runs as 'bf16').
   */
  activations?: Precision;
  /** Called after the inventory check (0) and after each decoder layer is loaded. */
  onProgress?: (layersLoaded: number, numLayers: number) => void;
  /** Cancels loading between layers (an AbortError). */
  signal?: AbortSignal;
  /** 'cpu' (default). 'cuda' needs the CUDA kernels of the GPU issues and is refused for now. */
  device?: 'cpu' | 'cuda';
  /** Load the MTP layer when the checkpoint has it (default true); false saves its memory. */
  mtp?: boolean;
}

/** The rotary inverse frequencies of the config (YaRN-corrected when active), f32 [qk_rope_head_dim/2]. */
export function ropeInvFreq(cfg: ModelConfig): Float32Array {
  const y = cfg.rope.yarn;
  return yarnInvFreq({
    ropeTheta: cfg.rope.theta, ropeDim: cfg.qkRopeHeadDim, factor: y?.factor,
    originalMaxPositionEmbeddings: y?.originalMaxPositionEmbeddings, betaFast: y?.betaFast, betaSlow: y?.betaSlow,
  });
}

/** Builds the Model from an open checkpoint and its parsed config. */
export async function loadModelFrom(cfg: ModelConfig, ckpt: CheckpointLike, opts: LoadOptions = {}): Promise<Model> {
  const act = opts.activations ?? (cfg.quantization ? 'fp8' : 'f32');
  if (act !== 'f32' && act !== 'bf16' && act !== 'fp8') throw new ArgumentError(`loadModel: activations must be 'f32', 'bf16' or 'fp8', got ${JSON.stringify(act)}`);
  const dt = act === 'f32' ? 'f32' : 'bf16', fp8 = act === 'fp8';
  if ((opts.device ?? 'cpu') !== 'cpu') {
    throw new UnsupportedError(`loadModel: device ${JSON.stringify(opts.device)}: the model runs on the CPU backend only until the CUDA kernels land`);
  }
  const aborted = (): void => { if (opts.signal?.aborted) throw new AbortError('loadModel: aborted'); };
  aborted();
  checkInventory(cfg, ckpt);
  const hasMtp = cfg.numNextnPredictLayers === 1 && opts.mtp !== false && checkMtpInventory(cfg, ckpt);
  const invFreq = Tensor.fromArray(ropeInvFreq(cfg));
  const layers: Block[] = [];
  opts.onProgress?.(0, cfg.numLayers);
  for (let l = 0; l < cfg.numLayers; l++) {
    aborted();
    layers.push(await Block.load(cfg, ckpt, l, invFreq, dt, fp8));
    opts.onProgress?.(l + 1, cfg.numLayers);
  }
  const model = new Model(cfg, loadAs(ckpt, 'model.embed_tokens.weight', dt), layers, loadF32(ckpt, 'model.norm.weight'), loadAs(ckpt, 'lm_head.weight', dt), act);
  if (cfg.numNextnPredictLayers > 1) {
    model.mtpMissing = `num_nextn_predict_layers = ${cfg.numNextnPredictLayers} is not supported (only 1)`;
  } else if (cfg.numNextnPredictLayers === 1) {
    if (opts.mtp === false) {
      model.mtpMissing = 'not loaded (loadModel option mtp: false)';
    } else if (hasMtp) {
      model.mtp = await Mtp.load(cfg, ckpt, model.embed, invFreq, dt, fp8);
      model.mtpMissing = null;
    } else {
      model.mtpMissing = `the checkpoint has no MTP layer (model.layers.${cfg.numLayers}.*) although num_nextn_predict_layers = 1`;
    }
  }
  return model;
}

/** Reads and validates `<dir>/config.json`. */
export function readConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new IoError(`loadModel: cannot read ${path} (${(e as Error).message})`);
  }
  return parseConfig(json);
}

/** Opens an HF DeepSeek checkpoint folder (config.json + safetensors), checks it and loads the Model. */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<Model> {
  const cfg = readConfig(dir);
  const ckpt = Checkpoint.open(dir);
  try {
    const model = await loadModelFrom(cfg, ckpt, opts);
    model.tokenizer = loadTokenizer(dir);
    return model;
  } finally {
    ckpt.close();
  }
}
