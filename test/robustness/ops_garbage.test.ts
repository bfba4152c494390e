// Every op in `ops` called with malformed arguments (issue 18: the habit of outside probes): non-tensors, missing
// arguments, disposed tensors, a tensor where options belong, options of the wrong type. Each call must throw a typed
// error (a DsError from lib/errors.ts) synchronously, never a TypeError from deep inside, a crash or a success.
import { DsError, ops, Tensor } from '../../lib';

const NOT_OPS = new Set(['lazyOp', 'result', 'cpuGemmIsa']);
const names = Object.keys(ops).filter((k) => typeof (ops as Record<string, unknown>)[k] === 'function' && !NOT_OPS.has(k)).sort();

function garbage(): { label: string; args: unknown[] }[] {
  const dead = Tensor.zeros([2, 128]);
  dead.dispose();
  return [
    { label: 'no arguments', args: [] },
    { label: 'null', args: [null] },
    { label: 'undefined, undefined', args: [undefined, undefined] },
    { label: 'a number', args: [42] },
    { label: 'a string', args: ['x'] },
    { label: 'an empty object', args: [{}] },
    { label: 'an array of numbers', args: [[1, 2, 3]] },
    { label: 'a Float32Array', args: [new Float32Array(4)] },
    { label: 'a disposed tensor', args: [dead, dead, dead] },
    { label: 'a tensor-like object', args: [{ dtype: 'f32', shape: [2, 2], device: 'cpu' }] },
    { label: 'a proxy that throws on every access', args: [new Proxy({}, { get() { throw new Error('probe'); } })] },
  ];
}

test.each(names)('%s: malformed arguments are typed errors', (name) => {
  const op = (ops as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
  const wrong: string[] = [];
  for (const { label, args } of garbage()) {
    let err: unknown = null;
    try {
      const r = op(...args);
      wrong.push(`${label}: returned ${typeof r}`);
      continue;
    } catch (e) {
      err = e;
    }
    // a getter of the caller's that throws may pass its own error through: that is the caller's error, as thrown
    const own = label.startsWith('a proxy') && (err as Error)?.message === 'probe';
    if (!(err instanceof DsError) && !own) wrong.push(`${label}: ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
  expect(wrong).toEqual([]);
});
