// The dsv3 CLI with malformed input (issue 18 items 1, 7, 9), run in-process through main(argv, io): the demo and
// random-checkpoint never delete or overwrite what dsv3 did not write; ids, numbers and paths are parsed strictly;
// every argument is checked before a model is loaded (no output before the error); absurd configs fail fast
// with a short message.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_MARKER, ensureRandomCheckpoint, main } from '../../lib/cli';
import { ArgumentError, IoError } from '../../lib';
import { loadModel } from '../../lib/model/load';
import { MAX_ERROR_MESSAGE } from '../../lib/errors';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; }, progress: false });
  return { code, out, err };
}
const quiet = { out: () => {}, err: () => {}, progress: false };
const listing = (dir: string) => readdirSync(dir).sort().map((n) => `${n}:${readFileSync(join(dir, n)).length}`);

const TINY = join(__dirname, '..', 'fixtures', 'tiny-v3');  // vocab 1024, max_position_embeddings 256
let root = '';
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'dsv3-robust-cli-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('item 1: nothing is deleted that dsv3 did not write', () => {
  test('demo --dir on a real checkpoint refuses and leaves every file as it was', async () => {
    const dir = join(root, 'real');
    mkdirSync(dir);
    for (const n of readdirSync(TINY)) copyFileSync(join(TINY, n), join(dir, n));
    const before = listing(dir);
    const r = await run('demo', '--preset', 'tiny', '--dir', dir, '--max-new-tokens', '2');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`demo: ${dir} is not empty and is not a demo cache folder (no ${DEMO_MARKER} file in it)`);
    expect(r.out).toBe('');
    expect(listing(dir)).toEqual(before);
  });

  test('demo --dir on a folder with any other file refuses; on a file too', async () => {
    const dir = join(root, 'notes');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect((await run('demo', '--preset', 'tiny', '--dir', dir)).code).toBe(1);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    await expect(ensureRandomCheckpoint(dir, 'tiny', 0, quiet)).rejects.toThrow(ArgumentError);
    const r = await run('demo', '--preset', 'tiny', '--dir', join(dir, 'notes.txt'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not a folder/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  test('the demo\'s own (marked) folder: a new preset replaces only checkpoint files; other files stay', async () => {
    const dir = join(root, 'cache', 'a', 'b');  // created with its parents
    expect(await ensureRandomCheckpoint(dir, 'tiny', 1, quiet)).toEqual({ dir, created: true });
    expect(existsSync(join(dir, DEMO_MARKER))).toBe(true);
    writeFileSync(join(dir, 'keep.txt'), 'user file');
    writeFileSync(join(dir, 'model-00009-of-00009.safetensors'), 'stale shard of an earlier checkpoint');
    expect(await ensureRandomCheckpoint(dir, 'tiny', 1, quiet)).toEqual({ dir, created: false });
    expect(await ensureRandomCheckpoint(dir, 'tiny', 2, quiet)).toEqual({ dir, created: true });
    expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('user file');
    expect(existsSync(join(dir, 'model-00009-of-00009.safetensors'))).toBe(false);
    expect(readFileSync(join(dir, '.complete'), 'utf8')).toBe('tiny 2');
    const m = await loadModel(dir, { activations: 'f32' });
    m.dispose();
  }, 60000);

  test('random-checkpoint --out onto a checkpoint refuses without --force; --force overwrites only checkpoint files', async () => {
    const dir = join(root, 'rc');
    expect((await run('random-checkpoint', '--preset', 'tiny', '--out', dir, '--seed', '1')).code).toBe(0);
    writeFileSync(join(dir, 'README.md'), 'my notes');
    const before = listing(dir);
    const config = readFileSync(join(dir, 'config.json'), 'utf8');
    const r = await run('random-checkpoint', '--preset', 'tiny', '--out', dir, '--seed', '2');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/already holds a checkpoint \(.*config\.json.*\); give --force to overwrite its files/);
    expect(listing(dir)).toEqual(before);
    const f = await run('random-checkpoint', '--preset', 'tiny', '--out', dir, '--seed', '2', '--force');
    expect(f).toMatchObject({ code: 0, err: '' });
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('my notes');
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(config);  // same preset: same config, new weights
  }, 60000);
});

describe('item 9: strict arguments, checked before anything is loaded or printed', () => {
  test.each([
    ['', /--ids must be comma-separated non-negative decimal integers, got ""/],
    ['1,,2', /got "1,,2"/],
    ['0x10', /got "0x10"/],
    ['1e3', /got "1e3"/],
    [' ', /got " "/],
    ['-1', /got "-1"/],
    ['1.5', /got "1.5"/],
    ['1024', /token id 1024 is outside the vocabulary \[0, 1024\)/],
  ])('generate --ids %j is refused', async (ids, msg) => {
    const r = await run('generate', TINY, '--ids', ids);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(msg);
    expect(r.out).toBe('');
  });

  test.each([['abc'], ['NaN'], ['-1'], ['Infinity'], [''], ['0x1'], ['1e999']])('generate --temperature %j is refused before loading', async (t) => {
    const r = await run('generate', TINY, '--ids', '0,1', '--temperature', t);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--temperature must be a non-negative number/);
    expect(r.out).toBe('');
  });

  test('other numbers: --seed, --max-new-tokens, --shard-mib 0, --prompt-len', async () => {
    for (const [argv, msg] of [
      [['generate', TINY, '--ids', '0', '--seed', '0x10'], /--seed must be a non-negative integer, got "0x10"/],
      [['generate', TINY, '--ids', '0', '--max-new-tokens', '1e3'], /--max-new-tokens must be a non-negative integer/],
      [['generate', TINY, '--ids', '0', '--max-new-tokens', ''], /--max-new-tokens must be a non-negative integer/],
      [['generate', TINY, '--ids', '0', '--speculative', 'eagle'], /--speculative must be mtp, got "eagle"/],
      [['generate', TINY, '--ids', '0', '--temperature', '1', '--top-p', '0'], /--top-p must be a number in \(0, 1\], got "0"/],
      [['generate', TINY, '--ids', '0', '--temperature', '1', '--top-p', 'abc'], /--top-p must be a number in \(0, 1\]/],
      [['generate', TINY, '--ids', '0', '--temperature', '1', '--top-k', '-2'], /--top-k must be a non-negative integer/],
      [['chat', TINY, '--temperature', 'hot'], /--temperature must be a non-negative number, got "hot"/],
      [['generate', TINY, '--ids', '0', '--stop', 'ok', '--stop', ''], /--stop must not be empty/],
      [['generate', TINY, '--ids', '0', '--stop', 'ok'], /--stop needs a tokenizer\.json/],
      [['chat', TINY, '--top-p', '1.5'], /--top-p must be a number in \(0, 1\], got "1.5"/],
      [['generate', TINY, '--ids', '0', '--speculative', 'mtp', '--temperature', '0.5'], /needs --temperature 0/],
      [['generate', TINY, '--ids', Array(256).fill('3').join(',')], /leaves no room under max_position_embeddings 256/],
      [['random-checkpoint', '--preset', 'tiny', '--out', join(root, 'never'), '--shard-mib', '0'], /--shard-mib must be a positive integer, got "0"/],
      [['random-checkpoint', '--preset', 'tiny', '--out', join(root, 'never'), '--shard-mib', '9007199254740993'], /--shard-mib must be a positive integer/],
      [['bench', TINY, '--prompt-len', '16abc'], /--prompt-len must be a non-negative integer/],
    ] as [string[], RegExp][]) {
      const r = await run(...argv);
      expect([argv, r.code]).toEqual([argv, 1]);
      expect(r.err).toMatch(msg);
      expect(r.out).toBe('');
    }
    expect(existsSync(join(root, 'never'))).toBe(false);
  });

  test('random-checkpoint --out under /proc fails at once (Node 20\'s recursive mkdir spun forever), and onto a file', async () => {
    let r = await run('random-checkpoint', '--preset', 'tiny', '--out', '/proc/dsv3-x/y');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot create the folder \/proc\/dsv3-x\/y/);
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    r = await run('random-checkpoint', '--preset', 'tiny', '--out', join(file, 'sub'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not a folder/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  test('a broken tokenizer.json is reported as broken (not as missing), before loading', async () => {
    const dir = join(root, 'badtok');
    mkdirSync(dir);
    copyFileSync(join(TINY, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'tokenizer.json'), '{"version": "1.0", "model": ');
    for (const argv of [['generate', dir, '--prompt', 'hi'], ['generate', dir, '--ids', '0']]) {
      const r = await run(...argv);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/the tokenizer in .*badtok cannot be read/);
      expect(r.err).not.toMatch(/needs a tokenizer\.json/);
      expect(r.out).toBe('');
    }
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "Nonsense"}}');
    const r = await run('generate', dir, '--prompt', 'hi');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/the tokenizer in .*badtok cannot be read/);
  });

  test('--version prints the package version; no arguments prints the help and fails', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    expect(await run('--version')).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    expect((await run('-V')).out).toBe(`${pkg.version}\n`);
    const r = await run();
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^Usage: dsv3 /);
    expect(r.err).toMatch(/random-checkpoint/);
  });
});

describe('item 7: absurd configs fail fast with a short message', () => {
  const withLayers = (n: number, extra: Record<string, unknown> = {}) => {
    const dir = join(root, `layers-${n}-${Object.keys(extra).join('-')}`);
    mkdirSync(dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: n, ...extra }));
    return dir;
  };

  test.each([1e9, 100000, 4097, 1.5, -3])('info with num_hidden_layers %d: an ArgumentError naming the field', async (n) => {
    const r = await run('info', withLayers(n));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/config: field 'num_hidden_layers' must be an integer in \[1, 4096\]/);
    expect(r.err.length).toBeLessThan(300);
    await expect(loadModel(withLayers(n))).rejects.toThrow(ArgumentError);
  });

  test('1000 layers: info works; loading the 3-layer weights fails with an IoError of bounded length', async () => {
    const dir = withLayers(1000);
    const r = await run('info', dir);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/layers\s+1000 \(1 dense, 999 MoE\)/);
    for (const n of readdirSync(TINY)) if (n.endsWith('.safetensors') || n.endsWith('.json') && n !== 'config.json') copyFileSync(join(TINY, n), join(dir, n));
    const err = await loadModel(dir).then(() => null, (e) => e);
    expect(err).toBeInstanceOf(IoError);
    expect(err.message).toMatch(/^checkpoint: \d+ tensor\(s\) missing: model\.layers\.3\./);
    expect(err.message).toMatch(/\.\.\. and \d+ more/);
    expect(err.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE + 40);
  });

  test.each([
    ['hidden_size', 2 ** 40], ['vocab_size', 1e12], ['n_routed_experts', 2 ** 20], ['max_position_embeddings', 2 ** 40],
    ['num_attention_heads', 1e7], ['kv_lora_rank', 1e9], ['intermediate_size', 1e10], ['num_nextn_predict_layers', 1e6],
  ])('%s = %d is refused', async (key, v) => {
    const r = await run('info', withLayers(3, { [key]: v }));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`config: field '${key}' must be an integer in [`);
  });

  test('layers x experts past the bound is refused (the tensor inventory would not fit in memory)', async () => {
    const r = await run('info', withLayers(4096, { n_routed_experts: 256, n_group: 8, topk_group: 4, num_experts_per_tok: 8 }));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/experts exceeds 131072/);
  });

  test('a huge string in a config field gives a message of bounded length', async () => {
    const r = await run('info', withLayers(3, { model_type: 'x'.repeat(5e6) }));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/model_type/);
    expect(r.err.length).toBeLessThan(MAX_ERROR_MESSAGE + 100);
  });
});
