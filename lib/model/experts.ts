// The routed experts of one MoE layer stacked for the grouped GEMM (DeepGEMM's contiguous layout): w1
// (gate_proj) and w3 (up_proj) [E, inter, d], w2 (down_proj) [E, d, inter], dense in the activation
// dtype or fp8 with scale_inv [E, ceil(n/128), ceil(k/128)]. FP8 with inter % 128 == 0 (V3: 2048) stacks
// w13 = [w1; w3] per expert [E, 2 inter, d] instead, for the fused gate/up GEMM (groupedGemmSiluMul*).
// Rows of x are permuted by expert on the device (moePermute / moeGather); grouped GEMMs run all experts
// (ops/moe.ts moeExperts).
// Reference: docs/v3-reference.md §5 (experts), §6 (fp8).
import { Fp8Operand } from '../ops/gemm';
import { MoeExpertWeights, moeExperts, MoePermutation } from '../ops/moe';
import { narrow } from '../ops/shape';
import { Tensor } from '../tensor';
import { Act, loadAs } from './linear';
import { CheckpointLike } from './weights';

type Stacked = Tensor<Act> | Fp8Operand;

/** Copies src [n, k] into row block e of dst [E, n, k] (narrow over the full last dim is a plain copy). */
function copyInto(dst: Tensor, e: number, src: Tensor): void {
  narrow(src, 0, src.shape[src.ndim - 1], { out: dst.view(e, 1).reshape(src.shape) });
}

function stack(ckpt: CheckpointLike, names: string[], act: Act, fp8: boolean): Stacked {
  const first = ckpt.get(names[0]);
  const [n, k] = first.shape;
  if (fp8 && first.dtype === 'f8_e4m3') {
    const data = Tensor.empty([names.length, n, k], { dtype: 'f8_e4m3' });
    const scale = Tensor.empty([names.length, Math.ceil(n / 128), Math.ceil(k / 128)], { dtype: 'f32' });
    names.forEach((name, e) => { copyInto(data, e, ckpt.get(name)); copyInto(scale, e, ckpt.get(`${name}_scale_inv`)); });
    return { data, scale };
  }
  const w = Tensor.empty([names.length, n, k], { dtype: act });
  names.forEach((name, e) => {
    const t = loadAs(ckpt, name, act);
    copyInto(w, e, t);
    t.dispose();
  });
  return w;
}

/** FP8 gate and up weights [n, k] of each expert stacked as [E, 2n, k] = [w1; w3] per expert (n % 128 == 0). */
function stack13(ckpt: CheckpointLike, gate: string[], up: string[]): Fp8Operand {
  const [n, k] = ckpt.get(gate[0]).shape;
  const nb = n / 128, kb = Math.ceil(k / 128);
  const data = Tensor.empty([gate.length, 2 * n, k], { dtype: 'f8_e4m3' });
  const scale = Tensor.empty([gate.length, 2 * nb, kb], { dtype: 'f32' });
  gate.forEach((g, e) => {
    const d = data.view(e, 1).reshape([2 * n, k]), s = scale.view(e, 1).reshape([2 * nb, kb]);
    copyInto(d.view(0, n).reshape([1, n, k]), 0, ckpt.get(g));
    copyInto(d.view(n, n).reshape([1, n, k]), 0, ckpt.get(up[e]));
    copyInto(s.view(0, nb).reshape([1, nb, kb]), 0, ckpt.get(`${g}_scale_inv`));
    copyInto(s.view(nb, nb).reshape([1, nb, kb]), 0, ckpt.get(`${up[e]}_scale_inv`));
  });
  return { data, scale };
}

function isFp8(w: Stacked): w is Fp8Operand { return !(w instanceof Tensor); }

export class Experts {
  constructor(readonly weights: MoeExpertWeights, readonly act: Act) {}

  /** prefix e.g. 'model.layers.3.mlp.experts.'; n experts. */
  static load(ckpt: CheckpointLike, prefix: string, n: number, act: Act, fp8 = false): Experts {
    const names = (p: string) => Array.from({ length: n }, (_, e) => `${prefix}${e}.${p}.weight`);
    const gate = ckpt.get(names('gate_proj')[0]);
    const w2 = stack(ckpt, names('down_proj'), act, fp8);
    if (fp8 && gate.dtype === 'f8_e4m3' && gate.shape[0] % 128 === 0 && isFp8(w2))
      return new Experts({ w13: stack13(ckpt, names('gate_proj'), names('up_proj')), w2 }, act);
    return new Experts({ w1: stack(ckpt, names('gate_proj'), act, fp8), w3: stack(ckpt, names('up_proj'), act, fp8), w2 }, act);
  }

  get count(): number { const w2 = this.weights.w2; return (isFp8(w2) ? w2.data : w2).shape[0]; }

  /** x [t, d] and its permutation by expert (k choices per token) -> grouped rows [rows, d] (masked: [E, mMax, d]): w2(silu(w1 x) * w3 x) with each row's expert. */
  forward(x: Tensor<Act>, perm: MoePermutation, k: number): Tensor<Act> {
    return moeExperts(x, perm, k, this.weights, this.act);
  }

  dispose(): void {
    const w = this.weights;
    for (const x of [w.w1, w.w3, w.w13, w.w2]) {
      if (x === undefined) continue;
      if (isFp8(x)) { x.data.dispose(); x.scale.dispose(); } else x.dispose();
    }
  }
}
