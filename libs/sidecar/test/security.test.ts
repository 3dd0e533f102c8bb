import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@nearcache/core';
import { startSidecar } from '@nearcache/sidecar';
import { waitFor } from '../../../scripts/lib/shared.mjs';
import { encode, RawClient, Sidecars } from './support.js';

const sidecars = new Sidecars();
const clients: RawClient[] = [];
const dirs: string[] = [];

async function client(target: { port: number } | { path: string }): Promise<RawClient> {
  const c = await RawClient.open(target);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await sidecars.closeAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('safe by default', () => {
  it('refuses an address other than loopback without a password, for Redis and for HTTP', async () => {
    const cache = { topic: 't', log: () => undefined as never };
    await expect(startSidecar({ host: '0.0.0.0', cache })).rejects.toThrow(InvalidOptionError);
    await expect(startSidecar({ host: '0.0.0.0', cache })).rejects.toThrow(/not a loopback address: set "password"/);
    await expect(startSidecar({ httpHost: '::', httpPort: 0, cache })).rejects.toThrow(/"httpHost" is "::", not a loopback address/);
    await expect(startSidecar({ host: 'example.org', cache })).rejects.toThrow(/option "host" must be an IP address or "localhost"/);
    await expect(startSidecar({ port: 70_000, cache })).rejects.toThrow(/option "port" must be an integer from 0 to 65535/);
    await expect(startSidecar({ maxClients: 0, cache })).rejects.toThrow(/option "maxClients"/);
    await expect(startSidecar({ cache, colour: 'red' } as never)).rejects.toThrow(/unknown option "colour"/);
    await expect(startSidecar({ cache: { ...cache, codec: {} } as never })).rejects.toThrow(/"cache.codec" cannot be set/);
  });

  it('listens on 127.0.0.1 by default', async () => {
    const sidecar = await sidecars.start();
    expect(sidecar.address?.host).toBe('127.0.0.1');
  });

  it('with a password, answers only AUTH, HELLO and QUIT until the client authenticates', async () => {
    const sidecar = await sidecars.start({ password: 's3cret' });
    await sidecar.cache.set('k', 'v');
    const c = await client({ port: sidecar.address!.port });
    expect(await c.call('GET', 'k')).toEqual({ error: 'NOAUTH Authentication required.' });
    expect(await c.call('AUTH', 'wrong')).toEqual({ error: 'WRONGPASS invalid username-password pair or user is disabled.' });
    expect(await c.call('AUTH', 'someone', 's3cret')).toEqual({ error: 'WRONGPASS invalid username-password pair or user is disabled.' });
    expect(await c.call('HELLO', '3')).toMatchObject({ error: expect.stringMatching(/^NOAUTH HELLO must be called/) });
    expect(await c.call('GET', 'k')).toEqual({ error: 'NOAUTH Authentication required.' });
    expect(await c.call('AUTH', 'default', 's3cret')).toBe('OK');
    expect(await c.call('GET', 'k')).toBe('v');
    const d = await client({ port: sidecar.address!.port });
    const hello = (await d.call('HELLO', '3', 'AUTH', 'default', 's3cret')) as Map<string, unknown>;
    expect(hello.get('proto')).toBe(3);
    expect(await d.call('GET', 'k')).toBe('v');
  });

  it('without a configured password, AUTH <password> is an error and the default user takes any password, as in Redis', async () => {
    const sidecar = await sidecars.start();
    const c = await client({ port: sidecar.address!.port });
    expect(await c.call('AUTH', 'x')).toMatchObject({ error: expect.stringMatching(/^ERR AUTH <password> called without any password configured/) });
    expect(await c.call('AUTH', 'default', 'anything')).toBe('OK');
    expect(await c.call('AUTH', 'someone', 'anything')).toEqual({ error: 'WRONGPASS invalid username-password pair or user is disabled.' });
    expect(((await c.call('HELLO', '3', 'AUTH', 'default', 'x')) as Map<string, unknown>).get('proto')).toBe(3);
  });

  it('serves on a Unix socket with mode 600, without a TCP port, and refuses a live socket or another file there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    dirs.push(dir);
    const socket = path.join(dir, 'cache.sock');
    const sidecar = await sidecars.start({ port: undefined, socket });
    expect(sidecar.address).toBeUndefined();
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const c = await client({ path: socket });
    expect(await c.call('SET', 'k', 'v')).toBe('OK');
    expect(await c.call('GET', 'k')).toBe('v');
    await expect(sidecars.start({ port: undefined, socket })).rejects.toThrow(/where another process is listening/);
    expect(await c.call('GET', 'k')).toBe('v');
    const file = path.join(dir, 'not-a-socket');
    writeFileSync(file, 'data');
    await expect(sidecars.start({ port: undefined, socket: file })).rejects.toThrow(/exists and is not a socket/);
  });

  it('replaces a socket file that no process listens on (left by a killed process)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sidecar-'));
    dirs.push(dir);
    const socket = path.join(dir, 'stale.sock');
    // A process that listens, then dies without removing its socket file.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(statSync(socket).isSocket()).toBe(true);
    const sidecar = await sidecars.start({ port: undefined, socket });
    expect(sidecar.socketPath).toBe(socket);
    const c = await client({ path: socket });
    expect(await c.call('PING')).toBe('PONG');
  });

  it('answers a client past maxClients with an error and closes it', async () => {
    const sidecar = await sidecars.start({ maxClients: 2 });
    const a = await client({ port: sidecar.address!.port });
    const b = await client({ port: sidecar.address!.port });
    expect(await a.call('PING')).toBe('PONG');
    expect(await b.call('PING')).toBe('PONG');
    const c = await client({ port: sidecar.address!.port });
    expect(await c.reply()).toEqual({ error: 'ERR max number of clients reached' });
    await c.closedByServer();
    a.close();
    await waitFor(() => sidecar.clients === 1, { timeout: 5000, message: 'the closed client to be gone' });
    const d = await client({ port: sidecar.address!.port });
    expect(await d.call('PING')).toBe('PONG');
  });

  it('closes a connection whose request is past maxRequestBytes or maxArgs, with a protocol error', async () => {
    const sidecar = await sidecars.start({ maxRequestBytes: 1024, maxArgs: 4 });
    const a = await client({ port: sidecar.address!.port });
    a.send('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n');
    expect(await a.reply()).toEqual({ error: 'ERR Protocol error: request larger than 1024 bytes' });
    await a.closedByServer();
    const b = await client({ port: sidecar.address!.port });
    b.send(encode(['DEL', 'a', 'b', 'c', 'd']));
    expect(await b.reply()).toEqual({ error: 'ERR Protocol error: invalid multibulk length: 5 arguments; the limit is 4' });
    await b.closedByServer();
    const c = await client({ port: sidecar.address!.port });
    expect(await c.call('PING')).toBe('PONG');
  });

  it('answers a long pipeline in order, in slices', async () => {
    const sidecar = await sidecars.start({ maxPipeline: 7 });
    const c = await client({ port: sidecar.address!.port });
    const frames: Buffer[] = [];
    for (let i = 0; i < 100; i++) frames.push(encode(['SET', `k${i}`, String(i)]), encode(['GET', `k${i}`]));
    c.send(Buffer.concat(frames));
    for (let i = 0; i < 100; i++) {
      expect(await c.reply()).toBe('OK');
      expect(await c.reply()).toBe(String(i));
    }
  });

  it('writes the replies of one pipeline byte for byte in order, text and binary replies mixed', async () => {
    const sidecar = await sidecars.start();
    const binary = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x24, 0x80]);
    const socket = connect(sidecar.address!.port, '127.0.0.1');
    try {
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      let received = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
      socket.write(Buffer.concat([encode(['SET', 'k', 'vé']), encode(['ECHO', binary]), encode(['GET', 'k']), encode(['GET', 'missing']), encode(['PING'])]));
      const expected = Buffer.concat([Buffer.from('+OK\r\n$6\r\n'), binary, Buffer.from('\r\n$3\r\nvé\r\n$-1\r\n+PONG\r\n')]);
      await waitFor(() => received.length >= expected.length, { timeout: 5000 });
      expect(received).toEqual(expected);
    } finally {
      socket.destroy();
    }
  });

  it('a client that stops reading is no longer read, then gets every reply in order; a reply batch past maxReplyBufferBytes closes it', async () => {
    const sidecar = await sidecars.start({ maxReplyBufferBytes: 1024 * 1024 });
    const value = 'x'.repeat(100_000);
    await sidecar.cache.set('big', value);
    await sidecar.cache.set('huge', 'y'.repeat(500_000));
    const slow = await client({ port: sidecar.address!.port });
    slow.socket.pause(); // reads nothing for now: 40 MB of replies wait
    const requests = 400;
    slow.send(Buffer.concat(Array.from({ length: requests }, () => encode(['GET', 'big']))));
    const other = await client({ port: sidecar.address!.port });
    expect(await other.call('GET', 'big')).toBe(value);
    slow.socket.resume();
    for (let i = 0; i < requests; i++) expect(await slow.reply()).toBe(value);
    // MGET of three 500 KB values: one reply of 1.5 MB, past the 1 MiB limit.
    expect(await other.call('MGET', 'huge', 'huge')).toHaveLength(2);
    other.send(encode(['MGET', 'huge', 'huge', 'huge']));
    await other.closedByServer();
  });

  it('QUIT answers OK and closes', async () => {
    const sidecar = await sidecars.start();
    const c = await client({ port: sidecar.address!.port });
    expect(await c.call('QUIT')).toBe('OK');
    await c.closedByServer();
  });
});
