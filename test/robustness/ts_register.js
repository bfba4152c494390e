// Test helper: `node -r ./test/robustness/ts_register.js lib/cli.ts ...` runs the CLI from the TypeScript sources
// in a child process (what the installed `dsv3` runs from dist/), so process-level behaviour (exit codes, a closed
// stdout pipe) is tested on the code under test, not on a possibly stale build. Transpile only, no type check.
const fs = require('fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};
