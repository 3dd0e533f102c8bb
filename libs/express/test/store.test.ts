import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPathGroup, inProcessLog, InvalidOptionError, type Logger, type NearCache } from '@nearcache/core';
import { chaos } from '../../../test/helpers/chaos.js';
import { cacheResponses, type CacheResponsesOptions } from '../src/index.js';
import { Caches, localKey, recordingLogger, uniqueTopic, waitFor } from './helpers.js';

/**
 * What the middleware takes from core's HTTP store beyond the entry budget: the per-path byte
 * budget (`maxPathBytes`), and store failures warned once per kind and route.
 */
const caches = new Caches();
const servers: Server[] = [];
const BOUND = 4 * 1024 * 1024;
const BODY = 'x'.repeat(4096);

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await caches.closeAll();
});

async function serve(cache: NearCache<any>, options: CacheResponsesOptions): Promise<string> {
  const app = express();
  app.use(cacheResponses(cache, options));
  app.get('/search', (req, res) => void res.type('text/plain').send(`${String(req.query.q)}:${BODY}`));
  app.get('/other', (req, res) => void res.type('text/plain').send(`other ${String(req.query.q)}`));
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function get(base: string, path: string): Promise<string | null> {
  const response = await fetch(base + path);
  await response.text();
  return response.headers.get('x-cache');
}

/** The bytes the cache counts for its entries, all of path `/search`. */
function searchBytes(cache: NearCache<any>): number {
  expect([...cache.keys()].every((key) => httpPathGroup(key) === 'http:GET /search')).toBe(true);
  return cache.stats().bytes;
}

describe('maxPathBytes', () => {
  it('is checked up front', () => {
    return caches.open(uniqueTopic('opt')).then((cache) => {
      expect(() => cacheResponses(cache, { maxPathBytes: -1 })).toThrow(InvalidOptionError);
      expect(() => cacheResponses(cache, { maxPathBytes: '1mb' as never })).toThrow(
        /cacheResponses: option "maxPathBytes" must be an integer from 0 \(no budget\) to 1099511627776 bytes, got "1mb"/,
      );
      expect(() => cacheResponses(cache, { maxPathBytes: 0 })).not.toThrow();
    });
  });

  it('a flood of distinct query strings keeps the path within its bytes on every instance, and the hot entry stays', async () => {
    const topic = uniqueTopic('bytes');
    const budget = 64 * 1024;
    const a = await caches.open(topic, { maxBytes: BOUND });
    const b = await caches.open(topic, { maxBytes: BOUND });
    const onA = await serve(a, { logger: recordingLogger(), maxPathBytes: budget });
    const onB = await serve(b, { logger: recordingLogger(), maxPathBytes: budget });
    expect(await get(onA, '/search?q=hot')).toBe('MISS');
    await waitFor(() => b.has(localKey('/search?q=hot')), { message: 'the hot entry on B' });
    const entry = searchBytes(a);
    for (let i = 0; i < 400; i++) {
      await get(i % 2 === 0 ? onA : onB, `/search?q=${i}`);
      if (i % 50 === 0) expect(await get(onB, '/search?q=hot')).toBe('HIT');
    }
    await waitFor(() => a.size === b.size, { message: 'both instances to hold the same entries' });
    for (const cache of [a, b]) {
      // Within the budget, give or take one entry the other instance stored at the same time; the cache's own bound evicted nothing.
      expect(searchBytes(cache)).toBeLessThanOrEqual(budget + entry);
      expect(searchBytes(cache)).toBeGreaterThan(budget / 2);
      expect(cache.stats().evictions).toBe(0);
      expect(cache.has(localKey('/search?q=hot'))).toBe(true);
      expect(cache.has(localKey('/search?q=0'))).toBe(true);
      expect(cache.has(localKey('/search?q=399'))).toBe(false);
    }
    expect(await get(onA, '/search?q=hot')).toBe('HIT');
    expect(await get(onB, '/search?q=0')).toBe('HIT');
  }, 60_000);
});

describe('store failures', () => {
  it('a full replication queue while the log is down is warned once per route, repeats at debug level', async () => {
    const log = chaos(inProcessLog(caches.broker));
    const cache = await caches.open(uniqueTopic('queue'), { log, maxQueuedWrites: 2 });
    const warnings: string[] = [];
    const debugs: string[] = [];
    const logger: Logger = {
      debug: (message) => void debugs.push(message),
      info: () => undefined,
      warn: (message) => void warnings.push(message),
      error: (message) => void warnings.push(message),
    };
    const base = await serve(cache, { logger });
    log.last!.failAppends(1_000_000);
    for (let i = 0; i < 12; i++) await get(base, `/other?q=${i}`);
    for (let i = 0; i < 12; i++) await get(base, `/search?q=${i}`);
    const failures = (messages: string[]): string[] => messages.filter((message) => message.includes('storing the response failed'));
    await waitFor(() => failures(debugs).length >= 20, { message: 'the repeated failures at debug level' });
    expect(failures(warnings)).toHaveLength(2);
    expect(failures(warnings)[0]).toMatch(
      /^response cache: storing the response failed: .*; further failures of this kind on this route are logged at debug level$/,
    );
  });
});
