// Cases of embedding (row gather of a [vocab, d] table by i32 / i64 ids): the CPU test
// (test/ops/embedding.test.ts, against test/reference/embedding.ts: a copy, exact) and the CUDA suite
// (test/gpu/embedding.gpu.test.ts: bytes equal the CPU backend's). First and last rows, repeated ids,
// odd widths and V3's hidden size. No benchmark: one row copy per token.

/** CPU, f32 table of EMBEDDING_CPU_VOCAB rows: [tokens, d, ids dtype]. */
export const EMBEDDING_CPU: [number, number, 'i32' | 'i64'][] = [[1, 1, 'i32'], [5, 7, 'i64'], [33, 128, 'i32'], [33, 300, 'i64'], [5, 1027, 'i32']];
export const EMBEDDING_CPU_VOCAB = 1024;
/** CPU, bf16 table [vocab, d] with repeated ids. */
export const EMBEDDING_CPU_BF16 = { vocab: 300, d: 129, ids: [7, 7, 299, 0, 7, 150] };
/** CUDA: [vocab, d, tokens], every table / output dtype, i32 and i64 ids. */
export const EMBEDDING_GPU: [number, number, number][] = [[1, 1, 1], [7, 7, 3], [300, 129, 33], [1000, 7168, 5], [129, 300, 0]];
