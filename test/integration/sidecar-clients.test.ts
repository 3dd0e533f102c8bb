// The sidecar with client libraries and tools nobody here wrote (ioredis, node-redis, redis-cli,
// Python's redis), on the real broker, sharing one topic with a Node.js instance on the JSON codec.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNearCache, jsonCodec, silentLogger, type NearCache } from '@nearcache/core';
import { startSidecar, type Sidecar } from '@nearcache/sidecar';
import { ensureSystemPackages, REDIS_CLIENT_PACKAGES } from '../../scripts/lib/system-packages.mjs';
import { testBrokers, uniqueTopic } from '../helpers/kafka.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const topic = uniqueTopic('nc-sidecar');
const dir = mkdtempSync(path.join(tmpdir(), 'nc-sidecar-'));
const socket = path.join(dir, 'redis.sock');
let sidecar: Sidecar;
let node: NearCache<unknown>;
let port: number;

beforeAll(async () => {
  const missing = await ensureSystemPackages(REDIS_CLIENT_PACKAGES);
  if (missing.length > 0) throw new Error(`these tests need the Debian packages ${missing.join(', ')}; install them (as root the tests do it with apt-get)`);
  sidecar = await startSidecar({ port: 0, socket, cache: { topic, kafka: { brokers: testBrokers() }, logger: silentLogger } });
  port = sidecar.address!.port;
  node = createNearCache<unknown>({ topic, kafka: { brokers: testBrokers() }, codec: jsonCodec(), logger: silentLogger });
  await node.ready();
});

afterAll(async () => {
  await Promise.all([sidecar?.close(), node?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('values shared with a Node.js instance on the JSON codec, on the real broker', () => {
  it('a Node.js instance reads a string the sidecar stored; the sidecar reads a Node.js string as itself and other values as JSON text', async () => {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    try {
      await redis.connect();
      expect(await redis.set('shared:from-redis', '{"looks":"like json"}')).toBe('OK');
      await node.set('shared:text', 'plain text');
      await node.set('shared:object', { id: 7, tags: ['a', 'b'], nested: { ok: true } });
      await node.set('shared:number', 42);
      await waitFor(() => node.get('shared:from-redis') !== undefined, { timeout: 15_000, message: 'the sidecar write to reach the Node.js instance' });
      expect(node.get('shared:from-redis')).toBe('{"looks":"like json"}');
      await waitFor(async () => (await redis.get('shared:number')) !== null, { timeout: 15_000, message: 'the Node.js writes to reach the sidecar' });
      expect(await redis.get('shared:text')).toBe('plain text');
      expect(await redis.get('shared:object')).toBe('{"id":7,"tags":["a","b"],"nested":{"ok":true}}');
      expect(await redis.get('shared:number')).toBe('42');
    } finally {
      redis.disconnect();
    }
  });
});

describe('client libraries', () => {
  it('ioredis: ready check, SET with EX and NX, MGET, pipelines, SCAN streams, DEL', async () => {
    const redis = new Redis({ port, host: '127.0.0.1', connectionName: 'ioredis-test', lazyConnect: true });
    try {
      await redis.connect();
      expect(redis.status).toBe('ready');
      expect(await redis.set('io:a', '1', 'EX', 60)).toBe('OK');
      expect(await redis.set('io:a', '2', 'NX')).toBe(null);
      expect(await redis.ttl('io:a')).toBeGreaterThan(55);
      const results = await redis.pipeline().set('io:b', '2').set('io:c', '3').mget('io:a', 'io:b', 'io:c', 'io:none').exec();
      expect(results!.map(([error, value]) => [error, value])).toEqual([
        [null, 'OK'],
        [null, 'OK'],
        [null, ['1', '2', '3', null]],
      ]);
      const keys: string[] = [];
      for await (const batch of redis.scanStream({ match: 'io:*', count: 2 })) keys.push(...(batch as string[]));
      expect(keys.sort()).toEqual(['io:a', 'io:b', 'io:c']);
      expect(await redis.del('io:a', 'io:b', 'io:none')).toBe(2);
      expect(await redis.exists('io:a', 'io:c')).toBe(1);
      expect(await redis.client('GETNAME')).toBe('ioredis-test');
      await expect(redis.lpush('io:list', 'x')).rejects.toThrow(/unknown command 'lpush'/);
    } finally {
      redis.disconnect();
    }
  });

  it('node-redis over RESP2 and RESP3: SET with options, GET, EXPIRE, SCAN iterator, INFO', async () => {
    for (const RESP of [2, 3] as const) {
      const client = createClient({ url: `redis://127.0.0.1:${port}`, RESP });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const key = `nr${RESP}:k`;
        expect(await client.set(key, 'v', { expiration: { type: 'PX', value: 90_000 } })).toBe('OK');
        expect(await client.get(key)).toBe('v');
        expect(await client.pTTL(key)).toBeGreaterThan(80_000);
        expect(await client.expire(key, 30)).toBe(1);
        expect(await client.ttl(key)).toBe(30);
        expect(await client.get(`nr${RESP}:none`)).toBe(null);
        const seen: string[] = [];
        for await (const batch of client.scanIterator({ MATCH: `nr${RESP}:*`, COUNT: 5 })) seen.push(...batch);
        expect(seen).toEqual([key]);
        expect(await client.info('persistence')).toMatch(/loading:0/);
        expect(await client.dbSize()).toBeGreaterThan(0);
      } finally {
        client.destroy();
      }
    }
  });

  it('redis-cli, over TCP and over the Unix socket', async () => {
    const cli = async (...args: string[]) => (await run('redis-cli', args, { timeout: 10_000 })).stdout.trim();
    expect(await cli('-p', String(port), 'SET', 'cli:k', 'hello world')).toBe('OK');
    expect(await cli('-s', socket, 'GET', 'cli:k')).toBe('hello world');
    expect(await cli('-p', String(port), 'SET', 'cli:t', 'v', 'EX', '100')).toBe('OK');
    expect(Number(await cli('-s', socket, 'TTL', 'cli:t'))).toBeGreaterThan(90);
    expect((await cli('-p', String(port), '--scan', '--pattern', 'cli:*')).split('\n').sort()).toEqual(['cli:k', 'cli:t']);
    expect(await cli('-p', String(port), 'HSET', 'h', 'f', 'v')).toMatch(/^ERR unknown command 'HSET'/);
    expect(await cli('-p', String(port), 'PING')).toBe('PONG');
  });

  it("Python's redis client (the system python3)", async () => {
    const script = `
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)
assert r.ping() is True
assert r.set("py:k", "ünïcode", ex=120) is True
assert r.get("py:k") == "ünïcode", r.get("py:k")
assert 110 < r.ttl("py:k") <= 120
assert r.set("py:k", "other", nx=True) is None
p = r.pipeline(transaction=False)
p.set("py:a", "1").set("py:b", "2").mget("py:a", "py:b", "py:missing")
assert p.execute() == [True, True, ["1", "2", None]]
assert sorted(r.scan_iter(match="py:*", count=1)) == ["py:a", "py:b", "py:k"]
assert r.delete("py:a", "py:missing") == 1
u = redis.Redis(unix_socket_path=sys.argv[2], decode_responses=True)
assert u.get("py:b") == "2"
try:
    r.lpush("py:list", "x")
    raise SystemExit("lpush did not fail")
except redis.exceptions.ResponseError as e:
    assert "unknown command" in str(e), str(e)
print("ok")
`;
    const { stdout } = await run('/usr/bin/python3', ['-c', script, String(port), socket], { timeout: 30_000 });
    expect(stdout.trim()).toBe('ok');
    await waitFor(() => node.get('py:b') === '2', { timeout: 15_000, message: "the Python client's write to reach the Node.js instance" });
  });
});
