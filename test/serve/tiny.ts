// A random `tiny` checkpoint with its byte-level tokenizer and chat template, written once per test file
// into a temp folder, for the serving tests.
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { loadModel } from '../../lib/model/load';
import { Model } from '../../lib/model/model';
import { writeRandomCheckpoint } from '../../lib/weights/random';

export async function tinyModel(preset = 'tiny'): Promise<{ model: Model; dir: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'dsv3-serve-'));
  await writeRandomCheckpoint(dir, { preset, seed: 5 });
  const model = await loadModel(dir, { activations: 'f32' });
  return { model, dir, cleanup: () => { model.dispose(); rmSync(dir, { recursive: true, force: true }); } };
}
