import * as vitest from 'vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Keyv from 'keyv';
import keyvTestSuite from '@keyv/test-suite';
import { recordMeta } from '../../../test/helpers/records.js';
import { createNearCache, InProcessBroker, inProcessLog, NearCacheKeyvStore, silentLogger, type NearCache } from '../src/index.js';

// Keyv's own conformance suite (API, values, namespaces), run against a store over one
// replicated cache on the in-process log. Each Keyv gets its own adapter, as with other stores:
// Keyv sets the adapter's namespace.
describe('NearCacheKeyvStore passes @keyv/test-suite', () => {
  const broker = new InProcessBroker();
  const cache = createNearCache({ topic: 'keyv-suite', log: inProcessLog(broker), logger: silentLogger });
  beforeAll(() => cache.ready());
  afterAll(() => cache.close());
  const store = () => new NearCacheKeyvStore(cache);

  // API, values and namespaces. (Keyv iterates only stores of the SQL, Mongo, Redis... families,
  // so the suite's iterator tests do not apply to any other store.)
  keyvTestSuite(vitest, Keyv, store);
});

describe('NearCacheKeyvStore replicates', () => {
  const broker = new InProcessBroker();
  const caches: NearCache[] = [];
  const open = async (): Promise<NearCache> => {
    const cache = createNearCache({ topic: 'keyv-replication', log: inProcessLog(broker), logger: silentLogger });
    caches.push(cache);
    await cache.ready();
    return cache;
  };
  afterAll(() => Promise.all(caches.map((cache) => cache.close())));

  it('a value set through Keyv on one instance is read through Keyv on another; a delete reaches it too', async () => {
    const [a, b] = [await open(), await open()];
    const keyvA = new Keyv({ store: new NearCacheKeyvStore(a) });
    const keyvB = new Keyv({ store: new NearCacheKeyvStore(b) });

    await keyvA.set('user:1', { name: 'Ada' });
    await vitest.vi.waitFor(() => expect(b.has('keyv:user:1')).toBe(true), { timeout: 5000, interval: 5 });
    expect(await keyvB.get('user:1')).toEqual({ name: 'Ada' });

    expect(await keyvB.delete('user:1')).toBe(true);
    await vitest.vi.waitFor(() => expect(a.has('keyv:user:1')).toBe(false), { timeout: 5000, interval: 5 });
    expect(await keyvA.get('user:1')).toBeUndefined();
  });

  it("passes Keyv's TTL to the cache, so the entry expires in the cache itself", async () => {
    const cache = await open();
    const keyv = new Keyv({ store: new NearCacheKeyvStore(cache) });
    const before = Date.now();
    await keyv.set('session', 'x', 60_000);
    const after = Date.now();
    await cache.flush();
    const record = broker.records('keyv-replication').find((r) => r.key !== null && Buffer.from(r.key).toString() === 'keyv:session');
    const expiresAt = Number(recordMeta(record!)!.exp);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(expiresAt).toBeLessThanOrEqual(after + 60_000);
  });

  it('clear() removes only the keys of its namespace', async () => {
    const cache = await open();
    const users = new Keyv({ store: new NearCacheKeyvStore(cache), namespace: 'users' });
    const other = new Keyv({ store: new NearCacheKeyvStore(cache), namespace: 'other' });
    await users.set('1', 'u');
    await other.set('1', 'o');
    await users.clear();
    expect(await users.get('1')).toBeUndefined();
    expect(await other.get('1')).toBe('o');
  });

  it('disconnect() leaves the cache open unless closeOnDisconnect is set', async () => {
    const cache = await open();
    await new Keyv({ store: new NearCacheKeyvStore(cache) }).disconnect();
    expect(cache.state).toBe('live');
    await new Keyv({ store: new NearCacheKeyvStore(cache, { closeOnDisconnect: true }) }).disconnect();
    expect(cache.state).toBe('closed');
  });
});
