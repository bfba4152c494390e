// A jest reporter that prints each test as it finishes, with its time: the GPU suites on the emulator run
// for minutes per file, and jest's default reporter says nothing until a whole file is done.
class ProgressReporter {
  onTestCaseResult(test, result) {
    const mark = result.status === 'passed' ? 'ok  ' : result.status === 'failed' ? 'FAIL' : result.status;
    const file = test.path.split('/').slice(-1)[0];
    process.stderr.write(`  ${mark} ${file} > ${result.fullName} (${((result.duration ?? 0) / 1000).toFixed(1)} s)\n`);
  }
}
module.exports = ProgressReporter;
