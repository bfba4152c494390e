// JSON schemas of the OpenAI-compatible request bodies, validated by fastify (ajv) before a handler runs: a
// wrong type, a missing or unknown-valued field is a 400 naming the field. Fields OpenAI defines that this server
// does not implement are accepted only at their neutral value (n: 1, logprobs off...).

const sampling = {
  max_tokens: { type: 'integer', minimum: 1 },
  max_completion_tokens: { type: 'integer', minimum: 1 },
  temperature: { type: 'number', minimum: 0, maximum: 2 },
  top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: 'integer', minimum: -1 },
  seed: { type: 'integer' },
  stop: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 4 }, { type: 'null' }] },
  n: { type: 'integer', const: 1 },
  stream: { type: 'boolean' },
  stream_options: { anyOf: [{ type: 'object', properties: { include_usage: { type: 'boolean' } } }, { type: 'null' }] },
  user: { type: 'string' },
  presence_penalty: { type: 'number', const: 0 },
  frequency_penalty: { type: 'number', const: 0 },
  logprobs: { anyOf: [{ type: 'boolean', const: false }, { type: 'null' }] },
} as const;

const content = {
  anyOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: { type: 'string' } } } },
  ],
} as const;

export const chatBody = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string' },
    messages: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', required: ['role', 'content'],
        properties: { role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant'] }, content, name: { type: 'string' } },
      },
    },
    ...sampling,
  },
} as const;

export const completionBody = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: {
    model: { type: 'string' },
    prompt: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } }] },
    echo: { type: 'boolean', const: false },
    ...sampling,
  },
} as const;

export interface SamplingBody {
  model: string;
  max_tokens?: number; max_completion_tokens?: number; temperature?: number; top_p?: number; top_k?: number; seed?: number;
  stop?: string | string[] | null; n?: number; stream?: boolean; stream_options?: { include_usage?: boolean } | null;
}
export interface ChatBody extends SamplingBody { messages: { role: string; content: string | { type: 'text'; text: string }[] }[] }
export interface CompletionBody extends SamplingBody { prompt: string | number[] }
