// Decoding several sequences alone and batched over one paged latent cache (Model.forward vs
// Model.forwardBatch), for the CPU test (test/model/batch.test.ts) and the GPU one (test/gpu/model.gpu.test.ts).
import { Model, ForwardResult } from '../../lib/model/model';
import { PagedLatentCache, SequenceCache } from '../../lib/model/paged_cache';
import { relErr } from '../helpers';
import { Rng } from '../reference/rng';

/**
 * Random prompts of lengths `lens` and `steps` random decode tokens each, run alone (a cache per sequence)
 * and batched (one paged cache, one forwardBatch per step, `check` called on each step's result). Returns
 * the worst relative error of the batched logits against the alone ones, and the batched caches, still
 * open (the caller disposes `paged`).
 */
export async function batchedVsAlone(model: Model, lens: number[], steps: number, seed: number,
  opts: { pick?: object } = {}, check?: (r: ForwardResult) => void): Promise<{ worst: number; paged: PagedLatentCache; seqs: SequenceCache[] }> {
  const V = model.config.vocabSize, rng = new Rng(seed);
  const prompts = lens.map((n) => Array.from({ length: n }, () => rng.int(0, V - 1)));
  const toks = lens.map(() => Array.from({ length: steps }, () => rng.int(0, V - 1)));
  const alone: Float32Array[][] = [];
  for (let i = 0; i < lens.length; i++) {
    const c = model.createCache(256);
    await model.forward(prompts[i], { cache: c });
    alone.push([]);
    for (let s = 0; s < steps; s++) alone[i].push((await model.forward([toks[i][s]], { cache: c })).logits);
    c.dispose();
  }
  const paged = model.createPagedCache(256 * lens.length);  // room for each sequence's 256 tokens
  const seqs = lens.map(() => model.createCache(256, paged));
  for (let i = 0; i < lens.length; i++) await model.forward(prompts[i], { cache: seqs[i] });
  let worst = 0;
  for (let s = 0; s < steps; s++) {
    const r = await model.forwardBatch(seqs.map((cache, i) => ({ cache, ids: [toks[i][s]] })), opts);
    check?.(r);
    for (let i = 0; i < lens.length; i++) worst = Math.max(worst, relErr(r.logits.subarray(i * V, (i + 1) * V), alone[i][s]));
  }
  return { worst, paged, seqs };
}
