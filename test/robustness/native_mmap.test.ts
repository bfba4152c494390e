// Issue 18, item 2: a checkpoint truncated or rewritten in place (cp over it) under its memory map must not
// kill the process with SIGBUS. Checkpoint.get refuses a file that changed since it was opened; reads of the
// mapping that fault (queued copies, direct reads) fail with an IoError naming the file; loadModel resolves
// only once the weights are really read, so truncating the files after it resolves is harmless.
// The stream is kept busy by a large GEMM where the truncation must land before queued copies run.
import { copyFileSync, cpSync, mkdtempSync, rmSync, truncateSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { IoError, Tensor, ops } from '../../lib';
import { loadModel } from '../../lib/model/load';
import { Checkpoint } from '../../lib/weights/safetensors';

const FIXTURE = join(__dirname, '..', 'fixtures', 'tiny-v3');
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
const FAULT = /the file shrank or was rewritten while it was memory-mapped.*\(SIGBUS\)/;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dsv3-mmap-'));
  cpSync(FIXTURE, dir, { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Queues ~14 GFLOP so that work queued next runs only after the caller's next statements. */
function busy(): Tensor {
  const a = Tensor.randn([1536, 1536], { seed: 1 });
  return ops.gemm(ops.gemm(a, a, { outDtype: 'f32' }), a, { outDtype: 'f32' });
}

/** The process still works: an unrelated op reads back right. */
async function alive(): Promise<void> {
  const x = Tensor.fromArray(Float32Array.from([1, 2]));
  expect(Array.from(await ops.add(x, x).toFloat32Array())).toEqual([2, 4]);
}

function firstTensorOf(ckpt: Checkpoint, shard: string): string {
  return ckpt.names.find((n) => ckpt.info(n).file.endsWith(shard) && ckpt.info(n).dtype !== null && ckpt.info(n).dtype !== 'f8_e4m3' && ckpt.info(n).end - ckpt.info(n).begin >= 4096)!;
}

test('a shard truncated after open: get refuses it with an IoError naming the file', () => {
  const ckpt = Checkpoint.open(dir);
  const name = firstTensorOf(ckpt, SHARDS[1]);
  truncateSync(join(dir, SHARDS[1]), 100);
  expect(() => ckpt.get(name)).toThrow(IoError);
  expect(() => ckpt.get(name)).toThrow(new RegExp(`${SHARDS[1]} changed since it was opened \\(size \\d+ -> 100`));
  ckpt.close();
});

test('a shard rewritten in place (cp over it) between get calls', async () => {
  const ckpt = Checkpoint.open(dir);
  const a = firstTensorOf(ckpt, SHARDS[0]);
  const first = ckpt.get(a);
  const want = await first.toFloat32Array();
  copyFileSync(join(dir, SHARDS[1]), join(dir, SHARDS[0]));  // same inode, new size and contents
  expect(() => ckpt.get(a)).toThrow(new RegExp(`${SHARDS[0]} changed since it was opened.*modified`));
  expect(want.length).toBe(first.numel);
  ckpt.close();
  await alive();
});

test('truncated between get calls: reading the view handed out before is an IoError, not a SIGBUS', async () => {
  const ckpt = Checkpoint.open(dir);
  const name = firstTensorOf(ckpt, SHARDS[0]);
  const view = ckpt.get(name);
  truncateSync(join(dir, SHARDS[0]), 0);
  expect(() => ckpt.get(name)).toThrow(IoError);
  await expect(view.toFloat32Array()).rejects.toThrow(IoError);
  await expect(view.toFloat32Array()).rejects.toThrow(FAULT);
  await expect(view.bytes()).rejects.toThrow(new RegExp(`${SHARDS[0]}: the file shrank`));
  expect(() => ckpt.check()).toThrow(new RegExp(`${SHARDS[0]}: the file shrank`));
  ckpt.close();
  await alive();
});

test('truncated while copies out of the map are queued: those ops fail with the IoError, others run', async () => {
  const ckpt = Checkpoint.open(dir);
  const name = firstTensorOf(ckpt, SHARDS[1]);
  const b = busy();
  const view = ckpt.get(name);
  const copy = view.cast('f32'), half = ops.add(view.cast('bf16'), view.cast('bf16'));
  truncateSync(join(dir, SHARDS[1]), 0);  // the copies run after the GEMMs, on a file that is gone
  await expect(copy.toFloat32Array()).rejects.toThrow(IoError);
  await expect(copy.toFloat32Array()).rejects.toThrow(new RegExp(`${SHARDS[1]}: the file shrank.*SIGBUS`));
  await expect(half.toFloat32Array()).rejects.toThrow(FAULT);
  expect((await b.toFloat32Array()).length).toBe(1536 * 1536);
  ckpt.close();
  await alive();
}, 60000);

test('truncated during loadModel: it rejects with an IoError naming the file', async () => {
  const b = busy();
  const load = loadModel(dir, {
    activations: 'f32',
    onProgress: (layers) => { if (layers === 1) for (const s of SHARDS) truncateSync(join(dir, s), 0); },
  });
  await expect(load).rejects.toThrow(IoError);
  await expect(load).rejects.toThrow(/model-0000[12]-of-00002\.safetensors/);
  await b.toFloat32Array();
  await alive();
}, 60000);

test('truncated right after loadModel resolves: the weights were read, the model runs', async () => {
  busy();  // without waiting for the copies, loadModel would resolve before they ran
  const model = await loadModel(dir, { activations: 'f32' });
  for (const s of SHARDS) truncateSync(join(dir, s), 0);
  const { logits } = await model.forward([5, 17, 300]);
  expect(logits.length).toBe(3 * model.config.vocabSize);
  expect(logits.every(Number.isFinite)).toBe(true);
  model.dispose();
}, 60000);
