// The routed experts of one MoE layer stacked for the grouped GEMM (DeepGEMM's contiguous layout): w1
// (gate_proj) and w3 (up_proj) [E, inter, d], w2 (down_proj) [E, d, inter], dense in the activation
// dtype or fp8 with scale_inv [E, ceil(n/128), ceil(k/128)]. Rows of x are permuted by expert on the
// device (moePermute / moeGather); one grouped GEMM per projection runs all experts (ops/moe.ts moeExperts).
// Reference: ../shared/research/v3-reference.md §5 (experts), §6 (fp8).
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

function isFp8(w: Stacked): w is Fp8Operand { return !(w instanceof Tensor); }

export class Experts {
  constructor(readonly w1: Stacked, readonly w3: Stacked, readonly w2: Stacked, readonly act: Act) {}

  /** prefix e.g. 'model.layers.3.mlp.experts.'; n experts. */
  static load(ckpt: CheckpointLike, prefix: string, n: number, act: Act, fp8 = false): Experts {
    const names = (p: string) => Array.from({ length: n }, (_, e) => `${prefix}${e}.${p}.weight`);
    return new Experts(stack(ckpt, names('gate_proj'), act, fp8), stack(ckpt, names('up_proj'), act, fp8), stack(ckpt, names('down_proj'), act, fp8), act);
  }

  get count(): number { return (isFp8(this.w1) ? this.w1.data : this.w1).shape[0]; }

  get weights(): MoeExpertWeights { return { w1: this.w1, w3: this.w3, w2: this.w2 }; }

  /** x [t, d] and its permutation by expert (k choices per token) -> grouped rows [rows, d] (masked: [E, mMax, d]): w2(silu(w1 x) * w3 x) with each row's expert. */
  forward(x: Tensor<Act>, perm: MoePermutation, k: number): Tensor<Act> {
    return moeExperts(x, perm, k, this.weights, this.act);
  }

  dispose(): void {
    for (const w of [this.w1, this.w3, this.w2]) {
      if (isFp8(w)) { w.data.dispose(); w.scale.dispose(); } else w.dispose();
    }
  }
}
