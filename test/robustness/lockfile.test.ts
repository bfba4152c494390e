// package-lock.json agrees with package.json (issue 18 item 11: the committed lock file must be what `npm install`
// writes). npm rewrites the root entry from package.json on every install, so a dependency, bin or engines edit
// without the lock file's shows here, offline; CI also runs npm install and checks that the tree stays clean.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));

test('the lock file\'s root entry is what npm derives from package.json', () => {
  expect(lock.lockfileVersion).toBe(3);
  expect([lock.name, lock.version]).toEqual([pkg.name, pkg.version]);
  const root = lock.packages[''];
  const want: Record<string, unknown> = { name: pkg.name, version: pkg.version };
  if (pkg.scripts?.install || pkg.scripts?.preinstall || pkg.scripts?.postinstall) want.hasInstallScript = true;
  for (const k of ['license', 'dependencies', 'bin', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'engines']) if (pkg[k] !== undefined) want[k] = pkg[k];
  expect(root).toEqual(want);
});

test('every direct dependency is locked, at a version of the major the range asks for', () => {
  const missing: string[] = [];
  for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }) as [string, string][]) {
    const entry = lock.packages[`node_modules/${name}`];
    if (!entry) { missing.push(`${name}: not locked`); continue; }
    const m = /^[\^~]?(\d+)\./.exec(range);
    // ^0.x ranges pin the minor too; only the common forms are checked here, npm itself checks the rest
    if (m && !String(entry.version).startsWith(`${m[1]}.`)) missing.push(`${name}: ${range} but ${entry.version} locked`);
  }
  expect(missing).toEqual([]);
});
