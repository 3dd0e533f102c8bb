import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../scripts/lib/shared.mjs';
import { RawClient, Sidecars } from './support.js';

const sidecars = new Sidecars();
afterEach(() => sidecars.closeAll());

async function api(options: Parameters<Sidecars['start']>[0] = {}) {
  const sidecar = await sidecars.start({ httpPort: 0, ...options });
  const base = `http://127.0.0.1:${sidecar.httpAddress!.port}`;
  return { sidecar, base };
}

describe('HTTP API', () => {
  it('PUT with a TTL, GET and DELETE a key, shared with the Redis protocol', async () => {
    const { sidecar, base } = await api();
    expect((await fetch(`${base}/keys/user%3A1?ttl=60000`, { method: 'PUT', body: 'Zoë' })).status).toBe(204);
    const got = await fetch(`${base}/keys/user%3A1`);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(Number(got.headers.get('x-ttl-ms'))).toBeGreaterThan(50_000);
    expect(await got.text()).toBe('Zoë');
    const redis = await RawClient.open({ port: sidecar.address!.port });
    try {
      expect(await redis.call('GET', 'user:1')).toBe('Zoë');
      await redis.call('SET', 'plain', 'p');
    } finally {
      redis.close();
    }
    const plain = await fetch(`${base}/keys/plain`);
    expect(plain.headers.get('x-ttl-ms')).toBe('-1');
    await sidecar.cache.set('object', { a: [1, 2] });
    const object = await fetch(`${base}/keys/object`);
    expect(object.headers.get('content-type')).toBe('application/json');
    expect(await object.text()).toBe('{"a":[1,2]}');
    expect((await fetch(`${base}/keys/user%3A1`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/keys/user%3A1`)).status).toBe(404);
    expect(sidecar.cache.get('user:1')).toBe(undefined);
  });

  it('refuses bad requests with a clear error and changes nothing', async () => {
    const { sidecar, base } = await api({});
    await sidecar.cache.set('k', 'kept');
    const badTtl = await fetch(`${base}/keys/k?ttl=soon`, { method: 'PUT', body: 'x' });
    expect(badTtl.status).toBe(400);
    expect(await badTtl.json()).toEqual({ error: 'query parameter "ttl" must be a whole number of milliseconds, at least 1' });
    const binary = await fetch(`${base}/keys/k`, { method: 'PUT', body: new Uint8Array([0xff, 0x00]) });
    expect(binary.status).toBe(400);
    const tooLarge = await fetch(`${base}/keys/k`, { method: 'PUT', body: 'x'.repeat(600 * 1024) });
    expect(tooLarge.status).toBe(413);
    expect((await fetch(`${base}/keys/k`, { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await fetch(`${base}/keys/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${base}/elsewhere`)).status).toBe(404);
    expect(sidecar.cache.get('k')).toBe('kept');
  });

  it('/health gives the state and lag; /metrics the Prometheus counters', async () => {
    const { sidecar, base } = await api();
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ state: 'live', topic: sidecar.cache.topic, lag: { records: 0, ms: 0 }, queueDepth: 0 });
    await sidecar.cache.set('a', '1');
    sidecar.cache.get('a');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^nearcache_up\\{topic="${sidecar.cache.topic}"\\} 1$`, 'm'));
    expect(metrics).toMatch(/^nearcache_hits_total\{topic="[^"]+"\} 1$/m);
    expect(metrics).toMatch(/^nearcache_lag_records\{topic="[^"]+",partition="0"\} 0$/m);
    expect(metrics).toMatch(/^# TYPE nearcache_sidecar_commands_total counter$/m);
  });

  it('/health answers 503 once the cache is closed', async () => {
    const { sidecar, base } = await api();
    await sidecar.cache.close();
    await waitFor(() => sidecar.cache.state === 'closed', { timeout: 5000 });
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ state: 'closed' });
  });

  it('with a password, every route but /health wants it as a bearer token', async () => {
    const { base } = await api({ password: 'pw' });
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/keys/k`, { method: 'PUT', body: 'v', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/keys/k`, { method: 'PUT', body: 'v', headers: { authorization: 'Bearer pw' } })).status).toBe(204);
    expect(await (await fetch(`${base}/keys/k`, { headers: { authorization: 'Bearer pw' } })).text()).toBe('v');
  });
});
