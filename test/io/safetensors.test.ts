// The safetensors reader on the real fixture checkpoint (sharded, FP8 weights with scales in the
// other shard): names, shapes, dtypes, zero-copy tensors equal to the raw bytes.
import { join } from 'node:path';
import { Checkpoint, SafetensorsFile } from '../../lib/weights/safetensors';
import { IoError, UnsupportedError } from '../../lib';

const dir = join(__dirname, '..', 'fixtures', 'tiny-v3');

describe('safetensors reader on the tiny-v3 fixture', () => {
  const ck = Checkpoint.open(dir);
  afterAll(() => ck.close());

  test('the index maps every tensor to its shard', () => {
    expect(ck.names.length).toBe(259);
    expect(ck.has('model.embed_tokens.weight')).toBe(true);
    const w = ck.info('model.layers.1.mlp.experts.14.gate_proj.weight');
    const s = ck.info('model.layers.1.mlp.experts.14.gate_proj.weight_scale_inv');
    expect(w.file).not.toBe(s.file);  // the fixture splits this pair across shards
    expect(w.dtype).toBe('f8_e4m3');
    expect(s.dtype).toBe('f32');
    expect(ck.info('model.layers.0.self_attn.kv_a_proj_with_mqa.weight').shape).toEqual([144, 256]);
  });

  test.each([
    'model.embed_tokens.weight',                                  // bf16
    'model.layers.0.self_attn.q_b_proj.weight',                   // f8_e4m3
    'model.layers.0.self_attn.q_b_proj.weight_scale_inv',         // f32
    'model.layers.2.mlp.gate.e_score_correction_bias',            // f32
  ])('%s: the mapped tensor holds exactly the stored bytes', async (name) => {
    const t = ck.get(name);
    expect(t.shape).toEqual(ck.info(name).shape);
    expect(t.dtype).toBe(ck.info(name).dtype);
    expect(Buffer.from(await t.bytes()).equals(Buffer.from(ck.bytes(name)))).toBe(true);
  });

  test('the expected outputs file: i64 and f64 tensors are readable as bytes', () => {
    const exp = SafetensorsFile.open(join(dir, 'expected.safetensors'));
    const scale = new Float64Array(exp.bytes('attn_softmax_scale').slice().buffer);
    expect(scale[0]).toBeCloseTo(0.18713033519502428, 15);
    expect(() => exp.get('attn_softmax_scale')).toThrow(UnsupportedError);
    const tokens = exp.get<'i64'>('prompt_tokens');
    expect(tokens.shape).toEqual([80]);
    expect(() => exp.get('nope')).toThrow(IoError);
  });

  test('a folder without a checkpoint is an IoError', () => {
    expect(() => Checkpoint.open(__dirname)).toThrow(IoError);
  });
});
