// The check of picked token ids read back from the device (lib/ops/sampling.ts argmax flagInvalid, CUDA sample).
import { ArgumentError } from '../errors';
/**
 * Picked token ids read back (argmax with flagInvalid, or sample on CUDA, which gives -1 for a row it cannot
 * draw from): throws the ArgumentError sampling raises on the CPU for the first row flagged (-1: contains NaN,
 * -2: no finite maximum). `firstRow` numbers the rows in the message.
 */
export function checkPicks(ids: ArrayLike<number>, what: string, firstRow = 0): void {
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= 0) continue;
    throw new ArgumentError(`${what}: row ${firstRow + i} of 'logits' ${ids[i] === -2 ? 'has no finite maximum' : 'contains NaN'}`);
  }
}
