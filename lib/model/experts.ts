// The routed experts of one MoE layer stacked for the grouped GEMM (DeepGEMM's contiguous layout): w1
// (gate_proj) and w3 (up_proj) [E, inter, d], w2 (down_proj) [E, d, inter], dense in the activation
// dtype or fp8 with scale_inv [E, ceil(n/128), ceil(k/128)]. FP8 with inter % 128 == 0 (V3: 2048) stacks
// w13 = [w1; w3] per expert [E, 2 inter, d] instead, for the fused gate/up GEMM (groupedGemmSiluMul*).
// Rows of x are permuted by expert on the device (moePermute / moeGather); grouped GEMMs run all experts
// (ops/moe.ts moeExperts). The load plan (plan.ts) chooses the layout; loader.ts stacks them.
// Reference: docs/v3-reference.md §5 (experts), §6 (fp8).
import { Fp8Operand } from '../ops/gemm';
import { MoeExpertWeights, moeExperts, MoePermutation } from '../ops/moe';
import { Tensor } from '../tensor';
import { Act } from './linear';

function isFp8(w: Tensor<Act> | Fp8Operand): w is Fp8Operand { return !(w instanceof Tensor); }

export class Experts {
  constructor(readonly weights: MoeExpertWeights, readonly act: Act) {}

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
