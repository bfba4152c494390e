// The OpenAI-compatible server on 127.0.0.1 (random port), driven by the official `openai` npm client (streamed
// and whole) and by raw fetch for what a client library would not send: malformed JSON, wrong types, unknown
// model, context overflow, oversized bodies, API keys, a full queue (429), a client that disconnects.
import OpenAI from 'openai';
import { Model } from '../../lib/model/model';
import { createServer, Server } from '../../lib/serve/server';
import { tinyModel } from './tiny';

let model: Model, cleanup: () => void, srv: Server, url: string, client: OpenAI;
const KEY = 'sk-test-key';
beforeAll(async () => {
  ({ model, cleanup } = await tinyModel());
  srv = createServer(model, model.tokenizer, { modelName: 'tiny', apiKey: KEY, maxBatch: 8, kvTokens: 64 * 32, bodyLimit: 64 * 1024 });
  url = await srv.app.listen({ host: '127.0.0.1', port: 0 });
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30000 });
}, 120000);
afterAll(async () => { await srv?.close(); cleanup?.(); });

const greedy = async (messages: { role: string; content: string }[] | null, prompt: number[] | null, n: number) => {
  const ids: number[] = [];
  for await (const t of model.generate(prompt ?? '', { messages: messages ?? undefined, maxNewTokens: n })) ids.push(t.id);
  return { ids, text: model.tokenizer!.decode(ids) };
};

const post = (path: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${url}${path}`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

test('chat completions with the openai client, whole and streamed, equal greedy Model.generate', async () => {
  const messages = [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'hello there' }];
  const ref = await greedy(messages, null, 10);
  const r = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 10, temperature: 0 });
  expect(r.object).toBe('chat.completion');
  expect(r.choices[0].message.content).toBe(ref.text);
  expect(r.choices[0].finish_reason).toBe(ref.ids.length === 10 ? 'length' : 'stop');
  const promptLen = model.tokenizer!.applyChatTemplate(messages).length;
  expect(r.usage).toEqual({ prompt_tokens: promptLen, completion_tokens: ref.ids.length, total_tokens: promptLen + ref.ids.length });
  const stream = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let text = '', finish: string | null = null, usage = null;
  for await (const c of stream) {
    if (c.choices[0]) { text += c.choices[0].delta.content ?? ''; finish = c.choices[0].finish_reason ?? finish; }
    if (c.usage) usage = c.usage;
  }
  expect(text).toBe(ref.text);
  expect(finish).toBe(r.choices[0].finish_reason);
  expect(usage).toEqual(r.usage);
}, 60000);

test('completions (text and token-id prompts), seeded sampling, the raw stream ends with [DONE]', async () => {
  const ids = [0, 17, 300, 42, 9];
  const ref = await greedy(null, ids, 8);
  const r = await client.completions.create({ model: 'tiny', prompt: ids, max_tokens: 8, temperature: 0 });
  expect(r.choices[0].text).toBe(ref.text);
  expect(r.usage!.completion_tokens).toBe(ref.ids.length);
  const s = await client.completions.create({ model: 'tiny', prompt: 'the quick brown fox', max_tokens: 6, temperature: 0.8, top_p: 0.9, seed: 7, stream: true });
  let st = '';
  for await (const c of s) st += c.choices[0]?.text ?? '';
  const again = await client.completions.create({ model: 'tiny', prompt: 'the quick brown fox', max_tokens: 6, temperature: 0.8, top_p: 0.9, seed: 7 });
  expect(again.choices[0].text).toBe(st);
  const raw = await (await post('/v1/completions', { model: 'tiny', prompt: 'abc', max_tokens: 3, stream: true })).text();
  expect(raw.trimEnd().endsWith('data: [DONE]')).toBe(true);
  expect(raw.split('\n\n').filter((l) => l.startsWith('data: ')).length).toBeGreaterThanOrEqual(2);
}, 60000);

test('models, health, metrics', async () => {
  const list = await client.models.list();
  expect(list.data.map((m) => m.id)).toEqual(['tiny']);
  expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: 'ok' });
  const m = await (await fetch(`${url}/metrics`)).text();
  for (const name of ['dsv3_requests_total{', 'dsv3_prompt_tokens_total', 'dsv3_generation_tokens_total', 'dsv3_time_to_first_token_seconds_bucket',
    'dsv3_inter_token_latency_seconds_count', 'dsv3_queue_depth 0', 'dsv3_kv_pages_used 0', 'dsv3_kv_pages_free 32']) expect(m).toContain(name);
});

test.each([
  ['malformed JSON', '{"model": "tiny", "messages": [', 400, null],
  ['a wrong type', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], temperature: 'hot' }, 400, 'temperature'],
  ['a wrong nested type', { model: 'tiny', messages: [{ role: 'user', content: 5 }] }, 400, 'messages[0].content'],
  ['a missing field', { model: 'tiny' }, 400, 'messages'],
  ['an unknown role', { model: 'tiny', messages: [{ role: 'wizard', content: 'hi' }] }, 400, 'messages[0].role'],
  ['n > 1', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], n: 2 }, 400, 'n'],
  ['an unknown model', { model: 'gpt-9', messages: [{ role: 'user', content: 'hi' }] }, 400, 'model'],
  ['max_tokens past the context', { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5000 }, 400, 'max_tokens'],
  ['a prompt longer than the context', { model: 'tiny', messages: [{ role: 'user', content: 'x '.repeat(400) }] }, 400, 'messages'],
  ['an oversized body', { model: 'tiny', messages: [{ role: 'user', content: 'y'.repeat(70000) }] }, 413, null],
])('chat with %s is refused with an OpenAI error body', async (_what, body, status, param) => {
  const r = await post('/v1/chat/completions', body);
  expect(r.status).toBe(status);
  const e = (await r.json()) as { error: { message: string; type: string; param: string | null } };
  expect(typeof e.error.message).toBe('string');
  expect(e.error.type).toBe('invalid_request_error');
  expect(e.error.param).toBe(param);
});

test('completions: bad token ids and prompt length are 400s naming the field; API keys: 401', async () => {
  let r = await post('/v1/completions', { model: 'tiny', prompt: [1, 2, 999999] });
  expect(r.status).toBe(400);
  expect(((await r.json()) as { error: { param: string } }).error.param).toBe('prompt[2]');
  r = await post('/v1/completions', { model: 'tiny', prompt: Array(300).fill(5) });
  expect(((await r.json()) as { error: { param: string } }).error.param).toBe('prompt');
  r = await post('/v1/completions', { model: 'tiny', prompt: 'hi' }, { authorization: 'Bearer wrong' });
  expect(r.status).toBe(401);
  expect(((await r.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  r = await fetch(`${url}/v1/models`);
  expect(r.status).toBe(401);
  await expect(new OpenAI({ baseURL: `${url}/v1`, apiKey: 'nope', maxRetries: 0 }).models.list()).rejects.toThrow(OpenAI.AuthenticationError);
  expect((await fetch(`${url}/health`)).status).toBe(200);
});

test('a client that aborts a stream has its request cancelled and its pages freed', async () => {
  // a prompt whose greedy continuation runs past 30 tokens (no eos), so the request is still running at the abort
  let ids: number[] = [];
  for (let salt = 0; ids.length === 0 || (await greedy(null, ids, 30)).ids.length < 30; salt++) ids = [0, 100 + salt, 200 + salt];
  const ac = new AbortController();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, signal: ac.signal,
    body: JSON.stringify({ model: 'tiny', prompt: ids, max_tokens: 200, temperature: 0, stream: true }),
  });
  const reader = r.body!.getReader();
  let got = '';
  while ((got.match(/data: /g) ?? []).length < 3) got += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  for (let i = 0; i < 200 && srv.scheduler.pagesUsed > 0; i++) await new Promise((res) => setTimeout(res, 10));
  expect(srv.scheduler.pagesUsed).toBe(0);
  expect(srv.scheduler.runningCount).toBe(0);
  expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/dsv3_requests_total\{endpoint="\/v1\/completions",outcome="cancelled"\} 1/);
}, 30000);

test('a full queue answers 429 with Retry-After', async () => {
  const small = createServer(model, model.tokenizer, { modelName: 'tiny', maxBatch: 1, maxQueue: 1, kvTokens: 64 * 8 });
  const u = await small.app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const body = JSON.stringify({ model: 'tiny', prompt: 'abc', max_tokens: 40, temperature: 0 });
    const rs = await Promise.all([0, 1, 2].map(() => fetch(`${u}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })));
    const codes = rs.map((r) => r.status).sort();
    expect(codes).toEqual([200, 200, 429]);
    const r429 = rs.find((r) => r.status === 429)!;
    expect(r429.headers.get('retry-after')).toBe('1');
    expect(((await r429.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
  } finally {
    await small.close();
  }
}, 30000);
