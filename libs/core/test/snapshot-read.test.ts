import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, silentLogger } from '../src/index.js';
import { openSnapshot, peekMeta, TRAILER } from '../src/snapshot/format.js';
import { peekFile, readSnapshotFile } from '../src/snapshot/read.js';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-snapshot-read-'));
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

function fileOf(name: string, bytes: Buffer): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe.each([
  ['on a worker thread', { worker: true }],
  ['on the calling thread', { worker: false }],
])('reading a snapshot file %s', (_, options) => {
  it('gives its bytes and the CRC-32 of all but its last bytes, over several reads', async () => {
    // Larger than one read (16 MiB), so that the checksum runs on across slices.
    const content = randomBytes(40 * 1024 * 1024 + 123);
    const file = fileOf(`big-${options.worker}`, content);
    const read = await readSnapshotFile(file, 40, options);
    expect(read).toBeDefined();
    expect(read!.bytes.equals(content)).toBe(true);
    expect(read!.checked).toBe(content.length - 40);
    expect(read!.crc).toBe(crc32(content.subarray(0, content.length - 40)));
    // Read by the worker thread into memory both threads share, or here into this thread's own.
    expect(read!.bytes.buffer instanceof SharedArrayBuffer).toBe(options.worker);
  });

  it('an empty file: no bytes, nothing checked', async () => {
    const read = await readSnapshotFile(fileOf(`empty-${options.worker}`, Buffer.alloc(0)), 40, options);
    expect(read).toEqual({ bytes: Buffer.alloc(0), crc: 0, checked: 0 });
  });

  it('no file: undefined', async () => {
    await expect(readSnapshotFile(path.join(directory, 'none'), 40, options)).resolves.toBeUndefined();
  });

  it('a read stopped before it ends: undefined, the rest of the file not read', async () => {
    const file = fileOf(`stopped-${options.worker}`, randomBytes(40 * 1024 * 1024));
    const stopped = new AbortController();
    stopped.abort();
    // Compared as booleans: a failure would otherwise print the 40 MiB read.
    expect((await readSnapshotFile(file, 40, { ...options, signal: stopped.signal })) === undefined).toBe(true);
    const stopping = new AbortController();
    const read = readSnapshotFile(file, 40, { ...options, signal: stopping.signal });
    // Stopped once the read is under way (the worker started, or the first slice asked for).
    setImmediate(() => stopping.abort());
    expect((await read) === undefined).toBe(true);
  });

  it('a file that cannot be read: its error', async () => {
    await expect(readSnapshotFile(directory, 40, options)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('the meta read ahead of the checked file', () => {
  it('is the checked meta when the file has the same meta bytes, and is ignored otherwise', async () => {
    const file = path.join(directory, 'real.ncsnap');
    const cache = createNearCache<unknown>({
      topic: 'peek',
      log: inProcessLog(new InProcessBroker()),
      logger: silentLogger,
      snapshot: { path: file, interval: 0 },
    });
    await cache.ready({ timeout: 10_000 });
    for (let i = 0; i < 10; i++) await cache.set(`k:${i}`, { i });
    await cache.close();
    const known = await peekFile(file, TRAILER, peekMeta);
    expect(known?.meta).toMatchObject({ topic: 'peek', entries: 10 });
    const bytes = fs.readFileSync(file);
    expect(openSnapshot(bytes, undefined, known).meta).toBe(known!.meta);
    // Another file's meta (a snapshot replaced between the two reads): the checked file's own is parsed.
    const other = { bytes: Buffer.from('{"topic":"other"}'), meta: { topic: 'other' } as never };
    const meta = openSnapshot(bytes, undefined, other).meta;
    expect(meta).not.toBe(other.meta);
    expect(meta).toEqual(known!.meta);
  });

  it('is undefined for what is not a snapshot, and for no file', async () => {
    await expect(peekFile(fileOf('not-a-snapshot', randomBytes(4096)), TRAILER, peekMeta)).resolves.toBeUndefined();
    await expect(peekFile(fileOf('short', Buffer.from('NCSNEND')), TRAILER, peekMeta)).resolves.toBeUndefined();
    await expect(peekFile(path.join(directory, 'none'), TRAILER, peekMeta)).resolves.toBeUndefined();
  });
});
