// The checkpoint inventory: expected names/shapes/dtypes for a config, checked before any compute;
// every missing or wrong tensor reported at once. Reference: docs/v3-reference.md §2, §8.
import { readFileSync } from 'fs';
import { join } from 'path';
import { IoError, ShapeError } from '../../lib';
import { parseConfig } from '../../lib/config';
import { checkInventory, CheckpointLike, expectedTensors } from '../../lib/model/weights';
import { Checkpoint } from '../../lib/weights/safetensors';

const DIR = join(__dirname, '..', 'fixtures', 'tiny-v3');
const cfg = parseConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')));

/** A checkpoint-like object over the fixture's real headers, with edits. */
function fake(ckpt: Checkpoint, drop: string[] = [], patch: Record<string, { dtype?: string; shape?: number[] }> = {}): CheckpointLike {
  return {
    has: (n) => ckpt.has(n) && !drop.includes(n),
    info: (n) => ({ ...ckpt.info(n), ...patch[n] }),
    get: (n) => ckpt.get(n),
  };
}

test('the tiny-v3 checkpoint holds exactly the expected inventory', () => {
  const ckpt = Checkpoint.open(DIR);
  try {
    const specs = checkInventory(cfg, ckpt);
    const names = specs.flatMap((s) => (s.scale ? [s.name, s.scale.name] : [s.name]));
    expect(names.length).toBe(259);
    expect([...names].sort()).toEqual([...ckpt.names]);
    const kva = specs.find((s) => s.name === 'model.layers.1.self_attn.kv_a_proj_with_mqa.weight')!;
    expect(kva).toEqual({ name: kva.name, shape: [144, 256], dtype: 'f8_e4m3', scale: { name: `${kva.name}_scale_inv`, shape: [2, 2] } });
  } finally {
    ckpt.close();
  }
});

test('DeepSeek-V3 inventory: tensor and parameter counts (§2, §8)', () => {
  const v3 = parseConfig({
    model_type: 'deepseek_v3', vocab_size: 129280, hidden_size: 7168, intermediate_size: 18432, moe_intermediate_size: 2048,
    num_hidden_layers: 61, first_k_dense_replace: 3, n_routed_experts: 256, n_shared_experts: 1, num_experts_per_tok: 8,
    n_group: 8, topk_group: 4, routed_scaling_factor: 2.5, scoring_func: 'sigmoid', topk_method: 'noaux_tc', norm_topk_prob: true,
    q_lora_rank: 1536, kv_lora_rank: 512, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128, num_attention_heads: 128,
    max_position_embeddings: 163840, rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, mscale: 1, mscale_all_dim: 1 },
    quantization_config: { quant_method: 'fp8', fmt: 'e4m3', activation_scheme: 'dynamic', weight_block_size: [128, 128] },
  });
  const specs = expectedTensors(v3);
  const entries = specs.reduce((n, s) => n + (s.scale ? 2 : 1), 0);
  // 91,991 in the checkpoint minus the MTP layer 61 (one MoE decoder layer = 1558 entries, plus 6 MTP-only tensors).
  expect(entries).toBe(91991 - 1558 - 6);
  const params = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  expect(params).toBe(671026419200);
  const kva = specs.find((s) => s.name === 'model.layers.0.self_attn.kv_a_proj_with_mqa.weight')!;
  expect(kva.scale!.shape).toEqual([5, 56]);
});

test('missing and wrong tensors are all reported, before any compute', () => {
  const ckpt = Checkpoint.open(DIR);
  try {
    const a = 'model.layers.2.mlp.experts.7.down_proj.weight_scale_inv', b = 'model.norm.weight';
    let err: unknown;
    try { checkInventory(cfg, fake(ckpt, [a, b])); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(IoError);
    expect((err as Error).message).toContain('2 tensor(s) missing');
    expect((err as Error).message).toContain(a);
    expect((err as Error).message).toContain(b);

    const c = 'model.layers.0.self_attn.q_b_proj.weight', d = 'model.layers.1.self_attn.o_proj.weight_scale_inv', e2 = 'model.layers.0.mlp.up_proj.weight';
    const patched = fake(ckpt, [], { [c]: { shape: [192, 129] }, [d]: { dtype: 'bf16' }, [e2]: { dtype: 'bf16' } });
    expect(() => checkInventory(cfg, patched)).toThrow(ShapeError);
    expect(() => checkInventory(cfg, patched)).toThrow(`checkpoint: 3 tensor(s) with a wrong shape or dtype: ${c}: expected f8_e4m3 [192, 128], got f8_e4m3 [192, 129]`);
    expect(() => checkInventory(cfg, patched)).toThrow(`${d}: expected f32 [2, 1], got bf16 [2, 1]`);
    expect(() => checkInventory(cfg, patched)).toThrow(`${e2}: expected f8_e4m3`);
  } finally {
    ckpt.close();
  }
});
