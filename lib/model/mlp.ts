// The gated MLP (DeepSeek-V3 model.py MLP / Expert): down(silu(gate(x)) * up(x)), used for the dense
// layers, each routed expert and the shared experts. Reference: docs/v3-reference.md §5.
import { siluMul } from '../ops/activation';
import { Tensor } from '../tensor';
import { Act, Linear } from './linear';
import type { Loader } from './loader';

export class Mlp {
  constructor(readonly gate: Linear, readonly up: Linear, readonly down: Linear) {}
  /** prefix e.g. 'model.layers.0.mlp.' (HF gate_proj = w1, up_proj = w3, down_proj = w2). */
  static load(w: Loader, prefix: string): Mlp {
    return new Mlp(w.linear(`${prefix}gate_proj.weight`), w.linear(`${prefix}up_proj.weight`), w.linear(`${prefix}down_proj.weight`));
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

  dispose(): void { this.gate.dispose(); this.up.dispose(); this.down.dispose(); }
}
