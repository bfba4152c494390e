// The safetensors writer (header padding, alignment, reader round trip, sharding) and random checkpoints
// (preset 'tiny'): inventory, loadModel in f32 and fp8, finite logits, exact bytes, seed determinism, tokenizer.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint, SafetensorsFile, loadModel, parseConfig } from '../../lib';
import { checkInventory, expectedTensors } from '../../lib/model/weights';
import { presetConfig } from '../../lib/presets';
import { mtpTensors, randomTensors, writeRandomCheckpoint } from '../../lib/weights/random';
import { planSafetensors, writeSafetensors, writeShardedSafetensors } from '../../lib/weights/writer';
import { Rng } from '../reference/rng';

const tmp = () => mkdtempSync(join(tmpdir(), 'dsv3-ckpt-'));
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const mk = () => { const d = tmp(); dirs.push(d); return d; };

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) { h.update(f); h.update(readFileSync(join(dir, f))); }
  return h.digest('hex');
}

describe('writeSafetensors', () => {
  test('pads the header to 8, orders by item size then name, aligns offsets, reads back exactly', async () => {
    const rng = new Rng(7);
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => rng.int(0, 255));
    const tensors = [
      { name: 'b.f8', dtype: 'f8_e4m3', shape: [3, 5], data: bytes(15) },
      { name: 'a.f32', dtype: 'f32', shape: [7], data: bytes(28) },
      { name: 'c.bf16', dtype: 'bf16', shape: [1, 3], data: bytes(6) },
      { name: 'a.bf16', dtype: 'BF16', shape: [2], data: () => bytes(4) },
      { name: 'z.i64', dtype: 'i64', shape: [2], data: bytes(16) },
    ];
    const dir = mk(), path = join(dir, 'x.safetensors');
    const n = await writeSafetensors(path, tensors, { format: 'pt' });
    expect(n).toBe(15 + 28 + 6 + 4 + 16);
    const buf = readFileSync(path);
    const hlen = Number(buf.readBigUInt64LE(0));
    expect(hlen % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    expect(buf.subarray(8, 8 + hlen).toString('utf8').endsWith(' ') || hlen % 8 === 0).toBe(true);
    const order = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(order.sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0])).toEqual(['z.i64', 'a.f32', 'a.bf16', 'c.bf16', 'b.f8']);
    for (const k of order) expect(header[k].data_offsets[0] % { I64: 8, F32: 4, BF16: 2, F8_E4M3: 1 }[header[k].dtype as string]!).toBe(0);
    const f = SafetensorsFile.open(path);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.info('b.f8')).toMatchObject({ stDtype: 'F8_E4M3', dtype: 'f8_e4m3', shape: [3, 5] });
    expect(Array.from(f.bytes('a.f32'))).toEqual(Array.from(tensors[1].data as Uint8Array));
    expect(Array.from(await f.get('c.bf16').bytes())).toEqual(Array.from(tensors[2].data as Uint8Array));
    expect(buf.length).toBe(8 + hlen + n);
    f.close();
  });

  test('rewriting the tiny-v3 fixture shards reproduces them byte for byte', async () => {
    const fx = join(__dirname, '..', 'fixtures', 'tiny-v3'), dir = mk();
    for (const shard of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      const f = SafetensorsFile.open(join(fx, shard));
      const ts = [...f.tensors.values()].map((t) => ({ name: t.name, dtype: t.stDtype, shape: t.shape, data: () => f.bytes(t.name) }));
      await writeSafetensors(join(dir, shard), ts.reverse(), { ...f.metadata });
      expect(readFileSync(join(dir, shard)).equals(readFileSync(join(fx, shard)))).toBe(true);
    }
  });

  test('rejects wrong data sizes, duplicate names and unknown dtypes', async () => {
    const dir = mk();
    await expect(writeSafetensors(join(dir, 'a.safetensors'), [{ name: 'x', dtype: 'f32', shape: [2], data: new Uint8Array(7) }])).rejects.toThrow(/needs 8 bytes, got 7/);
    expect(() => planSafetensors([{ name: 'x', dtype: 'f32', shape: [1], data: new Uint8Array(4) }, { name: 'x', dtype: 'f32', shape: [1], data: new Uint8Array(4) }])).toThrow(/appears twice/);
    expect(() => planSafetensors([{ name: 'x', dtype: 'q4', shape: [1], data: new Uint8Array(4) }])).toThrow(/unknown dtype/);
  });

  test('sharded: index total_size and weight_map, Checkpoint reads every tensor from its shard', async () => {
    const dir = mk();
    const ts = Array.from({ length: 9 }, (_, i) => ({ name: `t${i}`, dtype: 'f32', shape: [10 + i], data: Uint8Array.from({ length: 4 * (10 + i) }, (_, j) => (i * 31 + j) & 255) }));
    const { shards, totalSize } = await writeShardedSafetensors(dir, ts, { shardBytes: 150 });
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(totalSize);
    expect(totalSize).toBe(ts.reduce((a, t) => a + t.data.length, 0));
    expect(Object.keys(index.weight_map).length).toBe(9);
    const ck = Checkpoint.open(dir);
    for (const t of ts) expect(Array.from(ck.bytes(t.name))).toEqual(Array.from(t.data));
    ck.close();
  });
});

describe('random checkpoint (tiny preset)', () => {
  let dir = '';
  beforeAll(async () => {
    dir = mk();
    await writeRandomCheckpoint(dir, { preset: 'tiny', seed: 3, shardBytes: 2 * 2 ** 20 });
  });

  test('inventory: main layers pass checkInventory, MTP layer present, dtypes as in V3', () => {
    const cfg = parseConfig(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
    expect(cfg.numNextnPredictLayers).toBe(1);
    const ck = Checkpoint.open(dir);
    try {
      checkInventory(cfg, ck);
      const L = cfg.numLayers, mtp = mtpTensors(cfg);
      expect(mtp.some((s) => s.name === `model.layers.${L}.mlp.experts.15.down_proj.weight`)).toBe(true);
      for (const s of mtp) {
        expect(ck.info(s.name).shape).toEqual(s.shape);
        expect(ck.info(s.name).dtype).toBe(s.dtype);
        if (s.scale) expect(ck.info(s.scale.name).dtype).toBe('f32');
      }
      expect(ck.info(`model.layers.${L}.eh_proj.weight`)).toMatchObject({ dtype: 'bf16', shape: [256, 512] });
      expect(ck.info('model.layers.1.mlp.gate.e_score_correction_bias').dtype).toBe('f32');
      expect(ck.info('model.layers.0.self_attn.q_a_proj.weight').dtype).toBe('f8_e4m3');
      // The MTP copies of embedding and head equal the shared ones, as in the released checkpoint.
      expect(Buffer.from(ck.bytes(`model.layers.${L}.embed_tokens.weight`)).equals(Buffer.from(ck.bytes('model.embed_tokens.weight')))).toBe(true);
      const total = expectedTensors(cfg).reduce((a, s) => a + (s.scale ? 2 : 1), 0) + mtp.reduce((a, s) => a + (s.scale ? 2 : 1), 0);
      expect(ck.names.length).toBe(total);
      const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
      expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(1);
    } finally {
      ck.close();
    }
  });

  test('tensors read back equal what the generator produces (exact bytes), scales are amax/448', async () => {
    const cfg = parseConfig(presetConfig('tiny'));
    const gen = new Map(randomTensors(cfg, 3).map((t) => [t.name, t]));
    const ck = Checkpoint.open(dir);
    try {
      for (const name of ['model.embed_tokens.weight', 'model.layers.2.mlp.gate.e_score_correction_bias', 'model.layers.0.self_attn.kv_b_proj.weight_scale_inv',
        'model.layers.1.mlp.experts.7.up_proj.weight', `model.layers.3.eh_proj.weight`, 'model.norm.weight']) {
        const t = gen.get(name)!;
        const data = typeof t.data === 'function' ? await t.data() : t.data;
        expect(Buffer.from(ck.bytes(name)).equals(Buffer.from(data))).toBe(true);
      }
      const norm = await ck.get('model.norm.weight').toFloat32Array();
      expect(Math.abs(norm.reduce((a, b) => a + b, 0) / norm.length - 1)).toBeLessThan(0.02);
      const s = await ck.get('model.layers.0.self_attn.o_proj.weight_scale_inv').toFloat32Array();
      // N(0, 1/sqrt(128)) blocks of 128x128: amax around 4.5 std -> scale ~ 0.4/448.
      for (const v of s) { expect(v).toBeGreaterThan(0.2 / 448); expect(v).toBeLessThan(0.8 / 448); }
    } finally {
      ck.close();
    }
  });

  test('loadModel in f32 and fp8: finite logits that agree, decode through the cache', async () => {
    const ids = [0, 5, 77, 300, 1000, 12];
    const m32 = await loadModel(dir, { activations: 'f32' });
    const m8 = await loadModel(dir, { activations: 'fp8' });
    try {
      const a = (await m32.forward(ids)).logits, b = (await m8.forward(ids)).logits;
      expect(a.length).toBe(ids.length * 1024);
      expect(a.every(Number.isFinite) && b.every(Number.isFinite)).toBe(true);
      let d = 0, n = 0;
      for (let i = 0; i < a.length; i++) { d += (a[i] - b[i]) ** 2; n += a[i] ** 2; }
      expect(Math.sqrt(d / n)).toBeLessThan(0.2);
      expect(Math.sqrt(n / a.length)).toBeGreaterThan(0.1); // not degenerate
      const cache = m32.createCache(16);
      await m32.forward(ids.slice(0, 5), { cache });
      const step = (await m32.forward([ids[5]], { cache })).logits;
      let e = 0, r = 0;
      for (let i = 0; i < 1024; i++) { e += (step[i] - a[5 * 1024 + i]) ** 2; r += a[5 * 1024 + i] ** 2; }
      expect(Math.sqrt(e / r)).toBeLessThan(1e-4);
      cache.dispose();
    } finally {
      m32.dispose(); m8.dispose();
    }
  });

  test('tokenizer.json loads with @huggingface/tokenizers, ids < vocab, bos/eos match the config', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Tokenizer } = require('@huggingface/tokenizers');
    const tok = new Tokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
    const text = 'Hello, DeepSeek! é';
    const ids: number[] = tok.encode(text).ids;
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.every((i) => i >= 0 && i < 1024)).toBe(true);
    expect(tok.decode(ids, { skip_special_tokens: true })).toBe(text);
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(tok.encode(tc.bos_token, { add_special_tokens: false }).ids).toEqual([0]);
    expect(tok.encode(tc.eos_token, { add_special_tokens: false }).ids).toEqual([1]);
    expect(typeof tc.chat_template).toBe('string');
    // The merges fill the vocabulary: every id the model can emit is a token that decodes to text.
    const tj = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    expect(new Set(Object.values(tj.model.vocab)).size).toBe(1024);
    expect(Math.max(...(Object.values(tj.model.vocab) as number[]))).toBe(1023);
    expect(tok.decode([1023]).length).toBeGreaterThan(1);
    expect(tok.encode(' th', { add_special_tokens: false }).ids.length).toBe(1);
  });

  test('same seed -> identical files; another seed -> different weights', async () => {
    const same = mk(), other = mk();
    await writeRandomCheckpoint(same, { preset: 'tiny', seed: 3, shardBytes: 2 * 2 ** 20 });
    await writeRandomCheckpoint(other, { preset: 'tiny', seed: 4, shardBytes: 2 * 2 ** 20 });
    expect(hashDir(same)).toBe(hashDir(dir));
    expect(hashDir(other)).not.toBe(hashDir(dir));
    const a = Checkpoint.open(dir), b = Checkpoint.open(other);
    expect(Buffer.from(a.bytes('model.layers.0.mlp.up_proj.weight')).equals(Buffer.from(b.bytes('model.layers.0.mlp.up_proj.weight')))).toBe(false);
    a.close(); b.close();
  });

  test('bad options', async () => {
    await expect(writeRandomCheckpoint(mk(), { preset: 'huge' })).rejects.toThrow(/unknown preset "huge"/);
    await expect(writeRandomCheckpoint(mk(), {})).rejects.toThrow(/exactly one of preset and config/);
  });
});
