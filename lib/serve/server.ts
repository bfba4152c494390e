// The OpenAI-compatible HTTP server (fastify): POST /v1/chat/completions and /v1/completions (streamed as
// server-sent events or whole), GET /v1/models, /health and /metrics (Prometheus). Bodies are validated by
// JSON schema (schemas.ts); every refusal is an OpenAI-style error body { error: { message, type, param, code } }.
// Requests run on the continuous-batching scheduler; a client that disconnects has its request cancelled.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ArgumentError, DsError, OverloadedError } from '../errors';
import type { Model } from '../model/model';
import { ChatMessage, TextTokenizer } from '../tokenizer';
import { ServeMetrics } from './metrics';
import { FinishReason, SamplingParams, Scheduler, SchedulerOptions } from './scheduler';
import { chatBody, ChatBody, completionBody, CompletionBody, SamplingBody } from './schemas';

export interface ServeOptions extends SchedulerOptions {
  /** The id clients send as `model` (default: the checkpoint folder's name, given by the caller). */
  modelName: string;
  /** When set, /v1/* need `Authorization: Bearer <apiKey>` (else 401). */
  apiKey?: string;
  /** Largest request body in bytes (default 1 MiB; larger: 413). */
  bodyLimit?: number;
  /** max_tokens when a request gives none (default 256, within the context). */
  defaultMaxTokens?: number;
  logger?: boolean;
}

/** A refusal with its HTTP status and OpenAI error fields. */
export class ApiError extends DsError {
  constructor(readonly status: number, message: string, readonly param: string | null = null, readonly code: string | null = null,
    readonly type = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error') {
    super(message);
  }
}

const errorBody = (e: ApiError) => ({ error: { message: e.message, type: e.type, param: e.param, code: e.code } });

/** '/messages/0/role' -> 'messages[0].role'. */
const fieldOf = (path: string) => path.split('/').filter(Boolean).map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i ? `.${p}` : p)).join('');

function toApiError(err: FastifyError | Error): ApiError {
  if (err instanceof ApiError) return err;
  const fe = err as FastifyError;
  if (fe.validation?.length) {
    const v = fe.validation[0];
    const missing = (v.params as { missingProperty?: string }).missingProperty;
    const field = fieldOf(v.instancePath) + (missing ? (v.instancePath ? '.' : '') + missing : '');
    return new ApiError(400, `${field || 'body'}: ${v.message ?? 'is invalid'}`, field || null, 'invalid_value');
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return new ApiError(400, `the body is not valid JSON: ${err.message}`, null, 'invalid_json');
  if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return new ApiError(400, 'the body is empty', null, 'invalid_json');
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, err.message, null, 'body_too_large');
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, err.message, null, 'unsupported_media_type');
  if (err instanceof OverloadedError) return new ApiError(429, err.message, null, 'rate_limit_exceeded');
  if (err instanceof ArgumentError) return new ApiError(400, err.message);
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new ApiError(fe.statusCode, err.message);
  return new ApiError(500, err.message);
}

const textOf = (c: ChatBody['messages'][number]['content']) => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));

export interface Server { app: FastifyInstance; scheduler: Scheduler; metrics: ServeMetrics; close(): Promise<void> }

export function createServer(model: Model, tokenizer: TextTokenizer | null, opts: ServeOptions): Server {
  const metrics = new ServeMetrics();
  const scheduler = new Scheduler(model, tokenizer, opts, {
    firstToken: (s) => metrics.ttft.observe(s), interToken: (s) => metrics.itl.observe(s), step: (rows) => metrics.stepRows.observe(rows),
  });
  const app = Fastify({
    logger: opts.logger ?? false, bodyLimit: opts.bodyLimit ?? 2 ** 20, forceCloseConnections: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const created = Math.floor(Date.now() / 1000);
  const key = opts.apiKey === undefined ? null : Buffer.from(`Bearer ${opts.apiKey}`);

  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err as Error);
    metrics.request(req.routeOptions.url ?? 'unrouted', e.status === 429 ? 'rejected' : 'error');  // route patterns only: bounded labels
    if (e.status === 429) reply.header('retry-after', '1');
    reply.code(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => { reply.code(404).send(errorBody(new ApiError(404, `no route ${req.method} ${req.url}`, null, 'not_found'))); });
  app.addHook('onRequest', async (req) => {
    if (!key || !req.url.startsWith('/v1/')) return;
    const got = Buffer.from(req.headers.authorization ?? '');
    if (got.length !== key.length || !timingSafeEqual(got, key)) {
      throw new ApiError(401, req.headers.authorization ? 'Incorrect API key provided.' : 'Missing API key: send Authorization: Bearer <key>.', null, 'invalid_api_key');
    }
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return metrics.render({ queueDepth: scheduler.queueDepth, running: scheduler.runningCount, kvPagesUsed: scheduler.pagesUsed, kvPagesFree: scheduler.pagesFree });
  });
  app.get('/v1/models', async () => ({ object: 'list', data: [{ id: opts.modelName, object: 'model', created, owned_by: 'dsv3', max_model_len: scheduler.maxTokensPerRequest }] }));

  const needTok = (): TextTokenizer => {
    if (!tokenizer) throw new ApiError(400, 'this checkpoint has no tokenizer.json: send prompt token ids to /v1/completions', 'prompt', 'no_tokenizer');
    return tokenizer;
  };

  /** The shared checks and the sampling parameters of a request whose prompt is `ids`. */
  function params(b: SamplingBody, ids: number[], promptField: string): SamplingParams {
    if (b.model !== opts.modelName) throw new ApiError(400, `The model '${b.model}' does not exist (this server has '${opts.modelName}')`, 'model', 'model_not_found');
    const limit = scheduler.maxTokensPerRequest;
    if (ids.length >= limit) throw new ApiError(400, `the prompt is ${ids.length} tokens; the context holds ${limit} (prompt + max_tokens)`, promptField, 'context_length_exceeded');
    const asked = b.max_tokens ?? b.max_completion_tokens;
    if (asked !== undefined && ids.length + asked > limit) {
      throw new ApiError(400, `max_tokens ${asked} + the prompt's ${ids.length} tokens exceed the context of ${limit} tokens`, b.max_tokens !== undefined ? 'max_tokens' : 'max_completion_tokens', 'context_length_exceeded');
    }
    const stop = b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
    if (stop.length && !tokenizer) throw new ApiError(400, 'stop sequences need a tokenizer', 'stop');
    const t = b.temperature ?? 1;
    return {
      maxTokens: asked ?? Math.min(opts.defaultMaxTokens ?? 256, limit - ids.length),
      temperature: t, topP: b.top_p, topK: b.top_k !== undefined && b.top_k > 0 ? b.top_k : undefined, seed: b.seed, stop,
    };
  }

  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatBody } }, async (req, reply) => {
    const tok = needTok();
    const messages: ChatMessage[] = req.body.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: textOf(m.content) }));
    const ids = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
    return serveOne(req, reply, ids, params(req.body, ids, 'messages'), 'chat');
  });

  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBody } }, async (req, reply) => {
    const p = req.body.prompt;
    let ids: number[];
    if (typeof p === 'string') {
      ids = needTok().encode(p, { addSpecialTokens: true });
      const bos = model.config.bosTokenId;
      if (bos !== null && ids[0] !== bos) ids.unshift(bos);
    } else {
      const bad = p.findIndex((id) => id >= model.config.vocabSize);
      if (bad >= 0) throw new ApiError(400, `prompt[${bad}]: token id ${p[bad]} is outside [0, ${model.config.vocabSize})`, `prompt[${bad}]`, 'invalid_value');
      ids = p;
    }
    return serveOne(req, reply, ids, params(req.body, ids, 'prompt'), 'text');
  });

  /** Runs one request on the scheduler; answers it whole, or streamed as server-sent events. */
  function serveOne(req: FastifyRequest<{ Body: SamplingBody }>, reply: FastifyReply, ids: number[], p: SamplingParams, kind: 'chat' | 'text') {
    const endpoint = kind === 'chat' ? '/v1/chat/completions' : '/v1/completions';
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const t0 = performance.now();
    const base = { id, object: kind === 'chat' ? 'chat.completion' : 'text_completion', created: Math.floor(Date.now() / 1000), model: opts.modelName };
    const stream = req.body.stream === true;
    let text = '', n = 0, finished = false;
    const usage = () => ({ prompt_tokens: ids.length, completion_tokens: n, total_tokens: ids.length + n });
    const chunk = (delta: string | null, finish: FinishReason | null) => ({
      ...base, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      choices: [kind === 'chat'
        ? { index: 0, delta: delta === null ? {} : { content: delta }, logprobs: null, finish_reason: finish }
        : { index: 0, text: delta ?? '', logprobs: null, finish_reason: finish }],
    });
    const send = (o: unknown) => { if (!reply.raw.writableEnded) reply.raw.write(`data: ${JSON.stringify(o)}\n\n`); };
    return new Promise<unknown>((resolve, reject) => {
      const done = (outcome: 'ok' | 'error' | 'cancelled') => { finished = true; metrics.request(endpoint, outcome); metrics.e2e.observe((performance.now() - t0) / 1e3); };
      let handle: { cancel(): void };
      try {
        handle = scheduler.submit(ids, p, {
          token: (_id, delta) => {
            n++; metrics.completionTokens++; text += delta;
            if (stream && delta) send(chunk(delta, null));
          },
          finish: (reason, rest) => {
            text += rest;
            done('ok');
            if (!stream) {
              const choice = kind === 'chat' ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: reason }
                : { index: 0, text, logprobs: null, finish_reason: reason };
              resolve({ ...base, choices: [choice], usage: usage() });
              return;
            }
            if (rest) send(chunk(rest, null));
            send(chunk(null, reason));
            if (req.body.stream_options?.include_usage) send({ ...base, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', choices: [], usage: usage() });
            if (!reply.raw.writableEnded) reply.raw.end('data: [DONE]\n\n');
            resolve(undefined);
          },
          error: (e) => {
            if (!stream) { finished = true; reject(e); return; }  // the error handler answers and counts it
            done('error');
            send(errorBody(toApiError(e)));
            if (!reply.raw.writableEnded) reply.raw.end('data: [DONE]\n\n');
            resolve(undefined);
          },
        });
      } catch (e) {
        reject(e);
        return;
      }
      metrics.promptTokens += ids.length;
      // a client that goes away (disconnect, abort) cancels its request: its KV pages go back to the free list
      reply.raw.on('close', () => { if (!finished) { handle.cancel(); done('cancelled'); resolve(undefined); } });
      if (stream) {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
        if (kind === 'chat') send({ ...chunk('', null), choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
      }
    });
  }

  return {
    app, scheduler, metrics,
    close: async () => { await app.close(); scheduler.dispose(); },
  };
}
