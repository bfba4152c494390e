#!/usr/bin/env node
// The `dsv3` command line: info, random-checkpoint, bench, generate, and demo (the `npm start` main job).
// Every command is reachable through main(argv, io) so tests run it in-process with captured output.
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { ModelConfig, isMoeLayer } from './config';
import { loadModel, planModel, Precision, readConfig } from './model/load';
import { planText } from './model/plan';
import { Checkpoint } from './weights/safetensors';
import { Model } from './model/model';
import { RouteTrace } from './model/stats';
import { expectedTensors } from './model/weights';
import { PRESET_NAMES } from './presets';
import { mtpTensors, writeRandomCheckpoint } from './weights/random';
import { env } from './env';
import { ArgumentError, IoError } from './errors';
import { makeDir } from './weights/writer';
import { chat, serve } from './serve/commands';
import type { GenerateOptions, GenerateStats } from './generate';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Show progress bars (default: when stderr is a TTY). */
  progress?: boolean;
  /** Where `chat` reads the user's lines (default: stdin). */
  input?: import('node:stream').Readable;
}

const defaultIo = (): CliIo => ({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), progress: !!process.stderr.isTTY });

// ---- counts ----
const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Parameter counts: the main model (total and active per token) and the MTP layer. */
export function parameterCounts(cfg: ModelConfig): { total: number; active: number; mtp: number } {
  let total = 0;
  for (const s of expectedTensors(cfg)) total += numel(s.shape);
  // Per MoE layer only num_experts_per_tok of the routed experts run for a token.
  const expert = 3 * cfg.hiddenSize * cfg.moeIntermediateSize;
  let idle = 0;
  for (let l = 0; l < cfg.numLayers; l++) if (isMoeLayer(cfg, l)) idle += (cfg.nRoutedExperts - cfg.numExpertsPerTok) * expert;
  const mtp = mtpTensors(cfg).reduce((a, s) => a + numel(s.shape), 0);
  return { total, active: total - idle, mtp };
}

/** KV cache bytes per token (all layers) for elements of `elem` bytes: latent (MLA) and per-head K/V. */
export function cacheBytesPerToken(cfg: ModelConfig, elem = 2): { latent: number; mha: number } {
  return {
    latent: cfg.numLayers * (cfg.kvLoraRank + cfg.qkRopeHeadDim) * elem,
    mha: cfg.numLayers * cfg.numHeads * (cfg.qkNopeHeadDim + cfg.qkRopeHeadDim + cfg.vHeadDim) * elem,
  };
}

const human = (n: number) => n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : `${n}`;
const bytesH = (n: number) => n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

function infoText(cfg: ModelConfig): string {
  const p = parameterCounts(cfg), c = cacheBytesPerToken(cfg, 2);
  const moe = Array.from({ length: cfg.numLayers }, (_, l) => l).filter((l) => isMoeLayer(cfg, l)).length;
  const y = cfg.rope.yarn;
  return [
    `model_type            ${cfg.modelType}`,
    `layers                ${cfg.numLayers} (${cfg.numLayers - moe} dense, ${moe} MoE) + ${cfg.numNextnPredictLayers} MTP`,
    `hidden / vocab        ${cfg.hiddenSize} / ${cfg.vocabSize}`,
    `attention (MLA)       ${cfg.numHeads} heads, q_lora ${cfg.qLoraRank ?? 'none'}, kv_lora ${cfg.kvLoraRank}, qk_nope ${cfg.qkNopeHeadDim}, qk_rope ${cfg.qkRopeHeadDim}, v ${cfg.vHeadDim}`,
    `MoE                   ${cfg.nRoutedExperts} routed (top ${cfg.numExpertsPerTok}, ${cfg.nGroup} groups, top ${cfg.topkGroup} groups) + ${cfg.nSharedExperts} shared, ${cfg.scoringFunc}/${cfg.topkMethod}, expert inter ${cfg.moeIntermediateSize}, dense inter ${cfg.intermediateSize}`,
    `rope                  theta ${cfg.rope.theta}${y ? `, YaRN factor ${y.factor} (original ${y.originalMaxPositionEmbeddings})` : ''}, max positions ${cfg.maxPositionEmbeddings}`,
    `weights               ${cfg.quantization ? 'fp8 e4m3, 128x128 blocks' : 'bf16'}`,
    `parameters            ${human(p.total)} total, ${human(p.active)} active per token (${p.total}, ${p.active})${p.mtp ? `; MTP layer ${human(p.mtp)}` : ''}`,
    `KV cache / token      ${bytesH(c.latent)} latent vs ${bytesH(c.mha)} multi-head (bf16): ${(c.mha / c.latent).toFixed(1)}x smaller`,
    '',
  ].join('\n');
}

function bar(io: CliIo, label: string, total: number, unit: string): { update: (v: number) => void; stop: () => void } {
  if (!io.progress) return { update: () => {}, stop: () => {} };
  const b = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  b.start(total, 0);
  return { update: (v) => b.update(v), stop: () => b.stop() };
}

async function load(dir: string, activations: Precision, io: CliIo, device: 'cpu' | 'cuda' = 'cpu'): Promise<Model> {
  const cfg = readConfig(dir);
  const b = bar(io, 'loading ', cfg.numLayers, 'layers');
  try {
    return await loadModel(dir, { activations, device, onProgress: (n) => b.update(n) });
  } finally {
    b.stop();
  }
}

/** Seeded pseudo-random prompt ids in [0, vocab). */
function promptIds(n: number, vocab: number, seed = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s % vocab; });
}

export interface BenchResult { promptLen: number; decode: number; prefillMs: number; decodeMs: number; prefillTokS: number; decodeTokS: number }

/**
 * Prefill `promptLen` tokens, then `decode` greedy steps, as generate() runs them (the prefill computes the last
 * row's logits and picks on the device; the decode steps replay the captured step graph); ignoreEos keeps a
 * fixed count. Times from generate's stats, after a short warm-up generation.
 */
export async function benchModel(model: Model, promptLen: number, decode: number): Promise<BenchResult> {
  const ids = promptIds(promptLen, model.config.vocabSize);
  const run = async (maxNewTokens: number): Promise<GenerateStats> => {
    let stats: GenerateStats | null = null;
    for await (const _ of model.generate(ids, { maxNewTokens, temperature: 0, ignoreEos: true, tokenizer: null, onStats: (s) => { stats = s; } })) { /* drain */ }
    return stats!;
  };
  await run(Math.min(2, decode + 1));  // warm-up (thread pool, allocator)
  const s = await run(decode + 1);     // the prefill yields the first token; `decode` steps follow
  return { promptLen, decode, prefillMs: s.prefillMs, decodeMs: s.decodeMs, prefillTokS: s.prefillTokensPerS, decodeTokS: decode > 0 ? decode / (s.decodeMs / 1e3) : 0 };
}

// ---- tokenizer (optional): @huggingface/tokenizers over the folder's tokenizer.json ----
interface Tok { encode(text: string): number[]; decode(ids: number[]): string }
function loadTokenizer(dir: string): Tok | null {
  const tj = join(dir, 'tokenizer.json');
  if (!existsSync(tj)) return null;  // only a missing file means "no tokenizer"; a broken one is an error
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Tokenizer } = require('@huggingface/tokenizers') as typeof import('@huggingface/tokenizers');
    const cfgPath = join(dir, 'tokenizer_config.json');
    const t = new Tokenizer(JSON.parse(readFileSync(tj, 'utf8')), existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : {});
    return { encode: (s) => t.encode(s).ids, decode: (ids) => t.decode(ids) };
  } catch (e) {
    throw new IoError(`the tokenizer in ${dir} cannot be read: ${(e as Error).message}`);
  }
}

interface GenOut { ids: number[]; text?: string; ms: number; prefillMs: number }

/** Generation through Model.generate (greedy at temperature 0); `trace` collects the routing of every forward. */
async function generate(model: Model, ids: number[], opts: GenerateOptions, onToken?: (id: number) => void): Promise<GenOut> {
  const out: number[] = [];
  const t0 = performance.now();
  let prefillMs = 0;
  for await (const { id } of model.generate(ids, opts)) {
    if (out.length === 0) prefillMs = performance.now() - t0;
    out.push(id);
    onToken?.(id);
  }
  return { ids: out, ms: performance.now() - t0, prefillMs };
}

/** The demo checkpoint folder (created once): $DSV3_CACHE or ~/.cache/dsv3 or <tmpdir>/dsv3-demo. */
export function demoDir(preset: string, seed: number): string {
  const base = env.cacheDir ?? (existsSync(join(homedir(), '.cache')) ? join(homedir(), '.cache', 'dsv3') : join(tmpdir(), 'dsv3-demo'));
  return join(base, `${preset}-seed${seed}`);
}

/** The marker file that makes a folder the demo's own cache: the demo replaces checkpoint files only in such a folder. */
export const DEMO_MARKER = '.dsv3-demo-cache';
/** The files a random checkpoint consists of (what random-checkpoint writes). */
const CHECKPOINT_FILE = /^(config\.json|tokenizer\.json|tokenizer_config\.json|model\.safetensors\.index\.json|model(-\d+-of-\d+)?\.safetensors)$/;

/** The entries of `dir`, or null when it does not exist (IoError when it is not a folder). */
function listDir(dir: string): string[] | null {
  if (!existsSync(dir)) return null;
  if (!statSync(dir).isDirectory()) throw new IoError(`${dir} is not a folder`);
  return readdirSync(dir);
}

/** The checkpoint files (config, tokenizer, safetensors, index) already in `dir`. */
export function checkpointFilesIn(dir: string): string[] { return (listDir(dir) ?? []).filter((n) => CHECKPOINT_FILE.test(n)); }

/**
 * Creates the random checkpoint unless a complete one is there; returns the folder. It writes only into a new or
 * empty folder, or into one it marked as its own (DEMO_MARKER, written first); there it replaces only the
 * checkpoint files. Any other non-empty folder is refused (ArgumentError): nothing is deleted that dsv3 did not write.
 */
export async function ensureRandomCheckpoint(dir: string, preset: string, seed: number, io: CliIo): Promise<{ dir: string; created: boolean }> {
  const done = join(dir, '.complete');
  const names = listDir(dir);
  if (names?.includes('.complete') && statSync(done).isFile() && readFileSync(done, 'utf8') === `${preset} ${seed}`) return { dir, created: false };
  if (names && names.length > 0) {
    if (!names.includes(DEMO_MARKER)) {
      throw new ArgumentError(`demo: ${dir} is not empty and is not a demo cache folder (no ${DEMO_MARKER} file in it); `
        + 'nothing was written or deleted. Give --dir a new or empty folder (an unfinished cache of an older dsv3 has to be deleted by hand)');
    }
    for (const n of names) if (n === '.complete' || CHECKPOINT_FILE.test(n)) unlinkSync(join(dir, n));
  }
  makeDir(dir);
  writeFileSync(join(dir, DEMO_MARKER), 'dsv3 demo cache: `dsv3 demo` writes, and may replace, the random checkpoint files in this folder\n');
  await writeCheckpoint(dir, preset, seed, undefined, io);
  writeFileSync(done, `${preset} ${seed}`);
  return { dir, created: true };
}

async function writeCheckpoint(dir: string, preset: string, seed: number, shardBytes: number | undefined, io: CliIo, tokenizer?: string) {
  let b: ReturnType<typeof bar> | null = null;
  const t0 = performance.now();
  const r = await writeRandomCheckpoint(dir, {
    preset, seed, shardBytes, tokenizer,
    onProgress: (w, total) => { b ??= bar(io, 'writing ', Math.ceil(total / 2 ** 20), 'MiB'); b.update(Math.floor(w / 2 ** 20)); },
  });
  (b as ReturnType<typeof bar> | null)?.stop();
  io.out(`wrote ${r.tensors} tensors (${bytesH(r.totalSize)}) in ${r.shards.length} shard(s) to ${dir} in ${((performance.now() - t0) / 1e3).toFixed(1)} s\n`);
  return r;
}

const badArg = (msg: string) => new CommanderError(1, 'dsv3.invalidArgument', msg);
/** Decimal digits only: Number() would also take '', ' ', '0x10', '1e3' and '0b1'. */
const intArg = (name: string, min = 0) => (v: string) => {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw badArg(`${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${JSON.stringify(v)}`);
  return n;
};
const temperatureArg = (v: string): number => {
  const n = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw badArg(`--temperature must be a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};
const topPArg = (v: string): number => {
  const n = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v) ? Number(v) : NaN;
  if (!(n > 0 && n <= 1)) throw badArg(`--top-p must be a number in (0, 1], got ${JSON.stringify(v)}`);
  return n;
};
/** Comma-separated decimal token ids, each below the vocabulary size. */
function parseIds(v: string, vocab: number): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\d+$/.test(p))) throw badArg(`--ids must be comma-separated non-negative decimal integers, got ${JSON.stringify(v)}`);
  const ids = parts.map(Number);
  const bad = ids.find((x) => x >= vocab);
  if (bad !== undefined) throw badArg(`--ids: token id ${bad} is outside the vocabulary [0, ${vocab})`);
  return ids;
}
const deviceArg = (v: string): 'cpu' | 'cuda' => {
  if (v !== 'cpu' && v !== 'cuda') throw new CommanderError(1, 'dsv3.invalidArgument', `--device must be cpu or cuda, got ${JSON.stringify(v)}`);
  return v;
};
const actArg = (v: string): Precision => {
  if (v !== 'f32' && v !== 'bf16' && v !== 'fp8') throw new CommanderError(1, 'dsv3.invalidArgument', `--activations must be f32, bf16 or fp8, got ${JSON.stringify(v)}`);
  return v;
};

function expertLoad(cfg: ModelConfig, trace: RouteTrace[]): string {
  const per = new Map<number, Int32Array>();
  for (const t of trace) {
    const c = per.get(t.layer) ?? new Int32Array(cfg.nRoutedExperts);
    for (const e of t.indices) c[e]++;
    per.set(t.layer, c);
  }
  const lines = ['expert load (tokens routed to each expert, prefill + decode):'];
  for (const [layer, c] of [...per.entries()].sort((a, b) => a[0] - b[0])) {
    const max = Math.max(...c), mean = c.reduce((a, b) => a + b, 0) / c.length;
    lines.push(`  layer ${String(layer).padStart(2)}: ${Array.from(c).join(' ')}  (max/mean ${(max / mean).toFixed(2)})`);
  }
  return lines.join('\n') + '\n';
}

/** The package's version (package.json one folder above lib/ and dist/). */
function packageVersion(): string {
  try {
    return String(JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

/** Runs the CLI; returns the exit code (errors are printed to io.err). */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const program = new Command('dsv3')
    .description('DeepSeek-V3 inference for Node.js')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  program.command('info').argument('<dir>', 'checkpoint folder (config.json)')
    .description('config summary, parameter counts, KV cache bytes per token; with --plan, the load plan and its bytes')
    .option('--plan <activations>', 'print the load plan for f32, bf16 or fp8 activations: every weight\'s layout, dtype, shape, bytes and sources', actArg)
    .option('--device <d>', 'cpu or cuda (the plan\'s device)', deviceArg, 'cpu' as const)
    .action((dir: string, o: { plan?: Precision; device: 'cpu' | 'cuda' }) => {
      const cfg = readConfig(dir);
      io.out(infoText(cfg));
      if (!o.plan) return;
      const ckpt = Checkpoint.open(dir);
      try {
        io.out(planText(planModel(cfg, ckpt, { activations: o.plan, device: o.device }), bytesH));
      } finally {
        ckpt.close();
      }
    });

  program.command('random-checkpoint')
    .description('write a random V3-format checkpoint (FP8 weights, shards, index, config, tokenizer, MTP layer)')
    .requiredOption('--preset <name>', `one of ${PRESET_NAMES.join(', ')}`)
    .requiredOption('--out <dir>', 'output folder (refused if it holds a checkpoint, unless --force)')
    .option('--seed <n>', 'random seed', intArg('--seed'), 0)
    .option('--shard-mib <n>', 'shard size limit in MiB (default 64)', intArg('--shard-mib', 1))
    .option('--tokenizer <dir>', 'ship this folder\'s tokenizer.json and tokenizer_config.json (e.g. DeepSeek-V3\'s); vocab_size and bos/eos ids follow it')
    .option('--force', 'overwrite the checkpoint files (config, tokenizer, shards, index) of a checkpoint already in --out; other files are left alone')
    .action(async (o: { preset: string; out: string; seed: number; shardMib?: number; tokenizer?: string; force?: boolean }) => {
      const existing = checkpointFilesIn(o.out);
      if (existing.length > 0 && !o.force) {
        throw badArg(`random-checkpoint: ${o.out} already holds a checkpoint (${existing.slice(0, 4).join(', ')}${existing.length > 4 ? ', ...' : ''}); give --force to overwrite its files, or another --out`);
      }
      await writeCheckpoint(o.out, o.preset, o.seed, o.shardMib !== undefined ? o.shardMib * 2 ** 20 : undefined, io, o.tokenizer);
    });

  program.command('bench').argument('<dir>', 'checkpoint folder')
    .description('prefill and decode tokens/s')
    .option('--activations <a>', 'f32, bf16 or fp8', actArg, 'f32' as Precision)
    .option('--prompt-len <n>', 'prefill tokens', intArg('--prompt-len'), 64)
    .option('--decode <n>', 'decode steps', intArg('--decode'), 16)
    .option('--device <d>', 'cpu or cuda', deviceArg, 'cpu' as const)
    .action(async (dir: string, o: { activations: Precision; promptLen: number; decode: number; device: 'cpu' | 'cuda' }) => {
      const model = await load(dir, o.activations, io, o.device);
      try {
        const r = await benchModel(model, Math.max(1, o.promptLen), o.decode);
        io.out(`activations ${o.activations}: prefill ${r.promptLen} tokens ${r.prefillTokS.toFixed(1)} tok/s (${r.prefillMs.toFixed(1)} ms), decode ${r.decode} tokens ${r.decodeTokS.toFixed(1)} tok/s (${(r.decodeMs / Math.max(1, r.decode)).toFixed(1)} ms/token)\n`);
      } finally {
        model.dispose();
      }
    });

  program.command('generate').argument('<dir>', 'checkpoint folder')
    .description('generate tokens (greedy by default)')
    .option('--prompt <text>', 'prompt text (needs tokenizer.json)')
    .option('--ids <list>', 'prompt token ids, comma-separated')
    .option('--max-new-tokens <n>', 'tokens to generate', intArg('--max-new-tokens'), 32)
    .option('--temperature <t>', 'sampling temperature (0: greedy)', temperatureArg, 0)
    .option('--seed <n>', 'sampling seed', intArg('--seed'))
    .option('--top-p <p>', 'nucleus sampling: keep the most likely tokens up to this probability, in (0, 1]', topPArg)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: off)', intArg('--top-k'))
    .option('--stop <text>', 'stop when this text appears (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--activations <a>', 'f32, bf16 or fp8', actArg, 'f32' as Precision)
    .option('--speculative <method>', "speculative decoding: 'mtp' (greedy only; needs the checkpoint's MTP layer)")
    .option('--device <d>', 'cpu or cuda', deviceArg, 'cpu' as const)
    .action(async (dir: string, o: { prompt?: string; ids?: string; maxNewTokens: number; temperature: number; seed?: number; topP?: number; topK?: number; stop?: string[]; activations: Precision; speculative?: 'mtp'; device: 'cpu' | 'cuda' }) => {
      if ((o.prompt === undefined) === (o.ids === undefined)) throw new CommanderError(1, 'dsv3.invalidArgument', 'generate: give exactly one of --prompt and --ids');
      // Everything is checked against the config before loading: an argument error comes before any output.
      const cfg = readConfig(dir);
      const tok = loadTokenizer(dir);
      let ids: number[];
      if (o.ids !== undefined) {
        ids = parseIds(o.ids, cfg.vocabSize);
      } else {
        if (!tok) throw new CommanderError(1, 'dsv3.invalidArgument', `generate: --prompt needs a tokenizer.json in ${dir}; use --ids`);
        const bos = cfg.bosTokenId;
        ids = tok.encode(o.prompt!);
        if (bos !== null && ids[0] !== bos) ids.unshift(bos);
      }
      if (ids.length >= cfg.maxPositionEmbeddings) throw badArg(`generate: the prompt (${ids.length} tokens) leaves no room under max_position_embeddings ${cfg.maxPositionEmbeddings}`);
      if (o.speculative !== undefined && o.speculative !== 'mtp') throw badArg(`--speculative must be mtp, got ${JSON.stringify(o.speculative)}`);
      if (o.speculative !== undefined && o.temperature > 0) throw badArg('--speculative mtp decodes greedily: it needs --temperature 0');
      if (o.stop?.includes('')) throw badArg('--stop must not be empty (it would end generation at once)');
      if (o.stop && !tok) throw badArg(`--stop needs a tokenizer.json in ${dir} (stop strings are matched in the text)`);
      const model = await load(dir, o.activations, io, o.device);
      try {
        io.out(`prompt ids: ${ids.join(',')}\n`);
        // streamed as they come: the text with a tokenizer (then the ids), else the ids
        const stream = model.tokenizer?.streamDecoder() ?? null;
        io.out(stream ? '' : 'generated ids: ');
        let n = 0;
        const r = await generate(model, ids, { maxNewTokens: o.maxNewTokens, temperature: o.temperature, seed: o.seed, topP: o.topP, topK: o.topK, stop: o.stop, speculative: o.speculative ?? null },
          (id) => io.out(stream ? stream.push(id) : `${n++ ? ',' : ''}${id}`));
        io.out(stream ? `${stream.flush()}\ngenerated ids: ${r.ids.join(',')}\n` : '\n');
        if (tok) io.out(`text: ${JSON.stringify(tok.decode(r.ids))}\n`);
        io.out(`${r.ids.length} tokens in ${(r.ms / 1e3).toFixed(2)} s: ${(r.ids.length / (r.ms / 1e3)).toFixed(1)} tok/s (prefill ${r.prefillMs.toFixed(1)} ms)\n`);
      } finally {
        model.dispose();
      }
    });

  program.command('serve').argument('<dir>', 'checkpoint folder')
    .description('OpenAI-compatible HTTP server with continuous batching (POST /v1/chat/completions, /v1/completions; GET /v1/models, /health, /metrics)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', intArg('--port'), 8000)
    .option('--device <d>', 'cpu or cuda', deviceArg, 'cpu' as const)
    .option('--activations <a>', 'f32, bf16 or fp8', actArg, 'f32' as Precision)
    .option('--max-batch <n>', 'most requests running at once', intArg('--max-batch'), 32)
    .option('--max-queue <n>', 'most requests waiting; past it: 429', intArg('--max-queue'), 256)
    .option('--kv-tokens <n>', 'KV cache size in tokens, all requests together', intArg('--kv-tokens'), 16384)
    .option('--prefill-chunk <n>', 'prompt tokens per step (long prompts are prefilled in chunks)', intArg('--prefill-chunk'), 32)
    .option('--model-name <name>', 'the model id clients send (default: the folder name)')
    .option('--api-key <key>', 'require Authorization: Bearer <key> on /v1/* (default: $DSV3_API_KEY)')
    .action(async (dir: string, o: { host: string; port: number; device: 'cpu' | 'cuda'; activations: Precision; maxBatch: number; maxQueue: number; kvTokens: number; prefillChunk: number; modelName?: string; apiKey?: string }) => {
      for (const k of ['maxBatch', 'maxQueue', 'kvTokens', 'prefillChunk'] as const) if (o[k] < 1) throw new CommanderError(1, 'dsv3.invalidArgument', `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be at least 1`);
      const model = await load(dir, o.activations, io, o.device);
      try {
        await serve(model, { ...o, modelName: o.modelName ?? basename(resolve(dir)), apiKey: o.apiKey ?? env.apiKey() }, io);
      } finally {
        model.dispose();
      }
    });

  program.command('chat').argument('<dir>', 'checkpoint folder (with tokenizer.json and a chat template)')
    .description('interactive chat in the terminal: the chat template, streamed replies, tokens/s (/reset, /exit)')
    .option('--system <text>', 'system prompt')
    .option('--max-new-tokens <n>', 'most tokens per reply', intArg('--max-new-tokens'), 256)
    .option('--temperature <t>', 'sampling temperature (0: greedy)', temperatureArg, 0.7)
    .option('--top-p <p>', 'nucleus sampling probability, in (0, 1]', topPArg)
    .option('--top-k <k>', 'sample among the k most likely tokens (0: off)', intArg('--top-k'))
    .option('--seed <n>', 'sampling seed', intArg('--seed'))
    .option('--stop <text>', 'stop when this text appears (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--activations <a>', 'f32, bf16 or fp8', actArg, 'f32' as Precision)
    .option('--device <d>', 'cpu or cuda', deviceArg, 'cpu' as const)
    .action(async (dir: string, o: { system?: string; maxNewTokens: number; temperature: number; topP?: number; topK?: number; seed?: number; stop?: string[]; activations: Precision; device: 'cpu' | 'cuda' }) => {
      const model = await load(dir, o.activations, io, o.device);
      try {
        io.err('chat: type a message; /reset clears the history, /exit quits\n');
        await chat(model, o, io, io.input ?? process.stdin, io.input === undefined);
      } finally {
        model.dispose();
      }
    });

  program.command('demo')
    .description('the main job: a cached random checkpoint, loaded, generating, with tokens/s, cache sizes and expert load')
    .option('--preset <name>', `one of ${PRESET_NAMES.join(', ')}`, 'small')
    .option('--seed <n>', 'checkpoint seed', intArg('--seed'), 0)
    .option('--dir <dir>', 'folder for the random checkpoint: new, empty, or one the demo wrote before (default: a cache folder)')
    .option('--max-new-tokens <n>', 'tokens to generate', intArg('--max-new-tokens'), 32)
    .option('--activations <a>', 'f32, bf16 or fp8', actArg, 'fp8' as Precision)
    .action(async (o: { preset: string; seed: number; dir?: string; maxNewTokens: number; activations: Precision }) => {
      const dir = o.dir ?? demoDir(o.preset, o.seed);
      const { created } = await ensureRandomCheckpoint(dir, o.preset, o.seed, io);
      if (!created) io.out(`using the cached ${o.preset} checkpoint in ${dir}\n`);
      const cfg = readConfig(dir);
      io.out(infoText(cfg));
      const t0 = performance.now();
      const model = await load(dir, o.activations, io);
      io.out(`loaded (${o.activations}) in ${((performance.now() - t0) / 1e3).toFixed(2)} s\n`);
      try {
        const tok = loadTokenizer(dir);
        const prompt = 'DeepSeek-V3 on Node.js:';
        const ids = tok ? tok.encode(prompt) : promptIds(8, cfg.vocabSize);
        if (cfg.bosTokenId !== null && ids[0] !== cfg.bosTokenId) ids.unshift(cfg.bosTokenId);
        await model.forward(ids.slice(0, 2)); // warm-up: the first forward starts the thread pool
        const trace: RouteTrace[] = [];
        const r = await generate(model, ids, { maxNewTokens: o.maxNewTokens, temperature: 0, trace });
        io.out(`prompt: ${JSON.stringify(prompt)} -> ${ids.length} ids\n`);
        io.out(`generated ${r.ids.length} ids (greedy): ${r.ids.join(',')}\n`);
        if (tok) io.out(`text (random weights): ${JSON.stringify(tok.decode(r.ids))}\n`);
        const dec = r.ids.length - 1;
        io.out(`prefill ${ids.length} tokens in ${r.prefillMs.toFixed(1)} ms (${(ids.length / (r.prefillMs / 1e3)).toFixed(1)} tok/s); `
          + `decode ${dec} tokens in ${(r.ms - r.prefillMs).toFixed(1)} ms (${(dec / ((r.ms - r.prefillMs) / 1e3)).toFixed(1)} tok/s)\n`);
        io.out(`KV cache per token: ${bytesH(model.kvCacheBytesPerToken())} latent vs ${bytesH(model.mhaCacheBytesPerToken())} multi-head (${(model.mhaCacheBytesPerToken() / model.kvCacheBytesPerToken()).toFixed(1)}x)\n`);
        io.out(expertLoad(cfg, trace));
      } finally {
        model.dispose();
      }
    });

  if (argv.length === 0) {
    io.err(program.helpInformation());
    return 1;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      if (e.code.startsWith('dsv3.')) io.err(`error: ${e.message}\n`);
      return e.exitCode || 1;
    }
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  // A reader that goes away (`dsv3 generate ... | head`) ends the command quietly, as with other Unix tools.
  for (const s of [process.stdout, process.stderr]) {
    s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });
  }
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
