import type { Config } from 'jest';

// Unit tests (*.spec.ts) sit next to the code; integration tests (*.int-spec.ts) live in
// test/ and run over HTTP against a real PostgreSQL started once in globalSetup.
const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test', '<rootDir>/connectors', '<rootDir>/migrations', '<rootDir>/clients'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2023',
          keepClassNames: true,
        },
        module: { type: 'commonjs', ignoreDynamic: true },
      },
    ],
  },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFiles: ['<rootDir>/test/support/setup-env.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
  // Each test file's modules stay reachable in its worker (~35 MB a file: the workers reached
  // 3 GB of RSS by the end of a run). Heap snapshots show two retainers: prom-client's GC
  // observer, which Metrics now stops on close (src/server/metrics.ts), and the dynamic-import
  // callbacks jest gives every script under --experimental-vm-modules (flat without the flag,
  // which require(esm) of dependencies and the tests' import() of ESM-only packages need). A worker above this after a file is replaced by a fresh
  // one (README, Testing).
  workerIdleMemoryLimit: '1GB',
  // A worker told to end exits at once (nothing left open: probed after every file), but the
  // process then frees a heap of up to 1 GB, measured at ~200 ms on a quiet machine and past
  // jest's default 500 ms on a busy one: jest then printed "A worker process has failed to exit
  // gracefully" after a fully green run. Jest still kills a worker that has not exited by then.
  workerGracefulExitTimeout: 5_000,
};

export default config;
