import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultMaxBytes, httpPathGroup, type NearCache } from '@nearcache/core';
import { cacheResponses } from '../src/index.js';
import { Caches, localKey, recordingLogger, uniqueTopic, waitFor } from './helpers.js';

/**
 * A busy or hostile client requests one route with thousands of distinct query strings (cache
 * busting). Memory stays within the byte bound on every instance, including one that starts
 * afterwards and reads the whole topic; with a per-path budget, the hot entries stay everywhere.
 */
const caches = new Caches();
const servers: Server[] = [];
const BOUND = 1024 * 1024;
const BODY = 'x'.repeat(4096);
const FLOOD = 2000;

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await caches.closeAll();
});

async function serve(cache: NearCache<any>, maxPathEntries?: number): Promise<string> {
  const app = express();
  app.use(cacheResponses(cache, { logger: recordingLogger(), ...(maxPathEntries === undefined ? {} : { maxPathEntries }) }));
  app.get('/search', (req, res) => void res.type('text/plain').send(`${String(req.query.q)}:${BODY}`));
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

const searchEntries = (cache: NearCache<any>): number => [...cache.keys()].filter((key) => httpPathGroup(key) === 'http:GET /search').length;

describe('thousands of distinct query strings against one route', () => {
  it('a cache has a byte bound by default, derived from the heap', async () => {
    expect(defaultMaxBytes()).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    const cache = await caches.open(uniqueTopic('default-bound'));
    await cache.set('k', 'v');
    // Bytes are counted only under a byte bound.
    expect(cache.stats().bytes).toBeGreaterThan(0);
  });

  it('every instance stays within its byte bound, and so does a fresh one reading the topic', async () => {
    const topic = uniqueTopic('flood');
    const a = await caches.open(topic, { maxBytes: BOUND });
    const b = await caches.open(topic, { maxBytes: BOUND });
    const onA = await serve(a);
    for (let i = 0; i < FLOOD; i++) await get(onA, `/search?q=${i}`);
    await waitFor(() => b.has(localKey(`/search?q=${FLOOD - 1}`)), { timeout: 20_000, message: 'B to apply the flood' });
    for (const cache of [a, b]) {
      expect(cache.stats().bytes).toBeLessThanOrEqual(BOUND);
      expect(cache.stats().evictions).toBeGreaterThan(0);
    }
    const fresh = await caches.open(topic, { maxBytes: BOUND });
    expect(fresh.stats().bytes).toBeLessThanOrEqual(BOUND);
    expect(searchEntries(fresh)).toBeGreaterThan(0);
    expect(searchEntries(fresh)).toBeLessThan(FLOOD);
  }, 60_000);

  it('with maxPathEntries, the path holds at most that many entries and the hot ones survive on every instance', async () => {
    const topic = uniqueTopic('budget');
    const a = await caches.open(topic, { maxBytes: BOUND });
    const b = await caches.open(topic, { maxBytes: BOUND });
    const onA = await serve(a, 20);
    const onB = await serve(b, 20);
    expect(await get(onA, '/search?q=hot')).toBe('MISS');
    for (let i = 0; i < FLOOD; i++) {
      await get(i % 2 === 0 ? onA : onB, `/search?q=${i}`);
      if (i % 100 === 0) await get(onB, '/search?q=hot');
    }
    await waitFor(() => b.has(localKey('/search?q=0')) && a.has(localKey('/search?q=1')), { message: 'both instances to see each other' });
    for (const cache of [a, b]) {
      expect(searchEntries(cache)).toBeLessThanOrEqual(20 + 1); // a concurrent store on the other instance may pass once
      expect(cache.stats().evictions).toBe(0);
      expect(cache.has(localKey('/search?q=hot'))).toBe(true);
    }
    expect(await get(onA, '/search?q=hot')).toBe('HIT');
    expect(await get(onB, '/search?q=hot')).toBe('HIT');
    expect(await get(onB, `/search?q=${FLOOD + 1}`)).toBe('MISS');
    expect(b.has(localKey(`/search?q=${FLOOD + 1}`))).toBe(false);
    // A fresh instance holds what the topic holds: the budgeted path.
    const fresh = await caches.open(topic, { maxBytes: BOUND });
    expect(searchEntries(fresh)).toBeLessThanOrEqual(21);
  }, 60_000);
});
