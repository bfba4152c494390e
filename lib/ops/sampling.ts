// Argmax, top-k and sampling over the last dim (the decode step of DeepSeek-V3 generate.py, with
// top-k / top-p filtering). CPU: native/cpu/sampling.cc.
import { Tensor } from '../tensor';
import { lazyOp, result } from './util';

type F = 'f32' | 'bf16' | 'f16';
const nativeArgmax = lazyOp('argmax');
const nativeTopk = lazyOp('topk');
const nativeSample = lazyOp('sample');

/**
 * x [t, n] -> i32 [t]: index of the first maximum of each row (NaN ranks above every number). flagInvalid: a
 * row with a NaN gives -1 and one with no finite maximum -2 instead (the model's greedy picks: `pickedIds`).
 */
export function argmax(x: Tensor<F>, opts: { out?: Tensor<'i32'>; flagInvalid?: boolean } = {}): Tensor<'i32'> {
  return result(nativeArgmax(x, opts), opts);
}

/** x [t, n], 1 <= k <= n -> values f32 [t, k] descending, indices i32 [t, k] (equal values: lower index first; NaN first). */
export function topk(x: Tensor<F>, k: number, opts: { out?: { values?: Tensor<'f32'>; indices?: Tensor<'i32'> } } = {}): { values: Tensor<'f32'>; indices: Tensor<'i32'> } {
  const r = nativeTopk(x, k, opts);
  return { values: result(r.values), indices: result(r.indices) };
}

export interface SampleOptions {
  /** Counter-based: row r draws u = rng(seed, r), so equal seeds give equal tokens. */
  seed: number | bigint;
  /** Divides the logits (default 1); <= 0 means greedy (argmax). Must be finite. */
  temperature?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches topP, in (0, 1] (default 1 = off). */
  topP?: number;
  /** Keep only the topK most likely tokens (default 0 = off). */
  topK?: number;
  out?: Tensor<'i32'>;
}

/**
 * logits f32 [t, vocab] -> i32 [t]: one token per row from softmax(logits / temperature) (float64),
 * filtered by topK then topP (renormalized over the top-k), drawn with a uniform u in [0, 1) from
 * splitmix64(seed, row). A row with NaN or no finite logit makes the next read reject.
 */
export function sample(logits: Tensor<'f32'>, opts: SampleOptions): Tensor<'i32'> {
  return result(nativeSample(logits, opts), opts);
}
