import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const source = (path: string) => fileURLToPath(new URL(path, import.meta.url));
// Worker threads started from the sources (replication on a worker thread) load TypeScript.
const execArgv = ['--import', source('./test/helpers/worker-threads-ts.mjs')];

// Project roots are absolute, so the config works from any working directory (`nx test core`
// runs vitest from libs/core).
// SWC (not esbuild) transforms the TypeScript so that decorator metadata is emitted, which
// NestJS dependency injection relies on. Packages are tested from their sources, not dist/.
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    // The first alias whose name starts the import wins: a subpath comes before its package.
    alias: {
      '@nearcache/core/conformance': source('./libs/core/src/conformance/index.ts'),
      '@nearcache/core/otel': source('./libs/core/src/otel.ts'),
      '@nearcache/core': source('./libs/core/src/index.ts'),
      '@nearcache/nestjs': source('./libs/nestjs/src/index.ts'),
      '@nearcache/express': source('./libs/express/src/index.ts'),
      '@nearcache/sidecar': source('./libs/sidecar/src/index.ts'),
      '@nearcache/cli': source('./libs/cli/src/index.ts'),
    },
  },
};

// The fault tests (test/fault) start and kill their own brokers and take minutes: they run only
// when asked for by name (`npm run test:fault`, i.e. `--project fault`), not in `npm test`.
const args = process.argv;
const faultRun = args.some((arg, i) => arg === '--project=fault' || (arg === 'fault' && args[i - 1] === '--project'));
const fault = {
  ...shared,
  test: {
    name: 'fault',
    root: source('./test/fault'),
    execArgv,
    include: ['**/*.test.ts'],
    // Each file starts its own Kafka cluster or loads the shared broker: one file at a time on small machines.
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: { name: 'core', root: source('./libs/core'), include: ['test/**/*.test.ts'], testTimeout: 30_000, execArgv },
      },
      {
        ...shared,
        test: { name: 'nestjs', root: source('./libs/nestjs'), include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        ...shared,
        test: { name: 'express', root: source('./libs/express'), include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        ...shared,
        test: { name: 'sidecar', root: source('./libs/sidecar'), include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        ...shared,
        test: { name: 'cli', root: source('./libs/cli'), include: ['test/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 60_000 },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          root: source('./test'),
          execArgv,
          include: ['**/*.test.ts'],
          // The fault tests start their own brokers and run with `npm run test:fault`.
          exclude: ['fault/**', '**/node_modules/**'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      ...(faultRun ? [fault] : []),
    ],
  },
});
