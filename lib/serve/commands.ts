// `dsv3 serve` and `dsv3 chat` (wired in lib/cli.ts): the OpenAI-compatible server until SIGINT/SIGTERM, and an
// interactive terminal chat that renders the checkpoint's chat template, streams the reply and reports tokens/s.
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ArgumentError } from '../errors';
import type { Model } from '../model/model';
import type { ChatMessage } from '../tokenizer';
import { createServer, ServeOptions } from './server';

interface Io { out: (s: string) => void; err: (s: string) => void }

export interface ListenOptions extends ServeOptions { host: string; port: number }

/** Serves until the process gets SIGINT or SIGTERM (or `stop` resolves); resolves once closed. */
export async function serve(model: Model, opts: ListenOptions, io: Io, stop?: Promise<void>): Promise<void> {
  const srv = createServer(model, model.tokenizer, opts);
  const url = await srv.app.listen({ host: opts.host, port: opts.port });
  io.out(`serving ${opts.modelName} on ${url} (OpenAI API at ${url}/v1; max batch ${srv.scheduler.maxBatch}, queue ${srv.scheduler.maxQueue}, `
    + `KV cache ${srv.scheduler.paged.numPages} pages of 64 tokens${opts.apiKey ? ', API key required' : ''})\n`);
  await new Promise<void>((resolve) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve(); };
    process.on('SIGINT', done); process.on('SIGTERM', done);
    stop?.then(done);
  });
  io.out('shutting down\n');
  await srv.close();
}

export interface ChatOptions { system?: string; maxNewTokens: number; temperature: number; topP?: number; topK?: number; seed?: number; stop?: string[] }

/** Reads user turns line by line from `input` (/reset clears the history, /exit or end of input quits). */
export async function chat(model: Model, opts: ChatOptions, io: Io, input: Readable = process.stdin, prompt = true): Promise<void> {
  if (!model.tokenizer?.chatTemplate) throw new ArgumentError('chat: the checkpoint needs tokenizer.json and a chat_template in tokenizer_config.json');
  const history: ChatMessage[] = opts.system ? [{ role: 'system', content: opts.system }] : [];
  const rl = createInterface({ input, terminal: false });
  if (prompt) io.out('> ');
  for await (const line of rl) {
    const text = line.trim();
    if (text === '/exit') break;
    if (text === '/reset') { history.splice(opts.system ? 1 : 0); io.out('(history cleared)\n> '); continue; }
    if (!text) { if (prompt) io.out('> '); continue; }
    history.push({ role: 'user', content: text });
    let reply = '';
    const gen = model.generate('', {
      messages: history, maxNewTokens: opts.maxNewTokens, temperature: opts.temperature, topP: opts.topP, topK: opts.topK, seed: opts.seed, stop: opts.stop,
    });
    for await (const t of gen) { reply += t.text ?? ''; io.out(t.text ?? ''); }
    const s = gen.stats;
    io.out('\n');
    io.err(`[${s.generatedTokens} tokens, ${s.decodeTokensPerS.toFixed(1)} tok/s decode, prefill ${s.promptTokens} tokens in ${s.prefillMs.toFixed(0)} ms, ${s.stopReason}]\n`);
    history.push({ role: 'assistant', content: reply });
    if (prompt) io.out('> ');
  }
  rl.close();
}
