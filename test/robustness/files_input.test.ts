// A checkpoint folder's JSON files with malformed content (issue 18: outside probes on every entry point):
// config.json (readConfig / parseConfig / loadModel) and tokenizer.json / tokenizer_config.json (loadTokenizer).
// Every case ends in a typed error (lib/errors.ts) naming the file or the field, never a TypeError or a crash.
// The safetensors files and the index have their own malformed-input suite: test/io/safetensors_malformed.test.ts.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, DsError, IoError, loadModel, parseConfig, readConfig } from '../../lib';
import { loadTokenizer } from '../../lib/tokenizer';

const TINY = join(__dirname, '..', 'fixtures', 'tiny-v3');
const TOK = join(__dirname, '..', 'fixtures', 'tokenizer');
const base = JSON.parse(readFileSync(join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
let root = '';
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'dsv3-robust-files-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function folder(files: Record<string, string | Buffer>): string {
  const dir = join(root, `f${n++}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

test('config.json missing, a folder, binary, truncated, deeply nested, or not an object', async () => {
  expect(() => readConfig(join(root, 'nowhere'))).toThrow(IoError);
  const asDir = folder({});
  mkdirSync(join(asDir, 'config.json'));
  expect(() => readConfig(asDir)).toThrow(IoError);
  for (const body of [Buffer.from([0xff, 0xfe, 0, 1, 2]), '{"model_type": "deepseek_v3", ', '']) {
    expect(() => readConfig(folder({ 'config.json': body }))).toThrow(IoError);
  }
  // nesting deep enough to overflow the stack of JSON.stringify (it did, quoting the value in the message)
  for (const depth of [5000, 200000]) {
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    for (const body of [nested, `{"model_type": ${nested}}`, JSON.stringify({ ...base, vocab_size: 'X' }).replace('"X"', nested)]) {
      expect(() => readConfig(folder({ 'config.json': body }))).toThrow(DsError);
    }
  }
  for (const body of ['[]', 'null', '"deepseek_v3"', '42', 'true']) {
    const dir = folder({ 'config.json': body });
    expect(() => readConfig(dir)).toThrow(ArgumentError);
    await expect(loadModel(dir)).rejects.toThrow(ArgumentError);
  }
});

test('every config field with a wrong type or an absurd value: a typed error or a valid config, never a TypeError', () => {
  const bad: unknown[] = ['1', true, [], {}, null, -1, 0, 0.5, 1e300, -1e300, 'deepseek_v3', [128, 128], { type: 'yarn' }];
  const untyped: string[] = [];
  for (const key of Object.keys(base)) {
    for (const v of bad) {
      try {
        const c = parseConfig({ ...base, [key]: v });
        // accepted: then every number in it is finite (no NaN / Infinity slipped through)
        for (const [k, x] of Object.entries(c)) if (typeof x === 'number' && !Number.isFinite(x)) untyped.push(`${key}=${JSON.stringify(v)}: ${k} = ${x}`);
      } catch (e) {
        if (!(e instanceof DsError)) untyped.push(`${key}=${JSON.stringify(v)}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
        else if (!(e as Error).message.includes(key.split('.')[0]) && !(e as Error).message.includes('config:')) untyped.push(`${key}: message ${(e as Error).message}`);
      }
    }
  }
  expect(untyped).toEqual([]);
});

test('each required field missing is an error naming it', () => {
  for (const key of ['model_type', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
    'kv_lora_rank', 'qk_nope_head_dim', 'qk_rope_head_dim', 'v_head_dim', 'max_position_embeddings', 'moe_intermediate_size', 'num_experts_per_tok']) {
    const c = { ...base };
    delete c[key];
    expect(() => parseConfig(c)).toThrow(DsError);
    expect(() => parseConfig(c)).toThrow(key);
  }
});

test('rope_scaling and quantization_config with wrong shapes', () => {
  for (const rs of ['yarn', [], { type: 'linear', factor: 2 }, { type: 'yarn' }, { type: 'yarn', factor: 0.5, original_max_position_embeddings: 64 },
    { type: 'yarn', factor: 40, original_max_position_embeddings: 1e30 }, { type: 'yarn', factor: 40, original_max_position_embeddings: 64, beta_fast: '32' }]) {
    expect(() => parseConfig({ ...base, rope_scaling: rs })).toThrow(DsError);
  }
  for (const q of ['fp8', [], { quant_method: 'gptq' }, { quant_method: 'fp8', weight_block_size: [64, 64] }, { quant_method: 'fp8', weight_block_size: 128 }]) {
    expect(() => parseConfig({ ...base, quantization_config: q })).toThrow(DsError);
  }
});

test('tokenizer.json / tokenizer_config.json broken or of the wrong shape: IoError naming the file', () => {
  const good = readFileSync(join(TOK, 'tokenizer.json'), 'utf8');
  const goodCfg = readFileSync(join(TOK, 'tokenizer_config.json'), 'utf8');
  for (const body of ['', '{', 'null', '[]', '42', '{"model": {"type": "Nonsense"}}', '{"model": null}', Buffer.from([0xff, 0x00])]) {
    const dir = folder({ 'tokenizer.json': body });
    expect(() => loadTokenizer(dir)).toThrow(IoError);
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer\.json/);
  }
  for (const body of ['', '{', '[1, 2]', 'null']) {
    const dir = folder({ 'tokenizer.json': good, 'tokenizer_config.json': body });
    expect(() => loadTokenizer(dir)).toThrow(IoError);
    expect(() => loadTokenizer(dir)).toThrow(/tokenizer_config\.json/);
  }
  // a chat_template of the wrong type is no template (applyChatTemplate then says so), not a crash at load
  const odd = folder({ 'tokenizer.json': good, 'tokenizer_config.json': JSON.stringify({ ...JSON.parse(goodCfg), chat_template: 42 }) });
  const t = loadTokenizer(odd)!;
  expect(t.chatTemplate).toBeNull();
  expect(() => t.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(ArgumentError);
  // and loadModel of a checkpoint whose tokenizer.json is broken fails with the same IoError
  const ck = folder({});
  for (const f of ['config.json', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) copyFileSync(join(TINY, f), join(ck, f));
  writeFileSync(join(ck, 'tokenizer.json'), '{"model": ');
  return expect(loadModel(ck, { activations: 'f32' })).rejects.toThrow(IoError);
});
