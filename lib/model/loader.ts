// Carries out a load plan (plan.ts): makes each planned tensor from the memory-mapped checkpoint on the plan's
// device, in its dtype and layout. Rows are joined and kv_b_proj split with narrow into views of the
// destination (no JS arrays); the experts are stacked on the host (the staging copy of one layer) and uploaded.
import { ArgumentError } from '../errors';
import { Fp8Operand } from '../ops/gemm';
import { MoeExpertWeights } from '../ops/moe';
import { narrow } from '../ops/shape';
import { DType, Tensor } from '../tensor';
import { WeightArena } from './arena';
import { Experts } from './experts';
import { Act, Linear, loadAs } from './linear';
import { LoadPlan, PlannedTensor } from './plan';
import { CheckpointLike } from './weights';

/** Copies src [n, k] into rows [row, row + n) of dst [N, k] (narrow over the whole row is a plain copy). */
function copyRows(dst: Tensor, row: number, src: Tensor): void {
  const rows = dst.view(row, src.shape[0]);
  narrow(src, 0, src.shape[1], { out: rows });
  rows.dispose();
}

/** [parts[0]; parts[1]; ...] (each [n_i, k], one dtype and device) as one [sum n_i, k] tensor. */
function joinRows<D extends DType>(parts: Tensor<D>[]): Tensor<D> {
  const dst = Tensor.empty([parts.reduce((n, p) => n + p.shape[0], 0), parts[0].shape[1]], { dtype: parts[0].dtype, device: parts[0].device }) as Tensor<D>;
  let row = 0;
  for (const p of parts) { copyRows(dst, row, p); row += p.shape[0]; }
  return dst;
}

export class Loader {
  /** CPU plans: the small weights go to huge-page slabs (arena.ts). */
  private readonly arena: WeightArena | null;
  constructor(readonly plan: LoadPlan, private readonly ckpt: CheckpointLike) {
    this.arena = plan.device === 'cpu' ? new WeightArena() : null;
  }

  /** Ends loading: the arena lets go of its current slab (the loaded weights keep it alive). */
  release(): void { this.arena?.release(); }

  /** Whether the plan holds this tensor. */
  has(name: string): boolean { return this.plan.tensors.has(name); }

  /** A tensor loaded as stored (f32 norms, routers, biases; the embedding, lm_head in the activation dtype). */
  tensor<D extends Act | 'f32'>(name: string): Tensor<D> {
    const t = this.entry(name, ['stored']);
    return this.placed(loadAs(this.ckpt, t.from[0], t.dtype as D, this.plan.device));
  }

  /** A projection: dense in the activation dtype, or FP8 codes + scales; [wq_a; wkv_a] joined by rows. */
  linear(name: string): Linear {
    const t = this.entry(name, ['stored', 'joined rows']);
    const parts = t.from.map((f) => Linear.load(this.ckpt, f, this.plan.act, t.kind === 'fp8', this.plan.device));
    const one = parts.length === 1;
    const l = t.kind === 'fp8'
      ? new Linear(null, this.plan.act, {
        weight: this.placed(one ? parts[0].fp8!.weight : joinRows(parts.map((p) => p.fp8!.weight))),
        scaleInv: this.placed(one ? parts[0].fp8!.scaleInv : joinRows(parts.map((p) => p.fp8!.scaleInv))),
      })
      : new Linear(this.placed(one ? parts[0].weight! : joinRows(parts.map((p) => p.weight!))), this.plan.act);
    if (!one) for (const p of parts) p.dispose();
    return l;
  }

  /** W_UK [h, nope, r] and W_UV [h, v, r] of an attention prefix: kv_b_proj [h * (nope + v), r] in the activation dtype, split per head. */
  absorbed(prefix: string): { wUK: Tensor<Act>; wUV: Tensor<Act> } {
    const uk = this.entry(`${prefix}w_uk`, ['kv_b W_UK']), uv = this.entry(`${prefix}w_uv`, ['kv_b W_UV']);
    const [h, nope, r] = uk.shape, v = uv.shape[1];
    const kvb = loadAs(this.ckpt, uk.from[0], this.plan.act, this.plan.device);
    // as [h, (nope + v) * r], each head's row is [W_UK_h | W_UV_h]
    const heads = kvb.reshape([h, (nope + v) * r]);
    const k = narrow(heads, 0, nope * r), vv = narrow(heads, nope * r, v * r);
    heads.dispose(); kvb.dispose();
    const wUK = k.reshape([h, nope, r]), wUV = vv.reshape([h, v, r]);
    k.dispose(); vv.dispose();
    return { wUK: this.placed(wUK), wUV: this.placed(wUV) };
  }

  /** The routed experts of a MoE prefix ('model.layers.3.mlp.experts.'), stacked as planned (w13 + w2, or w1 / w3 / w2). */
  experts(prefix: string): Experts {
    const w2 = this.stacked(`${prefix}w2`);
    const w: MoeExpertWeights = this.has(`${prefix}w13`) ? { w13: this.stacked(`${prefix}w13`) as Fp8Operand, w2 }
      : { w1: this.stacked(`${prefix}w1`), w3: this.stacked(`${prefix}w3`), w2 };
    return new Experts(w, this.plan.act);
  }

  /** [E, n, k] (w13: [E, 2n, k] = [w1_e; w3_e] per expert) built on the host, then moved to the plan's device. */
  private stacked(name: string): Tensor<Act> | Fp8Operand {
    const t = this.entry(name, ['stacked', 'stacked w13']), ck = this.ckpt;
    const [E, n, k] = t.shape, per = t.from.length / E;  // 2 sources per expert for w13
    const host: Tensor[] = [];
    if (t.kind === 'fp8') {
      const sc = ck.info(`${t.from[0]}_scale_inv`).shape;
      const data = Tensor.empty([E * n, k], { dtype: 'f8_e4m3' }), scale = Tensor.empty([E * per * sc[0], sc[1]], { dtype: 'f32' });
      t.from.forEach((f, i) => { copyRows(data, i * (n / per), ck.get(f)); copyRows(scale, i * sc[0], ck.get(`${f}_scale_inv`)); });
      host.push(data.reshape([E, n, k]), scale.reshape([E, per * sc[0], sc[1]]));
      data.dispose(); scale.dispose();
    } else {
      const w = Tensor.empty([E * n, k], { dtype: this.plan.act });
      t.from.forEach((f, i) => { const x = loadAs(ck, f, this.plan.act); copyRows(w, i * n, x); x.dispose(); });
      host.push(w.reshape([E, n, k]));
      w.dispose();
    }
    const [a, b] = host.map((x) => this.placed(this.moved(x)));
    return t.kind === 'fp8' ? { data: a as Tensor<'f8_e4m3'>, scale: b as Tensor<'f32'> } : a as Tensor<Act>;
  }

  /** x on the plan's device (x itself on the CPU; else a copy, and x is released). */
  private moved(x: Tensor): Tensor {
    if (this.plan.device === 'cpu') return x;
    const m = x.to(this.plan.device);
    x.dispose();
    return m;
  }

  /** x, or on a CPU plan its copy in the weight arena (x disposed) when it is small (arena.ts). */
  private placed<D extends DType>(x: Tensor<D>): Tensor<D> { return this.arena ? this.arena.place(x) : x; }

  private entry(name: string, layouts: PlannedTensor['layout'][]): PlannedTensor {
    const t = this.plan.tensors.get(name);
    if (!t) throw new ArgumentError(`load plan: no tensor '${name}'`);
    if (!layouts.includes(t.layout)) throw new ArgumentError(`load plan: '${name}' is planned as ${t.layout}, not ${layouts.join(' / ')}`);
    return t;
  }
}
