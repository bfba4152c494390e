// The MLA latent KV cache (DeepSeek-V3 model.py MLA absorb path: kv_cache = kv_norm(c_kv), pe_cache =
// rope(k_pe)), per layer c_kv [maxLen, kv_lora_rank] and k_pe [maxLen, qk_rope_head_dim] in the activation
// dtype, plus the number of tokens written so far. Reference: docs/v3-reference.md §3, §8.
import { ModelConfig } from '../config';
import { ArgumentError } from '../errors';
import { Tensor } from '../tensor';
import { Act } from './linear';

export class KVCache {
  readonly ckv: Tensor<Act>[] = [];
  readonly kpe: Tensor<Act>[] = [];
  /** Tokens held (the start position of the next forward). */
  length = 0;
  /** layers: the number of layer slots (default num_hidden_layers; the MTP module's cache has 1). */
  constructor(cfg: ModelConfig, readonly maxLen: number, readonly dtype: Act = 'f32', layers = cfg.numLayers) {
    if (!Number.isInteger(maxLen) || maxLen < 1) throw new ArgumentError(`createCache: maxLen must be a positive integer, got ${maxLen}`);
    for (let l = 0; l < layers; l++) {
      this.ckv.push(Tensor.zeros([maxLen, cfg.kvLoraRank], { dtype }));
      this.kpe.push(Tensor.zeros([maxLen, cfg.qkRopeHeadDim], { dtype }));
    }
  }
  /** Forgets the tokens (the memory is kept). */
  reset(): void { this.length = 0; }
  /** Drops the last n tokens (speculative rollback): their rows are simply overwritten by the next forward. */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new ArgumentError(`KVCache.truncate: n must be an integer in [0, ${this.length}], got ${n}`);
    this.length -= n;
  }
  dispose(): void { for (const t of [...this.ckv, ...this.kpe]) t.dispose(); }
}
