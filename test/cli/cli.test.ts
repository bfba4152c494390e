// The dsv3 CLI run in-process through main(argv, io) with captured output: info, random-checkpoint, bench,
// generate (greedy), demo on the tiny preset, and argument errors.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheBytesPerToken, main, parameterCounts } from '../../lib/cli';
import { parseConfig } from '../../lib/config';
import { loadModel } from '../../lib';
import { presetConfig } from '../../lib/presets';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; }, progress: false });
  return { code, out, err };
}

let root = '', dir = '';
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'dsv3-cli-'));
  dir = join(root, 'tiny');
  const r = await run('random-checkpoint', '--preset', 'tiny', '--out', dir, '--seed', '5', '--shard-mib', '2');
  expect(r).toMatchObject({ code: 0, err: '' });
  expect(r.out).toMatch(/wrote \d+ tensors .* in 5 shard\(s\)/);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

test('parameter counts and cache sizes of the tiny preset (hand-computed)', () => {
  const cfg = parseConfig(presetConfig('tiny'));
  // attention per layer: q_a 128*256 + q_a_norm 128 + q_b 192*128 + kv_a 144*256 + kv_norm 128 + kv_b 256*128 + o 256*128 + 2 norms 2*256
  const attn = 128 * 256 + 128 + 192 * 128 + 144 * 256 + 128 + 256 * 128 + 256 * 128 + 512;
  const dense = 3 * 256 * 512, expert = 3 * 256 * 128, router = 16 * 256 + 16;
  const total = 2 * 1024 * 256 + 256 + 3 * attn + dense + 2 * (router + 17 * expert);
  expect(parameterCounts(cfg).total).toBe(total);
  expect(parameterCounts(cfg).active).toBe(total - 2 * 12 * expert);
  expect(parameterCounts(cfg).mtp).toBe(1024 * 256 * 2 + 3 * 256 + 256 * 512 + attn + router + 17 * expert);
  expect(cacheBytesPerToken(cfg, 2)).toEqual({ latent: 3 * 144 * 2, mha: 3 * 4 * 80 * 2 });
});

test('info prints the config, parameter counts and the cache ratio', async () => {
  const r = await run('info', dir);
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/layers\s+3 \(1 dense, 2 MoE\) \+ 1 MTP/);
  expect(r.out).toMatch(/KV cache \/ token\s+864 B latent vs 1.9 KiB multi-head \(bf16\): 2.2x smaller/);
  expect(r.out).toContain(`${parameterCounts(parseConfig(presetConfig('tiny'))).total}`);
});

test('info --plan prints the load plan: each weight\'s layout, dtype and bytes, and in all the bytes the loaded model takes', async () => {
  const r = await run('info', dir, '--plan', 'fp8');
  expect(r).toMatchObject({ code: 0, err: '' });
  expect(r.out).toMatch(/load plan: activations fp8 \(bf16\), device cpu, MTP layer/);
  // q_lora 128: [wq_a; wkv_a] joined in fp8; kv_b split into bf16 W_UK / W_UV; expert inter 128: gate and up as w13
  expect(r.out).toMatch(/model\.layers\.0\.self_attn\.wqkv_a {2}joined rows {2}f8_e4m3 \+ f32 scales \[272, 256\] .* <- model\.layers\.0\.self_attn\.q_a_proj\.weight \+ model\.layers\.0\.self_attn\.kv_a_proj_with_mqa\.weight/);
  expect(r.out).toMatch(/model\.layers\.0\.self_attn\.w_uk {2}kv_b W_UK {2}bf16 \[4, 32, 128\]/);
  expect(r.out).toMatch(/model\.layers\.1\.mlp\.experts\.w13 {2}stacked w13 {2}f8_e4m3 \+ f32 scales \[16, 256, 256\] .* \(32 tensors\)/);
  expect(r.out).toMatch(/model\.layers\.0\.input_layernorm\.weight {2}stored {2}f32 \[256\] {2}1\.0 KiB\n/);
  const f32 = await run('info', dir, '--plan', 'f32');
  expect(f32.out).toMatch(/model\.layers\.1\.mlp\.experts\.w1 {2}stacked {2}f32 \[16, 128, 256\] {2}2\.0 MiB/);
  const m = await loadModel(dir, { activations: 'fp8' });
  const { residentBytes } = await import('../../lib/model/memory');
  const total = residentBytes(m);
  m.dispose();
  const line = /weights {15}(\S+ \S+): fp8/.exec(r.out)![1];
  expect(line).toBe(total >= 2 ** 20 ? `${(total / 2 ** 20).toFixed(1)} MiB` : `${(total / 1024).toFixed(1)} KiB`);
  expect((await run('info', dir, '--plan', 'f16')).code).not.toBe(0);
}, 60000);

test('the written checkpoint loads (loadModel round trip of the CLI output)', async () => {
  const m = await loadModel(dir, { activations: 'fp8' });
  const { logits } = await m.forward([0, 1, 2]);
  expect(logits.every(Number.isFinite)).toBe(true);
  m.dispose();
  expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(presetConfig('tiny'));
});

test('bench reports prefill and decode tokens/s', async () => {
  const r = await run('bench', dir, '--activations', 'fp8', '--prompt-len', '16', '--decode', '4');
  expect(r).toMatchObject({ code: 0, err: '' });
  const m = r.out.match(/activations fp8: prefill 16 tokens ([\d.]+) tok\/s .* decode 4 tokens ([\d.]+) tok\/s/);
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeGreaterThan(0);
  expect(Number(m![2])).toBeGreaterThan(0);
});

test('generate --ids is greedy: equal to argmax decoding with forward, and deterministic', async () => {
  const r = await run('generate', dir, '--ids', '0,10,20,30', '--max-new-tokens', '5');
  expect(r).toMatchObject({ code: 0, err: '' });
  const got = r.out.match(/generated ids: ([\d,]+)/)![1].split(',').map(Number);
  const m = await loadModel(dir, { activations: 'f32' });
  const ids = [0, 10, 20, 30], want: number[] = [];
  for (let i = 0; i < got.length; i++) {
    const { logits } = await m.forward(ids);
    const row = logits.subarray((ids.length - 1) * 1024, ids.length * 1024);
    const next = row.indexOf(Math.max(...row));
    if (next === 1) break;  // eos ends generation and is not printed
    want.push(next); ids.push(next);
  }
  m.dispose();
  expect(got).toEqual(want);
  const again = await run('generate', dir, '--ids', '0,10,20,30', '--max-new-tokens', '5');
  expect(again.out.match(/generated ids: ([\d,]+)/)![1]).toBe(got.join(','));
  // MTP speculative decoding (the random checkpoint has the MTP layer) gives the same greedy tokens
  const spec = await run('generate', dir, '--ids', '0,10,20,30', '--max-new-tokens', '5', '--speculative', 'mtp');
  expect(spec).toMatchObject({ code: 0, err: '' });
  expect(spec.out.match(/generated ids: ([\d,]+)/)![1]).toBe(got.join(','));
});

test('generate --prompt uses the tokenizer and prints text', async () => {
  const r = await run('generate', dir, '--prompt', 'Hi there', '--max-new-tokens', '3');
  expect(r).toMatchObject({ code: 0, err: '' });
  expect(r.out).toMatch(/prompt ids: 0,/);
  expect(r.out).toMatch(/text: ".*"/);
  expect(r.out).toMatch(/tok\/s/);
});

test('demo (the npm start job) on the tiny preset: cached checkpoint, tokens/s, cache sizes, expert load', async () => {
  const demo = join(root, 'demo');
  const r = await run('demo', '--preset', 'tiny', '--dir', demo, '--max-new-tokens', '6');
  expect(r).toMatchObject({ code: 0, err: '' });
  expect(r.out).toMatch(/wrote \d+ tensors/);
  expect(r.out).toMatch(/KV cache per token: 864 B latent vs 1.9 KiB multi-head \(2.2x\)/);
  const layers = r.out.match(/layer +(\d+): ([\d ]+)\s\(max\/mean/g)!;
  expect(layers.length).toBe(2);
  // Every token of prefill + decode picks 4 experts per MoE layer.
  const nTok = Number(r.out.match(/-> (\d+) ids/)![1]) + Number(r.out.match(/generated (\d+) ids/)![1]) - 1;
  for (const l of layers) {
    const counts = l.replace(/layer +\d+: /, '').replace(/\s*\(max\/mean/, '').trim().split(' ').map(Number);
    expect(counts.length).toBe(16);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(4 * nTok);
  }
  const again = await run('demo', '--preset', 'tiny', '--dir', demo, '--max-new-tokens', '6');
  expect(again.out).toMatch(/using the cached tiny checkpoint/);
});

test('argument errors: exit code and message', async () => {
  let r = await run('bench', dir, '--activations', 'fp16');
  expect(r.code).not.toBe(0);
  expect(r.err).toContain('--activations must be f32, bf16 or fp8, got "fp16"');
  r = await run('random-checkpoint', '--out', join(root, 'x'));
  expect(r.code).not.toBe(0);
  expect(r.err).toMatch(/required option '--preset <name>' not specified/);
  r = await run('random-checkpoint', '--preset', 'nope', '--out', join(root, 'x'));
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/unknown preset "nope"/);
  r = await run('generate', dir);
  expect(r.err).toMatch(/exactly one of --prompt and --ids/);
  r = await run('info', join(root, 'missing'));
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/cannot read/);
});
