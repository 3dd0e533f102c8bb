import { describe, expect, it } from 'vitest';
import { runFixture } from '../helpers/process.js';

// The core loads @opentelemetry/api (an optional peer dependency) only through its
// @nearcache/core/otel entry: a cache without metrics never loads it. Checked on the built
// package, as applications load it.
describe('loading @nearcache/core', () => {
  it.each(['esm', 'cjs'])(
    'does not load @opentelemetry/api for a cache; the otel entry does, and reports its metrics (%s entry)',
    async (entry) => {
      const child = runFixture('lazy-otel-child.mjs', { NC_ENTRY: entry });
      const report = await child.next((message) => message.event === 'modules', 30_000);
      expect(report.afterCache, '@opentelemetry/api was loaded by a cache without metrics').toBe(false);
      expect(report.afterOtel, 'the otel entry did not load @opentelemetry/api').toBe(true);
      expect(report.hits).toBe(1);
      expect((await child.exited).code).toBe(0);
    },
    40_000,
  );
});
