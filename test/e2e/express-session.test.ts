import express, { type Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, kafkaLog, parseSessionToken, silentLogger, type NearCache } from '@nearcache/core';
import { chaos, type ChaosLog } from '@nearcache/core/conformance';
import { cacheResponses, type CacheResponsesOptions } from '@nearcache/express';
import { KafkaTestClient } from '../helpers/kafka.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * Session tokens and bounded staleness through the Express middleware: two apps, each with its
 * own cache on one topic of a real broker, and one database they share. B's log is wrapped so
 * that the test can hold B behind the log (its consumer's batches wait) or stall it: B then holds
 * an entry A already invalidated, which a read without the token is served.
 */
describe('express: session tokens and maxStaleness across two instances', () => {
  const client = new KafkaTestClient();
  const caches: NearCache[] = [];
  const HEADER = 'nearcache-session';

  interface Instance {
    cache: NearCache;
    app: Express;
    calls: { item: number };
  }

  async function instance(topic: string, options: CacheResponsesOptions, db: Map<string, number>, held?: ReturnType<typeof chaos>): Promise<Instance> {
    const kafka = { brokers: client.brokers, logLevel: 'nothing' as const };
    const cache = createNearCache({ topic, ...(held ? { log: held } : { kafka }), logger: silentLogger, lagPollInterval: 100 });
    caches.push(cache);
    await cache.ready();
    const calls = { item: 0 };
    const app = express();
    app.use(cacheResponses(cache, options));
    app.get('/items/:id', (req, res) => {
      calls.item++;
      res.json({ id: req.params.id, version: db.get(req.params.id) ?? 0 });
    });
    app.put('/items/:id', async (req, res) => {
      db.set(req.params.id, (db.get(req.params.id) ?? 0) + 1);
      // The write itself (a data key), and the cached response it makes stale.
      await req.nearCache.set(`item:${req.params.id}`, db.get(req.params.id));
      await req.nearCache.invalidateRoute(`/items/${req.params.id}`);
      res.status(200).json({ version: db.get(req.params.id) });
    });
    app.post('/noop', (_req, res) => void res.status(204).end());
    return { cache, app, calls };
  }

  async function pair(options: CacheResponsesOptions, readerOptions: CacheResponsesOptions = options) {
    const topic = await client.createTopic({ partitions: 2 });
    const db = new Map<string, number>();
    const factory = chaos(kafkaLog({ brokers: client.brokers, logLevel: 'nothing' }));
    const a = await instance(topic, options, db);
    const b = await instance(topic, readerOptions, db, factory);
    return { a, b, log: factory.last as ChaosLog, db };
  }

  afterEach(async () => {
    await Promise.all(caches.splice(0).map((cache) => cache.close()));
  });
  afterAll(() => client.close());

  it('a client that writes through A and reads through B with the token sees its own write, every time; without it, B serves the stale entry', async () => {
    const { a, b, log } = await pair({ sessionHeader: true, sessionWait: 10_000 });
    let stale = 0;
    const rounds = 8;
    for (let round = 1; round <= rounds; round++) {
      const id = `i${round % 3}`;
      // B holds the current response, then falls behind the log.
      const before = await request(b.app).get(`/items/${id}`).expect(200);
      await waitFor(async () => (await request(b.app).get(`/items/${id}`)).headers['x-cache'] === 'HIT', { timeout: 10_000 });
      // A holds the entry too: its invalidation removes what it holds.
      await waitFor(async () => (await request(a.app).get(`/items/${id}`)).headers['x-cache'] === 'HIT', { timeout: 10_000 });
      log.hold();
      const write = await request(a.app).put(`/items/${id}`).expect(200);
      const token = write.headers[HEADER] as string | undefined;
      expect(token, 'the write response carries a token').toBeDefined();
      expect(() => parseSessionToken(token)).not.toThrow();
      expect(b.cache.isCaughtUpTo(token!)).toBe(false);

      const withoutToken = await request(b.app).get(`/items/${id}`).expect(200);
      if (withoutToken.body.version < write.body.version) stale++;
      expect(withoutToken.body).toEqual(before.body);

      // The read with the token waits for B; B catches up while it waits.
      const reading = request(b.app).get(`/items/${id}`).set(HEADER, token!);
      const released = sleep(50).then(() => log.release());
      const withToken = await reading;
      await released;
      expect(withToken.status).toBe(200);
      expect(withToken.body.version).toBe(write.body.version);
      expect(withToken.headers['x-cache']).toBe('MISS');
      expect(b.cache.isCaughtUpTo(token!)).toBe(true);
    }
    // The test can fail: without the token, every read through the held-back B was stale.
    expect(stale).toBe(rounds);
  });

  it('a write that wrote nothing to the cache sends back the request token, or none; a later write merges its token with the request one', async () => {
    const { a, b } = await pair({ sessionHeader: 'X-Session' });
    const none = await request(a.app).post('/noop').expect(204);
    expect(none.headers['x-session']).toBeUndefined();
    const first = await request(b.app).put('/items/x').expect(200);
    const tokenB = first.headers['x-session'] as string;
    expect(tokenB).toMatch(/^v1\./);
    const echoed = await request(a.app).post('/noop').set('X-Session', tokenB).expect(204);
    expect(echoed.headers['x-session']).toBe(tokenB);
    const second = await request(a.app).put('/items/y').set('X-Session', tokenB).expect(200);
    const merged = second.headers['x-session'] as string;
    // The merged token covers B's write and A's: each partition at least where either put it.
    const positions = (token: string) => new Map(parseSessionToken(token).positions.map((p) => [p.partition, p.position]));
    for (const [partition, position] of positions(tokenB)) expect(positions(merged).get(partition)).toBeGreaterThanOrEqual(position);
    expect(merged).not.toBe(tokenB);
  });

  it('when B does not reach the token within sessionWait, the handler answers, bypassing the cache, instead of the stale entry', async () => {
    const { a, b, log } = await pair({ sessionHeader: true }, { sessionHeader: true, sessionWait: 200 });
    await request(b.app).get('/items/t').expect(200);
    await waitFor(async () => (await request(b.app).get('/items/t')).headers['x-cache'] === 'HIT', { timeout: 10_000 });
    await waitFor(async () => (await request(a.app).get('/items/t')).headers['x-cache'] === 'HIT', { timeout: 10_000 });
    log.hold();
    const write = await request(a.app).put('/items/t').expect(200);
    const token = write.headers[HEADER] as string;
    const calls = b.calls.item;
    const read = await request(b.app).get('/items/t').set(HEADER, token).expect(200);
    expect(read.body.version).toBe(write.body.version);
    expect(read.headers['x-cache']).toBe('MISS');
    expect(b.calls.item).toBe(calls + 1);
    // Bypassed: the fresh answer was not stored over B's entry; without the token B is still stale.
    const stale = await request(b.app).get('/items/t').expect(200);
    expect(stale.body.version).toBe(write.body.version - 1);
    log.release();
  });

  it('a malformed, foreign, too long or out-of-range token is ignored as if absent: the hit is served, never an error', async () => {
    const { a, b } = await pair({ sessionHeader: true });
    await request(a.app).get('/items/z').expect(200);
    await waitFor(async () => (await request(b.app).get('/items/z')).headers['x-cache'] === 'HIT', { timeout: 10_000 });
    const own = parseSessionToken((await request(a.app).put('/items/other').expect(200)).headers[HEADER] as string);
    const bad = ['garbage', 'v2.abc.0-1', 'v1.zzzzzz.0-5', `v1.${own.topic}.7-5`, `v1.${own.topic}.0-1.0-2`, `v1.${own.topic}.${'0-1.'.repeat(3000)}1-1`, ''];
    for (const token of bad) {
      const read = await request(b.app).get('/items/z').set(HEADER, token);
      expect(read.status, token.slice(0, 40)).toBe(200);
      expect(read.headers['x-cache'], token.slice(0, 40)).toBe('HIT');
    }
  });

  it('maxStaleness: B serves a hit only while it can show it is within the bound; a stalled B answers from the handler, then hits again', async () => {
    const { a, b, log } = await pair({}, { maxStaleness: 500 });
    await request(b.app).get('/items/s').expect(200);
    await waitFor(async () => (await request(b.app).get('/items/s')).headers['x-cache'] === 'HIT', { timeout: 10_000 });
    // B stops reading; a write appended after that keeps it from confirming it is fresh.
    log.stall();
    await a.cache.set('other', 1, { durable: true });
    await waitFor(() => b.cache.staleness() > 500, { timeout: 10_000 });
    const calls = b.calls.item;
    const missed = await request(b.app).get('/items/s').expect(200);
    expect(missed.headers['x-cache']).toBe('MISS');
    expect(b.calls.item).toBe(calls + 1);
    // The same entry, without a bound (A's middleware), is a hit.
    expect((await request(a.app).get('/items/s')).headers['x-cache']).toBe('HIT');
    await log.unstall();
    await waitFor(async () => (await request(b.app).get('/items/s')).headers['x-cache'] === 'HIT', { timeout: 10_000 });
  });

  it('checks the options up front', () => {
    const cache = createNearCache({ topic: 'unused', log: inProcessLog(new InProcessBroker()), logger: silentLogger });
    caches.push(cache);
    expect(() => cacheResponses(cache, { sessionHeader: 'bad header' })).toThrow(
      /option "sessionHeader" must be true \(for "NearCache-Session"\), false, or a header name/,
    );
    expect(() => cacheResponses(cache, { sessionWait: 0 })).toThrow(/option "sessionWait" must be an integer from 1 to 60000, got 0/);
    expect(() => cacheResponses(cache, { maxStaleness: -1 })).toThrow(/option "maxStaleness" must be an integer from 0/);
  });
});
