// The stream decoders (lib/tokenizer.ts) do a bounded amount of work per token (issue 18 item 8: the first one
// decoded every id so far at each token, 1.7 s for 4,000 tokens, 8.3 s for 8,000), and still emit exactly the
// text of the whole sequence, multi-byte characters and all. WindowStreamDecoder (any tokenizer) is counted in
// ids handed to decode, never in time; the byte-level one (this fixture's and DeepSeek-V3's) decodes nothing.
import { join } from 'path';
import { loadTokenizer, TextTokenizer, WindowStreamDecoder } from '../../lib/tokenizer';

const tok: TextTokenizer = loadTokenizer(join(__dirname, '..', 'fixtures', 'tokenizer'))!;

/** The decoder's tokenizer with decode counting the ids it is given. */
function counting(): { t: TextTokenizer; ids: () => number } {
  let n = 0;
  const t = Object.create(tok) as TextTokenizer;
  t.decode = (ids, opts) => { n += ids.length; return tok.decode(ids, opts); };
  return { t, ids: () => n };
}

const TEXT = 'The quick brown fox, héllo wörld, 中文字符 and 🙂🚀 emoji; tabs\tand  double  spaces.\n';

test('8,000 tokens: the ids decoded per token do not grow with the length, and the text is exact', () => {
  const ids: number[] = [];
  while (ids.length < 8000) ids.push(...tok.encode(TEXT));
  ids.length = 8000;
  const { t, ids: work } = counting();
  const d = new WindowStreamDecoder(t);
  let out = '';
  const perBlock: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    out += d.push(ids[i]);
    if ((i + 1) % 1000 === 0) perBlock.push(work() - perBlock.reduce((a, b) => a + b, 0));
  }
  out += d.flush();
  expect(out).toBe(tok.decode(ids));
  // The old decoder handed 8,000 * 8,001 / 2 = 32M ids to decode; a windowed one a few per token.
  expect(work()).toBeLessThan(10 * ids.length);
  expect(Math.max(...perBlock)).toBeLessThanOrEqual(perBlock[0] + 100);
});

test('random ids (bytes that never form a character among them): text equals one decode of everything', () => {
  let s = 12345;
  const rnd = () => { s = (s * 1103515245 + 12345) >>> 0; return s; };
  const ids = Array.from({ length: 3000 }, () => 4 + (rnd() % 300));
  const { t, ids: work } = counting();
  const d = new WindowStreamDecoder(t);
  let out = '';
  for (const id of ids) out += d.push(id);
  out += d.flush();
  expect(out).toBe(tok.decode(ids));
  expect(work()).toBeLessThan(40 * ids.length);
});

test('a character split over tokens is emitted once, when complete; push of several ids at once', () => {
  const zh = tok.encode('中');
  const d = tok.streamDecoder();
  expect(zh.map((id) => d.push(id))).toEqual(['', '', '中']);
  expect(d.push(...tok.encode(' ok 🙂'))).toBe(' ok 🙂');
  expect(d.flush()).toBe('');
});

test('the byte-level decoder (this tokenizer\'s streamDecoder) emits decode(ids) exactly, decoding nothing', () => {
  let s = 777;
  const rnd = () => { s = (s * 1103515245 + 12345) >>> 0; return s; };
  // every kind of id: specials (skipped), byte tokens, merges, ids past the vocabulary (no unknown token: nothing)
  const ids = Array.from({ length: 4000 }, () => rnd() % 300);
  for (const id of tok.encode(TEXT)) ids.push(id);
  const { t, ids: work } = counting();
  const d = t.streamDecoder();
  expect(d).not.toBeInstanceOf(WindowStreamDecoder);
  let out = '';
  for (const id of ids) out += d.push(id);
  out += d.flush();
  expect(out).toBe(tok.decode(ids));
  expect(work()).toBe(0);
});
