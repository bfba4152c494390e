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

/** Streaming detokenization: push(ids) returns only the complete new text; flush() what is still held back. */
export interface StreamDecoder {
  /** Appends ids; returns the text they complete ('' while a multi-byte character is still partial). */
  push(...ids: number[]): string;
  /** Whatever is still held back (a partial character at the end, as U+FFFD). */
  flush(): string;
}

/**
 * For byte-level BPE (the ByteLevel decoder, DeepSeek-V3's): the text of ids is the UTF-8 decoding of the
 * concatenation of their bytes (added tokens: their content; special ones skipped), so a streaming UTF-8
 * decoder over each id's bytes emits exactly decode(ids), in constant time per token (as llama.cpp's
 * token-to-piece bytes). Each id's bytes are derived once from the tokenizer's own vocabulary.
 */
class BytePieceDecoder implements StreamDecoder {
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });  // as the ByteLevel decoder
  constructor(private readonly pieces: BytePieces) {}
  push(...ids: number[]): string {
    let out = '';
    for (const id of ids) out += this.utf8.decode(this.pieces.bytes(id), { stream: true });
    return out;
  }
  flush(): string { return this.utf8.decode(); }
}

/**
 * Any other decoder: decodes a short window, not every id so far (incremental detokenization as in HF
 * text-generation-inference): ids[prefix, read) were emitted and stay as context (a decoder may drop a leading
 * space at the start of what it decodes), ids from `read` on are new. The text of the new ids is
 * decode(window) minus decode(context); once it is complete (no trailing U+FFFD, the mark of a partial UTF-8
 * character) the window moves past it. Linear in the tokens.
 */
export class WindowStreamDecoder implements StreamDecoder {
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

  push(...ids: number[]): string {
    for (const id of ids) this.ids.push(id);
    return this.advance(false);
  }

  flush(): string { return this.advance(true); }

  private advance(final: boolean): string {
    if (this.read === this.ids.length) return '';
    let text = this.decode(this.prefix, this.ids.length);
    const force = final || this.ids.length - this.read > WindowStreamDecoder.MAX_PENDING_IDS;
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

/** GPT-2's byte-level alphabet (the ByteLevel pre-tokenizer's and decoder's): each character of a token -> its byte. */
function byteLevelAlphabet(): Map<string, number> {
  const printable = (b: number): boolean => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) m.set(String.fromCharCode(printable(b) ? b : 256 + n++), b);
  return m;
}

/**
 * Each id's bytes in decode(ids) (special tokens skipped), for tokenizers whose decode is a UTF-8 decoding of
 * concatenated bytes: a ByteLevel decoder, no end-of-word suffix, no clean-up of tokenization spaces. As the
 * library decodes: an id outside the vocabulary is the unknown token (nothing without one), a token whose text
 * is an added token's content is that text, any other token maps its characters through the byte-level
 * alphabet (a character outside it gives byte 0, as the library's typed array does).
 */
class BytePieces {
  private readonly cache = new Map<number, Uint8Array>();
  private readonly alphabet = byteLevelAlphabet();
  private readonly utf8 = new TextEncoder();
  private constructor(private readonly tok: TextTokenizer, private readonly added: Set<string>, private readonly special: Set<string>,
    private readonly unk: string | null) {}

  /** The pieces of a tokenizer, or null when its decode is not plain byte-level. */
  static of(tok: TextTokenizer, json: Record<string, unknown>, config: Record<string, unknown>): BytePieces | null {
    const decoder = json.decoder as { type?: unknown } | null | undefined;
    const model = json.model as { end_of_word_suffix?: unknown; unk_token?: unknown } | null | undefined;
    if (decoder?.type !== 'ByteLevel' || model?.end_of_word_suffix) return null;
    if (config.clean_up_tokenization_spaces ?? true) return null;  // the library's default: clean-up on
    const addedTokens = [...tok.tokenizer.get_added_tokens_decoder().values()];
    const special = new Set(addedTokens.filter((t) => t.special).map((t) => t.content));
    const extra = config.additional_special_tokens;
    if (Array.isArray(extra)) for (const t of extra) if (typeof t === 'string') special.add(t);  // as the library: strings only
    return new BytePieces(tok, new Set(addedTokens.map((t) => t.content)), special, typeof model?.unk_token === 'string' ? model.unk_token : null);
  }

  bytes(id: number): Uint8Array {
    let b = this.cache.get(id);
    if (b) return b;
    const token = this.tok.tokenizer.id_to_token(id) ?? this.unk;
    if (token === null || this.special.has(token)) b = new Uint8Array(0);
    else if (this.added.has(token)) b = this.utf8.encode(token);
    else b = Uint8Array.from(token, (c) => this.alphabet.get(c) ?? 0);
    this.cache.set(id, b);
    return b;
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

  /** Each id's bytes when decoding is plain byte-level (streamDecoder then streams bytes), else null. */
  private readonly pieces: BytePieces | null;

  constructor(tokenizerJson: object, readonly tokenizerConfig: Record<string, unknown> = {}, configEos: number[] = []) {
    this.tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    this.pieces = BytePieces.of(this, tokenizerJson as Record<string, unknown>, tokenizerConfig);
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

  /** A decoder for streaming: push(id) returns only complete new text (bytes per id for byte-level BPE, else windows). */
  streamDecoder(): StreamDecoder { return this.pieces ? new BytePieceDecoder(this.pieces) : new WindowStreamDecoder(this); }

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
