// The forward pass in 'bf16' mode (model.py's default gemm_impl="bf16": bf16 weights and activations)
// on the tiny-v3 fixture, against the float64 reference with the tolerances of cases.md
// ("a bf16-activation engine within ~3x the bf16 row": max abs logit err <= 0.56, mean <= 0.060;
// identical routing sets, the tokens being >= 0.06 from a routing tie).
import { join } from 'path';
import { loadModel } from '../../lib/model/load';
import { RouteTrace } from '../../lib/model/moe';
import { SafetensorsFile } from '../../lib/weights/safetensors';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');

test('bf16 prefill + decode: logits within the cases.md bf16 tolerance, routing sets identical', async () => {
  const model = await loadModel(DIR, { activations: 'bf16' });
  expect(model.activations).toBe('bf16');
  const exp = SafetensorsFile.open(join(DIR, 'expected.safetensors'));
  const i64 = (name: string) => Array.from(new BigInt64Array(exp.bytes(name).slice().buffer), Number);
  const prompt = i64('prompt_tokens'), dec = i64('decode_tokens');
  const V = model.config.vocabSize, K = model.config.numExpertsPerTok, T = prompt.length, S = dec.length;
  const cache = model.createCache(T + S);
  expect(cache.ckv[0].dtype).toBe('bf16');
  const trace: RouteTrace[] = [];
  const got = new Float32Array((T + S) * V);
  got.set((await model.forward(prompt, { cache, trace })).logits, 0);
  for (let s = 0; s < S; s++) got.set((await model.forward([dec[s]], { cache, trace })).logits, (T + s) * V);
  const ref = new Float32Array((T + S) * V);
  ref.set(await exp.get<'f32'>('prefill_logits').toFloat32Array(), 0);
  ref.set(await exp.get<'f32'>('decode_logits').toFloat32Array(), T * V);
  let maxAbs = 0, sumAbs = 0;
  for (let i = 0; i < ref.length; i++) { const e = Math.abs(got[i] - ref[i]); maxAbs = Math.max(maxAbs, e); sumAbs += e; }
  const meanAbs = sumAbs / ref.length;
  // eslint-disable-next-line no-console
  console.log(`tiny-v3 bf16: max abs logit err ${maxAbs.toExponential(3)}, mean ${meanAbs.toExponential(3)}`);
  expect(maxAbs).toBeLessThan(0.56);
  expect(meanAbs).toBeLessThan(0.06);
  expect(maxAbs).toBeGreaterThan(1e-4);  // really bf16: far from the f32 path's ~1e-6

  const pIds = new Int32Array((await exp.get<'i32'>('prefill_expert_ids').toArray()).slice().buffer);
  const dIds = new Int32Array((await exp.get<'i32'>('decode_expert_ids').toArray()).slice().buffer);
  const M = 2;
  const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);
  for (let m = 0; m < M; m++) for (let t = 0; t < T; t++)
    expect(sorted(trace[m].indices.subarray(t * K, (t + 1) * K))).toEqual(sorted(pIds.subarray((m * T + t) * K, (m * T + t + 1) * K)));
  for (let s = 0; s < S; s++) for (let m = 0; m < M; m++)
    expect(sorted(trace[M + s * M + m].indices)).toEqual(sorted(dIds.subarray((m * S + s) * K, (m * S + s + 1) * K)));
  expect(model.kvCacheBytesPerToken()).toBe(3 * 144 * 2);
  exp.close();
}, 120000);
