// Model.expertLoad(): per MoE layer, tokens routed to each expert (kept on the device, folded on read),
// checked against the routing trace of the same forwards on the tiny-v3 fixture; resetExpertLoad() zeroes it.
import { join } from 'path';
import { loadModel } from '../../lib/model/load';
import { RouteTrace } from '../../lib/model/stats';

test('expertLoad counts every routed token per layer and expert; reset zeroes', async () => {
  const model = await loadModel(join(__dirname, '..', 'fixtures', 'tiny-v3'), { activations: 'f32' });
  try {
    const cfg = model.config, E = cfg.nRoutedExperts, K = cfg.numExpertsPerTok;
    const cache = model.createCache(64);
    const trace: RouteTrace[] = [];
    await model.forward([5, 9, 2, 7, 7, 1, 30, 4, 11, 3], { cache, trace });
    await model.forward([8], { cache, trace });  // a decode step (masked layout)
    const load = await model.expertLoad();
    const layers = [...new Set(trace.map((r) => r.layer))];
    expect(load.map((l) => l.layer)).toEqual(layers);
    for (const l of load) {
      const want = new Float64Array(E);
      for (const r of trace.filter((x) => x.layer === l.layer)) for (const i of r.indices) want[i]++;
      expect(Array.from(l.tokens)).toEqual(Array.from(want));
      expect(l.total).toBe(11 * K);
    }
    model.resetExpertLoad();
    for (const l of await model.expertLoad()) expect(l.total).toBe(0);
    cache.dispose();
  } finally {
    model.dispose();
  }
}, 120000);
