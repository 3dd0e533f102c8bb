import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC (not esbuild) transforms the TypeScript so that decorator metadata is emitted,
// which NestJS dependency injection relies on.
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { conditions: ['@nearcache/source'] },
};

export default defineConfig({
  test: {
    projects: [
      {
        ...shared,
        test: { name: 'core', root: './libs/core', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          root: './test',
          include: ['**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
