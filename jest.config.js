// CPU test suite (`npm test`): everything except the CUDA kernels. One worker: the addon runs its
// own thread pool on every core, so parallel jest workers would only fight over the same 2 cores.
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '\\.gpu\\.test\\.ts$'],
  maxWorkers: 1,
  testTimeout: 60000,
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};
