// Counts what a call reads back from tensors (readBytes / readFloat32 / synchronize, and copies to the CPU),
// to check that a model step returns only what the caller asked for. Used by test/model and test/gpu.
import { native, NativeTensor } from '../../lib/native';

export interface Read { op: string; dtype?: string; shape?: number[] }

/** Runs fn with the addon's read entry points wrapped; returns fn's result and every read it made. */
export async function withReads<T>(fn: () => Promise<T>): Promise<{ result: T; reads: Read[] }> {
  const reads: Read[] = [];
  const n = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved: Record<string, (...a: unknown[]) => unknown> = {};
  const wrap = (op: string, record: (...a: unknown[]) => Read | null) => {
    saved[op] = n[op];
    n[op] = (...a: unknown[]) => { const r = record(...a); if (r) reads.push(r); return saved[op](...a); };
  };
  const desc = (h: unknown, op: string): Read => {
    const t = h as NativeTensor & { dtype?: string; shape?: number[] };
    return { op, dtype: t.dtype, shape: t.shape ? [...t.shape] : undefined };
  };
  wrap('readBytes', (h) => desc(h, 'readBytes'));
  wrap('readFloat32', (h) => desc(h, 'readFloat32'));
  wrap('synchronize', () => ({ op: 'synchronize' }));
  wrap('to', (h, device) => ((h as NativeTensor).device !== 'cpu' && device === 'cpu' ? desc(h, 'to cpu') : null));
  try {
    return { result: await fn(), reads };
  } finally {
    Object.assign(n, saved);
  }
}
