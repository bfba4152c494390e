// The load plan: what every model weight is made of, decided once from the config, the checkpoint's stored
// dtypes and the load options (activations, device, mtp), before any tensor is read. Each planned tensor names
// the checkpoint tensors it comes from, its layout (as stored, [wq_a; wkv_a] joined by rows, the experts stacked,
// gate and up stacked as w13, kv_b_proj split into W_UK / W_UV), its dtype (f32 for norms and routers, the
// activation dtype for dense weights, FP8 codes + f32 block scales kept for activations 'fp8') and its bytes on
// the plan's device. loader.ts carries it out; the layers receive ready tensors. `dsv3 info --plan` prints it.
// Reference: docs/v3-reference.md §2 (tensors), §6 (fp8).
import { isMoeLayer, ModelConfig } from '../config';
import { UnsupportedError } from '../errors';
import { Device } from '../tensor';
import { Act } from './linear';
import { CheckpointLike } from './weights';

/** The precision mode of a model (LoadOptions.activations). */
export type Precision = 'f32' | 'bf16' | 'fp8';

/** How a planned tensor is made from its checkpoint tensors. */
export type Layout = 'stored' | 'joined rows' | 'stacked' | 'stacked w13' | 'kv_b W_UK' | 'kv_b W_UV';

export interface PlannedTensor {
  /** The checkpoint tensors it is made from, in order (FP8 ones with their `_scale_inv`). */
  from: string[];
  layout: Layout;
  /** 'f32': norms, routers, biases; 'dense': a weight in the activation dtype; 'fp8': e4m3 codes + f32 block scales. */
  kind: 'f32' | 'dense' | 'fp8';
  /** The tensor's dtype ('f8_e4m3' for the codes of an 'fp8' one). */
  dtype: 'f32' | Act | 'f8_e4m3';
  shape: number[];
  /** Bytes on the device (codes and scales for 'fp8'). */
  bytes: number;
}

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

export interface LoadPlan {
  precision: Precision;
  /** The activation dtype: 'f32', or 'bf16' for 'bf16' and 'fp8'. */
  act: Act;
  device: Device;
  /** Whether the MTP layer (model.layers.<num_hidden_layers>) is loaded. */
  mtp: boolean;
  /** Model tensor name -> its plan, in load order. */
  tensors: Map<string, PlannedTensor>;
  bytes: WeightBytes;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The plan for loading `ckpt` (its inventory already checked: weights.ts checkInventory) with these options. With
 * activations 'fp8', FP8-stored projections stay FP8 except kv_b_proj (W_UK / W_UV are per-head products too small
 * for FP8: dense); a checkpoint without FP8 weights runs as 'bf16'.
 */
export function planLoad(cfg: ModelConfig, ckpt: CheckpointLike, opts: { activations: Precision; device: Device; mtp: boolean }): LoadPlan {
  const act: Act = opts.activations === 'f32' ? 'f32' : 'bf16', keepFp8 = opts.activations === 'fp8';
  const tensors = new Map<string, PlannedTensor>();
  const shapeOf = (n: string) => ckpt.info(n).shape;
  const fp8Kept = (n: string) => keepFp8 && ckpt.info(n).dtype === 'f8_e4m3';
  const put = (name: string, from: string[], layout: Layout, kind: PlannedTensor['kind'], shape: number[]) => {
    const dtype = kind === 'f32' ? 'f32' : kind === 'fp8' ? 'f8_e4m3' : act;
    const bytes = kind === 'fp8' ? from.reduce((a, f) => a + numel(shapeOf(f)) + 4 * numel(shapeOf(`${f}_scale_inv`)), 0)
      : numel(shape) * (dtype === 'f32' ? 4 : 2);
    tensors.set(name, { from, layout, kind, dtype, shape, bytes });
  };
  const f32 = (name: string) => put(name, [name], 'stored', 'f32', shapeOf(name));
  const dense = (name: string) => put(name, [name], 'stored', 'dense', shapeOf(name));
  const linear = (name: string, from = name) => put(name, [from], 'stored', fp8Kept(from) ? 'fp8' : 'dense', shapeOf(from));
  const mlp = (p: string) => { for (const w of ['gate_proj', 'up_proj', 'down_proj']) linear(`${p}${w}.weight`); };

  const layer = (l: number) => {
    const p = `model.layers.${l}.`, a = `${p}self_attn.`, m = `${p}mlp.`;
    const H = cfg.numHeads, nope = cfg.qkNopeHeadDim, v = cfg.vHeadDim, r = cfg.kvLoraRank;
    f32(`${p}input_layernorm.weight`);
    f32(`${p}post_attention_layernorm.weight`);
    const kvA = `${a}kv_a_proj_with_mqa.weight`;
    if (cfg.qLoraRank === null) {
      linear(`${a}wqkv_a`, kvA);
      linear(`${a}q_proj.weight`);
    } else {
      const qA = `${a}q_a_proj.weight`;
      if (fp8Kept(qA) !== fp8Kept(kvA)) throw new UnsupportedError('mlaFused: wq_a and wkv_a must both be fp8 or both dense');
      if (fp8Kept(qA) && cfg.qLoraRank % 128 !== 0) throw new UnsupportedError(`mlaFused: fp8 [wq_a; wkv_a] needs q_lora_rank to be a multiple of 128, got ${cfg.qLoraRank}`);
      put(`${a}wqkv_a`, [qA, kvA], 'joined rows', fp8Kept(qA) ? 'fp8' : 'dense', [cfg.qLoraRank + shapeOf(kvA)[0], cfg.hiddenSize]);
      f32(`${a}q_a_layernorm.weight`);
      linear(`${a}q_b_proj.weight`);
    }
    f32(`${a}kv_a_layernorm.weight`);
    put(`${a}w_uk`, [`${a}kv_b_proj.weight`], 'kv_b W_UK', 'dense', [H, nope, r]);
    put(`${a}w_uv`, [`${a}kv_b_proj.weight`], 'kv_b W_UV', 'dense', [H, v, r]);
    linear(`${a}o_proj.weight`);
    if (!isMoeLayer(cfg, l)) { mlp(m); return; }
    f32(`${m}gate.weight`);
    if (cfg.topkMethod === 'noaux_tc') f32(`${m}gate.e_score_correction_bias`);
    const E = cfg.nRoutedExperts;
    const names = (w: string) => Array.from({ length: E }, (_, e) => `${m}experts.${e}.${w}.weight`);
    const [gate, up, down] = [names('gate_proj'), names('up_proj'), names('down_proj')];
    const stacked = (name: string, from: string[]) => {
      const [n, k] = shapeOf(from[0]);
      put(name, from, 'stacked', fp8Kept(from[0]) ? 'fp8' : 'dense', [E, n, k]);
    };
    stacked(`${m}experts.w2`, down);
    const [inter, d] = shapeOf(gate[0]);
    if (fp8Kept(gate[0]) && fp8Kept(down[0]) && inter % 128 === 0) {  // the fused gate/up GEMM (groupedGemmSiluMul*)
      const both: string[] = [];
      gate.forEach((g, e) => both.push(g, up[e]));
      put(`${m}experts.w13`, both, 'stacked w13', 'fp8', [E, 2 * inter, d]);
    } else {
      stacked(`${m}experts.w1`, gate);
      stacked(`${m}experts.w3`, up);
    }
    if (cfg.nSharedExperts > 0) mlp(`${m}shared_experts.`);
  };

  dense('model.embed_tokens.weight');
  for (let l = 0; l < cfg.numLayers; l++) layer(l);
  f32('model.norm.weight');
  dense('lm_head.weight');
  if (opts.mtp) {
    const p = `model.layers.${cfg.numLayers}.`;
    layer(cfg.numLayers);
    f32(`${p}enorm.weight`);
    f32(`${p}hnorm.weight`);
    dense(`${p}eh_proj.weight`);  // stored bf16 (never quantized)
    f32(`${p}shared_head.norm.weight`);
    dense(`${p}shared_head.head.weight`);
  }
  const bytes: WeightBytes = { total: 0, fp8: 0, dense: 0, f32: 4 * (cfg.qkRopeHeadDim / 2) };  // f32: the shared RoPE inverse frequencies
  for (const t of tensors.values()) bytes[t.kind] += t.bytes;
  bytes.total = bytes.fp8 + bytes.dense + bytes.f32;
  return { precision: opts.activations, act, device: opts.device, mtp: opts.mtp, tensors, bytes };
}

/** The plan as text, one tensor a line (name, layout, dtype, shape, bytes, sources), then the totals. */
export function planText(plan: LoadPlan, human: (bytes: number) => string): string {
  const lines = [`load plan: activations ${plan.precision} (${plan.act}), device ${plan.device}${plan.mtp ? ', MTP layer' : ''}`];
  for (const [name, t] of plan.tensors) {
    const from = t.from.length === 1 && t.from[0] === name ? '' : `  <- ${t.from.length > 2 ? `${t.from[0]} ... (${t.from.length} tensors)` : t.from.join(' + ')}`;
    lines.push(`  ${name}  ${t.layout}  ${t.dtype}${t.kind === 'fp8' ? ' + f32 scales' : ''} [${t.shape.join(', ')}]  ${human(t.bytes)}${from}`);
  }
  const b = plan.bytes;
  lines.push(`weights               ${human(b.total)}: fp8 ${human(b.fp8)}, dense ${human(b.dense)}, f32 ${human(b.f32)}`, '');
  return lines.join('\n');
}
