// Token embedding lookup (DeepSeek-V3 model.py ParallelEmbedding). CPU: native/cpu/embedding.cc.
import { Tensor } from '../tensor';
import { lazyOp, OutOptions, result } from './util';

type F = 'f32' | 'bf16' | 'f16';
const nativeEmbedding = lazyOp('embedding');

/**
 * table [vocab, d], ids [t] -> [t, d] (out dtype defaults to the table's). An id outside [0, vocab)
 * is found when the task runs: the next read of the CPU stream rejects with an ArgumentError.
 */
export function embedding<D extends F, O extends F = D>(table: Tensor<D>, ids: Tensor<'i32' | 'i64'>, opts: OutOptions<O> = {}): Tensor<O> {
  return result(nativeEmbedding(table, ids, opts), opts);
}
