// lib/tokenizer.ts on the small byte-level BPE fixture (test/fixtures/tokenizer, built by make.cjs): encode /
// decode, streaming decode of multi-byte UTF-8, the chat template (HF apply_chat_template semantics), and
// generate({ messages }) end to end on the tiny-v3 weights with this tokenizer beside them.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { ArgumentError } from '../../lib';
import { loadModel } from '../../lib/model/load';
import { loadTokenizer, TextTokenizer } from '../../lib/tokenizer';

const TOK = join(__dirname, '..', 'fixtures', 'tokenizer');
const TINY = join(__dirname, '..', 'fixtures', 'tiny-v3');
const BOS = '<｜begin▁of▁sentence｜>', EOS = '<｜end▁of▁sentence｜>';
let tok: TextTokenizer;
const tokJson = () => JSON.parse(readFileSync(join(TOK, 'tokenizer.json'), 'utf8'));

beforeAll(() => { tok = loadTokenizer(TOK)!; });

test('loadTokenizer: null without tokenizer.json; special tokens and eos ids', () => {
  expect(loadTokenizer(TINY)).toBeNull();
  expect(tok).toBeInstanceOf(TextTokenizer);
  expect(tok.bosToken).toBe(BOS); // given as {content}
  expect(tok.eosToken).toBe(EOS); // given as a string
  expect(tok.eosTokenIds).toEqual([1]);
});

test('encode / decode round trip, exact ids', () => {
  // merges: h e, l l, he ll, hell o, Ġ w, o r; bytes are ids 4 + byte
  expect(tok.encode('hello world')).toEqual([263, 264, 265, 4 + 0x6c, 4 + 0x64]);
  expect(tok.encode('hello', { addSpecialTokens: true })).toEqual([0, 263]);
  expect(tok.encode(`${BOS}<｜User｜>hi`)).toEqual([0, 2, 4 + 0x68, 4 + 0x69]);
  for (const s of ['hello world', 'héllo, 世界! 🙂\n\ttabs  and  spaces', '']) {
    expect(tok.decode(tok.encode(s))).toBe(s);
  }
  expect(tok.decode([0, 263, 1])).toBe('hello');
  expect(tok.decode([0, 263, 1], { skipSpecialTokens: false })).toBe(`${BOS}hello${EOS}`);
  for (const id of tok.encode('héllo, 世界! 🙂')) expect(id).toBeLessThan(1024);
});

test('streaming decoder emits only complete UTF-8 text', () => {
  const text = 'a é 中文 🙂 done';
  const ids = tok.encode(text);
  const d = tok.streamDecoder();
  const chunks = ids.map((id) => d.push(id));
  expect(chunks.join('')).toBe(text);
  for (const c of chunks) expect(c).not.toContain('\uFFFD');
  // '中' is 3 byte tokens: the first two emit nothing, the third the whole character
  const zh = tok.encode('中');
  expect(zh.length).toBe(3);
  const d2 = tok.streamDecoder();
  expect(zh.map((id) => d2.push(id))).toEqual(['', '', '中']);
  // an incomplete tail is held back until flush
  const d3 = tok.streamDecoder();
  expect(d3.push(...tok.encode('x'), zh[0])).toBe('x');
  expect(d3.flush()).toBe('\uFFFD');
});

test('chat template: exact rendering, generation prompt, named templates, raise_exception', () => {
  const msgs = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi' }, { role: 'user', content: 'world' }];
  expect(tok.renderChat(msgs)).toBe(`${BOS}Be brief.<｜User｜>hello<｜Assistant｜>hi${EOS}<｜User｜>world<｜Assistant｜>`);
  expect(tok.renderChat(msgs, { addGenerationPrompt: false })).toBe(`${BOS}Be brief.<｜User｜>hello<｜Assistant｜>hi${EOS}<｜User｜>world`);
  const ids = tok.applyChatTemplate([{ role: 'user', content: 'hello' }]);
  expect(ids).toEqual([0, 2, 263, 3]); // BOS written once, by the template
  expect(() => tok.renderChat([{ role: 'tool', content: 'x' }])).toThrow(ArgumentError);
  expect(() => tok.renderChat([{ role: 'tool', content: 'x' }])).toThrow('applyChatTemplate: Unknown role: tool');
  const named = new TextTokenizer(tokJson(), {
    eos_token: EOS, chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D{{ messages[0].content }}' }],
  });
  expect(named.renderChat([{ role: 'user', content: 'q' }])).toBe('Dq');
  const none = new TextTokenizer(tokJson(), {});
  expect(() => none.renderChat(msgs)).toThrow(ArgumentError);
});

test('generate({ messages }) end to end on tiny-v3 with the tokenizer beside the weights', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dsv3-gen-'));
  try {
    for (const f of readdirSync(TINY)) if (f.endsWith('.safetensors') || f.endsWith('.json')) symlinkSync(join(TINY, f), join(dir, f));
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOK, f), join(dir, f));
    const model = await loadModel(dir, { activations: 'f32' });
    try {
      model.tokenizer = loadTokenizer(dir);
      expect(model.tokenizer!.eosTokenIds).toEqual([1]); // config.json eos_token_id 1 and the tokenizer's eos agree
      const messages = [{ role: 'user', content: 'hello world' }];
      const toks: { id: number; text?: string }[] = [];
      const g = model.generate('', { messages, maxNewTokens: 6 });
      for await (const t of g) toks.push(t);
      expect(toks.length).toBeGreaterThan(0);
      expect(g.stats.promptTokens).toBe(model.tokenizer!.applyChatTemplate(messages).length);
      for (const t of toks) expect(typeof t.text).toBe('string');
      const ids = toks.map((t) => t.id);
      expect(model.tokenizer!.decode(ids).startsWith(toks.map((t) => t.text).join(''))).toBe(true);
      // same as generating from the rendered ids
      const direct: number[] = [];
      for await (const t of model.generate(model.tokenizer!.applyChatTemplate(messages), { maxNewTokens: 6 })) direct.push(t.id);
      expect(ids).toEqual(direct);
      // a stop string ends generation after the token whose text completes it
      const k = toks.findIndex((t) => t.text !== '');
      expect(k).toBeGreaterThanOrEqual(0); // greedy on tiny-v3 yields '~' as its 2nd token
      {
        const gs = model.generate('', { messages, maxNewTokens: 6, stop: [toks[k].text!] });
        const stopped: number[] = [];
        for await (const t of gs) stopped.push(t.id);
        expect(stopped).toEqual(ids.slice(0, k + 1));
        expect(gs.stats.stopReason).toBe(k + 1 < 6 ? 'stop' : 'length');
      }
      // a string prompt is encoded with BOS
      const s = model.generate('hello', { maxNewTokens: 2 });
      for await (const _ of s) { /* drain */ }
      expect(s.stats.promptTokens).toBe(2);
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 120000);
