// How many bytes a model's weights take once loaded: planned from the config and the checkpoint's dtypes
// before anything is loaded (the load plan's bytes, plan.ts; loadModel checks them against a CUDA device's free
// memory), and counted on a loaded model (residentBytes; equal to the plan's, which test/model/batch.test.ts checks).
import { ModelConfig } from '../config';
import { Tensor } from '../tensor';
import { Block } from './block';
import { Experts } from './experts';
import { Linear } from './linear';
import { Mlp } from './mlp';
import type { Transformer } from './transformer';
import { Moe } from './moe';
import type { Mtp } from './mtp';
import { planLoad, Precision, WeightBytes } from './plan';
import { CheckpointLike } from './weights';

/**
 * The bytes the weights will take on the device, from the config and the stored dtypes (no tensor is read): the load
 * plan's bytes (plan.ts planLoad; FP8-stored projections stay e4m3 + f32 scales with activations 'fp8', else become
 * the activation dtype; norms, routers and biases f32; the MTP layer counts when `mtp`).
 */
export function estimateWeightBytes(cfg: ModelConfig, ckpt: CheckpointLike, opts: { activations: Precision; mtp: boolean }): WeightBytes {
  return planLoad(cfg, ckpt, { ...opts, device: 'cpu' }).bytes;
}

const tb = (t: Tensor | null | undefined) => (t ? t.nbytes : 0);
const linearBytes = (l: Linear) => tb(l.weight) + tb(l.fp8?.weight) + tb(l.fp8?.scaleInv);
const mlpBytes = (m: Mlp) => linearBytes(m.gate) + linearBytes(m.up) + linearBytes(m.down);
function expertsBytes(e: Experts): number {
  return Object.values(e.weights).reduce((a: number, w) => a + (w === undefined ? 0 : w instanceof Tensor ? w.nbytes : w.data.nbytes + w.scale.nbytes), 0);
}

/** Bytes of one decoder layer's weights (the shared RoPE frequencies not included). */
export function blockBytes(b: Block): number {
  const w = b.attn.w;
  let n = tb(b.attnNorm) + tb(b.ffnNorm) + linearBytes(w.wqkvA) + tb(w.qNorm) + tb(w.kvNorm) + linearBytes(w.wqB) + tb(w.wUK) + tb(w.wUV) + linearBytes(w.wo);
  if (b.ffn instanceof Moe) n += tb(b.ffn.gate) + tb(b.ffn.bias) + expertsBytes(b.ffn.experts) + (b.ffn.shared ? mlpBytes(b.ffn.shared) : 0);
  else n += mlpBytes(b.ffn);
  return n;
}

function mtpBytes(m: Mtp): number {
  return tb(m.enorm) + tb(m.hnorm) + linearBytes(m.ehProj) + blockBytes(m.block) + tb(m.headNorm) + tb(m.head);
}

/** The bytes a loaded model's weights take (on its device), counted tensor by tensor. */
export function residentBytes(model: Transformer): number {
  return tb(model.embed) + tb(model.head) + tb(model.norm) + tb(model.layers[0]?.invFreq)
    + model.layers.reduce((a, b) => a + blockBytes(b), 0) + (model.mtp ? mtpBytes(model.mtp) : 0);
}

/** "12.3 GiB" */
export function gib(bytes: number): string { return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`; }
