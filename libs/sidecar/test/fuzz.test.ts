// 10,000 random and crafted frames against a running sidecar: each is answered with an error or
// closes its connection; the process never crashes and the cache's entries never change.
import { connect } from 'node:net';
import { afterAll, expect, it } from 'vitest';
import { mulberry32, waitFor } from '../../../scripts/lib/shared.mjs';
import { encode, RawClient, Sidecars } from './support.js';

const FRAMES = 10_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_205);
const sidecars = new Sidecars();
afterAll(() => sidecars.closeAll());

/** Frames that must change nothing: malformed, oversized, unknown, or writes whose arguments are refused. */
function frame(random: () => number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const int = (max: number) => Math.floor(random() * max);
  const badUtf8 = () => Buffer.concat([Buffer.from('x'), Buffer.from([pick([0xff, 0xc3, 0xe2, 0x80, 0xfe])])]);
  switch (int(16)) {
    case 0:
      return bytes(1 + int(200)); // noise
    case 1:
      return Buffer.from(`*${pick(['-5', '99999999999999999999', 'abc', '', '1x', '2147483648', '3'])}\r\n`); // bad or huge counts
    case 2:
      return Buffer.from(`*2\r\n$${pick(['-2', 'x', '99999999999', '', '1e3'])}\r\nGET\r\n`); // bad bulk lengths
    case 3:
      return Buffer.from(`*2\r\n$3\r\nGET\r\n$1\r\nab\r\n`); // bulk longer than declared
    case 4:
      return Buffer.from(`*1\r\n${pick([':1', '+OK', '-ERR', '%1', '*1'])}\r\n`); // a type other than '$'
    case 5:
      return Buffer.concat([Buffer.from('*1\r\n$'), Buffer.from('9'.repeat(40))]); // header longer than any integer
    case 6:
      return Buffer.from(`${'A'.repeat(70_000)}`); // inline line past its limit
    case 7:
      return Buffer.from(`*${100_000}\r\n`); // past maxArgs
    case 8:
      return Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${20_000_000}\r\n`); // past maxRequestBytes
    case 9:
      return encode([
        pick(['FOO', 'LPUSH', 'EVAL', 'SUBSCRIBE', 'MULTI', 'CONFIG', '__proto__', 'constructor', 'hasOwnProperty']),
        ...Array.from({ length: int(4) }, () => bytes(int(10))),
      ]);
    case 10:
      return encode(['SET', pick(['a', 'b', 'c']), badUtf8()]); // value not UTF-8
    case 11:
      return encode(['SET', badUtf8(), 'v']); // key not UTF-8
    case 12:
      return encode(['SET', pick(['a', 'b']), 'v', pick(['EX', 'PX', 'EXAT']), pick(['0', '-1', 'x', '99999999999999999', ''])]); // bad expiry
    case 13:
      return encode([pick(['SET', 'GET', 'DEL', 'EXPIRE', 'MSET', 'SETEX', 'TTL'])]); // too few arguments
    case 14:
      return encode(['MSET', 'a', 'changed', 'b', badUtf8()]); // one bad pair: nothing written
    default:
      // A valid read, then a random cut of a valid write: an incomplete frame that never completes.
      return Buffer.concat([encode(['GET', 'a']), encode(['SET', 'a', 'changed']).subarray(0, 1 + int(20))]);
  }
}

/** Sends a frame, half-closes, and resolves once the server closed the connection. */
function send(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined); // a reset is a closed connection too
    socket.on('close', () => resolve());
    socket.setTimeout(15_000, () => reject(new Error('the sidecar neither answered nor closed')));
  });
}

it(`survives ${FRAMES} random and crafted frames with its cache unchanged (seed ${SEED})`, async () => {
  const sidecar = await sidecars.start();
  await sidecar.cache.set('a', 'one', { ttl: 3_600_000 });
  await sidecar.cache.set('b', 'two');
  await sidecar.cache.set('c', 'three');
  const before = [...sidecar.cache.entries()].sort();
  const random = mulberry32(SEED);
  const port = sidecar.address!.port;
  const frames = Array.from({ length: FRAMES }, () => frame(random));
  const concurrency = 16;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < frames.length) await send(port, frames[next++]!);
    }),
  );
  await waitFor(() => sidecar.clients === 0, { timeout: 10_000, message: 'every fuzz connection to close' });
  expect([...sidecar.cache.entries()].sort()).toEqual(before);
  expect(sidecar.cache.stats().sets).toBe(3);
  const figures = sidecar.figures();
  expect(figures.connectionsTotal).toBe(FRAMES);
  expect(figures.counters.protocolErrors).toBeGreaterThan(1000);
  const c = await RawClient.open({ port });
  try {
    expect(await c.call('PING')).toBe('PONG');
    expect(await c.call('GET', 'a')).toBe('one');
  } finally {
    c.close();
  }
});
