// Loading a DeepSeek-V3/V2 checkpoint into a Model: config, the tensor inventory checked before any
// compute, the load plan (plan.ts: every weight's sources, layout, dtype and bytes, from the options), then the
// loader (loader.ts) carries it out, on the CPU or layer by layer from the memory map to a CUDA device after
// checking the plan's bytes against its free memory.
// Reference: docs/v3-reference.md §1, §2, §4.
import { readFileSync } from 'fs';
import { join } from 'path';
import { ModelConfig, parseConfig } from '../config';
import { backends } from '../backends';
import { AbortError, ArgumentError, DeviceError, IoError, OutOfMemoryError } from '../errors';
import { yarnInvFreq } from '../ops/rope';
import { Device, synchronize, Tensor } from '../tensor';
import { blockBytes, gib } from './memory';
import { Checkpoint } from '../weights/safetensors';
import { Block } from './block';
import { Loader } from './loader';
import { Model } from './model';
import { Mtp } from './mtp';
import { LoadPlan, planLoad, Precision, WeightBytes } from './plan';
import { checkInventory, checkMtpInventory, CheckpointLike } from './weights';
import { loadTokenizer } from '../tokenizer';

export type { Precision } from './plan';

export interface LoadOptions {
  /**
   * Default: 'fp8' for FP8 checkpoints (DeepSeek's serving recipe), else 'f32'.
   * 'f32': f32 weights (fp8 dequantized exactly) and activations, the exact function of the
   * stored weights. 'bf16': bf16 weights and activations (model.py's default gemm_impl="bf16"), f32 router
   * logits and softmax. 'fp8': model.py's gemm_impl="fp8": bf16 activations quantized per token per 128
   * channels into fp8Gemm against the stored fp8 weights (a checkpoint without FP8 weights runs as 'bf16').
   */
  activations?: Precision;
  /**
   * Called after the inventory check (0) and after each decoder layer is loaded, with the weight bytes loaded so
   * far and the load plan's bytes for all of them (planLoad).
   */
  onProgress?: (layersLoaded: number, numLayers: number, bytes: { loaded: number; estimated: number }) => void;
  /** Cancels loading between layers (an AbortError). */
  signal?: AbortSignal;
  /**
   * 'cpu' (default) or 'cuda' (device 0): the weights are uploaded from the memory-mapped checkpoint layer by
   * layer (FP8 weights stay FP8 with activations 'fp8'), after checking that the estimate plus `reserveBytes`
   * fits the device's free memory (an OutOfMemoryError saying both, before anything is uploaded).
   */
  device?: Device;
  /** CUDA: device memory to leave free beyond the weights, for activations and KV caches (default 1 GiB). */
  reserveBytes?: number;
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

/**
 * The load plan loadModel follows for this checkpoint and these options (plan.ts): checks the options, then the
 * tensor inventory (and the MTP layer's), before any tensor is read.
 */
export function planModel(cfg: ModelConfig, ckpt: CheckpointLike, opts: LoadOptions = {}): LoadPlan {
  const act = opts.activations ?? (cfg.quantization ? 'fp8' : 'f32');
  if (act !== 'f32' && act !== 'bf16' && act !== 'fp8') throw new ArgumentError(`loadModel: activations must be 'f32', 'bf16' or 'fp8', got ${JSON.stringify(act)}`);
  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new ArgumentError(`loadModel: device must be 'cpu' or 'cuda', got ${JSON.stringify(device)}`);
  if (opts.signal?.aborted) throw new AbortError('loadModel: aborted');
  checkInventory(cfg, ckpt);
  const hasMtp = cfg.numNextnPredictLayers === 1 && opts.mtp !== false && checkMtpInventory(cfg, ckpt);
  return planLoad(cfg, ckpt, { activations: act, device, mtp: hasMtp });
}

/** Builds the Model from an open checkpoint and its parsed config. */
export async function loadModelFrom(cfg: ModelConfig, ckpt: CheckpointLike, opts: LoadOptions = {}): Promise<Model> {
  const aborted = (): void => { if (opts.signal?.aborted) throw new AbortError('loadModel: aborted'); };
  const plan = planModel(cfg, ckpt, opts), estimate = plan.bytes, act = plan.precision, device = plan.device, hasMtp = plan.mtp;
  if (device === 'cuda') checkDeviceFits(estimate, act, opts.reserveBytes ?? 2 ** 30);
  const w = new Loader(plan, ckpt);
  const invFreq = Tensor.fromArray(ropeInvFreq(cfg), undefined, { device });
  const layers: Block[] = [];
  let loaded = invFreq.nbytes;
  const progress = (l: number) => opts.onProgress?.(l, cfg.numLayers, { loaded, estimated: estimate.total });
  progress(0);
  try {
    for (let l = 0; l < cfg.numLayers; l++) {
      aborted();
      layers.push(Block.load(cfg, w, l, invFreq));
      loaded += blockBytes(layers[l]);
      progress(l + 1);
    }
  } catch (e) {
    for (const b of layers) b.dispose();
    invFreq.dispose();
    w.release();
    throw e;
  }
  const model = new Model(cfg, w.tensor('model.embed_tokens.weight'), layers, w.tensor('model.norm.weight'), w.tensor('lm_head.weight'), act);
  if (cfg.numNextnPredictLayers > 1) {
    model.mtpMissing = `num_nextn_predict_layers = ${cfg.numNextnPredictLayers} is not supported (only 1)`;
  } else if (cfg.numNextnPredictLayers === 1) {
    if (opts.mtp === false) {
      model.mtpMissing = 'not loaded (loadModel option mtp: false)';
    } else if (hasMtp) {
      model.mtp = Mtp.load(cfg, w, model.embed, invFreq, model.loadStats);
      model.mtpMissing = null;
    } else {
      model.mtpMissing = `the checkpoint has no MTP layer (model.layers.${cfg.numLayers}.*) although num_nextn_predict_layers = 1`;
    }
  }
  w.release();
  // Resolve only once the weights are really read out of the memory map (issue 18): the copies are queued
  // work, and a file truncated or rewritten under them fails them with an IoError naming it.
  try {
    await synchronize('cpu');
    ckpt.check?.();
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Throws before any upload when CUDA is unusable (DeviceError with the reason) or when the weights plus the
 * reserve exceed device 0's free memory (OutOfMemoryError with what is needed and what is free).
 */
export function checkDeviceFits(estimate: WeightBytes, act: Precision, reserveBytes: number, cuda = backends().cuda): void {
  if (!cuda.available) throw new DeviceError(`loadModel: device 'cuda' is not usable: ${cuda.reason ?? 'no CUDA device'}`);
  const d = cuda.devices[0];
  if (d.error) throw new DeviceError(`loadModel: cannot query CUDA device 0: ${d.error}`);
  const need = estimate.total + reserveBytes;
  if (need > d.freeMemory) {
    const parts = `fp8 ${gib(estimate.fp8)}, dense ${gib(estimate.dense)}, f32 ${gib(estimate.f32)}`;
    const hint = act === 'fp8' ? '' : '; activations \'fp8\' keeps FP8 weights in 1 byte';
    throw new OutOfMemoryError(`loadModel: the weights need ${gib(estimate.total)} on cuda:0 with activations '${act}' (${parts}) plus ${gib(reserveBytes)} `
      + `reserved for activations and KV caches = ${gib(need)}, but ${d.name} has ${gib(d.freeMemory)} free of ${gib(d.totalMemory)}${hint}`);
  }
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
