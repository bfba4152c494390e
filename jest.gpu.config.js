// GPU test suite (`npm run test:gpu`): every CUDA op against the CPU backend. Skips with a message
// when no usable CUDA device is present.
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test/gpu'],
  testMatch: ['**/*.gpu.test.ts'],
  maxWorkers: 1,
  testTimeout: 120000,
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
};
