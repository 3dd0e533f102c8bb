import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, inProcessLog, jsonCodec, silentLogger } from '@nearcache/core';
import { waitFor } from '../../../scripts/lib/shared.mjs';
import { RawClient, Sidecars } from './support.js';

const sidecars = new Sidecars();
const clients: RawClient[] = [];

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.open({ port });
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await sidecars.closeAll();
});

describe('Redis commands', () => {
  it('answers GET, SET, DEL, EXISTS, MGET, MSET, DBSIZE, TYPE', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    expect(await c.call('PING')).toBe('PONG');
    expect(await c.call('PING', 'hi')).toBe('hi');
    expect(await c.call('GET', 'a')).toBe(null);
    expect(await c.call('SET', 'a', 'héllo')).toBe('OK');
    expect(await c.call('GET', 'a')).toBe('héllo');
    expect(await c.call('TYPE', 'a')).toBe('string');
    expect(await c.call('TYPE', 'zz')).toBe('none');
    expect(await c.call('MSET', 'b', '1', 'c', '2')).toBe('OK');
    expect(await c.call('MGET', 'a', 'b', 'nope', 'c')).toEqual(['héllo', '1', null, '2']);
    expect(await c.call('EXISTS', 'a', 'b', 'nope', 'a')).toBe(3);
    expect(await c.call('DBSIZE')).toBe(3);
    expect(await c.call('DEL', 'a', 'nope')).toBe(1);
    expect(await c.call('UNLINK', 'b')).toBe(1);
    expect(await c.call('GET', 'a')).toBe(null);
    expect(await c.call('MSET', 'x')).toEqual({ error: "ERR wrong number of arguments for 'mset' command" });
  });

  it('applies SET NX, XX, GET, EX, PX, KEEPTTL and refuses bad options', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    expect(await c.call('SET', 'k', 'v1', 'XX')).toBe(null);
    expect(await c.call('SET', 'k', 'v1', 'NX')).toBe('OK');
    expect(await c.call('SET', 'k', 'v2', 'NX')).toBe(null);
    expect(await c.call('SET', 'k', 'v2', 'XX', 'GET')).toBe('v1');
    expect(await c.call('GET', 'k')).toBe('v2');
    expect(await c.call('TTL', 'k')).toBe(-1);
    expect(await c.call('SET', 'k', 'v3', 'EX', '100')).toBe('OK');
    expect(await c.call('TTL', 'k')).toBe(100);
    expect(await c.call('SET', 'k', 'v4', 'KEEPTTL')).toBe('OK');
    const pttl = (await c.call('PTTL', 'k')) as number;
    expect(pttl).toBeGreaterThan(90_000);
    expect(pttl).toBeLessThanOrEqual(100_000);
    expect(await c.call('SET', 'k', 'v5', 'PX', '50000')).toBe('OK');
    expect((await c.call('PTTL', 'k')) as number).toBeLessThanOrEqual(50_000);
    expect(await c.call('SET', 'k', 'v', 'EX', '0')).toEqual({ error: "ERR invalid expire time in 'set' command" });
    expect(await c.call('SET', 'k', 'v', 'EX', 'ten')).toEqual({ error: 'ERR value is not an integer or out of range' });
    expect(await c.call('SET', 'k', 'v', 'NX', 'XX')).toEqual({ error: 'ERR syntax error' });
    expect(await c.call('SET', 'k', 'v', 'EX', '1', 'PX', '1')).toEqual({ error: 'ERR syntax error' });
    expect(await c.call('GET', 'k')).toBe('v5');
    expect(await c.call('TTL', 'missing')).toBe(-2);
    expect(await c.call('PTTL', 'missing')).toBe(-2);
  });

  it('EXPIRE, PEXPIRE and PERSIST write the value again with the new time to live', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    expect(await c.call('EXPIRE', 'none', '10')).toBe(0);
    await c.call('SET', 'k', 'v');
    expect(await c.call('EXPIRE', 'k', '10', 'XX')).toBe(0);
    expect(await c.call('EXPIRE', 'k', '10')).toBe(1);
    expect(await c.call('TTL', 'k')).toBe(10);
    expect(await c.call('EXPIRE', 'k', '20', 'LT')).toBe(0);
    expect(await c.call('PEXPIRE', 'k', '5000', 'LT')).toBe(1);
    expect(await c.call('TTL', 'k')).toBe(5);
    expect(await c.call('PERSIST', 'k')).toBe(1);
    expect(await c.call('TTL', 'k')).toBe(-1);
    expect(await c.call('GET', 'k')).toBe('v');
    expect(await c.call('EXPIRE', 'k', '0')).toBe(1);
    expect(await c.call('GET', 'k')).toBe(null);
  });

  it('expires entries: a key set with PX is gone after its time', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    await c.call('SET', 'short', 'v', 'PX', '30');
    await waitFor(async () => (await c.call('GET', 'short')) === null, { timeout: 5000, message: 'the entry to expire' });
    expect(await c.call('GET', 'short')).toBe(null);
  });

  it('SCAN with MATCH and COUNT walks every key once; KEYS matches globs', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    const args: string[] = [];
    for (let i = 0; i < 57; i++) args.push(`user:${i}`, String(i));
    for (let i = 0; i < 13; i++) args.push(`order:${i}`, String(i));
    expect(await c.call('MSET', ...args)).toBe('OK');
    const seen: string[] = [];
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = (await c.call('SCAN', cursor, 'MATCH', 'user:*', 'COUNT', '7')) as [string, string[]];
      seen.push(...keys);
      cursor = next;
      rounds++;
    } while (cursor !== '0' && rounds < 100);
    expect(seen.sort()).toEqual(Array.from({ length: 57 }, (_, i) => `user:${i}`).sort());
    expect(((await c.call('KEYS', 'order:1?')) as string[]).sort()).toEqual(['order:10', 'order:11', 'order:12']);
    expect(await c.call('SCAN', '5')).toEqual({ error: 'ERR invalid cursor: a SCAN cursor is valid on the connection that started it with 0' });
  });

  it('FLUSHDB clears every instance on the topic', async () => {
    const a = await sidecars.start();
    const b = await sidecars.start();
    const ca = await client(a.address!.port);
    const cb = await client(b.address!.port);
    await ca.call('SET', 'k', 'v');
    await waitFor(async () => (await cb.call('GET', 'k')) === 'v', { timeout: 5000, message: 'the write to reach the other sidecar' });
    expect(await cb.call('FLUSHDB')).toBe('OK');
    await waitFor(async () => (await ca.call('GET', 'k')) === null, { timeout: 5000, message: 'the clear to reach the first sidecar' });
    expect(await ca.call('DBSIZE')).toBe(0);
  });

  it('answers an unknown command with an error naming it, and keeps the connection', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    expect(await c.call('LPUSH', 'list', 'x')).toEqual({ error: "ERR unknown command 'LPUSH', with args beginning with: 'list' 'x'" });
    expect(await c.call('GET')).toEqual({ error: "ERR wrong number of arguments for 'get' command" });
    expect(await c.call('SELECT', '1')).toEqual({ error: 'ERR DB index is out of range' });
    expect(await c.call('PING')).toBe('PONG');
  });

  it('refuses a value that is not UTF-8 and keeps the previous one', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    await c.call('SET', 'k', 'kept');
    const reply = await c.call('SET', 'k', Buffer.from([0xff, 0xfe, 0x00]));
    expect((reply as { error: string }).error).toMatch(/^ERR the value is not valid UTF-8/);
    expect(await c.call('MSET', 'k', 'new', 'j', Buffer.from([0xc3]))).toMatchObject({ error: expect.stringMatching(/not valid UTF-8/) });
    expect(await c.call('GET', 'k')).toBe('kept');
    expect(await c.call('GET', 'j')).toBe(null);
  });

  it('answers inline commands and RESP3 after HELLO 3', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    c.send('SET inline value\r\n');
    expect(await c.reply()).toBe('OK');
    c.send('GET inline\n');
    expect(await c.reply()).toBe('value');
    const hello = (await c.call('HELLO', '3', 'SETNAME', 'app-1')) as Map<string, unknown>;
    expect(hello.get('proto')).toBe(3);
    expect(await c.call('CLIENT', 'GETNAME')).toBe('app-1');
    c.send('*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n');
    // A RESP3 null (checked byte for byte below).
    expect(await c.reply()).toBe(null);
    expect(await c.call('HELLO', '4')).toEqual({ error: 'NOPROTO unsupported protocol version' });
    // The bytes themselves: RESP3 writes a null as `_` and a map as `%`.
    let raw = '';
    c.socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    c.send('*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n');
    expect(await c.reply()).toBe(null);
    expect(await c.reply()).toEqual(new Map());
    expect(raw).toBe('_\r\n%0\r\n');
  });

  it('INFO reports loading:0, the keyspace and the nearcache section', async () => {
    const sidecar = await sidecars.start();
    const c = await client(sidecar.address!.port);
    await c.call('SET', 'a', '1');
    const info = (await c.call('INFO')) as string;
    expect(info).toMatch(/\r\nloading:0\r\n/);
    expect(info).toMatch(/db0:keys=1,/);
    expect(info).toMatch(/# Nearcache\r\nstate:live\r\n/);
    expect(await c.call('INFO', 'persistence')).toBe('# Persistence\r\nloading:0\r\n');
  });
});

describe('values shared with Node.js instances using the JSON codec', () => {
  it('a Node.js instance reads what the sidecar wrote as a string; the sidecar reads other values as JSON text', async () => {
    const sidecar = await sidecars.start();
    const node = createNearCache<unknown>({ topic: sidecars.topic, log: inProcessLog(sidecars.broker), codec: jsonCodec(), logger: silentLogger });
    try {
      await node.ready();
      const c = await client(sidecar.address!.port);
      await c.call('SET', 'from-redis', '{"not":"parsed"}');
      await node.set('object', { a: 1, b: [true, null] });
      await node.set('text', 'plain');
      await waitFor(() => node.get('from-redis') !== undefined && sidecar.cache.get('text') !== undefined, {
        timeout: 5000,
        message: 'both writes to replicate',
      });
      expect(node.get('from-redis')).toBe('{"not":"parsed"}');
      expect(await c.call('GET', 'object')).toBe('{"a":1,"b":[true,null]}');
      expect(await c.call('GET', 'text')).toBe('plain');
    } finally {
      await node.close();
    }
  });
});
