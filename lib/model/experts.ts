// The routed experts of one MoE layer stacked for the grouped GEMM (DeepGEMM's contiguous layout): w1
// (gate_proj) and w3 (up_proj) [E, inter, d], w2 (down_proj) [E, d, inter], dense in the activation
// dtype or fp8 with scale_inv [E, ceil(n/128), ceil(k/128)]. Rows of x are permuted so that each expert's
// tokens are contiguous; one groupedGemmContiguous per projection runs all experts.
// Reference: ../shared/research/v3-reference.md §5 (experts), §6 (fp8).
import { siluMul } from '../ops/activation';
import { Fp8Operand, groupedGemmContiguous } from '../ops/gemm';
import { quantizeFp8 } from '../ops/quant';
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

function grouped(a: Tensor<Act>, w: Stacked, offsets: Tensor<'i32'>, act: Act): Tensor<Act> {
  if (!isFp8(w)) return groupedGemmContiguous<Act, Act>(a, w, offsets, { outDtype: act });
  const q = quantizeFp8(a);  // act_quant: per row per 128 channels
  const y = groupedGemmContiguous<Act>(q, w, offsets, { outDtype: act });
  q.data.dispose(); q.scale.dispose();
  return y;
}

export class Experts {
  constructor(readonly w1: Stacked, readonly w3: Stacked, readonly w2: Stacked, readonly act: Act) {}

  /** prefix e.g. 'model.layers.3.mlp.experts.'; n experts. */
  static load(ckpt: CheckpointLike, prefix: string, n: number, act: Act, fp8 = false): Experts {
    const names = (p: string) => Array.from({ length: n }, (_, e) => `${prefix}${e}.${p}.weight`);
    return new Experts(stack(ckpt, names('gate_proj'), act, fp8), stack(ckpt, names('up_proj'), act, fp8), stack(ckpt, names('down_proj'), act, fp8), act);
  }

  get count(): number { return (isFp8(this.w1) ? this.w1.data : this.w1).shape[0]; }

  /** xs [m, d] rows grouped by expert, offsets i32 [E+1] -> [m, d]: w2(silu(w1 x) * w3 x) with each row's expert. */
  forward(xs: Tensor<Act>, offsets: Tensor<'i32'>): Tensor<Act> {
    const g = grouped(xs, this.w1, offsets, this.act), u = grouped(xs, this.w3, offsets, this.act);
    const h = siluMul(g, u);
    g.dispose(); u.dispose();
    const y = grouped(h, this.w2, offsets, this.act);
    h.dispose();
    return y;
  }

  dispose(): void {
    for (const w of [this.w1, this.w3, this.w2]) {
      if (isFp8(w)) { w.data.dispose(); w.scale.dispose(); } else w.dispose();
    }
  }
}
