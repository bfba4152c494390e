#!/usr/bin/env node
// Converts one of our DeepSeek-V3 checkpoints (a safetensors folder: FP8 e4m3 weights with 128x128
// `weight_scale_inv` block scales, bf16/f32 norms, embeddings and router, config.json of model_type
// deepseek_v3; e.g. a random checkpoint of `node dist/cli.js random-checkpoint`) into a GGUF file that
// llama.cpp loads as its `deepseek2` architecture: plain Node, no dependencies.
//
// Usage: node bench/peers/gguf.mjs <checkpoint dir> <out.gguf> [f32|bf16|q8_0]
//
// What it does is what llama.cpp's own converter does (convert_hf_to_gguf.py, DeepseekV2Model, in the
// llama.cpp source that node-llama-cpp 3.22.1 ships; bench/peers/llama_cpp.mjs builds it):
//   - fp8 weights are dequantized to f32 as DeepSeek does: weight[i][j] * scale_inv[i/128][j/128];
//   - kv_b_proj is split per head into attn_k_b (transposed: [n_head, kv_lora_rank, qk_nope]) and
//     attn_v_b ([n_head, v_head_dim, kv_lora_rank]), the layout of the MLA absorption path;
//   - routed experts are stacked into ffn_{gate,up,down}_exps [n_expert, out, in];
//   - the MTP layers (model.layers.N with N >= num_hidden_layers) are skipped (the converter skips them);
//   - 1-D tensors, *_norm.weight and ffn_gate_inp stay F32; every other weight becomes the target type
//     (F32, BF16 round-to-nearest-even like ggml, or Q8_0: blocks of 32, d = amax / 127 as f16, q = round(x / d));
//   - metadata: head_count_kv = 1 (MLA as MQA), key_length = kv_lora_rank + qk_rope_head_dim,
//     value_length = kv_lora_rank, key/value_length_mla, expert_gating_func = 2 (sigmoid),
//     expert_weights_scale = routed_scaling_factor, expert_weights_norm = norm_topk_prob, the expert groups,
//     yarn rope scaling (factor, original context, beta fast/slow, yarn_log_multiplier = 0.1 * mscale_all_dim);
//   - the vocabulary: the checkpoint's tokenizer.json (byte-level BPE) as a `gpt2` tokenizer with the
//     `default` pre-tokenizer; ids past the tokenizer are padded as [PADn] (type unused).
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GGML_TYPE = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };
const FILE_TYPE = { f32: 0, bf16: 32, q8_0: 7 }; // llama_ftype: ALL_F32, MOSTLY_BF16, MOSTLY_Q8_0
const TARGET = { f32: GGML_TYPE.F32, bf16: GGML_TYPE.BF16, q8_0: GGML_TYPE.Q8_0 };
const ALIGN = 32;

// ---------- safetensors ----------
function openSafetensors(dir) {
  const idxPath = join(dir, 'model.safetensors.index.json');
  const files = new Map();
  const where = new Map(); // tensor name -> { file, dtype, shape, begin, end }
  const names = existsSync(idxPath)
    ? [...new Set(Object.values(JSON.parse(readFileSync(idxPath, 'utf8')).weight_map))]
    : ['model.safetensors'];
  for (const f of names) {
    const fd = openSync(join(dir, f), 'r');
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const hlen = Number(lenBuf.readBigUInt64LE(0));
    const hbuf = Buffer.alloc(hlen);
    readSync(fd, hbuf, 0, hlen, 8);
    const header = JSON.parse(hbuf.toString('utf8'));
    files.set(f, fd);
    for (const [name, t] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      where.set(name, { fd, dtype: t.dtype, shape: t.shape, begin: 8 + hlen + t.data_offsets[0], end: 8 + hlen + t.data_offsets[1] });
    }
  }
  const raw = (name) => {
    const t = where.get(name);
    if (!t) throw new Error(`tensor ${name} not in the checkpoint`);
    const buf = Buffer.alloc(t.end - t.begin);
    let off = 0;
    while (off < buf.length) off += readSync(t.fd, buf, off, buf.length - off, t.begin + off);
    return { ...t, buf };
  };
  return { where, raw, close: () => { for (const fd of files.values()) closeSync(fd); } };
}

// e4m3fn (no infinities, S.1111.111 is NaN), as torch's float8_e4m3fn
const E4M3 = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const s = i & 0x80 ? -1 : 1, e = (i >> 3) & 0xf, m = i & 7;
  E4M3[i] = (e === 15 && m === 7) ? NaN : e === 0 ? s * (m / 8) * 2 ** -6 : s * (1 + m / 8) * 2 ** (e - 7);
}

// A tensor of the checkpoint as f32, fp8 ones times their block scales (in f32, as `weight.float() * scale`).
function loadF32(st, name) {
  const t = st.raw(name);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') {
    out.set(new Float32Array(t.buf.buffer, t.buf.byteOffset, n));
  } else if (t.dtype === 'BF16') {
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u[i] = t.buf.readUInt16LE(2 * i) << 16;
  } else if (t.dtype === 'F16') {
    for (let i = 0; i < n; i++) out[i] = f16ToF32(t.buf.readUInt16LE(2 * i));
  } else if (t.dtype === 'F8_E4M3') {
    const scaleName = name.replace(/\.weight$/, '.weight_scale_inv');
    if (!st.where.has(scaleName)) throw new Error(`${name} is fp8 but ${scaleName} is missing`);
    const sc = loadF32(st, scaleName);
    const [rows, cols] = t.shape;
    const sb = Math.ceil(cols / 128);
    const tmp = new Float32Array(1);
    for (let r = 0; r < rows; r++) {
      const srow = (r >> 7) * sb;
      for (let c = 0; c < cols; c++) {
        tmp[0] = E4M3[t.buf[r * cols + c]] * sc[srow + (c >> 7)];
        out[r * cols + c] = tmp[0];
      }
    }
  } else {
    throw new Error(`${name}: dtype ${t.dtype} not handled`);
  }
  return out;
}

// ---------- number formats ----------
const f32b = new Float32Array(1), u32b = new Uint32Array(f32b.buffer);
function f16ToF32(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
export function f32ToF16(v) { // round to nearest even, as F16C / ggml_compute_fp32_to_fp16
  f32b[0] = v;
  const x = u32b[0];
  const sign = (x >>> 16) & 0x8000;
  let e = (x >>> 23) & 0xff;
  let m = x & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  e = e - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    m |= 0x800000;
    const shift = 14 - e;
    let hm = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (hm & 1))) hm++;
    return sign | hm;
  }
  const hm = m >>> 13, rem = m & 0x1fff;
  let h = sign | (e << 10) | hm;
  if (rem > 0x1000 || (rem === 0x1000 && (hm & 1))) h++;
  return h;
}
function toBF16(src) { // ggml_compute_fp32_to_bf16
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = Buffer.alloc(src.length * 2);
  for (let i = 0; i < src.length; i++) {
    const x = u[i];
    const h = (x & 0x7fffffff) > 0x7f800000 ? ((x >>> 16) | 64) : ((x + (0x7fff + ((x >>> 16) & 1))) >>> 16);
    out.writeUInt16LE(h & 0xffff, 2 * i);
  }
  return out;
}
function toQ8_0(src) { // quantize_row_q8_0_ref: 32 values -> f16 d + 32 int8
  const nb = src.length / 32;
  const out = Buffer.alloc(nb * 34);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b * 32 + j]));
    f32b[0] = amax / 127; const d = f32b[0];
    f32b[0] = d ? 1 / d : 0; const id = f32b[0];
    out.writeUInt16LE(f32ToF16(d), b * 34);
    for (let j = 0; j < 32; j++) {
      f32b[0] = src[b * 32 + j] * id;
      const v = f32b[0];
      out.writeInt8(Math.sign(v) * Math.round(Math.abs(v)), b * 34 + 2 + j); // roundf: half away from zero
    }
  }
  return out;
}
function encode(data, type) {
  if (type === GGML_TYPE.F32) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (type === GGML_TYPE.BF16) return toBF16(data);
  if (type === GGML_TYPE.Q8_0) return toQ8_0(data);
  throw new Error(`type ${type}`);
}
function nbytes(ne, type) {
  const n = ne.reduce((a, b) => a * b, 1);
  return type === GGML_TYPE.F32 ? 4 * n : type === GGML_TYPE.BF16 ? 2 * n : type === GGML_TYPE.Q8_0 ? (n / 32) * 34 : NaN;
}

// ---------- GGUF ----------
const GT = { U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7, STR: 8, ARR: 9, U64: 10, I64: 11, F64: 12 };
class Bytes {
  constructor() { this.parts = []; this.length = 0; }
  push(b) { this.parts.push(b); this.length += b.length; }
  u32(v) { const b = Buffer.alloc(4); b.writeUInt32LE(v); this.push(b); }
  i32(v) { const b = Buffer.alloc(4); b.writeInt32LE(v); this.push(b); }
  u64(v) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.push(b); }
  f32(v) { const b = Buffer.alloc(4); b.writeFloatLE(v); this.push(b); }
  str(s) { const b = Buffer.from(s, 'utf8'); this.u64(b.length); this.push(b); }
  concat() { return Buffer.concat(this.parts); }
}
function writeKv(out, key, type, value, elemType) {
  out.str(key);
  out.u32(type);
  const one = (t, v) => {
    switch (t) {
      case GT.U32: out.u32(v); break;
      case GT.I32: out.i32(v); break;
      case GT.F32: out.f32(v); break;
      case GT.BOOL: out.push(Buffer.from([v ? 1 : 0])); break;
      case GT.STR: out.str(v); break;
      default: throw new Error(`kv type ${t}`);
    }
  };
  if (type === GT.ARR) { out.u32(elemType); out.u64(value.length); for (const v of value) one(elemType, v); } else one(type, value);
}

function vocabulary(dir, vocabSize, cfg) {
  const tokPath = join(dir, 'tokenizer.json');
  const tokens = Array.from({ length: vocabSize }, (_, i) => `[PAD${i}]`);
  const types = new Array(vocabSize).fill(5); // UNUSED
  let merges = [];
  if (existsSync(tokPath)) {
    const tj = JSON.parse(readFileSync(tokPath, 'utf8'));
    if (tj.model?.type !== 'BPE') throw new Error(`tokenizer.json: model type ${tj.model?.type}, only BPE is handled`);
    for (const [tok, id] of Object.entries(tj.model.vocab)) if (id < vocabSize) { tokens[id] = tok; types[id] = 1; } // NORMAL
    for (const a of tj.added_tokens ?? []) if (a.id < vocabSize) { tokens[a.id] = a.content; types[a.id] = a.special ? 3 : 4; } // CONTROL / USER_DEFINED
    merges = (tj.model.merges ?? []).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  }
  return { tokens, types, merges, bos: cfg.bos_token_id ?? 0, eos: cfg.eos_token_id ?? 1 };
}

// The tensors of the GGUF, in order, each { name, ne (ggml order: innermost first), type, produce() -> Float32Array }.
function plan(st, cfg, target) {
  const L = cfg.num_hidden_layers, E = cfg.n_routed_experts;
  const nh = cfg.num_attention_heads, nope = cfg.qk_nope_head_dim, vd = cfg.v_head_dim, kvr = cfg.kv_lora_rank;
  const tensors = [];
  const typeFor = (gname, ndims) => {
    if (ndims <= 1 || gname.endsWith('_norm.weight') || /ffn_gate_inp\.weight$/.test(gname) || !gname.endsWith('.weight')) return GGML_TYPE.F32;
    return target;
  };
  const add = (gname, shapeHF, produce) => {
    const ne = [...shapeHF].reverse();
    let type = typeFor(gname, shapeHF.length);
    if (type === GGML_TYPE.Q8_0 && ne[0] % 32 !== 0) { console.error(`note: ${gname}: row of ${ne[0]} is not a multiple of 32, kept F32`); type = GGML_TYPE.F32; }
    tensors.push({ name: gname, ne, type, produce });
  };
  const shape = (n) => { const t = st.where.get(n); if (!t) throw new Error(`tensor ${n} not in the checkpoint`); return t.shape; };
  const plain = (hf, g) => add(g, shape(hf), () => loadF32(st, hf));

  plain('model.embed_tokens.weight', 'token_embd.weight');
  plain('model.norm.weight', 'output_norm.weight');
  if (!cfg.tie_word_embeddings) plain('lm_head.weight', 'output.weight');
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`, b = `blk.${i}.`;
    plain(`${p}input_layernorm.weight`, `${b}attn_norm.weight`);
    if (cfg.q_lora_rank) {
      plain(`${p}self_attn.q_a_proj.weight`, `${b}attn_q_a.weight`);
      plain(`${p}self_attn.q_a_layernorm.weight`, `${b}attn_q_a_norm.weight`);
      plain(`${p}self_attn.q_b_proj.weight`, `${b}attn_q_b.weight`);
    } else {
      plain(`${p}self_attn.q_proj.weight`, `${b}attn_q.weight`);
    }
    plain(`${p}self_attn.kv_a_proj_with_mqa.weight`, `${b}attn_kv_a_mqa.weight`);
    plain(`${p}self_attn.kv_a_layernorm.weight`, `${b}attn_kv_a_norm.weight`);
    // kv_b [nh * (nope + vd), kvr] -> view [nh, nope + vd, kvr]; k_b = [:, :nope, :]^T per head, v_b = [:, nope:, :]
    const kvbName = `${p}self_attn.kv_b_proj.weight`;
    if (shape(kvbName)[0] !== nh * (nope + vd) || shape(kvbName)[1] !== kvr) throw new Error(`${kvbName}: shape ${shape(kvbName)}`);
    let kvbCache = null;
    const kvb = () => (kvbCache ??= loadF32(st, kvbName));
    add(`${b}attn_k_b.weight`, [nh, kvr, nope], () => {
      const w = kvb(), out = new Float32Array(nh * kvr * nope);
      for (let h = 0; h < nh; h++) for (let r = 0; r < kvr; r++) for (let d = 0; d < nope; d++)
        out[(h * kvr + r) * nope + d] = w[(h * (nope + vd) + d) * kvr + r];
      return out;
    });
    add(`${b}attn_v_b.weight`, [nh, vd, kvr], () => {
      const w = kvb(), out = new Float32Array(nh * vd * kvr);
      for (let h = 0; h < nh; h++) out.set(w.subarray((h * (nope + vd) + nope) * kvr, (h * (nope + vd) + nope + vd) * kvr), h * vd * kvr);
      kvbCache = null;
      return out;
    });
    plain(`${p}self_attn.o_proj.weight`, `${b}attn_output.weight`);
    plain(`${p}post_attention_layernorm.weight`, `${b}ffn_norm.weight`);
    if (i < (cfg.first_k_dense_replace ?? 0)) {
      for (const w of ['gate', 'up', 'down']) plain(`${p}mlp.${w}_proj.weight`, `${b}ffn_${w}.weight`);
    } else {
      plain(`${p}mlp.gate.weight`, `${b}ffn_gate_inp.weight`);
      if (st.where.has(`${p}mlp.gate.e_score_correction_bias`)) plain(`${p}mlp.gate.e_score_correction_bias`, `${b}exp_probs_b.bias`);
      for (const w of ['gate', 'up', 'down']) {
        const s0 = shape(`${p}mlp.experts.0.${w}_proj.weight`);
        add(`${b}ffn_${w}_exps.weight`, [E, ...s0], () => {
          const n = s0[0] * s0[1], out = new Float32Array(E * n);
          for (let e = 0; e < E; e++) out.set(loadF32(st, `${p}mlp.experts.${e}.${w}_proj.weight`), e * n);
          return out;
        });
      }
      for (const w of ['gate', 'up', 'down']) plain(`${p}mlp.shared_experts.${w}_proj.weight`, `${b}ffn_${w}_shexp.weight`);
    }
  }
  return tensors;
}

export function convertCheckpoint(dir, outPath, precision = 'f32', { log = console.log } = {}) {
  const prec = precision.toLowerCase();
  if (!(prec in TARGET)) throw new Error(`precision ${precision}: one of f32, bf16, q8_0`);
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  if (!['deepseek_v3', 'deepseek_v2'].includes(cfg.model_type)) throw new Error(`model_type ${cfg.model_type}: not a DeepSeek-V3 checkpoint`);
  const st = openSafetensors(dir);
  const t0 = performance.now();
  try {
    const tensors = plan(st, cfg, TARGET[prec]);
    const A = 'deepseek2';
    const kv = [];
    const k = (key, type, value, elem) => kv.push([key, type, value, elem]);
    k('general.architecture', GT.STR, A);
    k('general.name', GT.STR, `dsv3 checkpoint ${dir.split('/').filter(Boolean).pop()}`);
    k('general.file_type', GT.U32, FILE_TYPE[prec]);
    k('general.alignment', GT.U32, ALIGN);
    k(`${A}.block_count`, GT.U32, cfg.num_hidden_layers);
    k(`${A}.context_length`, GT.U32, cfg.max_position_embeddings);
    k(`${A}.embedding_length`, GT.U32, cfg.hidden_size);
    k(`${A}.feed_forward_length`, GT.U32, cfg.intermediate_size);
    k(`${A}.attention.head_count`, GT.U32, cfg.num_attention_heads);
    k(`${A}.attention.head_count_kv`, GT.U32, 1); // MLA as MQA
    k(`${A}.rope.freq_base`, GT.F32, cfg.rope_theta ?? 10000);
    k(`${A}.attention.layer_norm_rms_epsilon`, GT.F32, cfg.rms_norm_eps ?? 1e-6);
    k(`${A}.expert_count`, GT.U32, cfg.n_routed_experts);
    k(`${A}.expert_used_count`, GT.U32, cfg.num_experts_per_tok);
    if (cfg.n_group) k(`${A}.expert_group_count`, GT.U32, cfg.n_group);
    if (cfg.topk_group) k(`${A}.expert_group_used_count`, GT.U32, cfg.topk_group);
    const gating = { sigmoid: 2, softmax: 1 }[cfg.scoring_func ?? 'softmax'];
    if (!gating) throw new Error(`scoring_func ${cfg.scoring_func}`);
    k(`${A}.expert_gating_func`, GT.U32, gating);
    k(`${A}.leading_dense_block_count`, GT.U32, cfg.first_k_dense_replace ?? 0);
    k(`${A}.vocab_size`, GT.U32, cfg.vocab_size);
    if (cfg.q_lora_rank) k(`${A}.attention.q_lora_rank`, GT.U32, cfg.q_lora_rank);
    k(`${A}.attention.kv_lora_rank`, GT.U32, cfg.kv_lora_rank);
    k(`${A}.attention.key_length`, GT.U32, cfg.kv_lora_rank + cfg.qk_rope_head_dim);
    k(`${A}.attention.value_length`, GT.U32, cfg.kv_lora_rank);
    k(`${A}.attention.key_length_mla`, GT.U32, cfg.qk_nope_head_dim + cfg.qk_rope_head_dim);
    k(`${A}.attention.value_length_mla`, GT.U32, cfg.v_head_dim);
    k(`${A}.expert_feed_forward_length`, GT.U32, cfg.moe_intermediate_size);
    k(`${A}.expert_shared_count`, GT.U32, cfg.n_shared_experts ?? 0);
    if (cfg.routed_scaling_factor != null) k(`${A}.expert_weights_scale`, GT.F32, cfg.routed_scaling_factor);
    if (cfg.norm_topk_prob) k(`${A}.expert_weights_norm`, GT.BOOL, true);
    k(`${A}.rope.dimension_count`, GT.U32, cfg.qk_rope_head_dim);
    const rs = cfg.rope_scaling;
    if (rs && (rs.type ?? rs.rope_type) === 'yarn' && rs.factor != null) {
      k(`${A}.rope.scaling.type`, GT.STR, 'yarn');
      k(`${A}.rope.scaling.factor`, GT.F32, rs.factor);
      k(`${A}.rope.scaling.original_context_length`, GT.U32, rs.original_max_position_embeddings);
      if (rs.beta_fast != null) k(`${A}.rope.scaling.yarn_beta_fast`, GT.F32, rs.beta_fast);
      if (rs.beta_slow != null) k(`${A}.rope.scaling.yarn_beta_slow`, GT.F32, rs.beta_slow);
      if (rs.mscale_all_dim != null) k(`${A}.rope.scaling.yarn_log_multiplier`, GT.F32, 0.1 * rs.mscale_all_dim);
      if (rs.mscale != null && rs.mscale !== 1 && rs.mscale !== rs.mscale_all_dim) log(`warning: rope mscale ${rs.mscale}: llama.cpp assumes 1 (or mscale_all_dim)`);
    } else if (rs) {
      throw new Error(`rope_scaling ${JSON.stringify(rs)}: only yarn is handled`);
    }
    const voc = vocabulary(dir, cfg.vocab_size, cfg);
    k('tokenizer.ggml.model', GT.STR, 'gpt2');
    k('tokenizer.ggml.pre', GT.STR, 'default');
    k('tokenizer.ggml.tokens', GT.ARR, voc.tokens, GT.STR);
    k('tokenizer.ggml.token_type', GT.ARR, voc.types, GT.I32);
    k('tokenizer.ggml.merges', GT.ARR, voc.merges, GT.STR);
    k('tokenizer.ggml.bos_token_id', GT.U32, voc.bos);
    k('tokenizer.ggml.eos_token_id', GT.U32, voc.eos);
    k('tokenizer.ggml.padding_token_id', GT.U32, voc.eos);
    k('tokenizer.ggml.add_bos_token', GT.BOOL, true);
    k('tokenizer.ggml.add_eos_token', GT.BOOL, false);

    const head = new Bytes();
    head.push(Buffer.from('GGUF', 'ascii'));
    head.u32(3);
    head.u64(tensors.length);
    head.u64(kv.length);
    for (const [key, type, value, elem] of kv) writeKv(head, key, type, value, elem);
    let offset = 0;
    for (const t of tensors) {
      t.offset = offset;
      t.bytes = nbytes(t.ne, t.type);
      head.str(t.name);
      head.u32(t.ne.length);
      for (const n of t.ne) head.u64(n);
      head.u32(t.type);
      head.u64(offset);
      offset += Math.ceil(t.bytes / ALIGN) * ALIGN;
    }
    const tmp = `${outPath}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      let pos = 0;
      const put = (b) => { let o = 0; while (o < b.length) o += writeSync(fd, b, o, b.length - o, pos + o); pos += b.length; };
      const hb = head.concat();
      put(hb);
      put(Buffer.alloc((ALIGN - (hb.length % ALIGN)) % ALIGN));
      const dataStart = pos;
      let weights = 0;
      for (const t of tensors) {
        if (pos - dataStart !== t.offset) throw new Error('offset bookkeeping');
        const data = t.produce();
        if (data.length !== t.ne.reduce((a, b) => a * b, 1)) throw new Error(`${t.name}: ${data.length} values for ne ${t.ne}`);
        const enc = encode(data, t.type);
        if (enc.length !== t.bytes) throw new Error(`${t.name}: ${enc.length} bytes, expected ${t.bytes}`);
        put(enc);
        put(Buffer.alloc(Math.ceil(t.bytes / ALIGN) * ALIGN - t.bytes));
        weights += t.bytes;
      }
      closeSync(fd);
      renameSync(tmp, outPath);
      const secs = (performance.now() - t0) / 1e3;
      log(`wrote ${outPath}: ${tensors.length} tensors, ${(weights / 2 ** 20).toFixed(1)} MiB of weights (${prec}), ${kv.length} metadata keys, ${secs.toFixed(1)} s`);
      return { path: outPath, tensors: tensors.map(({ name, ne, type, bytes }) => ({ name, ne, type, bytes })), weightBytes: weights };
    } catch (e) {
      try { closeSync(fd); } catch { /* closed */ }
      throw e;
    }
  } finally {
    st.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [dir, out, prec = 'f32'] = process.argv.slice(2);
  if (!dir || !out) {
    console.error('usage: node bench/peers/gguf.mjs <checkpoint dir> <out.gguf> [f32|bf16|q8_0]');
    process.exit(2);
  }
  convertCheckpoint(dir, out, prec);
}
