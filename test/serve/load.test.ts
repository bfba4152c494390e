// Load: 32 concurrent openai clients x 3 requests each (streamed and whole) against one server on 127.0.0.1 with
// maxBatch 16 (so requests also queue). Every request completes with the greedy text it would get alone, each
// exactly once; afterwards the KV pages and the addon's memory are back where they started. Random tiny checkpoint.
import OpenAI from 'openai';
import { native } from '../../lib/native';
import { Model } from '../../lib/model/model';
import { createServer, Server } from '../../lib/serve/server';
import { tinyModel } from './tiny';

let model: Model, cleanup: () => void, srv: Server, url: string;
beforeAll(async () => {
  ({ model, cleanup } = await tinyModel());
  srv = createServer(model, model.tokenizer, { modelName: 'tiny', maxBatch: 16, maxQueue: 256, kvTokens: 64 * 64, prefillChunk: 32 });
  url = await srv.app.listen({ host: '127.0.0.1', port: 0 });
}, 120000);
afterAll(async () => { await srv?.close(); cleanup?.(); });

test('32 concurrent clients x 3 requests: all complete, correct, once; pages and memory return to baseline', async () => {
  const prompts = ['hello', 'tell me a story about a cat', 'what is 2 + 2?', 'list three colors and explain each of them in detail please'];
  const expected: string[] = [];
  for (const p of prompts) {
    const ids: number[] = [];
    for await (const t of model.generate('', { messages: [{ role: 'user', content: p }], maxNewTokens: 8 })) ids.push(t.id);
    expected.push(model.tokenizer!.decode(ids));  // the whole text, a trailing partial character included
  }
  const clients = Array.from({ length: 32 }, () => new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60000 }));
  const mem0 = native.externalMemory();
  const t0 = performance.now();
  const results: { client: number; k: number; id: string; text: string; tokens: number }[] = [];
  await Promise.all(clients.map(async (client, c) => {
    for (let k = 0; k < 3; k++) {
      const p = (c + k) % prompts.length;
      const messages = [{ role: 'user' as const, content: prompts[p] }];
      if ((c + k) % 2 === 0) {
        const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0 });
        results.push({ client: c, k, id: r.id, text: r.choices[0].message.content ?? '', tokens: r.usage!.completion_tokens });
        expect(r.choices[0].message.content).toBe(expected[p]);
      } else {
        const s = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
        let text = '', id = '', tokens = -1;
        for await (const ch of s) { id = ch.id; text += ch.choices[0]?.delta.content ?? ''; if (ch.usage) tokens = ch.usage.completion_tokens; }
        results.push({ client: c, k, id, text, tokens });
        expect(text).toBe(expected[p]);
      }
    }
  }));
  const secs = (performance.now() - t0) / 1e3;
  expect(results.length).toBe(96);
  expect(new Set(results.map((r) => r.id)).size).toBe(96);
  expect(new Set(results.map((r) => `${r.client}/${r.k}`)).size).toBe(96);
  await srv.scheduler.idle();
  expect(srv.scheduler.pagesUsed).toBe(0);
  expect(srv.scheduler.queueDepth).toBe(0);
  expect(srv.scheduler.runningCount).toBe(0);
  const m = await (await fetch(`${url}/metrics`)).text();
  expect(m).toContain('dsv3_requests_total{endpoint="/v1/chat/completions",outcome="ok"} 96');
  expect(m).toContain(`dsv3_generation_tokens_total ${results.reduce((a, r) => a + r.tokens, 0)}`);
  const rows = m.match(/dsv3_step_tokens_sum (\d+)/)![1], steps = m.match(/dsv3_step_tokens_count (\d+)/)![1];
  expect(Number(rows) / Number(steps)).toBeGreaterThan(4);  // the steps really were batched
  expect(native.externalMemory()).toBeLessThanOrEqual(mem0 + 2 ** 20);
  console.log(`96 requests in ${secs.toFixed(2)} s, ${steps} steps, ${(Number(rows) / Number(steps)).toFixed(1)} rows per step, external memory ${mem0} -> ${native.externalMemory()}`);
}, 100000);
