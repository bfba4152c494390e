// The text side of a checkpoint folder: tokenizer.json through @huggingface/tokenizers, the chat template of
// tokenizer_config.json through @huggingface/jinja (as HF apply_chat_template), and a streaming decoder that
// only emits complete UTF-8 text. Everything is read from local files (offline).
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { ArgumentError, IoError } from './errors';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** Append the assistant prefix so the model answers (default true). */
  addGenerationPrompt?: boolean;
}

/**
 * Emits the new complete text after each token, in time linear in the tokens: it decodes a short window, not
 * every id so far (incremental detokenization as in HF text-generation-inference): ids[prefix, read) were
 * emitted and stay as context (a decoder may drop a leading space at the start of what it decodes), ids from
 * `read` on are new. The text of the new ids is decode(window) minus decode(context); once it is complete
 * (no trailing U+FFFD, the mark of a partial UTF-8 character) the window moves past it.
 */
export class StreamDecoder {
  private ids: number[] = [];
  private prefix = 0;
  private read = 0;
  /** decode(ids[prefix, read)). */
  private contextText = '';
  /** The part of the new ids' text already emitted (while their last character is partial). */
  private pending = '';
  constructor(private readonly tok: TextTokenizer) {}

  /** A window still partial after this many new ids is taken as it is (its U+FFFD stays): the window stays short. */
  static readonly MAX_PENDING_IDS = 16;

  private decode(from: number, to: number): string {
    return this.tok.decode(this.ids.slice(from, to));
  }

  /** Appends ids; returns the text they complete ('' while a multi-byte character is still partial). */
  push(...ids: number[]): string {
    for (const id of ids) this.ids.push(id);
    return this.advance(false);
  }

  /** Whatever is still held back (a trailing U+FFFD that never completed). */
  flush(): string { return this.advance(true); }

  private advance(final: boolean): string {
    if (this.read === this.ids.length) return '';
    let text = this.decode(this.prefix, this.ids.length);
    const force = final || this.ids.length - this.read > StreamDecoder.MAX_PENDING_IDS;
    const complete = force || !text.endsWith('\uFFFD');
    while (!complete && text.endsWith('\uFFFD')) text = text.slice(0, -1);
    // The context's text changed (a decoder cleanup across the boundary): never re-emit, emit nothing of it.
    const fresh = text.startsWith(this.contextText) ? text.slice(this.contextText.length) : '';
    const out = fresh.startsWith(this.pending) ? fresh.slice(this.pending.length) : '';
    if (complete) {
      this.prefix = this.read;
      this.read = this.ids.length;
      this.contextText = this.decode(this.prefix, this.read);
      this.pending = '';
    } else if (fresh.length > this.pending.length) {
      this.pending = fresh;
    }
    return out;
  }
}

function tokenContent(t: unknown): string | null {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return null;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new IoError(`loadTokenizer: cannot read ${path} (${(e as Error).message})`);
  }
}

export class TextTokenizer {
  readonly tokenizer: Tokenizer;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** The chat template source, or null when tokenizer_config.json has none. */
  readonly chatTemplate: string | null;
  /** Ids that end generation: the eos token of tokenizer_config.json and the model config's eos_token_id(s). */
  readonly eosTokenIds: number[];

  constructor(tokenizerJson: object, readonly tokenizerConfig: Record<string, unknown> = {}, configEos: number[] = []) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.bosToken = tokenContent(tokenizerConfig.bos_token);
    this.eosToken = tokenContent(tokenizerConfig.eos_token);
    const ct = tokenizerConfig.chat_template;
    if (typeof ct === 'string') this.chatTemplate = ct;
    else if (Array.isArray(ct)) {
      const named = ct as { name?: string; template?: string }[];
      this.chatTemplate = (named.find((t) => t.name === 'default') ?? named[0])?.template ?? null;
    } else this.chatTemplate = null;
    const eos = new Set(configEos);
    const eosId = this.eosToken === null ? undefined : this.tokenizer.token_to_id(this.eosToken);
    if (eosId !== undefined) eos.add(eosId);
    this.eosTokenIds = [...eos];
  }

  /** text -> ids (no BOS/EOS added: templates and callers put them explicitly). */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  /** ids -> text (special tokens skipped unless asked). */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library rejects an empty list
    return this.tokenizer.decode(ids, { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }

  /** A decoder for streaming: push(id) returns only complete new text. */
  streamDecoder(): StreamDecoder { return new StreamDecoder(this); }

  /** The chat template rendered over messages (HF apply_chat_template, tokenize=false). */
  renderChat(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) throw new ArgumentError('applyChatTemplate: tokenizer_config.json has no chat_template');
    const template = new Template(this.chatTemplate);
    try {
      // raise_exception is jinja's builtin (throws Error(message)): reported as an ArgumentError
      return template.render({
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? true,
        bos_token: this.bosToken ?? '',
        eos_token: this.eosToken ?? '',
      });
    } catch (e) {
      throw new ArgumentError(`applyChatTemplate: ${(e as Error).message}`);
    }
  }

  /** messages -> ids of the rendered chat (the template writes its own special tokens). */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.encode(this.renderChat(messages, opts), { addSpecialTokens: false });
  }
}

/** eos_token_id of a config.json: a number, a list, or absent. */
function configEosIds(dir: string): number[] {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) return [];
  const e = readJson(p).eos_token_id;
  if (typeof e === 'number') return [e];
  if (Array.isArray(e)) return e.filter((x): x is number => typeof x === 'number');
  return [];
}

/** The folder's tokenizer, or null when it has no tokenizer.json. */
export function loadTokenizer(dir: string): TextTokenizer | null {
  const tj = join(dir, 'tokenizer.json');
  if (!existsSync(tj)) return null;
  const tc = join(dir, 'tokenizer_config.json');
  const json = readJson(tj), cfg = existsSync(tc) ? readJson(tc) : {};
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new IoError(`loadTokenizer: ${tc} is not a JSON object`);
  try {
    return new TextTokenizer(json, cfg, configEosIds(dir));
  } catch (e) {
    throw new IoError(`loadTokenizer: ${tj} is not a valid tokenizer (${(e as Error).message})`);
  }
}
