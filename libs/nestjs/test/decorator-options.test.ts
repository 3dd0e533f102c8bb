import 'reflect-metadata';
import { InvalidOptionError } from '@nearcache/core';
import { describe, expect, it } from 'vitest';
import { CacheEvict, CachePut, Cached } from '../src/index.js';

// Options built in plain JavaScript, or spread from elsewhere, escape TypeScript's excess-property
// check: a typo must fail when the class is declared, not be dropped in silence.
const loose = (options: Record<string, unknown>) => options as never;

describe('decorator options', () => {
  it.each([
    ['Cached', () => Cached(loose({ key: 'a', ttl: 1000, gracePeriod: 5000 })), 'gracePeriod'],
    ['CacheEvict', () => CacheEvict(loose({ key: 'a', allEntry: true })), 'allEntry'],
    ['CachePut', () => CachePut(loose({ key: 'a', tll: 1000 })), 'tll'],
  ])('@%s refuses an unknown option, naming it and the options it takes', (_name, decorate, bad) => {
    let error: unknown;
    try {
      decorate();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(`unknown option "${bad}"`);
    expect((error as Error).message).toContain('the options are: key');
  });

  it('takes every documented option of @Cached', () => {
    expect(() =>
      Cached({
        key: 'rates:{0}',
        ttl: 60_000,
        cache: 'default',
        condition: () => true,
        unless: () => false,
        maxStaleness: 2000,
        after: () => undefined,
        tags: ['rates'],
        grace: 1000,
        softTimeout: 100,
        hardTimeout: 500,
        refreshAhead: 0.8,
      }),
    ).not.toThrow();
  });
});
