// Cases of argmax, topk and sample: the CPU tests (test/ops/argmax_topk.test.ts, sample.test.ts: against
// the float64 reference and its distributions, test/reference/sampling.ts) and the CUDA suite
// (test/gpu/sampling.gpu.test.ts: integer outputs equal the CPU backend's). Rows up to V3's vocabulary
// (129280). No benchmark of its own: the pick is timed in the model benchmarks.

/** CPU argmax / topk: [rows, n] with ties, NaN and +-inf. */
export const ARGMAX_TOPK_CPU: [number, number][] = [1, 5, 33].flatMap((t) => [1, 7, 128, 300, 1027].map((n): [number, number] => [t, n]));
/** CPU sample: greedy and top-k = 1 equal argmax ([rows, vocab]). */
export const SAMPLE_GREEDY_CPU: [number, number][] = [[1, 7], [5, 300], [33, 1027]];
/** CPU sample: determinism per (seed, row) on [rows, vocab]. */
export const SAMPLE_SEEDS_CPU: [number, number] = [64, 1000];
/** CPU sample: identical rows of these logits; draws' frequencies within SAMPLE_MAX_SIGMA standard errors of the
 * reference probabilities (options chosen away from top-p cut boundaries; ties at 1.5 for top-k = 2). */
export const SAMPLE_DISTRIBUTION_CPU = {
  logits: [1.5, 0.3, -0.4, 1.5, 2.2, -3], draws: 20000,
  opts: [{ temperature: 1 }, { temperature: 0.7, topK: 4 }, { temperature: 1.3, topP: 0.8 }, { temperature: 2, topK: 5, topP: 0.9 }, { temperature: 1, topK: 2 }],
};
export const SAMPLE_MAX_SIGMA = 5;
/** CUDA argmax / sample: [rows, n]; on the emulator the longest row is 32768 (still many chunks of a block). */
export const SAMPLING_GPU = (emu: boolean): [number, number][] => [[1, 1], [1, 7], [7, 129], [3, 300], [2, 7168], [1, emu ? 32768 : 129280]];
/** CUDA argmax: also a short row. */
export const ARGMAX_GPU = (emu: boolean): [number, number][] => [...SAMPLING_GPU(emu), [3, 5]];
/** CUDA sample: also many flat rows (64, on the emulator 16, of 1000). */
export const SAMPLE_GPU = (emu: boolean): [number, number][] => [...SAMPLING_GPU(emu), [emu ? 16 : 64, 1000]];
/** CUDA topk: [rows, n]. */
export const TOPK_GPU: [number, number][] = [[1, 1], [1, 7], [7, 129], [3, 300], [2, 7168]];
/** CUDA sample: greedy, temperature only, top-k (cutting through ties), top-p and both. */
export const SAMPLE_OPTS_GPU = [
  { temperature: 0 }, { temperature: -1, topP: 0.5 }, { temperature: 1 }, { temperature: 0.7 }, { temperature: 2.5 },
  { temperature: 1, topK: 1 }, { temperature: 0.8, topK: 5 }, { temperature: 1.3, topK: 50 }, { temperature: 1, topP: 0.9 },
  { temperature: 0.6, topP: 0.5 }, { temperature: 1, topP: 1e-9 }, { temperature: 1.1, topK: 40, topP: 0.95 }, { temperature: 1, topK: 7, topP: 0.3 },
];
