// The gated MLP (DeepSeek-V3 model.py MLP / Expert): down(silu(gate(x)) * up(x)), used for the dense
// layers, each routed expert and the shared experts. Reference: docs/v3-reference.md §5.
import { siluMul } from '../ops/activation';
import { Device, Tensor } from '../tensor';
import { Act, Linear } from './linear';
import { CheckpointLike } from './weights';

export class Mlp {
  constructor(readonly gate: Linear, readonly up: Linear, readonly down: Linear) {}
  /** prefix e.g. 'model.layers.0.mlp.' (HF gate_proj = w1, up_proj = w3, down_proj = w2). */
  static load(ckpt: CheckpointLike, prefix: string, act: Act, fp8 = false, device: Device = 'cpu'): Mlp {
    const l = (n: string) => Linear.load(ckpt, `${prefix}${n}.weight`, act, fp8, device);
    return new Mlp(l('gate_proj'), l('up_proj'), l('down_proj'));
  }
  /** x [t, d] -> [t, d]. */
  forward(x: Tensor<Act>): Tensor<Act> {
    const g = this.gate.forward(x), u = this.up.forward(x);
    const h = siluMul(g, u);
    g.dispose(); u.dispose();
    const y = this.down.forward(h);
    h.dispose();
    return y;
  }

  /** On `device` (moves and releases the weights that are elsewhere). */
  to(device: Device): Mlp { return new Mlp(this.gate.to(device), this.up.to(device), this.down.to(device)); }

  dispose(): void { this.gate.dispose(); this.up.dispose(); this.down.dispose(); }
}
