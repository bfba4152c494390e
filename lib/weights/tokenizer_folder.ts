// A real tokenizer for a random checkpoint (`dsv3 random-checkpoint --tokenizer <dir>`): the folder's
// tokenizer.json and tokenizer_config.json are copied as they are, and the config follows them: vocab_size is
// the highest token id + 1, bos/eos ids are those of the tokenizer's bos/eos tokens.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from '../errors';

const content = (t: unknown): string | null =>
  typeof t === 'string' ? t : t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string' ? (t as { content: string }).content : null;

export interface TokenizerFolder { tokenizer: object; tokenizerConfig: object; config: Record<string, number> }

export function readTokenizerFolder(dir: string): TokenizerFolder {
  const read = (name: string): Record<string, unknown> => {
    const p = join(dir, name);
    if (!existsSync(p)) throw new IoError(`random-checkpoint --tokenizer: ${p} is missing`);
    try { return JSON.parse(readFileSync(p, 'utf8')); } catch (e) { throw new IoError(`random-checkpoint --tokenizer: cannot read ${p} (${(e as Error).message})`); }
  };
  const tokenizer = read('tokenizer.json'), tokenizerConfig = read('tokenizer_config.json');
  const ids = new Map<string, number>(Object.entries((tokenizer.model as { vocab?: Record<string, number> } | undefined)?.vocab ?? {}));
  for (const t of (tokenizer.added_tokens as { id: number; content: string }[] | undefined) ?? []) ids.set(t.content, t.id);
  if (ids.size === 0) throw new IoError(`random-checkpoint --tokenizer: ${join(dir, 'tokenizer.json')} has no vocabulary`);
  let top = 0;
  for (const id of ids.values()) top = Math.max(top, id);
  const config: Record<string, number> = { vocab_size: top + 1 };
  for (const k of ['bos', 'eos'] as const) {
    const id = ids.get(content(tokenizerConfig[`${k}_token`]) ?? '');
    if (id !== undefined) config[`${k}_token_id`] = id;
  }
  return { tokenizer, tokenizerConfig, config };
}
