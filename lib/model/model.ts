// The model as users hold it (loadModel returns one): the Transformer (transformer.ts: the step and the
// forwards that read it back) with the checkpoint's tokenizer and the drivers that run steps from outside,
// generation (lib/generate.ts) and the captured greedy decode step (decode_graph.ts), as methods.
import { generate, GenerateOptions, Generation } from '../generate';
import { TextTokenizer } from '../tokenizer';
import { DecodeGraph } from './decode_graph';
import { SequenceCache } from './paged_cache';
import { Transformer } from './transformer';
export * from './transformer';

export class Model extends Transformer {
  /** The checkpoint's tokenizer (loadTokenizer(dir)), used by generate for text; null: ids only. */
  tokenizer: TextTokenizer | null = null;

  /** Streams generated tokens (lib/generate.ts): `for await (const { id, text } of model.generate(prompt, opts))`. */
  generate(promptOrIds: string | number[], opts: GenerateOptions = {}): Generation {
    return generate(this, promptOrIds, opts, this.tokenizer);
  }

  /**
   * Greedy decode of these sequences (one shared paged cache on the model's device) as a captured step graph: one
   * launch per step (decode_graph.ts; a CUDA graph, or on the CPU the recorded ops run back to back by the stream
   * thread). `await g.decode(tokens)` appends one token per sequence and returns the next ones; dispose() frees
   * the graph. Replays count expert load like forwards do.
   */
  decodeGraph(caches: readonly SequenceCache[]): Promise<DecodeGraph> { return DecodeGraph.capture(this, caches); }
}
