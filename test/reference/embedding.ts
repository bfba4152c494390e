// Reference of the embedding lookup: row ids[i] of a [vocab, d] table.
export function embedding(table: ArrayLike<number>, d: number, ids: ArrayLike<number | bigint>): Float64Array {
  const r = new Float64Array(ids.length * d);
  for (let i = 0; i < ids.length; i++) {
    const id = Number(ids[i]);
    for (let j = 0; j < d; j++) r[i * d + j] = table[id * d + j];
  }
  return r;
}
