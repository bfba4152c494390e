// StopText (lib/serve/text.ts): OpenAI stop sequences cut from streamed text, across token boundaries, with
// nothing of a stop sequence ever emitted and nothing else held back at the end.
import { StopText } from '../../lib/serve/text';

const feed = (stops: string[], pieces: string[]) => {
  const s = new StopText(stops);
  const out: string[] = [];
  for (const p of pieces) {
    const r = s.push(p);
    out.push(r.text);
    if (r.stopped) return { out, stopped: true, text: out.join('') };
  }
  out.push(s.flush());
  return { out, stopped: false, text: out.join('') };
};

test('a stop sequence split over pieces ends the text just before it', () => {
  const r = feed(['END'], ['hello E', 'N', 'D more']);
  expect(r).toEqual({ out: ['hello ', '', ''], stopped: true, text: 'hello ' });
});

test('a held-back prefix that does not complete is emitted', () => {
  const r = feed(['END'], ['a E', 'Nx', 'y']);
  expect(r.stopped).toBe(false);
  expect(r.out).toEqual(['a ', 'ENx', 'y', '']);
  expect(feed(['END'], ['tail E']).text).toBe('tail E');  // flushed at the end
});

test('the earliest of several stop sequences wins; no stops: everything passes', () => {
  expect(feed(['cd', 'b'], ['abcd']).text).toBe('a');
  expect(feed(['\n\n', 'User:'], ['one\n', '\ntwo']).text).toBe('one');
  expect(feed([], ['x', 'y']).out).toEqual(['x', 'y', '']);
});
