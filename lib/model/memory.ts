// How many bytes a model's weights take once loaded: estimated from the config and the checkpoint's dtypes
// before anything is loaded (loadModel checks it against a CUDA device's free memory), and counted on a
// loaded model (residentBytes; equal to the estimate, which test/model/memory.test.ts checks).
// What is kept in which dtype follows load.ts / linear.ts / mla_fused.ts / experts.ts.
import { ModelConfig } from '../config';
import { Tensor } from '../tensor';
import { Block } from './block';
import { Experts } from './experts';
import { Linear } from './linear';
import { Mlp } from './mlp';
import type { Model } from './model';
import { Moe } from './moe';
import type { Mtp } from './mtp';
import { CheckpointLike, expectedTensors, mtpTensors, TensorSpec } from './weights';

export interface WeightBytes {
  /** Everything: the sum of the parts below. */
  total: number;
  /** FP8 codes and their f32 block scales (activations 'fp8': every FP8-stored projection). */
  fp8: number;
  /** Dense weights in the activation dtype (dequantized projections, W_UK / W_UV, embedding, lm_head, eh_proj). */
  dense: number;
  /** f32 norm weights, routers, router biases, RoPE frequencies. */
  f32: number;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The bytes the weights will take on the device, from the config and the stored dtypes (no tensor is read):
 * FP8-stored projections stay e4m3 + f32 scales with activations 'fp8', else become the activation dtype (4 bytes
 * for 'f32', 2 for 'bf16'/'fp8'); kv_b_proj becomes W_UK and W_UV in the activation dtype (as many values); norms,
 * routers and biases are f32; the MTP layer counts when `mtp` (its embedding is the main model's).
 */
export function estimateWeightBytes(cfg: ModelConfig, ckpt: CheckpointLike, opts: { activations: 'f32' | 'bf16' | 'fp8'; mtp: boolean }): WeightBytes {
  const act = opts.activations === 'f32' ? 4 : 2, keepFp8 = opts.activations === 'fp8';
  const r: WeightBytes = { total: 0, fp8: 0, dense: 0, f32: 0 };
  const specs: TensorSpec[] = [...expectedTensors(cfg), ...(opts.mtp ? mtpTensors(cfg) : [])];
  for (const s of specs) {
    const n = numel(s.shape), name = s.name;
    if (s.shape.length === 1 || name.endsWith('.gate.weight') || name.endsWith('e_score_correction_bias')) r.f32 += 4 * n;
    else if (keepFp8 && s.scale && ckpt.info(name).dtype === 'f8_e4m3' && !name.endsWith('kv_b_proj.weight')) r.fp8 += n + 4 * numel(ckpt.info(s.scale.name).shape);
    else r.dense += act * n;
  }
  r.f32 += 4 * (cfg.qkRopeHeadDim / 2);  // the shared RoPE inverse frequencies
  r.total = r.fp8 + r.dense + r.f32;
  return r;
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
export function residentBytes(model: Model): number {
  return tb(model.embed) + tb(model.head) + tb(model.norm) + tb(model.layers[0]?.invFreq)
    + model.layers.reduce((a, b) => a + blockBytes(b), 0) + (model.mtp ? mtpBytes(model.mtp) : 0);
}

/** "12.3 GiB" */
export function gib(bytes: number): string { return `${(bytes / 2 ** 30).toFixed(bytes < 2 ** 30 ? 3 : 1)} GiB`; }
