// Output text for one request: ids -> complete UTF-8 text (StreamDecoder), with OpenAI stop sequences cut out.
// Text that could still become a stop sequence is held back, so a streamed client never sees part of one.
import { StreamDecoder, TextTokenizer } from '../tokenizer';

export class StopText {
  private held = '';
  constructor(private readonly stops: readonly string[]) {}

  /** Adds text; returns what is safe to emit, and whether a stop sequence appeared (the text from it on is dropped). */
  push(t: string): { text: string; stopped: boolean } {
    this.held += t;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      const text = this.held.slice(0, cut);
      this.held = '';
      return { text, stopped: true };
    }
    let keep = 0;  // the longest tail of held that begins some stop sequence
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.held.length); k > keep; k--) {
        if (this.held.endsWith(s.slice(0, k))) { keep = k; break; }
      }
    }
    const text = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text, stopped: false };
  }

  /** What is held back, at the end of the output. */
  flush(): string { const t = this.held; this.held = ''; return t; }
}

/** ids -> text deltas of one request: push(id) returns the new text to send (and whether a stop sequence ended it). */
export class OutputText {
  private readonly decoder: StreamDecoder | null;
  private readonly stop: StopText;
  constructor(tok: TextTokenizer | null, stops: readonly string[]) {
    this.decoder = tok ? tok.streamDecoder() : null;
    this.stop = new StopText(stops);
  }
  push(id: number): { text: string; stopped: boolean } { return this.stop.push(this.decoder ? this.decoder.push(id) : ''); }
  /** The rest at the end (a held-back stop prefix that never completed, a trailing partial character). */
  flush(): string { return this.stop.push(this.decoder ? this.decoder.flush() : '').text + this.stop.flush(); }
}
